// NodeSerial over real ptys from socat: data both ways, the receive bound, reconnecting when
// the device disappears and comes back, backoff on a fake clock, close, and lazy loading of
// the native binding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeSerial, type NodeSerialOptions } from '../src/device/serial.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { ptyPair, stopSocat } from './harness/pty.ts';
import { until } from './harness/wait.ts';

/** Starts socat joining two ptys, reachable through the symlinks `a` and `b` in `dir`. */
async function linkedPtys(dir: string): Promise<ChildProcess> {
  return (await ptyPair([join(dir, 'a'), join(dir, 'b')])).socat;
}

/** A NodeSerial that collects what it reads and the errors it reports. */
function endpoint(path: string, options: Partial<NodeSerialOptions> = {}) {
  let received = '';
  const errors: Error[] = [];
  const serial: NodeSerial = new NodeSerial(
    {
      path,
      onReadable: () => (received += Buffer.from(serial.read() ?? []).toString()),
      onError: (e) => errors.push(e),
      ...options,
    },
    { log: silentLogger },
  );
  return {
    serial,
    errors,
    take(): string {
      const text = received;
      received = '';
      return text;
    },
  };
}

/** Writes `text` from one end until the other end has it; the first bytes may beat the open. */
async function deliver(from: ReturnType<typeof endpoint>, to: ReturnType<typeof endpoint>, text: string): Promise<void> {
  await until(`"${text}" delivered`, async () => {
    from.serial.write(Buffer.from(text));
    await new Promise((r) => setTimeout(r, 30));
    return to.take().includes(text);
  });
}

test('bytes flow both ways between two NodeSerials on a pty pair', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-serial-'));
  const socat = await linkedPtys(dir);
  t.after(async () => {
    await stopSocat(socat);
    rmSync(dir, { recursive: true, force: true });
  });
  const a = endpoint(join(dir, 'a'));
  const b = endpoint(join(dir, 'b'), { baudRate: 9600 });
  await deliver(a, b, 'hello b\r\n');
  await deliver(b, a, 'hello a\r\n');
  assert.equal(a.serial.writable, 4096);
  await Promise.all([a.serial.close(), b.serial.close()]);
  assert.throws(() => a.serial.write(Uint8Array.of(1)), /closed/);
  assert.equal(a.serial.writable, 0);
});

test('received bytes past the bound are dropped and counted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-serial-'));
  const socat = await linkedPtys(dir);
  t.after(async () => {
    await stopSocat(socat);
    rmSync(dir, { recursive: true, force: true });
  });
  let readable = 0;
  const slow = new NodeSerial({ path: join(dir, 'a'), receiveBufferBytes: 1024, onReadable: (n) => (readable = n) }, { log: silentLogger });
  const fast = endpoint(join(dir, 'b'));
  t.after(() => Promise.all([slow.close(), fast.serial.close()]));
  await until('flood received', () => {
    fast.serial.write(new Uint8Array(2048).fill(0x55));
    return slow.counters.receiveDroppedBytes > 0;
  });
  assert.equal(readable, 1024);
  assert.equal(slow.read()!.length, 1024);
  assert.equal(slow.read(), undefined);
});

test('a line that disappears is reopened when the device comes back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-serial-'));
  let socat = await linkedPtys(dir);
  const device = endpoint(join(dir, 'a'), { reconnectMinMs: 20, reconnectMaxMs: 100 });
  t.after(async () => {
    await device.serial.close();
    await stopSocat(socat);
    rmSync(dir, { recursive: true, force: true });
  });
  let cable = endpoint(join(dir, 'b'));
  await deliver(cable, device, 'before\r');

  // The adapter is unplugged: the device end reports it and keeps trying.
  await cable.serial.close();
  await stopSocat(socat);
  await until('outage reported', () => device.errors.length > 0);
  await until('retries while away', () => device.errors.length > 2);
  assert.equal(device.serial.writable, 4096);
  device.serial.write(Buffer.from('into the void'));

  socat = await linkedPtys(dir);
  cable = endpoint(join(dir, 'b'));
  await deliver(cable, device, 'after\r');
  await deliver(device, cable, 'reply\r');
  assert.equal(device.serial.counters.reconnects, 1);
  await cable.serial.close();
});

test('reopening backs off exponentially and close stops it', async () => {
  const clock = new FakeClock();
  const errors: Error[] = [];
  const serial = new NodeSerial(
    { path: '/nonexistent/ttyUSB9', reconnectMinMs: 100, reconnectMaxMs: 400, onError: (e) => errors.push(e) },
    { clock, log: silentLogger },
  );
  const attempts = async (n: number): Promise<void> => {
    await until(`attempt ${n} failed`, () => errors.length >= n);
  };
  await attempts(1);
  assert.match(errors[0]!.message, /ENOENT|No such file/);
  for (const [n, delay] of [[2, 100], [3, 200], [4, 400], [5, 400]] as const) {
    clock.advance(delay - 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(errors.length, n - 1, `no attempt before ${delay} ms`);
    clock.advance(1);
    await attempts(n);
  }
  await serial.close();
  assert.equal(clock.pending, 0);
  clock.advance(10_000);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(errors.length, 5);
});

test('importing the serial modules does not load the native binding', () => {
  const script = [
    "await import('./src/device/serial.ts');",
    "await import('./src/device/serial-console.ts');",
    "const { createRequire } = await import('node:module');",
    'const cache = Object.keys(createRequire(import.meta.url).cache);',
    "console.log(JSON.stringify(cache.filter((p) => p.includes('@serialport'))));",
  ].join('\n');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out.trim()), []);
});
