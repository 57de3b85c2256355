// The door strike on a simulated board whose relay output is wired to an input, so the test
// watches the pulse as a meter on the relay would: exact pulse length, refusals during the
// pulse and hold-off, relay off at construction even when a crashed run left it energised
// (in the state file, and for real: a child process killed with SIGKILL mid-pulse),
// forceOff, active-low relays, and a watchdog that ends a pulse whose timer went missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DoorStrike, type DoorStrikeInit, type DoorStrikeState } from '../src/device/door-strike.ts';
import type { Digital, DigitalOptions, GpioProvider } from '../src/device/io.ts';
import { readSimStateFile, SimGpio } from '../src/device/gpio/index.ts';
import { FakeClock, type Clock, type TimerHandle } from '../src/util/clock.ts';
import type { Logger } from '../src/util/log.ts';

const RELAY = 23;
const SENSE = 16;

function recorder(): { logger: Logger; lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

function rig(init: Partial<DoorStrikeInit> = {}, clock: Clock = new FakeClock()) {
  const gpio = new SimGpio({}, { wires: [{ from: RELAY, to: SENSE }] });
  // The meter on the relay: every level change with its time.
  const trace: string[] = [];
  const sense = gpio.digital({ pin: SENSE, mode: 'input', onReadable: () => trace.push(`${sense.read()}@${clock.now()}`) });
  const { logger, lines } = recorder();
  const states: DoorStrikeState[] = [];
  const door = new DoorStrike({ gpio, clock, logger }, { pin: RELAY, pulseMs: 3000, holdOffMs: 2000, onStateChange: (s) => states.push(s), ...init });
  return { gpio, clock, trace, door, lines, states };
}

test('one open gives one pulse of exactly the pulse length, then hold-off, then locked', () => {
  const clock = new FakeClock();
  const { door, trace, states, lines, gpio } = rig({}, clock);
  clock.advance(100);
  assert.equal(door.open('DTMF code from 3b@building.example'), true);
  assert.equal(door.state, 'open');
  assert.equal(door.status().relayOn, true);
  clock.advance(2999);
  assert.equal(gpio.level(RELAY), 1);
  clock.advance(1);
  assert.deepEqual(trace, ['1@100', '0@3100']);
  assert.equal(door.state, 'holdoff');
  assert.equal(door.status().msLeft, 2000);
  clock.advance(2000);
  assert.equal(door.state, 'locked');
  assert.deepEqual(states, ['open', 'holdoff', 'locked']);
  // Every transition is logged with its reason.
  const transitions = lines.filter((l) => l.msg === 'door strike').map((l) => `${l.fields?.from}->${l.fields?.to}: ${l.fields?.reason}`);
  assert.deepEqual(transitions, ['locked->open: DTMF code from 3b@building.example', 'open->holdoff: pulse ended', 'holdoff->locked: hold-off ended']);
  assert.equal(clock.pending, 0, 'no timers while locked');
  const s = door.status();
  assert.equal(s.opens, 1);
  assert.deepEqual(s.lastOpen, { reason: 'DTMF code from 3b@building.example', at: new Date(1_700_000_000_100).toISOString() });
  door.close();
});

test('opens during the pulse and the hold-off are refused and counted, not queued', () => {
  const clock = new FakeClock();
  const { door, trace } = rig({}, clock);
  assert.equal(door.open('first'), true);
  clock.advance(1000);
  assert.equal(door.open('during pulse'), false);
  clock.advance(2500);
  assert.equal(door.state, 'holdoff');
  assert.equal(door.open('during hold-off'), false);
  clock.advance(10_000);
  assert.deepEqual(trace, ['1@0', '0@3000'], 'the refused opens left no pulse behind');
  assert.deepEqual({ opens: door.status().opens, refused: door.status().refused }, { opens: 1, refused: 2 });
  assert.equal(door.open('later'), true);
  clock.advance(3000);
  assert.deepEqual(trace, ['1@0', '0@3000', '1@13500', '0@16500']);
  door.close();
});

test('the relay is driven off at construction even when the state file says a crashed run left it on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-door-'));
  try {
    const stateFile = join(dir, 'gpio.json');
    writeFileSync(stateFile, JSON.stringify({ pins: { [RELAY]: { mode: 'output', level: 1 } } }));
    const gpio = new SimGpio({}, { stateFile });
    assert.equal(gpio.level(RELAY), 1, 'the latch is still energised');
    const door = new DoorStrike({ gpio, clock: new FakeClock() }, { pin: RELAY });
    assert.equal(gpio.level(RELAY), 0);
    assert.equal(readSimStateFile(stateFile).get(RELAY)?.level, 0, 'another process sees it off');
    assert.equal(door.status().relayOn, false);
    door.close();
    gpio.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('crash mid-pulse (SIGKILL) leaves the relay on; the restarted driver turns it off', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-door-'));
  try {
    const stateFile = join(dir, 'gpio.json');
    const src = (p: string) => JSON.stringify(fileURLToPath(new URL(`../src/${p}`, import.meta.url)));
    const script = `
      import { SimGpio } from ${src('device/gpio/index.ts')};
      import { DoorStrike } from ${src('device/door-strike.ts')};
      import { systemClock } from ${src('util/clock.ts')};
      const gpio = new SimGpio({}, { stateFile: ${JSON.stringify(stateFile)} });
      const door = new DoorStrike({ gpio, clock: systemClock }, { pin: ${RELAY}, pulseMs: 10000 });
      door.open('test');
      process.stdout.write('open\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('open')) resolve(); });
      child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.equal(readSimStateFile(stateFile).get(RELAY)?.level, 1, 'the dead process left the relay energised');

    const gpio = new SimGpio({}, { stateFile });
    const door = new DoorStrike({ gpio, clock: new FakeClock() }, { pin: RELAY });
    assert.equal(readSimStateFile(stateFile).get(RELAY)?.level, 0);
    assert.equal(door.state, 'locked');
    door.close();
    gpio.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forceOff ends a pulse at once, never throws, and works after close', () => {
  const clock = new FakeClock();
  const { door, trace } = rig({}, clock);
  door.open('test');
  clock.advance(500);
  door.forceOff();
  assert.deepEqual(trace, ['1@0', '0@500']);
  assert.equal(door.state, 'holdoff');
  door.forceOff();
  clock.advance(2000);
  assert.equal(door.state, 'locked');
  door.close();
  door.forceOff();
  assert.equal(door.state, 'closed');
});

test('an active-low relay rests high and pulses low', () => {
  const clock = new FakeClock();
  const { door, trace, gpio } = rig({ activeLevel: 0 }, clock);
  assert.equal(gpio.level(RELAY), 1, 'off is high for an active-low relay');
  door.open('test');
  clock.advance(3000);
  assert.deepEqual(trace, ['1@0', '0@0', '1@3000'], 'off at construction, then one low pulse');
  door.close();
  assert.equal(gpio.level(RELAY), 1, 'closed leaves it off');
});

test('close drives the relay off mid-pulse, leaves no timers and calls nothing back', () => {
  const clock = new FakeClock();
  const { door, trace, states, gpio } = rig({}, clock);
  door.open('test');
  clock.advance(100);
  door.close();
  door.close();
  assert.equal(gpio.level(RELAY), 0);
  assert.equal(clock.pending, 0);
  clock.advance(10_000);
  assert.deepEqual(trace, ['1@0', '0@100']);
  assert.deepEqual(states, ['open']);
  assert.equal(door.open('after close'), false);
  assert.equal(door.status().state, 'closed');
});

/** A clock that loses the first timer it is given (the pulse timer): timers misbehaving. */
class LosingClock extends FakeClock {
  private lost = false;
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    if (!this.lost) {
      this.lost = true;
      return { id: -1 };
    }
    return super.setTimeout(fn, ms);
  }
}

test('watchdog: a lost pulse timer still ends the pulse on time', () => {
  const clock = new LosingClock();
  const { door, trace } = rig({}, clock);
  door.open('test');
  clock.advance(3000);
  assert.deepEqual(trace, ['1@0', '0@3000']);
  assert.equal(door.state, 'holdoff');
  assert.equal(door.status().watchdogTrips, 1);
  clock.advance(2000);
  assert.equal(door.state, 'locked');
  door.close();
});

/** A clock whose time moves but whose timers never fire. */
class StalledClock extends FakeClock {
  override setTimeout(_fn: () => void, _ms: number): TimerHandle {
    return { id: -1 };
  }
  tick(ms: number): void {
    super.advance(ms);
  }
}

test('watchdog: with no timer firing at all, the next status() or open() ends an overdue pulse', () => {
  const clock = new StalledClock();
  const { door, gpio } = rig({}, clock);
  door.open('test');
  clock.tick(2999);
  assert.equal(door.status().relayOn, true);
  clock.tick(1);
  const s = door.status();
  assert.equal(s.relayOn, false);
  assert.equal(s.state, 'holdoff');
  assert.equal(s.watchdogTrips, 1);
  assert.equal(gpio.level(RELAY), 0);
  door.close();
});

test('watchdog: a relay that reads on outside a pulse is driven off and counted', () => {
  // A provider whose relay output is stuck on (a shorted driver transistor).
  let written: number[] = [];
  const stuck: GpioProvider = {
    name: 'stuck',
    digital(_o: DigitalOptions): Digital {
      return { read: () => 1, write: (v) => { written.push(v); }, close() {} };
    },
    close() {},
  };
  const { logger, lines } = recorder();
  const door = new DoorStrike({ gpio: stuck, clock: new FakeClock(), logger }, { pin: RELAY });
  assert.ok(lines.some((l) => l.level === 'error' && l.msg === 'door strike relay does not read off after driving it off'));
  written = [];
  const s = door.status();
  assert.equal(s.watchdogTrips, 1);
  assert.deepEqual(written, [0]);
  assert.equal(s.state, 'locked');
  door.close();
});

test('pulse and hold-off lengths are bounded', () => {
  const gpio = new SimGpio();
  const clock = new FakeClock();
  assert.throws(() => new DoorStrike({ gpio, clock }, { pin: 1, pulseMs: 50 }), { message: 'door strike pulseMs 50 is outside 100..10000' });
  assert.throws(() => new DoorStrike({ gpio, clock }, { pin: 2, pulseMs: 60_000 }), RangeError);
  assert.throws(() => new DoorStrike({ gpio, clock }, { pin: 3, holdOffMs: -5 }), { message: 'door strike holdOffMs -5 is outside 0..60000' });
});

test('a zero hold-off locks again right after the pulse', () => {
  const clock = new FakeClock();
  const { door } = rig({ holdOffMs: 0 }, clock);
  door.open('a');
  clock.advance(3000);
  assert.equal(door.state, 'locked');
  assert.equal(door.open('b'), true);
  door.close();
});
