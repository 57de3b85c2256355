// The MQTT bridge against a real mosquitto on loopback: Home Assistant discovery, rings,
// state, the command topic, a broker killed with SIGKILL and restarted on the same port,
// and the last will when the bridge's connection is cut without a DISCONNECT.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { CommandInterpreter } from '../src/control/control-server.ts';
import { MqttBridge } from '../src/device/mqtt-bridge.ts';
import { FakeClock, systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { Broker, freePort, HOST } from './harness/mosquitto.ts';
import { sleep, until } from './harness/wait.ts';

// ---- a TCP relay whose connections the test can cut -----------------------------------------

class Relay {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  accepting = true;
  port = 0;
  constructor(private readonly upstreamPort: number) {
    this.server = createServer((down) => {
      if (!this.accepting) {
        down.destroy();
        return;
      }
      const up = createConnection({ host: HOST, port: this.upstreamPort });
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          down.destroy();
          up.destroy();
        });
      }
      down.pipe(up);
      up.pipe(down);
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, HOST, resolve));
    this.port = (this.server.address() as { port: number }).port;
  }
  /** Drops every relayed connection: both ends see the TCP connection close, no DISCONNECT. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- an observer, as Home Assistant would be ------------------------------------------------

interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
  correlation?: string;
}

class Observer {
  readonly seen: Seen[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const seen: Seen = { topic, payload: payload.toString(), retain: packet.retain };
      if (packet.properties?.correlationData) seen.correlation = packet.properties.correlationData.toString();
      this.seen.push(seen);
    });
  }
  static async connect(url: string, topics: string[]): Promise<Observer> {
    const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100, connectTimeout: 2000 });
    const o = new Observer(client);
    await client.subscribeAsync(topics, { qos: 0 });
    return o;
  }
  on(topic: string): Seen[] {
    return this.seen.filter((s) => s.topic === topic);
  }
  last(topic: string): Seen | undefined {
    return this.on(topic).at(-1);
  }
  waitFor(what: string, probe: (seen: Seen[]) => Seen | undefined, timeoutMs = 3000): Promise<Seen> {
    return until(what, () => probe(this.seen), timeoutMs);
  }
  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Every retained message on `topics`, as a brand-new subscriber receives them. */
async function retainedOn(url: string, topics: string[], settleMs = 300): Promise<Map<string, string>> {
  const o = await Observer.connect(url, topics);
  await sleep(settleMs);
  await o.close();
  return new Map(o.seen.filter((s) => s.retain).map((s) => [s.topic, s.payload]));
}

// ---- the device side ------------------------------------------------------------------------

function interpreterWithDoor(): { interpreter: CommandInterpreter; opens: string[][] } {
  const interpreter = new CommandInterpreter();
  const opens: string[][] = [];
  interpreter.register('open', (args) => {
    opens.push(args);
    return { opened: true };
  });
  interpreter.register('status', () => ({ big: 12345678901234567890n, key: new Uint8Array([1, 2]) }));
  return { interpreter, opens };
}

const ENTITIES = [
  ['event', 'ring'],
  ['button', 'open_door'],
  ['binary_sensor', 'door'],
  ['event', 'door_event'],
  ['sensor', 'call'],
  ['binary_sensor', 'overlay'],
  ['sensor', 'overlay_peers'],
  ['sensor', 'role'],
] as const;

