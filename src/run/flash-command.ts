// `p2psip flash`: writes into a board's root filesystem (a mounted SD card, or any
// directory) everything it needs to boot into a working intercom: the bundle and the board
// definitions, the device configuration, its identity or what it needs to get one, and the
// systemd unit that runs it. Nothing runs on the board here and no root is needed; the
// layout, the first boot and the ownership caveat are in flash/README.md.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex } from '../codec/index.ts';
import { ROOT_CERT_FILE } from '../enroll/constants.ts';
import { readRootCertificates } from '../enroll/enroll-command.ts';
import { readPasswordLine } from '../enroll/password-input.ts';
import { parseOverlayConfiguration } from '../reload/config/index.ts';
import {
  IDENTITY_CERT_FILE, IDENTITY_CERT_FILE_MODE, IDENTITY_KEY_FILE, IDENTITY_KEY_FILE_MODE, type NodeIdentity, certificatePem, fromPem, isSelfIssued,
} from '../reload/security/index.ts';
import { type DeviceConfig, deviceConfigFrom } from './config.ts';

/** Where everything lives on the board; absolute paths inside the target root. */
export const DEVICE_PATHS = {
  installDir: '/opt/p2psip',
  bundle: '/opt/p2psip/p2psip.mjs',
  boards: '/opt/p2psip/board',
  configDir: '/etc/p2psip',
  config: '/etc/p2psip/device.json',
  overlayConfiguration: '/etc/p2psip/overlay-config.xml',
  /** The unit's StateDirectory=p2psip. */
  dataDir: '/var/lib/p2psip',
  unit: '/etc/systemd/system/p2psip.service',
  enableLink: '/etc/systemd/system/multi-user.target.wants/p2psip.service',
} as const;

/**
 * An enrollment the device performs at its first start (RFC 6940 §11.3, as `p2psip enroll`),
 * kept in the data directory, where only the service user can read it, and deleted once the
 * certificate is saved.
 */
export const ENROLLMENT_REQUEST_FILE = 'enroll.json';

export interface EnrollmentRequest {
  /** https URL of the enrollment server. */
  server: string;
  user: string;
  password: string;
  /** PEM root certificates: the anchors of the server's and the issued certificate. */
  root: string;
  overlay: string;
}

/** device.json: a DeviceConfig, plus what the run loop does not read yet. */
export interface FlashedDeviceConfig extends DeviceConfig {
  /** Name of the board definition in /opt/p2psip/board/<board>.json. */
  board: string;
  /** The home automation broker. */
  mqtt?: { url: string };
  /** Free-form device settings given with --set KEY=VALUE. */
  device?: Record<string, unknown>;
}

/** Supplementary groups of the service: /dev/gpiomem, the serial port, ALSA. */
const DEFAULT_GROUPS = ['gpio', 'dialout', 'audio'];
const UNIT_TEMPLATE = 'p2psip.service';
const SIP_PORT = 5060;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
const PRIVATE_DIR_MODE = 0o700;
const EXECUTABLE_MODE = 0o755;
const SECRET_MODE = 0o600;
const MQTT_PROTOCOLS = new Set(['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ssl:', 'ws:', 'wss:']);

export const FLASH_USAGE = `usage: p2psip flash --board NAME --target DIR --user NAME@DOMAIN [--force]
         [--credentials DATA_DIR | --enroll-url URL --enroll-root FILE [--enroll-user NAME] --enroll-password PW|-
          | --enroll-token FILE]
         [--overlay NAME] [--bootstrap HOST:PORT[,...]] [--client] [--listen HOST:PORT] [--advertise HOST]
         [--sip-listen HOST:PORT] [--audio-in SPEC] [--audio-out SPEC] [--mqtt URL] [--set KEY=VALUE]...
         [--groups G1,G2,...] [--boards-dir DIR] [any other option of p2psip run but --data and --config]`;

const FLASH_OPTIONS = ['board', 'target', 'credentials', 'enroll-url', 'enroll-user', 'enroll-password', 'enroll-root', 'enroll-token', 'mqtt', 'groups', 'boards-dir'] as const;
type FlashOption = (typeof FLASH_OPTIONS)[number];
const RUN_SWITCHES = new Set(['client', 'peer']);
const REFUSED: Record<string, string> = {
  data: `a flashed device keeps its data in ${DEVICE_PATHS.dataDir} (the unit's StateDirectory)`,
  config: 'flash builds the configuration from its options',
};

