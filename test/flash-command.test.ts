// `p2psip flash` run from the bundle into temporary target roots: every file it writes, its
// mode, the unit, the enable link, device.json as `p2psip run --config` reads it, copied
// credentials, a pending enrollment, the refusals and --force. Also the systemd notifier.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceConfigFrom } from '../src/run/config.ts';
import { DEVICE_PATHS, type EnrollmentRequest, type FlashedDeviceConfig } from '../src/run/flash-command.ts';
import { notifyReady, notifyWatchdog, watchdogIntervalMs } from '../src/run/systemd-notify.ts';
import { loadOrCreateIdentity } from '../src/reload/security/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(ROOT, 'dist', 'p2psip.mjs');
const work = mkdtempSync(join(tmpdir(), 'p2psip-flash-'));

interface Run { code: number; stdout: string; stderr: string }

function flash(args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BUNDLE, 'flash', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtimeMs(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Files under `dir`, as paths relative to it. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? filesUnder(dir, rel) : [rel];
  }).sort();
}

function mode(path: string): number {
  return statSync(path).mode & 0o7777;
}

let targetSeq = 0;
function newTarget(): string {
  const t = join(work, `target-${++targetSeq}`);
  mkdirSync(t);
  return t;
}

// The repository's boards, or a stand-in while board/sim.json is not there yet.
let boardsDir = join(ROOT, 'board');
let boardArgs: string[] = [];

before(() => {
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < newestMtimeMs(join(ROOT, 'src'))) {
    execFileSync(process.execPath, ['build.mjs'], { cwd: ROOT });
  }
  if (!existsSync(join(boardsDir, 'sim.json'))) {
    boardsDir = join(work, 'board');
    mkdirSync(boardsDir);
    writeFileSync(join(boardsDir, 'sim.json'), '{ "name": "sim", "gpio": "simulator" }\n');
    writeFileSync(join(boardsDir, 'pi-4b.json'), '{ "name": "pi-4b", "gpio": "rpio" }\n');
    writeFileSync(join(boardsDir, 'pi-zero-2w.json'), '{ "name": "pi-zero-2w", "gpio": "rpio", "resources": { "memoryMb": 512, "defaultRole": "client" } }\n');
    boardArgs = ['--boards-dir', boardsDir];
  }
});

after(() => rmSync(work, { recursive: true, force: true }));

const on = (target: string, devicePath: string): string => join(target, devicePath);

