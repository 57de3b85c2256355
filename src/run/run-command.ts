// `p2psip run` and `p2psip status`: the device's main job and a look into it.
import { type DeviceConfig, controlPath, deviceConfigFrom } from './config.ts';
import { type OverlayDevice, startOverlayDevice } from './overlay-device.ts';
import { CommandInterpreter, ControlServer, jsonReplacer } from '../control/control-server.ts';
import { sendCommand } from '../control/control-client.ts';
import { createLogger } from '../util/log.ts';
import { untilTerminated } from '../util/signals.ts';
import { fetchCommand, storeCommand } from './storage-commands.ts';
import { startSipAgent } from './sip-agent.ts';
import { registerCallCommands } from './call-commands.ts';
import { systemClock } from '../util/clock.ts';

export async function runDevice(args: string[], print: (line: string) => void): Promise<number> {
  const config: DeviceConfig = deviceConfigFrom(args);
  const log = createLogger('p2psip');
  const device: OverlayDevice = await startOverlayDevice(config);
  const sip = await startSipAgent(device, config, { clock: systemClock }).catch(async (e: Error) => {
    await device.stop();
    throw new Error(`SIP could not start: ${e.message}`);
  });
  const interpreter = new CommandInterpreter();
  interpreter.register('status', () => ({ ...device.status(), sip: sip.status() }));
  registerCallCommands(interpreter, sip.ua);
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
  const control = new ControlServer({ log, interpreter }, controlPath(config));
  await control.start();
  print(JSON.stringify({
    event: 'started', nodeId: Buffer.from(device.identity.nodeId).toString('hex'), overlay: config.overlay, role: config.role,
    listen: `${device.listening.host}:${device.listening.port}`, control: controlPath(config),
    sip: `${sip.transport.advertisedHost}:${sip.transport.port}`, aor: config.userName,
  }));
  await untilTerminated();
  await control.stop();
  await sip.stop();
  await device.stop();
  print(JSON.stringify({ event: 'stopped' }));
  return 0;
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