interface FlashArgs {
  options: Map<FlashOption, string>;
  settings: string[];
  force: boolean;
  runArgs: string[];
}

function parseArgs(args: string[]): FlashArgs {
  const out: FlashArgs = { options: new Map(), settings: [], force: false, runArgs: [] };
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : undefined;
    if (name === undefined) throw new Error(`unexpected argument "${args[i]}"\n${FLASH_USAGE}`);
    if (name === 'force') { out.force = true; continue; }
    if (REFUSED[name]) throw new Error(`--${name} is not a flash option: ${REFUSED[name]}`);
    if (RUN_SWITCHES.has(name)) { out.runArgs.push(args[i]); continue; }
    if (i + 1 >= args.length) throw new Error(`--${name} needs a value\n${FLASH_USAGE}`);
    const value = args[++i];
    if (name === 'set') out.settings.push(value);
    else if ((FLASH_OPTIONS as readonly string[]).includes(name)) out.options.set(name as FlashOption, value);
    else out.runArgs.push(`--${name}`, value);
  }
  return out;
}

/** A file, or a symlink, to place under the target root. */
type Entry = { path: string; mode: number; data: string | Uint8Array } | { path: string; link: string };

interface Identity {
  entries: Entry[];
  summary: Record<string, unknown>;
  firstBoot: string;
}

export async function runFlash(args: string[], print: (line: string) => void): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    print(FLASH_USAGE);
    return 0;
  }
  const { options, settings, force, runArgs } = parseArgs(args);
  const boardName = options.get('board');
  const targetArg = options.get('target');
  if (!boardName || !targetArg) throw new Error(`--board and --target are needed\n${FLASH_USAGE}`);
  const target = resolve(targetArg);
  checkTarget(target);
  const here = dirname(fileURLToPath(import.meta.url));
  const boards = readBoards(options.has('boards-dir') ? resolve(options.get('boards-dir')!) : findUp(here, 'board'), boardName);
  const bundle = findBundle(here);
  const templatePath = findUp(here, join('flash', UNIT_TEMPLATE));
  if (!templatePath) throw new Error(`no unit template flash/${UNIT_TEMPLATE} beside the bundle or in the source tree`);
  const groups = (options.get('groups') ?? DEFAULT_GROUPS.join(',')).split(',').filter(Boolean);
  for (const g of groups) if (!/^[a-z_][a-z0-9_-]*$/.test(g)) throw new Error(`--groups: "${g}" is not a group name`);

  let config: DeviceConfig;
  try {
    config = deviceConfigFrom(runArgs);
  } catch (e) {
    throw new Error(`${(e as Error).message.split('\n')[0]}\n${FLASH_USAGE}`);
  }
  // A board too small to carry its share of the overlay says so (resources.defaultRole).
  const boardRole = (boards.board.resources as { defaultRole?: unknown } | undefined)?.defaultRole;
  if (!runArgs.includes('--client') && !runArgs.includes('--peer') && (boardRole === 'peer' || boardRole === 'client')) config.role = boardRole;
  const credentials = credentialsFrom(options, runArgs, config);
  const device = deviceSettings(settings);
  const mqtt = options.get('mqtt');
  if (mqtt !== undefined) checkMqttUrl(mqtt);
  const entries: Entry[] = [];
  if (config.overlayConfiguration) {
    const xml = readFileSync(config.overlayConfiguration, 'utf8');
    parseOverlayConfiguration(xml, { instanceName: config.overlay });
    entries.push({ path: DEVICE_PATHS.overlayConfiguration, mode: FILE_MODE, data: xml });
  }
  const flashed: FlashedDeviceConfig = {
    ...config,
    dataDir: DEVICE_PATHS.dataDir,
    ...(config.overlayConfiguration ? { overlayConfiguration: DEVICE_PATHS.overlayConfiguration } : {}),
    sip: { listen: { host: config.listen.host, port: SIP_PORT }, ...config.sip },
    board: boardName,
    ...(mqtt !== undefined ? { mqtt: { url: mqtt } } : {}),
    ...(device ? { device } : {}),
  };
  if (!force) refuseExistingConfiguration(target);
  const identity = await identityFor(credentials, flashed, target);

  const unit = fillTemplate(readFileSync(templatePath, 'utf8'), {
    BUNDLE: DEVICE_PATHS.bundle, CONFIG: DEVICE_PATHS.config, DATA_DIR: DEVICE_PATHS.dataDir, GROUPS: groups.join(' '),
  });
  entries.push(
    { path: DEVICE_PATHS.config, mode: FILE_MODE, data: `${JSON.stringify(flashed, null, 2)}\n` },
    ...identity.entries,
    { path: DEVICE_PATHS.unit, mode: FILE_MODE, data: unit },
    // systemctl enable links to the unit's absolute path; it resolves once the card boots.
    { path: DEVICE_PATHS.enableLink, link: DEVICE_PATHS.unit },
  );

  const program: Entry[] = [
    { path: DEVICE_PATHS.bundle, mode: EXECUTABLE_MODE, data: readFileSync(bundle) },
    ...boards.files.map((f) => ({ path: join(DEVICE_PATHS.boards, relative(boards.dir, f)), mode: FILE_MODE, data: readFileSync(f) })),
  ];
  const removed = writeAll(target, program, entries);

  const root = process.getuid?.() === 0;
  print(JSON.stringify({
    event: 'flashed',
    target,
    board: boardName,
    written: [...program, ...entries].map((e) => ('link' in e ? { path: e.path, symlink: e.link } : { path: e.path, mode: octal(e.mode) })),
    removed,
    config: flashed,
    identity: identity.summary,
    firstBoot: firstBoot(flashed, groups, identity.firstBoot),
    warnings: warnings(flashed, target, root),
  }, null, 2));
  return 0;
}

