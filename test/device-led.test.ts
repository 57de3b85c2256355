// The status LED on a simulated pin: each pattern's timing on a fake clock, one pattern at a
// time, the application's indications, active-low LEDs, and nothing left after close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimGpio } from '../src/device/gpio/index.ts';
import { type LedPattern, StatusLed, type StatusLedInit } from '../src/device/status-led.ts';
import { FakeClock } from '../src/util/clock.ts';

const PIN = 24;

function rig(init: Partial<StatusLedInit> = {}) {
  const clock = new FakeClock();
  const gpio = new SimGpio();
  const led = new StatusLed({ gpio, clock }, { pin: PIN, ...init });
  const on = init.activeLevel ?? 1;
  /** The LED sampled every `stepMs` for `ms`: '#' lit, '.' dark. */
  const sample = (ms: number, stepMs: number): string => {
    let s = '';
    for (let t = 0; t < ms; t += stepMs) {
      s += gpio.level(PIN) === on ? '#' : '.';
      clock.advance(stepMs);
    }
    return s;
  };
  return { clock, gpio, led, sample };
}

const CASES: Array<{ pattern: LedPattern; stepMs: number; shape: string }> = [
  { pattern: 'off', stepMs: 100, shape: '....................' },
  { pattern: 'on', stepMs: 100, shape: '####################' },
  { pattern: 'slow-blink', stepMs: 100, shape: '#####.....#####.....' },
  { pattern: 'fast-blink', stepMs: 50, shape: '##..##..##..##..##..' },
  { pattern: 'double-blink', stepMs: 50, shape: '###...###...........###...###...........' },
];

for (const c of CASES) {
  test(`LED pattern ${c.pattern}`, () => {
    const { led, sample, clock } = rig();
    led.set(c.pattern);
    assert.equal(led.pattern, c.pattern);
    assert.equal(sample(c.shape.length * c.stepMs, c.stepMs), c.shape);
    // Steady patterns need no timer; blinking ones hold exactly one.
    assert.equal(clock.pending, c.pattern === 'on' || c.pattern === 'off' ? 0 : 1);
    led.close();
  });
}

test('one pattern at a time: a new pattern replaces the old one and starts lit', () => {
  const { led, sample, clock } = rig();
  led.set('slow-blink');
  clock.advance(700);
  led.set('fast-blink');
  assert.equal(clock.pending, 1);
  assert.equal(sample(400, 50), '##..##..');
  led.set('on');
  assert.equal(clock.pending, 0);
  assert.equal(sample(1000, 100), '##########');
  led.close();
});

test('setting the pattern it already shows keeps its rhythm', () => {
  const { led, sample, clock } = rig();
  led.set('slow-blink');
  clock.advance(300);
  led.set('slow-blink');
  assert.equal(sample(1000, 100), '##.....###');
  led.close();
});

test('indications of the intercom map to patterns', () => {
  const { led } = rig();
  const seen: Record<string, LedPattern> = {};
  for (const i of ['off', 'idle', 'joining', 'ringing', 'call'] as const) {
    led.show(i);
    seen[i] = led.pattern;
  }
  assert.deepEqual(seen, { off: 'off', idle: 'on', joining: 'slow-blink', ringing: 'fast-blink', call: 'double-blink' });
  assert.throws(() => led.set('disco' as LedPattern), { message: 'unknown LED pattern "disco"' });
  led.close();
});

test('an active-low LED is lit by a low level, and dark at start', () => {
  const { gpio, led } = rig({ activeLevel: 0 });
  assert.equal(gpio.level(PIN), 1);
  led.set('on');
  assert.equal(gpio.level(PIN), 0);
  assert.deepEqual(led.status(), { pin: PIN, pattern: 'on', lit: true });
  led.close();
  assert.equal(gpio.level(PIN), 1);
});

test('a starting pattern, and close turns it dark with no timer left', () => {
  const { led, clock, gpio } = rig({ pattern: 'double-blink' });
  assert.equal(led.isLit, true);
  clock.advance(160);
  led.close();
  led.close();
  assert.equal(clock.pending, 0);
  assert.equal(gpio.level(PIN), 0);
  led.set('on');
  assert.equal(gpio.level(PIN), 0, 'nothing changes after close');
});

test('blinking does not drift over an hour', () => {
  const { led, clock, gpio } = rig();
  led.set('slow-blink');
  clock.advance(3_600_000);
  assert.equal(gpio.level(PIN), 1, 'an exact number of periods later it is lit again');
  clock.advance(499);
  assert.equal(gpio.level(PIN), 1);
  clock.advance(1);
  assert.equal(gpio.level(PIN), 0);
  led.close();
});
