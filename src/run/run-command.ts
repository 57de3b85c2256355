// `p2psip run` and `p2psip status`: the device's main job and a look into it.
import { type DeviceConfig, controlPath, deviceConfigFrom } from './config.ts';
import { type OverlayDevice, startOverlayDevice } from './overlay-device.ts';
import { CommandInterpreter, ControlServer, jsonReplacer } from '../control/control-server.ts';
import { sendCommand } from '../control/control-client.ts';
import { readFileSync } from 'node:fs';
import { createLogger, setLogSink } from '../util/log.ts';
import { ResourceMonitor, type ResourceThresholds, sampleResources } from '../device/resources.ts';
import { LogRing } from '../device/serial-console.ts';
import { type IntercomDevice, startIntercomDevice } from './intercom-device.ts';
import type { IntercomEvents } from '../app/intercom.ts';
import { MqttBridge } from '../device/mqtt-bridge.ts';
import { IdentityUnreadableError } from '../device/flash-identity.ts';
import { notifyReady, notifyWatchdog, watchdogIntervalMs } from './systemd-notify.ts';
import { untilTerminated } from '../util/signals.ts';
import { fetchCommand, storeCommand } from './storage-commands.ts';
import { startSipAgent } from './sip-agent.ts';
import { registerCallCommands } from './call-commands.ts';
import { systemClock } from '../util/clock.ts';