/** Everything that configures the device, as opposed to the program files, is kept without --force. */
function refuseExistingConfiguration(target: string): void {
  const configuration = [
    DEVICE_PATHS.config, DEVICE_PATHS.overlayConfiguration, DEVICE_PATHS.unit, dataPath(ENROLLMENT_REQUEST_FILE),
    dataPath(IDENTITY_KEY_FILE), dataPath(IDENTITY_CERT_FILE), dataPath(ROOT_CERT_FILE),
  ];
  const existing = configuration.filter((p) => existsSync(onTarget(target, p)));
  if (existing.length > 0) throw new Error(`${target} already holds a configuration (${existing.join(', ')}): --force replaces it`);
}

/** Writes program and configuration; returns the stale files it removed. */
function writeAll(target: string, program: Entry[], entries: Entry[]): string[] {
  // Left from an earlier flash, these would override what is written now: a pending
  // enrollment over copied credentials, a document device.json no longer names.
  const written = new Set(entries.map((e) => e.path));
  const removed = [DEVICE_PATHS.overlayConfiguration, dataPath(ENROLLMENT_REQUEST_FILE)].filter((p) => !written.has(p) && existsSync(onTarget(target, p)));
  for (const p of removed) unlinkSync(onTarget(target, p));
  makeDir(target, DEVICE_PATHS.installDir, DIR_MODE);
  makeDir(target, DEVICE_PATHS.configDir, DIR_MODE);
  makeDir(target, DEVICE_PATHS.dataDir, PRIVATE_DIR_MODE);
  // Boards removed from the source tree go from the board too.
  rmSync(onTarget(target, DEVICE_PATHS.boards), { recursive: true, force: true });
  for (const e of [...program, ...entries]) place(target, e);
  return removed;
}

function checkTarget(target: string): void {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new Error(`target ${target} does not exist: mount the board's root filesystem there, or create the directory`);
  }
  if (!st.isDirectory()) throw new Error(`target ${target} is not a directory`);
  // A card that has booted has its data directory moved to /var/lib/private/p2psip and a
  // relative symlink in its place, which is followed; an absolute one would lead out of the
  // target into this machine's own /var/lib.
  const data = onTarget(target, DEVICE_PATHS.dataDir);
  if (lstatSafe(data) && lstatSync(data).isSymbolicLink() && isAbsolute(readlinkSync(data))) {
    throw new Error(`${data} is a symlink to ${readlinkSync(data)}, outside the target: make it relative or remove it`);
  }
}

/** `rel` in `start` or up to three directories above: beside the bundle, or in the source tree. */
function findUp(start: string, rel: string): string | undefined {
  for (let dir = start, n = 0; n < 4; n++, dir = dirname(dir)) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
  }
  return undefined;
}

/** The bundle that is running, or the source tree's dist/p2psip.mjs. */
function findBundle(here: string): string {
  const self = fileURLToPath(import.meta.url);
  if (basename(self) === 'p2psip.mjs') return self;
  const built = findUp(here, join('dist', 'p2psip.mjs'));
  if (!built) throw new Error('no dist/p2psip.mjs to install: build it first (node build.mjs)');
  return built;
}

