// GPIO providers. The simulator: wires, driven inputs, pulls, edges reported once, and a
// state file that another process (or a restart) reads. rpio: a clear GpioUnavailableError
// when the package is absent, cannot load, or the machine is not a Pi; its mock board works
// where the package loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { GpioUnavailableError, gpioProvider, readSimStateFile, RpioGpio, SimGpio } from '../src/device/gpio/index.ts';

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-gpio-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('sim: an input follows its pull, a driven level, and a wired output', () => {
  const gpio = new SimGpio();
  const edges: number[] = [];
  const input = gpio.digital({ pin: 16, mode: 'inputPullUp', onReadable: () => edges.push(input.read()) });
  assert.equal(input.read(), 1);
  gpio.drive(16, 0);
  assert.equal(input.read(), 0);
  gpio.release(16);
  assert.equal(input.read(), 1);
  assert.deepEqual(edges, [0, 1]);

  const out = gpio.digital({ pin: 23, mode: 'output', initialValue: 0 });
  gpio.wire(23, 16);
  assert.equal(input.read(), 0, 'the wire overrides the pull');
  out.write(1);
  out.write(1);
  out.write(0);
  assert.deepEqual(edges, [0, 1, 0, 1, 0], 'one call per edge, none for a repeated level');
  assert.equal(gpio.level(23), 0);
  gpio.close();
});

test('sim: misuse is a programmer error', () => {
  const gpio = new SimGpio();
  const input = gpio.digital({ pin: 17, mode: 'inputPullDown' });
  assert.equal(input.read(), 0);
  assert.throws(() => gpio.digital({ pin: 17, mode: 'output' }), { message: 'GPIO 17 is already open' });
  assert.throws(() => input.write(1), { message: 'GPIO 17 is an input; it cannot be written' });
  const out = gpio.digital({ pin: 23, mode: 'output' });
  assert.throws(() => out.write(2), RangeError);
  out.close();
  assert.throws(() => out.write(0), { message: 'GPIO 23 is closed' });
  // The pin is free again once closed.
  gpio.digital({ pin: 23, mode: 'output' }).close();
  gpio.close();
  assert.throws(() => gpio.digital({ pin: 5, mode: 'output' }), { message: 'GPIO provider sim is closed' });
  gpio.close();
});

test('sim: a closed output keeps its latch, as a real output pin does', () => {
  const gpio = new SimGpio();
  const out = gpio.digital({ pin: 23, mode: 'output' });
  out.write(1);
  out.close();
  assert.equal(gpio.level(23), 1);
  // Opening it as an input changes its function: the latch no longer reaches the header.
  const input = gpio.digital({ pin: 23, mode: 'input' });
  assert.equal(input.read(), 0);
  gpio.close();
});

test('sim: the state file shows pin levels to another reader and survives a restart', () => withTempDir((dir) => {
  const stateFile = join(dir, 'gpio.json');
  const first = new SimGpio({}, { stateFile, wires: [{ from: 23, to: 16 }] });
  const relay = first.digital({ pin: 23, mode: 'output', initialValue: 0 });
  first.digital({ pin: 16, mode: 'input' });
  relay.write(1);
  assert.deepEqual(Object.fromEntries(readSimStateFile(stateFile)), { 16: { mode: 'input', level: 1 }, 23: { mode: 'output', level: 1 } });
  // The process dies without closing anything: the next run finds the latch energised.
  const second = new SimGpio({}, { stateFile });
  assert.equal(second.level(23), 1);
  const reopened = second.digital({ pin: 23, mode: 'output' });
  assert.equal(reopened.read(), 1, 'an output opened without an initial value keeps the latch');
  reopened.write(0);
  assert.equal(readSimStateFile(stateFile).get(23)?.level, 0);
  first.close();
  second.close();
}));

test('sim: an unreadable state file is ignored, not fatal', () => withTempDir((dir) => {
  const stateFile = join(dir, 'gpio.json');
  writeFileSync(stateFile, '{"pins": {"23": ');
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
  const gpio = new SimGpio({ logger }, { stateFile });
  assert.equal(gpio.level(23), 0);
  assert.deepEqual(warnings, ['ignoring unreadable GPIO state file']);
  gpio.digital({ pin: 23, mode: 'output' }).write(1);
  assert.deepEqual(JSON.parse(readFileSync(stateFile, 'utf8')), { pins: { 23: { mode: 'output', level: 1 } } });
  gpio.close();
  assert.equal(readSimStateFile(join(dir, 'absent.json')).size, 0);
}));