export async function runDevice(args: string[], print: (line: string) => void): Promise<number> {
  const config: DeviceConfig = deviceConfigFrom(args);
  config.lanDiscovery ??= true;
  const clock = systemClock;
  const log = createLogger('p2psip');
  // Recent log lines for `log tail` (control socket, serial console), still written to stderr.
  const logRing = new LogRing();
  setLogSink((line) => { logRing.push(line); process.stderr.write(`${line}\n`); });
  if (config.board === 'auto') config.board = detectBoard();
  const thresholds = resourceThresholds(config);
  const autoRole = config.autoRole ?? config.role === 'peer';
  if (autoRole && config.role === 'peer') {
    // §4.2: a board short of memory, CPU or disk joins as a client from the start.
    const first = ResourceMonitor.initialRole(sampleResources(config.dataDir), thresholds);
    if (first.role === 'client') {
      log.warn('resources short at start: joining as a client', { shortOf: first.shortOf });
      config.role = 'client';
    }
  }
  let device: OverlayDevice;
  try {
    device = await startOverlayDevice(config);
  } catch (e) {
    if (!(e instanceof IdentityUnreadableError)) throw e;
    // Flash holds no usable identity and a new one would not be accepted (a CA overlay):
    // restarting cannot help, so the device waits for a technician instead of a restart loop.
    return waitForEnrollment(config, e, print);
  }
  // --no-sip: an overlay-only device (a bootstrap peer, the overlay's own tests).
  const sip = config.sip?.enabled === false ? undefined : await startSipAgent(device, config, { clock }).catch(async (e: Error) => {
    await device.stop();
    throw new Error(`SIP could not start: ${e.message}`);
  });
  const interpreter = new CommandInterpreter();
  if (sip) registerCallCommands(interpreter, sip.ua);
  interpreter.register('ping', async ([target]) => pingCommand(device, target));
  const storageEnv = { client: device.data, kinds: device.kinds, security: device.security };
  interpreter.register('store', (args) => storeCommand(storageEnv, args));
  interpreter.register('fetch', (args) => fetchCommand(storageEnv, args));
  interpreter.register('config-update', async ([file]) => {
    if (!file) throw new Error('usage: config-update FILE.xml');
    const { readFile } = await import('node:fs/promises');
    const decision = await device.configuration.offer(await readFile(file, 'utf8'));
    if (!decision.accepted) throw new Error(`refused: ${decision.reason}: ${decision.message}`);
    return { sequence: decision.configuration.sequence };
  });
  interpreter.register('log', ([what, n]) => {
    if (what !== 'tail') throw new Error('usage: log tail [N]');
    return logRing.tail(n === undefined ? undefined : Number(n));
  });

  const monitor = new ResourceMonitor({ clock, log: createLogger('device:resources'), sample: () => sampleResources(config.dataDir) }, { role: device.role, thresholds });
  monitor.onDecision = (decision) => {
    if (!autoRole) return;
    void device.switchRole(decision.role).then(
      () => { monitor.roleChanged(device.role); log.info('role changed', { role: device.role, shortOf: decision.shortOf }); publishHealth(); },
      (e: Error) => log.error('role change failed', { to: decision.role, error: e.message }),
    );
  };
  if (autoRole) monitor.start();
  interpreter.register('resources', ([what, value]) => {
    if (what === 'budget') {
      if (value === undefined) throw new Error('usage: resources budget BYTES|none');
      monitor.setBudget(value === 'none' ? undefined : Number(value));
    } else if (what !== undefined) throw new Error('usage: resources [budget BYTES|none]');
    return { autoRole, ...monitor.status() as object };
  });
  interpreter.register('role', async ([to]) => {
    if (to !== 'peer' && to !== 'client') throw new Error('usage: role peer|client');
    await device.switchRole(to);
    monitor.roleChanged(device.role);
    return { role: device.role };
  });

  // Home automation: a broker outage never holds up a call (the bridge queues and drops).
  let mqtt: MqttBridge | undefined;
  if (config.mqtt?.url) {
    mqtt = new MqttBridge({ clock, log: createLogger('device:mqtt'), interpreter }, {
      url: config.mqtt.url, username: config.mqtt.username, password: config.mqtt.password, baseTopic: config.mqtt.baseTopic,
      discoveryPrefix: config.mqtt.discoveryPrefix, deviceId: mqttDeviceId(config.userName), deviceName: `p2psip ${config.userName}`,
      model: config.board ?? 'p2psip', swVersion: SOFTWARE_VERSION,
    });
    void mqtt.start();
  }
  const events: IntercomEvents | undefined = mqtt && {
    ring: (info) => mqtt!.publishRing(info),
    callState: (state, attributes) => mqtt!.publishCallState(state, attributes as Record<string, unknown>),
    door: (state, attributes) => mqtt!.publishDoorEvent(state, attributes as Record<string, unknown>),
  };
  const publishHealth = (): void => {
    if (!mqtt) return;
    const s = device.status() as { state: string; connections: unknown[] };
    mqtt.publishHealth({ joined: s.state === 'joined' || s.state === 'attached', role: device.role, peers: s.connections.length, state: s.state });
    mqtt.publishRole({ role: device.role, shortOf: (monitor.status() as { shortOf: string[] }).shortOf });
  };
  const health = mqtt ? setInterval(publishHealth, HEALTH_PUBLISH_MS) : undefined;
  health?.unref();

  let intercom: IntercomDevice | undefined;
  if (config.board && !sip) throw new Error('a board needs SIP: drop --no-sip');
  if (config.board && sip) {
    intercom = await startIntercomDevice(device, sip, { ...config, board: config.board }, {
      clock, interpreter, logRing, events,
      onDoorState: (state) => mqtt?.publishDoor(state === 'open' ? 'open' : 'locked'),
    }).catch(async (e: Error) => {
      await sip?.stop();
      await device.stop();
      throw new Error(`the board could not start: ${e.message}`);
    });
  }
  // Retained state from the start, so home automation knows the device before anything happens.
  if (mqtt) {
    mqtt.publishCallState('idle');
    if (intercom) mqtt.publishDoor('locked');
    publishHealth();
  }
  interpreter.register('status', () => ({
    ...device.status(), sip: sip?.status() ?? null, resources: monitor.status(), intercom: intercom?.status() ?? null, mqtt: mqtt?.status() ?? null,
  }));

  const control = new ControlServer({ log, interpreter }, controlPath(config));
  await control.start();
  print(JSON.stringify({
    event: 'started', nodeId: Buffer.from(device.identity.nodeId).toString('hex'), overlay: config.overlay, role: device.role,
    listen: `${device.listening.host}:${device.listening.port}`, control: controlPath(config),
    sip: sip ? `${sip.transport.advertisedHost}:${sip.transport.port}` : null, aor: config.userName, board: intercom?.board.name ?? null,
  }));
  // Under systemd (Type=notify, WatchdogSec): ready now, then alive every half watchdog period.
  void notifyReady(`${device.role} ${config.userName}`);
  const watchdogMs = watchdogIntervalMs();
  const watchdog = watchdogMs ? setInterval(() => void notifyWatchdog(), watchdogMs) : undefined;
  await untilTerminated();
  if (watchdog) clearInterval(watchdog);
  if (health) clearInterval(health);
  monitor.stop();
  await control.stop();
  await intercom?.stop();
  await sip?.stop();
  await mqtt?.close();
  await device.stop();
  print(JSON.stringify({ event: 'stopped' }));
  return 0;
}