/** The files of the boards folder, once `name` is known to be one of its boards. */
function readBoards(dir: string | undefined, name: string): { dir: string; files: string[]; board: Record<string, unknown> } {
  if (!dir || !existsSync(dir)) throw new Error(`no board definitions (board/ beside the bundle): give --boards-dir DIR`);
  const available = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
  if (!available.includes(name)) {
    throw new Error(`unknown board "${name}"; available boards: ${available.length > 0 ? available.join(', ') : `none in ${dir}`}`);
  }
  let board: unknown;
  try {
    board = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  } catch (e) {
    throw new Error(`board ${join(dir, `${name}.json`)} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof board !== 'object' || board === null || Array.isArray(board)) throw new Error(`board ${name}.json is not a JSON object`);
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(d, entry.name));
      else if (entry.isFile()) files.push(join(d, entry.name));
    }
  };
  walk(dir);
  return { dir, files: files.sort(), board: board as Record<string, unknown> };
}

type Credentials =
  | { kind: 'credentials'; dir: string; identity?: NodeIdentity }
  | { kind: 'enrollment'; request: Omit<EnrollmentRequest, 'overlay' | 'user' | 'password'> & { user?: string; password: string | undefined } }
  | { kind: 'self-signed' };

/**
 * Which of the three ways the device gets its identity, with user name and overlay filled in
 * from the copied certificate, or the user name's domain, when not given.
 */
function credentialsFrom(options: Map<FlashOption, string>, runArgs: string[], config: DeviceConfig): Credentials {
  const enrollFlags = (['enroll-url', 'enroll-user', 'enroll-password', 'enroll-root'] as const).filter((f) => options.has(f));
  const token = options.get('enroll-token');
  const dir = options.get('credentials');
  if (dir !== undefined && (enrollFlags.length > 0 || token !== undefined)) {
    throw new Error('--credentials and --enroll-* are two ways to give the device its identity: choose one');
  }
  if (token !== undefined && enrollFlags.length > 0) {
    throw new Error(`--enroll-token holds the whole enrollment: drop ${enrollFlags.map((f) => `--${f}`).join(', ')}`);
  }
  const userGiven = runArgs.includes('--user');
  const overlayGiven = runArgs.includes('--overlay');
  let result: Credentials = { kind: 'self-signed' };
  if (dir !== undefined) {
    result = { kind: 'credentials', dir: resolve(dir), identity: copiedIdentity(resolve(dir)) };
    if (result.identity && !userGiven) config.userName = result.identity.userName;
    if (result.identity && !overlayGiven) config.overlay = result.identity.overlay;
  } else if (token !== undefined) {
    const t = JSON.parse(readFileSync(token, 'utf8')) as Partial<EnrollmentRequest>;
    if (typeof t.server !== 'string' || typeof t.password !== 'string' || typeof t.root !== 'string') {
      throw new Error(`enrollment token ${token} needs "server", "password" and "root" (PEM), and may name "user"`);
    }
    result = { kind: 'enrollment', request: { server: t.server, root: t.root, password: t.password, user: t.user } };
  } else if (enrollFlags.length > 0) {
    const server = options.get('enroll-url');
    const rootFile = options.get('enroll-root');
    if (!server || !rootFile || !options.has('enroll-password')) {
      throw new Error('enrollment needs --enroll-url, --enroll-root and --enroll-password (- reads it from stdin)');
    }
    result = { kind: 'enrollment', request: { server, root: readFileSync(rootFile, 'latin1'), password: options.get('enroll-password'), user: options.get('enroll-user') } };
  }
  if (!userGiven && !(result.kind === 'credentials' && result.identity)) throw new Error(`--user NAME@DOMAIN is needed: the device's address of record\n${FLASH_USAGE}`);
  if (!/^[^@\s]+@[^@\s]+$/.test(config.userName)) throw new Error(`--user "${config.userName}" is not NAME@DOMAIN`);
  // The overlay name is also the building's SIP domain (RFC 7904 §3.3).
  if (!overlayGiven && !(result.kind === 'credentials' && result.identity)) config.overlay = config.userName.split('@')[1];
  if (result.kind === 'credentials' && result.identity) checkCopiedIdentity(result.identity, config);
  return result;
}

/** The certificate of a data directory, checked against its key; undefined for a key alone. */
function copiedIdentity(dir: string): NodeIdentity | undefined {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`--credentials ${dir} is not a directory`);
  const keyPath = join(dir, IDENTITY_KEY_FILE);
  const certPath = join(dir, IDENTITY_CERT_FILE);
  if (!existsSync(keyPath)) throw new Error(`--credentials ${dir} has no ${IDENTITY_KEY_FILE}: not a p2psip data directory`);
  if (!existsSync(certPath)) return undefined;
  try {
    return fromPem(readFileSync(keyPath, 'utf8'), readFileSync(certPath, 'utf8'));
  } catch (e) {
    throw new Error(`--credentials ${dir}: ${(e as Error).message}`);
  }
}

/** What loadOrCreateIdentity would refuse at boot, refused now instead (§11.3, §11.3.1). */
function checkCopiedIdentity(id: NodeIdentity, config: DeviceConfig): void {
  if (id.overlay.toLowerCase() !== config.overlay.toLowerCase()) {
    throw new Error(`the copied certificate is for overlay ${id.overlay}, not ${config.overlay}`);
  }
  if (isSelfIssued(id.info) && id.userName !== config.userName) {
    throw new Error(`the copied self-signed certificate is for user ${id.userName}, not ${config.userName}`);
  }
  if (Date.now() > id.info.notAfterMs && !isSelfIssued(id.info)) {
    throw new Error(`the copied certificate expired ${new Date(id.info.notAfterMs).toISOString()}: enroll again`);
  }
}

async function identityFor(credentials: Credentials, config: FlashedDeviceConfig, target: string): Promise<Identity> {
  const kept = existsSync(onTarget(target, dataPath(IDENTITY_KEY_FILE)));
  switch (credentials.kind) {
    case 'credentials': {
      const entries: Entry[] = [{ path: dataPath(IDENTITY_KEY_FILE), mode: IDENTITY_KEY_FILE_MODE, data: readFileSync(join(credentials.dir, IDENTITY_KEY_FILE)) }];
      for (const file of [IDENTITY_CERT_FILE, ROOT_CERT_FILE]) {
        const from = join(credentials.dir, file);
        if (existsSync(from)) entries.push({ path: dataPath(file), mode: IDENTITY_CERT_FILE_MODE, data: readFileSync(from) });
      }
      const id = credentials.identity;
      return {
        entries,
        summary: { source: 'credentials', from: credentials.dir, ...(id ? { nodeId: toHex(id.nodeId), userName: id.userName, selfSigned: isSelfIssued(id.info), notAfter: new Date(id.info.notAfterMs).toISOString() } : {}) },
        firstBoot: id
          ? `the device uses the copied identity: Node-ID ${toHex(id.nodeId)}, user ${id.userName}`
          : `the device certifies the copied key itself (self-signed, Node-ID from the key) for user ${config.userName}`,
      };
    }
    case 'enrollment': {
      const r = credentials.request;
      const url = new URL(r.server);
      if (url.protocol !== 'https:') throw new Error(`RFC 6940 §11.3: enrollment "MUST be performed over HTTPS", not ${url.protocol}`);
      let roots: Uint8Array[];
      try {
        roots = readRootCertificates(Buffer.from(r.root, 'latin1'));
      } catch (e) {
        throw new Error(`the enrollment root certificate is unreadable: ${(e as Error).message}`);
      }
      const password = r.password === '-' ? await readPasswordLine() : r.password;
      if (!password) throw new Error('the enrollment password is empty');
      const request: EnrollmentRequest = { server: r.server, user: r.user ?? config.userName, password, root: roots.map(certificatePem).join(''), overlay: config.overlay };
      return {
        entries: [{ path: dataPath(ENROLLMENT_REQUEST_FILE), mode: SECRET_MODE, data: `${JSON.stringify(request, null, 2)}\n` }],
        summary: { source: 'enrollment', server: request.server, user: request.user, file: dataPath(ENROLLMENT_REQUEST_FILE) },
        firstBoot: `the device enrolls with ${request.server} as ${request.user} (certifying ${kept ? 'the key already in' : 'a new key kept in'} ${DEVICE_PATHS.dataDir}), then deletes ${ENROLLMENT_REQUEST_FILE}`,
      };
    }
    case 'self-signed':
      return {
        entries: [],
        summary: { source: kept ? 'existing' : 'self-signed' },
        firstBoot: kept
          ? `the device keeps the identity already in ${DEVICE_PATHS.dataDir}`
          : `no credentials given: the device creates a self-signed identity (${IDENTITY_KEY_FILE}, ${IDENTITY_CERT_FILE}) in ${DEVICE_PATHS.dataDir}; its Node-ID is known after first boot (p2psip status)`,
      };
  }
}

/** --set KEY=VALUE: VALUE as JSON when it parses, else as a string. */
function deviceSettings(settings: string[]): Record<string, unknown> | undefined {
  if (settings.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const s of settings) {
    const eq = s.indexOf('=');
    const key = eq > 0 ? s.slice(0, eq) : '';
    if (!/^[A-Za-z][\w.-]*$/.test(key)) throw new Error(`--set needs KEY=VALUE, got "${s}"`);
    const value = s.slice(eq + 1);
    try {
      out[key] = JSON.parse(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

function checkMqttUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--mqtt "${value}" is not a URL (mqtt://HOST:PORT)`);
  }
  if (!MQTT_PROTOCOLS.has(url.protocol)) throw new Error(`--mqtt: ${url.protocol} is not an MQTT scheme (mqtt:, mqtts:, ws:, wss:)`);
}

function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/@([A-Z_]+)@/g, (field: string, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`unit template: unknown field ${field}`);
    return v;
  });
}

function firstBoot(config: FlashedDeviceConfig, groups: string[], identity: string): string[] {
  const joining = config.bootstrap.length > 0
    ? `it joins overlay ${config.overlay} through ${config.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')} as a ${config.role}`
    : `it starts overlay ${config.overlay} as its first node, or joins the bootstrap nodes of the overlay configuration`;
  return [
    `systemd starts p2psip.service (enabled in multi-user.target) as the dynamic user p2psip with groups ${groups.join(', ')}; Node.js 18 or later must be installed as node`,
    `systemd moves ${DEVICE_PATHS.dataDir} to /var/lib/private/p2psip and gives it, with what was copied into it, to that user`,
    identity,
    `${joining}, and registers ${config.userName} with SIP on port ${config.sip?.listen?.port ?? SIP_PORT}`,
    'the device reports READY=1 and then WATCHDOG=1 through systemd-notify; without them for 30 s systemd restarts it',
  ];
}

function warnings(config: FlashedDeviceConfig, target: string, root: boolean): string[] {
  const out: string[] = [];
  if (!root) {
    out.push(`written as uid ${process.getuid?.() ?? '?'}: on the board these files belong to whoever has that uid. Flash as root, or on the board run as root: chown -R root:root ${DEVICE_PATHS.installDir} ${DEVICE_PATHS.configDir} ${DEVICE_PATHS.unit} (systemd hands ${DEVICE_PATHS.dataDir} to the service itself)`);
  }
  if (!config.advertise && (config.listen.host === '0.0.0.0' || config.listen.host === '::')) {
    out.push(`no --advertise: p2psip run offers 127.0.0.1 to other peers when listening on ${config.listen.host}; give the board's LAN address`);
  }
  if (existsSync(join(target, 'etc', 'os-release')) && !['usr/bin/node', 'usr/local/bin/node'].some((p) => existsSync(join(target, p)))) {
    out.push('the target has no usr/bin/node: install Node.js 18 or later on the board (apt install nodejs)');
  }
  return out;
}

function dataPath(file: string): string {
  return `${DEVICE_PATHS.dataDir}/${file}`;
}

function onTarget(target: string, devicePath: string): string {
  return join(target, devicePath);
}

/** `devicePath` with exactly `mode`; parents it has to create get the usual 0755. */
function makeDir(target: string, devicePath: string, mode: number): void {
  const p = onTarget(target, devicePath);
  mkdirSync(dirname(p), { recursive: true, mode: DIR_MODE });
  mkdirSync(p, { recursive: true, mode });
  chmodSync(p, mode);
}

/** Replaces whatever is there; a secret is never readable by others, not even for a moment. */
function place(target: string, e: Entry): void {
  const p = onTarget(target, e.path);
  mkdirSync(dirname(p), { recursive: true, mode: DIR_MODE });
  if (lstatSafe(p)) unlinkSync(p);
  if ('link' in e) {
    symlinkSync(e.link, p);
    return;
  }
  writeFileSync(p, e.data, { mode: e.mode, flag: 'wx' });
  chmodSync(p, e.mode);
}

function lstatSafe(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}
