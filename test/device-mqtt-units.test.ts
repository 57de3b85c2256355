// The MQTT bridge's parts without a broker: the bounded outbox, the backoff, configuration
// checks, and a bridge whose broker is never there.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { MqttBridge } from '../src/device/mqtt-bridge.ts';
import { ReconnectBackoff } from '../src/device/mqtt-backoff.ts';
import { discoveryConfigs } from '../src/device/mqtt-discovery.ts';
import { MqttOutbox } from '../src/device/mqtt-outbox.ts';
import { bridgeTopics } from '../src/device/mqtt-topics.ts';
import { FakeClock, systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { until } from './harness/wait.ts';

const interpreter = { run: async (line: string) => ({ ok: true, result: line }) };

describe('MqttOutbox', () => {
  it('keeps only the latest value per retained topic and reports unchanged values', () => {
    const outbox = new MqttOutbox({ clock: new FakeClock() }, { maxRetainedTopics: 2, maxQueuedEvents: 2, eventMaxAgeMs: 1000 });
    assert.equal(outbox.remember('a', '1'), 'changed');
    assert.equal(outbox.remember('a', '1'), 'unchanged');
    assert.equal(outbox.remember('a', '2'), 'changed');
    assert.equal(outbox.remember('b', '1'), 'changed');
    assert.equal(outbox.remember('c', '1'), 'refused', 'a third topic is over the bound');
    assert.equal(outbox.remember('b', '3'), 'changed', 'known topics still update');
    assert.deepEqual(outbox.retained(), [['a', '2'], ['b', '3']]);
    assert.equal(outbox.counters.retainedRefused, 1);
  });

  it('queues a bounded number of events and drops stale ones when drained', () => {
    const clock = new FakeClock();
    const outbox = new MqttOutbox({ clock }, { maxRetainedTopics: 2, maxQueuedEvents: 3, eventMaxAgeMs: 1000 });
    assert.equal(outbox.queue('e', 'old'), true);
    clock.advance(600);
    assert.equal(outbox.queue('e', 'new1'), true);
    assert.equal(outbox.queue('e', 'new2', Buffer.from('c')), true);
    assert.equal(outbox.queue('e', 'over'), false);
    assert.equal(outbox.queued, 3);
    clock.advance(500);
    const fresh = outbox.drain();
    assert.deepEqual(fresh.map((e) => e.payload), ['new1', 'new2']);
    assert.deepEqual(fresh[1]!.correlationData, Buffer.from('c'));
    assert.equal(outbox.queued, 0);
    assert.deepEqual(outbox.counters, { eventsQueued: 3, eventsRefused: 1, eventsStale: 1, retainedRefused: 0 });
    assert.equal(outbox.dropped, 2);
  });
});

describe('ReconnectBackoff', () => {
  it('doubles up to the cap and resets after a stable connection', () => {
    const b = new ReconnectBackoff({ minMs: 100, maxMs: 1000, stableMs: 5000 });
    assert.deepEqual([0, 0, 0, 0, 0, 0].map(() => b.next(0)), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(b.next(4999), 1000, 'a short connection does not reset');
    assert.equal(b.next(5000), 100, 'a stable one does');
    for (let i = 0; i < 2000; i++) b.next(0);
    assert.equal(b.next(0), 1000, 'no overflow after many failures');
  });

  it('refuses nonsense bounds', () => {
    assert.throws(() => new ReconnectBackoff({ minMs: 0, maxMs: 10, stableMs: 1 }), RangeError);
    assert.throws(() => new ReconnectBackoff({ minMs: 10, maxMs: 5, stableMs: 1 }), RangeError);
  });
});

describe('Home Assistant discovery', () => {
  it('gives every entity a distinct config topic and unique id under one device', () => {
    const configs = discoveryConfigs('ha', { deviceId: 'd', name: 'D', model: 'm', manufacturer: 'x', swVersion: '1' }, bridgeTopics('base/d'));
    assert.equal(new Set(configs.map((c) => c.topic)).size, configs.length);
    assert.equal(new Set(configs.map((c) => c.payload.unique_id)).size, configs.length);
    for (const c of configs) {
      assert.equal(c.topic, `ha/${c.component}/d/${c.object}/config`);
      assert.deepEqual((c.payload.device as { identifiers: string[] }).identifiers, ['p2psip_d']);
    }
    assert.ok(!configs.some((c) => c.component === 'lock'));
  });
});

describe('MqttBridge configuration', () => {
  const components = { clock: new FakeClock(), log: silentLogger, interpreter };
  it('rejects a device id or topics that cannot appear in a topic', () => {
    assert.throws(() => new MqttBridge(components, { url: 'mqtt://127.0.0.1:1', deviceId: 'a/b' }), /deviceId/);
    assert.throws(() => new MqttBridge(components, { url: 'mqtt://127.0.0.1:1', deviceId: 'a', baseTopic: 'x/#' }), /base topic/);
    assert.throws(() => new MqttBridge(components, { url: 'mqtt://127.0.0.1:1', deviceId: 'a', discoveryPrefix: '/ha' }), /discovery prefix/);
  });

  it('lays topics out under the base topic', () => {
    const bridge = new MqttBridge(components, { url: 'mqtt://127.0.0.1:1', deviceId: 'hall' });
    assert.deepEqual(bridge.topics, {
      availability: 'p2psip/hall/availability',
      command: 'p2psip/hall/command',
      commandResult: 'p2psip/hall/command/result',
      ring: 'p2psip/hall/ring',
      doorEvent: 'p2psip/hall/door/event',
      door: 'p2psip/hall/door',
      call: 'p2psip/hall/call',
      overlay: 'p2psip/hall/overlay',
      role: 'p2psip/hall/role',
    });
  });
});

describe('MqttBridge without a broker', () => {
  async function deadPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  it('keeps retrying, never throws at the app, and bounds what it keeps', async () => {
    const bridge = new MqttBridge(
      { clock: systemClock, log: silentLogger, interpreter },
      { url: `mqtt://127.0.0.1:${await deadPort()}`, deviceId: 'lonely', reconnectMinMs: 20, reconnectMaxMs: 40, maxQueuedEvents: 4 },
    );
    await bridge.start();
    await bridge.start();
    await until('two failed attempts', () => bridge.status().failedAttempts >= 2, 3000);
    for (let i = 0; i < 10; i++) bridge.publishRing({ button: String(i) });
    bridge.publishCallState('active', { remote: 'sip:x@y', big: 1n, bytes: new Uint8Array([255]) });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    bridge.publishHealth({ joined: true, role: 'peer', peers: 1, circular });
    bridge.publishHealth({ joined: true, role: 'peer', peers: 1, blob: 'x'.repeat(20_000) });
    const s = bridge.status();
    assert.equal(s.connected, false);
    assert.equal(s.queued, 4);
    assert.equal(s.dropped, 6);
    assert.equal(s.retainedTopics, 1);
    assert.equal(s.refused, 2);
    assert.ok(s.lastError, 'the connection error is reported');
    const closing = bridge.close();
    assert.equal(bridge.close(), closing);
    await closing;
    assert.equal(bridge.status().state, 'closed');
    const failed = bridge.status().failedAttempts;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(bridge.status().failedAttempts, failed, 'no attempt after close');
  });

  it('can be closed before it ever started, or while it is starting', async () => {
    const init = { url: 'mqtt://127.0.0.1:1', deviceId: 'x' };
    const idle = new MqttBridge({ clock: new FakeClock(), log: silentLogger, interpreter }, init);
    await idle.close();
    await idle.start();
    assert.equal(idle.status().state, 'closed');

    const starting = new MqttBridge({ clock: new FakeClock(), log: silentLogger, interpreter }, init);
    const started = starting.start();
    await starting.close();
    await started;
    assert.equal(starting.status().state, 'closed');
  });
});