describe('p2psip flash', () => {
  test('writes bundle, boards, device.json, unit and enable link with their modes', async () => {
    const target = newTarget();
    const run = await flash([
      '--board', 'sim', '--target', target, ...boardArgs, '--user', '3b@house.example', '--bootstrap', '192.0.2.10:6084,192.0.2.11:6084',
      '--advertise', '192.0.2.20', '--mqtt', 'mqtt://192.0.2.1:1883', '--client', '--audio-in', 'alsa:plughw:1', '--audio-out', 'alsa',
      '--set', 'label=3B', '--set', 'doorPulseMs=800',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as {
      event: string; board: string; written: { path: string; mode?: string; symlink?: string }[]; identity: { source: string }; firstBoot: string[]; warnings: string[];
    };
    assert.equal(summary.event, 'flashed');
    assert.equal(summary.board, 'sim');
    assert.equal(summary.identity.source, 'self-signed');
    assert.ok(summary.firstBoot.some((l) => /self-signed identity/.test(l)), 'first boot says a self-signed identity is made');
    assert.ok(!summary.warnings.some((w) => /advertise/.test(w)), 'no advertise warning when --advertise was given');

    // The bundle itself, executable.
    const bundle = on(target, DEVICE_PATHS.bundle);
    assert.deepEqual(readFileSync(bundle), readFileSync(BUNDLE));
    assert.equal(mode(bundle), 0o755);
    // The whole boards folder beside it.
    const boards = filesUnder(boardsDir);
    assert.ok(boards.includes('sim.json'));
    assert.deepEqual(filesUnder(on(target, DEVICE_PATHS.boards)), boards);
    for (const b of boards) {
      const copy = join(on(target, DEVICE_PATHS.boards), b);
      assert.deepEqual(readFileSync(copy), readFileSync(join(boardsDir, b)));
      assert.equal(mode(copy), 0o644);
    }

    // device.json, exactly as `p2psip run --config` will read it.
    const configPath = on(target, DEVICE_PATHS.config);
    assert.equal(mode(configPath), 0o644);
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as FlashedDeviceConfig;
    assert.deepEqual(config, {
      overlay: 'house.example',
      role: 'client',
      // An explicit --client is a fixed role: resources do not turn it into a peer.
      autoRole: false,
      listen: { host: '0.0.0.0', port: 6084 },
      advertise: '192.0.2.20',
      bootstrap: [{ host: '192.0.2.10', port: 6084 }, { host: '192.0.2.11', port: 6084 }],
      dataDir: '/var/lib/p2psip',
      userName: '3b@house.example',
      sip: { listen: { host: '0.0.0.0', port: 5060 }, audioIn: 'alsa:plughw:1', audioOut: 'alsa' },
      board: 'sim',
      mqtt: { url: 'mqtt://192.0.2.1:1883' },
      device: { label: '3B', doorPulseMs: 800 },
    });
    const loaded = deviceConfigFrom(['--config', configPath]);
    assert.equal(loaded.userName, '3b@house.example');
    assert.equal(loaded.role, 'client');
    assert.equal(loaded.dataDir, '/var/lib/p2psip');
    assert.deepEqual(loaded.bootstrap, config.bootstrap);

    // The data directory exists, private, and nothing is in it: the identity is made at first boot.
    assert.equal(mode(on(target, DEVICE_PATHS.dataDir)), 0o700);
    assert.deepEqual(readdirSync(on(target, DEVICE_PATHS.dataDir)), []);
    assert.equal(mode(on(target, '/var/lib')), 0o755, 'parents of the data directory are not made private');

    // The unit's key lines.
    const unitPath = on(target, DEVICE_PATHS.unit);
    assert.equal(mode(unitPath), 0o644);
    const unit = readFileSync(unitPath, 'utf8');
    const lines = new Set(unit.split('\n').map((l) => l.trim()));
    for (const line of [
      '[Unit]', '[Service]', '[Install]', 'WantedBy=multi-user.target', 'Type=notify', 'NotifyAccess=all', 'Restart=always', 'RestartSec=5', 'WatchdogSec=30',
      'ExecStart=/opt/p2psip/p2psip.mjs run --config /etc/p2psip/device.json', 'User=p2psip', 'DynamicUser=yes', 'StateDirectory=p2psip',
      'SupplementaryGroups=gpio dialout audio', 'ProtectSystem=strict', 'PrivateTmp=yes', 'NoNewPrivileges=yes', 'WorkingDirectory=/var/lib/p2psip',
    ]) assert.ok(lines.has(line), `unit has "${line}"`);
    assert.doesNotMatch(unit, /@[A-Z_]+@/, 'every template field is filled');
    assert.doesNotMatch(unit, /^(PrivateDevices|DeviceAllow|ProtectClock)=/m, 'nothing hides /dev/gpiomem or the serial port');

    // The enable link, as systemctl enable makes it.
    const link = on(target, DEVICE_PATHS.enableLink);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readlinkSync(link), '/etc/systemd/system/p2psip.service');

    // The summary lists what was written, with the modes found on disk.
    for (const w of summary.written) {
      if (w.symlink) assert.equal(readlinkSync(on(target, w.path)), w.symlink);
      else assert.equal(w.mode, `0${mode(on(target, w.path)).toString(8)}`, w.path);
    }
    assert.deepEqual(new Set(summary.written.map((w) => w.path)), new Set([
      DEVICE_PATHS.bundle, ...boards.map((b) => `${DEVICE_PATHS.boards}/${b}`), DEVICE_PATHS.config, DEVICE_PATHS.unit, DEVICE_PATHS.enableLink,
    ]));
  });

  test('without --advertise and as default peer: the overlay comes from the user name, and a warning says what to give', async () => {
    const target = newTarget();
    const run = await flash(['--board', 'sim', '--target', target, ...boardArgs, '--user', 'door@building.example', '--groups', 'dialout,audio']);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { warnings: string[] };
    assert.ok(summary.warnings.some((w) => /--advertise/.test(w)));
    const config = JSON.parse(readFileSync(on(target, DEVICE_PATHS.config), 'utf8')) as FlashedDeviceConfig;
    assert.equal(config.overlay, 'building.example');
    assert.equal(config.role, 'peer');
    assert.deepEqual(config.bootstrap, []);
    assert.equal(config.mqtt, undefined);
    assert.equal(config.device, undefined);
    assert.match(readFileSync(on(target, DEVICE_PATHS.unit), 'utf8'), /^SupplementaryGroups=dialout audio$/m);
  });

  test('the role is the board\'s default (resources.defaultRole) unless --peer or --client says otherwise', async () => {
    const roleOf = async (extra: string[]): Promise<string> => {
      const target = newTarget();
      const run = await flash(['--board', 'pi-zero-2w', '--target', target, ...boardArgs, '--user', '1@house.example', '--advertise', '192.0.2.7', ...extra]);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(readFileSync(on(target, DEVICE_PATHS.config), 'utf8')) as FlashedDeviceConfig).role;
    };
    assert.equal(await roleOf([]), 'client');
    assert.equal(await roleOf(['--peer']), 'peer');
  });

  test('--credentials copies the identity of a data directory, the key 0600, and takes user and overlay from it', async () => {
    const data = join(work, 'existing-device');
    const id = await loadOrCreateIdentity(data, { overlay: 'house.example', userName: 'lobby@house.example' });
    const target = newTarget();
    const run = await flash(['--board', 'sim', '--target', target, ...boardArgs, '--credentials', data, '--advertise', '192.0.2.5']);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { identity: { source: string; nodeId: string; userName: string } };
    assert.deepEqual({ source: summary.identity.source, nodeId: summary.identity.nodeId, userName: summary.identity.userName }, {
      source: 'credentials', nodeId: Buffer.from(id.nodeId).toString('hex'), userName: 'lobby@house.example',
    });
    const key = on(target, `${DEVICE_PATHS.dataDir}/identity.key`);
    const cert = on(target, `${DEVICE_PATHS.dataDir}/identity.crt`);
    assert.equal(mode(key), 0o600);
    assert.equal(mode(cert), 0o644);
    assert.deepEqual(readFileSync(key), readFileSync(join(data, 'identity.key')));
    assert.deepEqual(readFileSync(cert), readFileSync(join(data, 'identity.crt')));
    const config = JSON.parse(readFileSync(on(target, DEVICE_PATHS.config), 'utf8')) as FlashedDeviceConfig;
    assert.equal(config.userName, 'lobby@house.example');
    assert.equal(config.overlay, 'house.example');
    // What the device will load at boot is that identity.
    const booted = await loadOrCreateIdentity(on(target, DEVICE_PATHS.dataDir), { overlay: config.overlay, userName: config.userName });
    assert.deepEqual(booted.nodeId, id.nodeId);

    const wrongUser = await flash(['--board', 'sim', '--target', newTarget(), ...boardArgs, '--credentials', data, '--user', 'other@house.example']);
    assert.equal(wrongUser.code, 1);
    assert.match(wrongUser.stderr, /self-signed certificate is for user lobby@house\.example/);
    const wrongOverlay = await flash(['--board', 'sim', '--target', newTarget(), ...boardArgs, '--credentials', data, '--overlay', 'elsewhere.example']);
    assert.equal(wrongOverlay.code, 1);
    assert.match(wrongOverlay.stderr, /overlay house\.example, not elsewhere\.example/);
    const notData = await flash(['--board', 'sim', '--target', newTarget(), ...boardArgs, '--credentials', work, '--user', 'a@house.example']);
    assert.equal(notData.code, 1);
    assert.match(notData.stderr, /no identity\.key/);
  });

  test('--enroll-url, --enroll-root and a password from stdin leave enroll.json 0600 in the data directory', async () => {
    const ca = await loadOrCreateIdentity(join(work, 'ca-stand-in'), { overlay: 'house.example', userName: 'ca@house.example' });
    const rootFile = join(work, 'root.pem');
    writeFileSync(rootFile, ca.certificatePem);
    const target = newTarget();
    const run = await flash([
      '--board', 'sim', '--target', target, ...boardArgs, '--user', '2a@house.example',
      '--enroll-url', 'https://ca.house.example:6084/enroll', '--enroll-root', rootFile, '--enroll-password', '-',
    ], 'open sesame\n');
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /open sesame/, 'the summary never shows the password');
    const summary = JSON.parse(run.stdout) as { identity: { source: string; server: string; user: string }; firstBoot: string[] };
    assert.equal(summary.identity.source, 'enrollment');
    assert.ok(summary.firstBoot.some((l) => l.includes('enrolls with https://ca.house.example:6084/enroll')));
    const file = on(target, `${DEVICE_PATHS.dataDir}/enroll.json`);
    assert.equal(mode(file), 0o600);
    const request = JSON.parse(readFileSync(file, 'utf8')) as EnrollmentRequest;
    assert.deepEqual(request, {
      server: 'https://ca.house.example:6084/enroll', user: '2a@house.example', password: 'open sesame', root: ca.certificatePem, overlay: 'house.example',
    });

    // The same through a token file, which may name another enrollment account.
    const token = join(work, 'token.json');
    writeFileSync(token, JSON.stringify({ server: 'https://ca.house.example/enroll', user: 'flat-2a', password: 'pw', root: ca.certificatePem }));
    const target2 = newTarget();
    const viaToken = await flash(['--board', 'sim', '--target', target2, ...boardArgs, '--user', '2a@house.example', '--enroll-token', token]);
    assert.equal(viaToken.code, 0, viaToken.stderr);
    const fromToken = JSON.parse(readFileSync(on(target2, `${DEVICE_PATHS.dataDir}/enroll.json`), 'utf8')) as EnrollmentRequest;
    assert.equal(fromToken.user, 'flat-2a');
    assert.equal(mode(on(target2, `${DEVICE_PATHS.dataDir}/enroll.json`)), 0o600);

    const http = await flash(['--board', 'sim', '--target', newTarget(), ...boardArgs, '--user', '2a@house.example',
      '--enroll-url', 'http://ca.house.example/enroll', '--enroll-root', rootFile, '--enroll-password', 'x']);
    assert.equal(http.code, 1);
    assert.match(http.stderr, /HTTPS/);
  });

  test('refuses a missing target, a file as target, an unknown board, conflicting credentials and a missing user', async () => {
    const base = ['--board', 'sim', ...boardArgs, '--user', 'a@house.example'];
    const missing = await flash([...base, '--target', join(work, 'no-such-dir')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);

    const file = join(work, 'a-file');
    writeFileSync(file, '');
    const notDir = await flash([...base, '--target', file]);
    assert.equal(notDir.code, 1);
    assert.match(notDir.stderr, /is not a directory/);

    const unknown = await flash(['--board', 'toaster', '--target', newTarget(), ...boardArgs, '--user', 'a@house.example']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown board "toaster"; available boards: .*sim/);

    const both = await flash([...base, '--target', newTarget(), '--credentials', work, '--enroll-url', 'https://ca/enroll']);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /choose one/);
    const tokenAndFlags = await flash([...base, '--target', newTarget(), '--enroll-token', file, '--enroll-url', 'https://ca/enroll']);
    assert.equal(tokenAndFlags.code, 1);
    assert.match(tokenAndFlags.stderr, /--enroll-token holds the whole enrollment/);

    const noUser = await flash(['--board', 'sim', '--target', newTarget(), ...boardArgs]);
    assert.equal(noUser.code, 1);
    assert.match(noUser.stderr, /--user NAME@DOMAIN is needed/);

    const dataFlag = await flash([...base, '--target', newTarget(), '--data', '/tmp/x']);
    assert.equal(dataFlag.code, 1);
    assert.match(dataFlag.stderr, /\/var\/lib\/p2psip/);

    const noBoard = await flash(['--target', newTarget(), '--user', 'a@house.example']);
    assert.equal(noBoard.code, 1);
    assert.match(noBoard.stderr, /--board and --target are needed/);
  });

  test('an existing configuration needs --force, which replaces it and drops a stale enrollment', async () => {
    const ca = await loadOrCreateIdentity(join(work, 'ca-stand-in'), { overlay: 'house.example', userName: 'ca@house.example' });
    const rootFile = join(work, 'root.pem');
    writeFileSync(rootFile, ca.certificatePem);
    const target = newTarget();
    const first = await flash(['--board', 'sim', '--target', target, ...boardArgs, '--user', '1a@house.example',
      '--enroll-url', 'https://ca.house.example/enroll', '--enroll-root', rootFile, '--enroll-password', 'pw']);
    assert.equal(first.code, 0, first.stderr);
    const before = readFileSync(on(target, DEVICE_PATHS.config), 'utf8');

    const again = await flash(['--board', 'sim', '--target', target, ...boardArgs, '--user', '1b@house.example']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds a configuration .*device\.json.*--force/);
    assert.equal(readFileSync(on(target, DEVICE_PATHS.config), 'utf8'), before, 'nothing changed by a refused flash');

    const data = join(work, 'device-1b');
    await loadOrCreateIdentity(data, { overlay: 'house.example', userName: '1b@house.example' });
    const forced = await flash(['--board', 'sim', '--target', target, ...boardArgs, '--credentials', data, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const summary = JSON.parse(forced.stdout) as { removed: string[] };
    assert.deepEqual(summary.removed, [`${DEVICE_PATHS.dataDir}/enroll.json`]);
    assert.ok(!existsSync(on(target, `${DEVICE_PATHS.dataDir}/enroll.json`)));
    assert.equal((JSON.parse(readFileSync(on(target, DEVICE_PATHS.config), 'utf8')) as FlashedDeviceConfig).userName, '1b@house.example');
    assert.equal(mode(on(target, `${DEVICE_PATHS.dataDir}/identity.key`)), 0o600);
    assert.equal(readlinkSync(on(target, DEVICE_PATHS.enableLink)), '/etc/systemd/system/p2psip.service');
  });

  test('a card that has booted: the data directory moved by DynamicUser= is followed through its relative symlink, never out of the target', async () => {
    const target = newTarget();
    const data = join(work, 'booted-device');
    await loadOrCreateIdentity(data, { overlay: 'house.example', userName: '4a@house.example' });
    mkdirSync(join(target, 'var/lib/private/p2psip'), { recursive: true });
    writeFileSync(join(target, 'var/lib/private/p2psip/identity.key'), readFileSync(join(data, 'identity.key')));
    writeFileSync(join(target, 'var/lib/private/p2psip/identity.crt'), readFileSync(join(data, 'identity.crt')));
    symlinkSync('private/p2psip', join(target, 'var/lib/p2psip'));
    const base = ['--board', 'sim', '--target', target, ...boardArgs, '--user', '4a@house.example', '--advertise', '192.0.2.9'];
    const refused = await flash(base);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /already holds a configuration .*identity\.key/);
    const forced = await flash([...base, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((JSON.parse(forced.stdout) as { identity: { source: string } }).identity.source, 'existing');
    assert.ok(lstatSync(join(target, 'var/lib/p2psip')).isSymbolicLink(), 'the symlink stays');
    assert.deepEqual(readFileSync(join(target, 'var/lib/private/p2psip/identity.key')), readFileSync(join(data, 'identity.key')), 'the identity is kept');

    const absolute = newTarget();
    mkdirSync(join(absolute, 'var/lib'), { recursive: true });
    symlinkSync(join(work, 'outside'), join(absolute, 'var/lib/p2psip'));
    const out = await flash(['--board', 'sim', '--target', absolute, ...boardArgs, '--user', '4a@house.example']);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /outside the target/);
    assert.ok(!existsSync(join(work, 'outside')));
  });
});

describe('systemd notifier', () => {
  test('does nothing outside systemd', async () => {
    const calls: string[][] = [];
    const exec = async (_file: string, args: string[]): Promise<void> => void calls.push(args);
    assert.equal(await notifyReady(undefined, { env: {}, exec }), false);
    assert.equal(await notifyWatchdog({ env: {}, exec }), false);
    assert.equal(watchdogIntervalMs({ env: { WATCHDOG_USEC: '30000000' } }), undefined);
    assert.deepEqual(calls, []);
  });

  test('runs systemd-notify with READY and WATCHDOG when NOTIFY_SOCKET is set, at half the watchdog interval', async () => {
    const calls: { file: string; args: string[] }[] = [];
    const exec = async (file: string, args: string[]): Promise<void> => void calls.push({ file, args });
    const env = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' };
    assert.equal(await notifyReady('joined', { env, exec }), true);
    assert.equal(await notifyWatchdog({ env, exec }), true);
    assert.deepEqual(calls, [
      { file: 'systemd-notify', args: ['--ready', '--status=joined'] },
      { file: 'systemd-notify', args: ['WATCHDOG=1'] },
    ]);
    assert.equal(watchdogIntervalMs({ env, pid: 4242 }), 15_000);
    assert.equal(watchdogIntervalMs({ env, pid: 1 }), undefined, 'another process is the one to ping');
  });
});