test('sim: wires are checked', () => {
  const gpio = new SimGpio({}, { wires: [{ from: 23, to: 16 }] });
  assert.throws(() => gpio.wire(5, 5), { message: 'GPIO 5 cannot be wired to itself' });
  assert.throws(() => gpio.wire(16, 5), { message: 'GPIO 16 is an input end of a wire; it cannot drive one' });
  assert.throws(() => gpio.wire(5, 23), { message: 'GPIO 23 drives a wire; it cannot be an input end' });
  gpio.close();
});

test('gpioProvider picks a provider by name', () => {
  const sim = gpioProvider('sim');
  assert.equal(sim.name, 'sim');
  sim.close();
  assert.throws(() => gpioProvider('wiringpi'), { message: 'unknown GPIO provider "wiringpi"; known: rpio, sim' });
});

test('rpio: a clear error when the package is not installed', () => {
  const load = (): never => {
    throw Object.assign(new Error("Cannot find module 'rpio'\nRequire stack:\n- /x/dist/p2psip.mjs"), { code: 'MODULE_NOT_FOUND' });
  };
  assert.throws(() => new RpioGpio({}, { load }), (e: unknown) => {
    assert.ok(e instanceof GpioUnavailableError);
    assert.match(e.message, /^GPIO provider 'rpio' needs the npm package rpio, which is not installed; on the Pi run `npm install rpio`/);
    assert.match(e.message, /"gpio": "sim"/);
    return true;
  });
  assert.throws(() => gpioProvider('rpio', { rpio: { load } }), GpioUnavailableError);
});

test('rpio: a clear error when the native module cannot load', () => {
  const load = (): never => {
    throw new Error('Could not locate the bindings file. Tried: build/Release/rpio.node');
  };
  assert.throws(() => new RpioGpio({}, { load }), {
    name: 'GpioUnavailableError',
    message: "GPIO provider 'rpio': the rpio package is installed but cannot be loaded (Could not locate the bindings file. Tried: build/Release/rpio.node); rebuild it on the Pi with `npm rebuild rpio`, or use a board with \"gpio\": \"sim\"",
  });
  assert.throws(() => new RpioGpio({}, { load: () => ({}) }), { name: 'GpioUnavailableError', message: "GPIO provider 'rpio': the loaded rpio module lacks init/open/read; expected rpio 2.x" });
});

test('rpio: on this machine (not a Pi) the real package gives a clear error, never a silent mock', () => {
  // Absent, not built, or built but finding no Pi: each is a GpioUnavailableError naming rpio.
  assert.throws(() => new RpioGpio(), (e: unknown) => {
    assert.ok(e instanceof GpioUnavailableError, String(e));
    assert.match(e.message, /^GPIO provider 'rpio'/);
    return true;
  });
});

function loadRpioOrSkip(t: { skip(message: string): void }): { write(pin: number, value: number): void } | undefined {
  try {
    return createRequire(import.meta.url)('rpio');
  } catch {
    t.skip('rpio is not installed or not built here');
    return undefined;
  }
}

test("rpio: rpio's mock board drives outputs and reads them back", (t) => {
  if (!loadRpioOrSkip(t)) return;
  const gpio = new RpioGpio({}, { mock: 'raspi-3' });
  const out = gpio.digital({ pin: 23, mode: 'output', initialValue: 0 });
  assert.equal(out.read(), 0);
  out.write(1);
  assert.equal(out.read(), 1);
  assert.throws(() => gpio.digital({ pin: 23, mode: 'input' }), { message: 'GPIO 23 is already open' });
  // An input with onReadable is sampled on an interval; close() must stop it.
  const input = gpio.digital({ pin: 17, mode: 'inputPullUp', onReadable: () => {} });
  assert.equal(input.read(), 0, 'the mock reads 0 for a pin nothing wrote');
  gpio.close();
  assert.throws(() => out.read(), { message: 'GPIO 23 is closed' });
  gpio.close();
});

test('rpio: watched inputs are sampled and each change is reported once', async (t) => {
  const rpio = loadRpioOrSkip(t);
  if (!rpio) return;
  const gpio = new RpioGpio({}, { mock: 'raspi-3', sampleIntervalMs: 2 });
  const seen: number[] = [];
  const input = gpio.digital({ pin: 22, mode: 'inputPullUp', onReadable: () => seen.push(input.read()) });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 30));
  // The mock has no electrical model: writing the pin's mock level stands in for the button.
  rpio.write(22, 1);
  await settle();
  rpio.write(22, 0);
  await settle();
  await settle();
  assert.deepEqual(seen, [1, 0]);
  input.close();
  rpio.write(22, 1);
  await settle();
  assert.deepEqual(seen, [1, 0], 'nothing after close');
  gpio.close();
});