describe('MQTT bridge with a real mosquitto', { timeout: 40_000 }, () => {
  let dir: string;
  let broker: Broker;
  let observer: Observer;
  let bridge: MqttBridge;
  const clock = new FakeClock();
  const door = interpreterWithDoor();
  const base = 'p2psip/door-1';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p2psip-mqtt-'));
    broker = new Broker(await freePort(), dir);
    await broker.start();
    // The bridge's timers run on a fake clock: the test decides when it retries, so the
    // observer is back before the bridge and sees everything it republishes.
    bridge = new MqttBridge(
      { clock, log: silentLogger, interpreter: door.interpreter },
      {
        url: broker.url,
        deviceId: 'door-1',
        deviceName: 'Front door',
        model: 'panel v2',
        manufacturer: 'Example',
        swVersion: '0.1.0',
        reconnectMinMs: 100,
        reconnectMaxMs: 800,
      },
    );
    bridge.publishRole({ role: 'peer', reason: 'enough memory' });
    await bridge.start();
    await until('bridge connected', () => bridge.status().connected);
    observer = await Observer.connect(broker.url, ['homeassistant/#', `${base}/#`]);
  });

  after(async () => {
    await bridge?.close();
    await observer?.close();
    await broker?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('announces every entity to Home Assistant, retained, with one device and consistent topics', async () => {
    const configs = new Map<string, Record<string, any>>();
    await until('all discovery configs', () => {
      for (const s of observer.seen) if (s.topic.endsWith('/config') && s.retain) configs.set(s.topic, JSON.parse(s.payload));
      return configs.size >= ENTITIES.length;
    });
    assert.equal(configs.size, ENTITIES.length);
    // A strike that only pulses is a button, never a lock (a lock must offer lock and unlock).
    assert.ok(![...configs.keys()].some((t) => t.startsWith('homeassistant/lock/')));
    for (const [component, object] of ENTITIES) {
      const c = configs.get(`homeassistant/${component}/door-1/${object}/config`);
      assert.ok(c, `${component}/${object} announced`);
      assert.equal(c.unique_id, `p2psip_door-1_${object}`);
      assert.deepEqual(c.device, { identifiers: ['p2psip_door-1'], name: 'Front door', model: 'panel v2', manufacturer: 'Example', sw_version: '0.1.0' });
      assert.equal(c.availability_topic, `${base}/availability`);
      assert.equal(c.payload_available, 'online');
      assert.equal(c.payload_not_available, 'offline');
      assert.equal(typeof c.name, 'string');
      for (const key of ['state_topic', 'command_topic', 'json_attributes_topic']) {
        if (c[key] !== undefined) assert.ok(String(c[key]).startsWith(`${base}/`), `${object}.${key} under the base topic`);
      }
    }
    const ids = [...configs.values()].map((c) => c.unique_id);
    assert.equal(new Set(ids).size, ids.length, 'unique ids are unique');

    const ring = configs.get('homeassistant/event/door-1/ring/config')!;
    assert.deepEqual(ring.event_types, ['ring']);
    assert.equal(ring.device_class, 'doorbell');
    assert.equal(ring.state_topic, bridge.topics.ring);
    const open = configs.get('homeassistant/button/door-1/open_door/config')!;
    assert.equal(open.command_topic, bridge.topics.command);
    assert.equal(open.payload_press, 'open');
    const strike = configs.get('homeassistant/binary_sensor/door-1/door/config')!;
    assert.equal(strike.device_class, 'lock');
    assert.equal(strike.state_topic, bridge.topics.door);
    const call = configs.get('homeassistant/sensor/door-1/call/config')!;
    assert.deepEqual(call.options, ['idle', 'ringing', 'active']);
    assert.equal(call.state_topic, bridge.topics.call);
    assert.equal(call.json_attributes_topic, bridge.topics.call);
    const overlay = configs.get('homeassistant/binary_sensor/door-1/overlay/config')!;
    assert.equal(overlay.device_class, 'connectivity');
    assert.equal(overlay.state_topic, bridge.topics.overlay);
    const role = configs.get('homeassistant/sensor/door-1/role/config')!;
    assert.deepEqual(role.options, ['peer', 'client']);
    assert.equal(role.state_topic, bridge.topics.role);

    const availability = observer.last(bridge.topics.availability);
    assert.deepEqual(availability, { topic: `${base}/availability`, payload: 'online', retain: true });
    // State set before the first connection went out on connect, retained.
    assert.deepEqual(JSON.parse(observer.last(bridge.topics.role)!.payload), { role: 'peer', reason: 'enough memory' });
  });

  it('publishes a ring as an event, not retained', async () => {
    bridge.publishRing({ button: '3B', aors: ['3b@building.example', 'caretaker@building.example'] });
    const seen = await observer.waitFor('ring event', (s) => s.find((m) => m.topic === bridge.topics.ring));
    const ring = JSON.parse(seen.payload);
    assert.equal(ring.event_type, 'ring');
    assert.equal(ring.button, '3B');
    assert.equal(ring.aor, '3b@building.example');
    assert.deepEqual(ring.aors, ['3b@building.example', 'caretaker@building.example']);
    const retained = await retainedOn(broker.url, [bridge.topics.ring], 200);
    assert.equal(retained.size, 0, 'a new subscriber gets no old ring');
  });

  it('publishes call, door, overlay and role state, retained', async () => {
    bridge.publishCallState('ringing', { remote: 'sip:3b@building.example', call_id: 'c1' });
    bridge.publishDoor('locked');
    bridge.publishHealth({ joined: true, role: 'peer', peers: 5 });
    const retained = await until('retained state', async () => {
      const r = await retainedOn(broker.url, [`${base}/#`], 150);
      return r.has(bridge.topics.overlay) ? r : undefined;
    });
    assert.deepEqual(JSON.parse(retained.get(bridge.topics.call)!), { remote: 'sip:3b@building.example', call_id: 'c1', state: 'ringing' });
    assert.equal(retained.get(bridge.topics.door), 'LOCKED');
    assert.deepEqual(JSON.parse(retained.get(bridge.topics.overlay)!), { joined: true, role: 'peer', peers: 5 });
    assert.equal(retained.get(bridge.topics.availability), 'online');
  });

  it('runs `open` from the command topic through the interpreter and answers on the result topic', async () => {
    // MQTT 5 request/response: the correlation data comes back with the result.
    await observer.client.publishAsync(bridge.topics.command, 'open mqtt-test', { properties: { correlationData: Buffer.from('req-1') } });
    const result = await observer.waitFor('command result', (s) => s.find((m) => m.topic === bridge.topics.commandResult));
    assert.deepEqual(door.opens, [['mqtt-test']]);
    assert.deepEqual(JSON.parse(result.payload), { command: 'open', ok: true, result: { opened: true } });
    assert.equal(result.retain, false);
    assert.equal(result.correlation, 'req-1');
  });

  it('answers malformed commands with an error and keeps running', async () => {
    const before = observer.on(bridge.topics.commandResult).length;
    const send = [
      Buffer.from([0xff, 0xfe, 0x6f]),
      Buffer.alloc(5000, 0x61),
      Buffer.from(''),
      Buffer.from('open\nopen'),
      Buffer.from('no-such-command'),
      Buffer.from('status'),
    ];
    for (const b of send) await observer.client.publishAsync(bridge.topics.command, b);
    const results = await until('six results', () => {
      const r = observer.on(bridge.topics.commandResult).slice(before);
      return r.length >= send.length ? r.map((m) => JSON.parse(m.payload)) : undefined;
    });
    assert.match(results[0].error, /not UTF-8/);
    assert.match(results[1].error, /longer than 4096 bytes/);
    assert.match(results[2].error, /empty command/);
    assert.match(results[3].error, /one command line per message/);
    assert.equal(results[4].ok, false);
    assert.match(results[4].error, /unknown command "no-such-command"/);
    // 64-bit integers and byte strings follow the control socket's JSON rules.
    assert.deepEqual(results[5], { command: 'status', ok: true, result: { big: '12345678901234567890', key: '0102' } });
    assert.deepEqual(door.opens, [['mqtt-test']], 'no malformed command opened the door');
    assert.equal(bridge.status().commands.rejected, 4);
  });

  it('answers "busy" beyond the commands it runs at once', async () => {
    const release: Array<() => void> = [];
    door.interpreter.register('slow', () => new Promise<string>((resolve) => release.push(() => resolve('done'))));
    const before = observer.on(bridge.topics.commandResult).length;
    for (let i = 0; i < 5; i++) await observer.client.publishAsync(bridge.topics.command, 'slow');
    const busy = await until('busy answer', () => observer.on(bridge.topics.commandResult)[before]);
    assert.deepEqual(JSON.parse(busy.payload), { command: 'slow', ok: false, error: 'busy: too many commands running' });
    assert.equal(bridge.status().commands.inFlight, 4);
    for (const r of release) r();
    await until('all answered', () => observer.on(bridge.topics.commandResult).length === before + 5);
    assert.equal(bridge.status().commands.inFlight, 0);
  });

  it('republishes discovery and state when Home Assistant announces itself', async () => {
    const configs = () => observer.seen.filter((s) => s.topic.endsWith('/config')).length;
    const before = configs();
    clock.advance(5_000); // the birth message is honoured at most every 5 s
    await observer.client.publishAsync('homeassistant/status', 'online');
    await until('discovery again', () => configs() >= before + ENTITIES.length);
    // ...and not again for a burst of birth messages.
    await observer.client.publishAsync('homeassistant/status', 'online');
    await sleep(150);
    assert.equal(configs(), before + ENTITIES.length);
  });

  it('survives a broker killed with SIGKILL: publishing never blocks, state is kept', async () => {
    await broker.kill();
    await until('bridge sees the broker gone', () => !bridge.status().connected);
    assert.equal(bridge.status().state, 'waiting');

    // Failed attempts back off exponentially, capped: 100, 200, 400, 800, 800 ms.
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const wait = bridge.status().nextAttemptInMs!;
      waits.push(wait);
      const failed = bridge.status().failedAttempts;
      clock.advance(wait);
      await until('attempt failed', () => bridge.status().failedAttempts > failed && bridge.status().state === 'waiting');
    }
    assert.deepEqual(waits.slice(1), [200, 400, 800, 800]);
    assert.ok(waits[0]! <= 200);

    const started = performance.now();
    let slowest = 0;
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      bridge.publishRing({ button: `B${i}`, aor: `b${i}@building.example` });
      bridge.publishCallState(i % 2 ? 'active' : 'ringing', { remote: 'sip:3b@building.example', call_id: `c${i}` });
      bridge.publishHealth({ joined: false, role: 'peer', peers: i });
      slowest = Math.max(slowest, performance.now() - t);
    }
    bridge.publishDoor('open');
    const elapsed = performance.now() - started;
    // Generous bounds for a loaded machine: a publication that waited for the broker would
    // take the connect timeout (seconds), not milliseconds.
    assert.ok(elapsed < 500, `120 publications took ${elapsed.toFixed(1)} ms`);
    assert.ok(slowest < 100, `slowest publication took ${slowest.toFixed(1)} ms`);
    const s = bridge.status();
    assert.equal(s.connected, false);
    assert.equal(s.queued, 16, 'events beyond the bound are not kept');
    assert.equal(s.dropped, 24);
  });

  it('reconnects after the broker restarts on the same port and republishes discovery, online and the latest state', async () => {
    await broker.start();
    // The observer reconnects by itself; only then is the bridge allowed to retry.
    await until('observer back', () => observer.client.connected, 5000);
    await sleep(100); // its resubscription
    observer.seen.length = 0;
    const wait = bridge.status().nextAttemptInMs!;
    assert.ok(wait <= 800, `next attempt within the backoff cap (${wait} ms)`);
    clock.advance(wait);
    await until('bridge reconnected', () => bridge.status().connected);
    assert.equal(bridge.status().reconnects, 1);

    const availability = await observer.waitFor('online again', (s) => s.find((m) => m.topic === bridge.topics.availability));
    assert.equal(availability.payload, 'online');
    const retained = await until('republished state', async () => {
      const r = await retainedOn(broker.url, ['homeassistant/#', `${base}/#`], 150);
      return r.has(bridge.topics.door) && r.has(bridge.topics.overlay) ? r : undefined;
    });
    for (const [component, object] of ENTITIES) assert.ok(retained.has(`homeassistant/${component}/door-1/${object}/config`), `${object} rediscovered`);
    assert.equal(retained.get(bridge.topics.availability), 'online');
    assert.deepEqual(JSON.parse(retained.get(bridge.topics.call)!), { remote: 'sip:3b@building.example', call_id: 'c39', state: 'active' });
    assert.equal(retained.get(bridge.topics.door), 'OPEN');
    assert.deepEqual(JSON.parse(retained.get(bridge.topics.overlay)!), { joined: false, role: 'peer', peers: 39 });
    assert.deepEqual(JSON.parse(retained.get(bridge.topics.role)!), { role: 'peer', reason: 'enough memory' });

    // The events queued during the outage arrive, oldest first, within the bound.
    const rings = await until('queued rings', () => {
      const r = observer.on(bridge.topics.ring);
      return r.length >= 16 ? r : undefined;
    });
    assert.deepEqual(rings.map((m) => JSON.parse(m.payload).button), Array.from({ length: 16 }, (_, i) => `B${i}`));
    assert.equal(bridge.status().queued, 0);

    // Commands work again.
    await observer.client.publishAsync(bridge.topics.command, 'open after-restart');
    await until('open after restart', () => door.opens.length === 2);
  });

  it('close() says offline, ends cleanly, is idempotent, and nothing runs afterwards', async () => {
    const first = bridge.close();
    assert.equal(bridge.close(), first);
    await first;
    assert.equal(bridge.status().state, 'closed');
    const retained = await retainedOn(broker.url, [bridge.topics.availability], 200);
    assert.equal(retained.get(bridge.topics.availability), 'offline');
    assert.doesNotThrow(() => bridge.publishRing({ button: 'late', aor: 'x@y' }));
    await observer.client.publishAsync(bridge.topics.command, 'open after-close');
    await sleep(200);
    assert.equal(door.opens.length, 2);
  });
});