/** How often overlay health and role go to MQTT (retained; a change of role goes at once). */
const HEALTH_PUBLISH_MS = 30_000;
const SOFTWARE_VERSION = '0.1.0';

/** An MQTT/Home Assistant object ID from the AOR: `3b@building.example` → `3b_building_example`. */
function mqttDeviceId(aor: string): string {
  return aor.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 64);
}

/** Keeps the control socket up with the reason, until SIGTERM; `p2psip enroll` then a restart fixes it. */
async function waitForEnrollment(config: DeviceConfig, error: Error, print: (line: string) => void): Promise<number> {
  const log = createLogger('p2psip');
  log.error('no usable identity on flash: run p2psip enroll, then restart', { error: error.message });
  const interpreter = new CommandInterpreter();
  interpreter.register('status', () => ({ state: 'needs-enrollment', error: error.message, dataDir: config.dataDir }));
  const control = new ControlServer({ log, interpreter }, controlPath(config));
  await control.start();
  print(JSON.stringify({ event: 'needs-enrollment', error: error.message, control: controlPath(config) }));
  void notifyReady('needs enrollment');
  const watchdogMs = watchdogIntervalMs();
  const watchdog = watchdogMs ? setInterval(() => void notifyWatchdog(), watchdogMs) : undefined;
  await untilTerminated();
  if (watchdog) clearInterval(watchdog);
  await control.stop();
  return 0;
}

function resourceThresholds(config: DeviceConfig): ResourceThresholds {
  return { memoryBudgetBytes: config.memoryBudgetBytes };
}

export function isRaspberryPi(): boolean {
  return detectBoard() !== undefined;
}

/** The board of the Raspberry Pi this runs on (its device-tree model), or none elsewhere. */
function detectBoard(): string | undefined {
  let model = '';
  try {
    model = readFileSync('/proc/device-tree/model', 'utf8');
  } catch {
    return undefined;
  }
  if (/Raspberry Pi Zero 2/i.test(model)) return 'pi-zero-2w';
  if (/Raspberry Pi 3 Model B Plus/i.test(model)) return 'pi-3b-plus';
  if (/Raspberry Pi 4/i.test(model)) return 'pi-4b';
  return undefined;
}

async function pingCommand(device: OverlayDevice, target: string | undefined): Promise<unknown> {
  const { fromHex, nodeDestination, resourceDestination, resourceId, toHex } = await import('../codec/index.ts');
  if (!target) throw new Error('usage: ping <node-id hex> | ping resource:<name or hex>');
  const dest = target.startsWith('resource:')
    ? resourceDestination(/^[0-9a-f]{32}$/i.test(target.slice(9)) ? fromHex(target.slice(9)) : resourceId(target.slice(9)))
    : nodeDestination(fromHex(target));
  const started = performance.now();
  const answer = await device.node.transport.request([dest], 'ping_req', { padding: new Uint8Array(0) });
  // Answers retrace the request's path (§6.2.2), each hop taking one off the TTL.
  const self = answer.signer[0] !== undefined && Buffer.compare(answer.signer[0], device.identity.nodeId) === 0;
  const hops = self ? 0 : device.node.transport.initialTtl - answer.message.header.ttl + 1;
  return { from: toHex(answer.signer[0] ?? new Uint8Array(0)), rttMs: Math.round((performance.now() - started) * 1000) / 1000, hops };
}

/** `p2psip status [--data DIR | --control PATH]`, or any other control command. */
export async function controlCommand(command: string, args: string[], print: (line: string) => void): Promise<number> {
  let dataDir = 'data';
  let control: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data') dataDir = args[++i];
    else if (args[i] === '--control') control = args[++i];
    else rest.push(args[i]);
  }
  const answer = await sendCommand(controlPath({ dataDir, control }), [command, ...rest].join(' '));
  print(JSON.stringify(answer, jsonReplacer, 2));
  return (answer as { ok?: boolean }).ok ? 0 : 1;
}