// MQTT 3.1.1 has no retain handling option, so there the retained-command guard is the
// bridge's own check of the RETAIN flag; MQTT 5 subscribes with Retain Handling 2.
for (const protocolVersion of [4, 5] as const) describe(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'} bridge whose connection is cut`, { timeout: 30_000 }, () => {
  let dir: string;
  let broker: Broker;
  let relay: Relay;
  let observer: Observer;
  let bridge: MqttBridge;
  const door = interpreterWithDoor();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'p2psip-mqtt-will-'));
    broker = new Broker(await freePort(), dir);
    await broker.start();
    relay = new Relay(broker.port);
    await relay.listen();
    bridge = new MqttBridge(
      { clock: systemClock, log: silentLogger, interpreter: door.interpreter },
      { url: `mqtt://${HOST}:${relay.port}`, deviceId: 'door-2', protocolVersion, reconnectMinMs: 100, reconnectMaxMs: 400 },
    );
    await bridge.start();
    await until('bridge connected', () => bridge.status().connected);
    observer = await Observer.connect(broker.url, ['p2psip/door-2/#']);
  });

  after(async () => {
    await bridge?.close();
    await observer?.close();
    await relay?.close();
    await broker?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('leaves its last will, offline and retained, when the connection drops without DISCONNECT', async () => {
    relay.accepting = false;
    relay.cut();
    const will = await observer.waitFor('last will', (s) => s.find((m) => m.topic === bridge.topics.availability && m.payload === 'offline'));
    assert.equal(will.payload, 'offline');
    await until('bridge disconnected', () => !bridge.status().connected);
    const retained = await retainedOn(broker.url, [bridge.topics.availability], 200);
    assert.equal(retained.get(bridge.topics.availability), 'offline');
  });

  it('reconnects in real time within the backoff once the path is back', async () => {
    const back = performance.now();
    relay.accepting = true;
    await until('reconnected', () => bridge.status().connected, 3000);
    const tookMs = performance.now() - back;
    // The backoff is capped at 400 ms; the rest is slack for a loaded machine.
    assert.ok(tookMs < 400 + 1500, `reconnected after ${tookMs.toFixed(0)} ms`);
    await until('online again', () => observer.last(bridge.topics.availability)?.payload === 'online');
  });

  it('never runs a retained command again when it resubscribes', async () => {
    await observer.client.publishAsync(bridge.topics.command, 'open retained', { retain: true });
    const results = () => observer.on(bridge.topics.commandResult).map((m) => JSON.parse(m.payload));
    // Published while the bridge listens, it is a live command and runs, once.
    await until('live command answered', () => results().length === 1);
    assert.equal(door.opens.length, 1);
    const reconnects = bridge.status().reconnects;
    relay.cut();
    await until('reconnected', () => bridge.status().connected && bridge.status().reconnects > reconnects, 3000);
    if (protocolVersion === 4) {
      const refused = await until('retained command refused', () => results().find((r) => /retained commands are ignored/.test(r.error ?? '')));
      assert.equal(refused.ok, false);
    } else {
      await sleep(300);
      assert.equal(results().length, 1, 'the broker did not send it again');
    }
    assert.equal(door.opens.length, 1);
    await observer.client.publishAsync(bridge.topics.command, '', { retain: true });
  });
});
