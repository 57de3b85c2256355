// The call button on a simulated active-low input with pull-up: bounces within the debounce
// window give one press; long press; release; a button held at start is ignored; bounded
// timers and no callbacks after close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Button, BUTTON_DEBOUNCE_MS, BUTTON_LONG_PRESS_MS, type ButtonInit } from '../src/device/button.ts';
import { SimGpio } from '../src/device/gpio/index.ts';
import { FakeClock } from '../src/util/clock.ts';

const PIN = 17;

function rig(init: Partial<ButtonInit> = {}) {
  const clock = new FakeClock();
  const gpio = new SimGpio();
  const events: string[] = [];
  const button = new Button({ gpio, clock }, {
    pin: PIN,
    label: '3B',
    onPress: () => events.push(`press@${clock.now()}`),
    onLongPress: () => events.push(`long@${clock.now()}`),
    onRelease: (r) => events.push(`release@${clock.now()} held=${r.heldMs} long=${r.long}`),
    ...init,
  });
  // Active low with the pull-up: pressing the button pulls the pin to ground.
  const press = () => gpio.drive(PIN, 0);
  const lift = () => gpio.release(PIN);
  return { clock, gpio, events, button, press, lift };
}

test('bounces within the debounce window give one press and one release', () => {
  const { clock, events, button, press, lift } = rig();
  press();
  clock.advance(2);
  lift();
  clock.advance(3);
  press();
  clock.advance(1);
  lift();
  clock.advance(1);
  press();
  assert.deepEqual(events, [], 'nothing until the line has been quiet for the debounce time');
  clock.advance(BUTTON_DEBOUNCE_MS - 1);
  assert.deepEqual(events, []);
  clock.advance(1);
  assert.deepEqual(events, ['press@37']);
  assert.equal(button.pressed, true);

  clock.advance(200);
  lift();
  clock.advance(4);
  press();
  clock.advance(2);
  lift();
  clock.advance(BUTTON_DEBOUNCE_MS);
  assert.deepEqual(events, ['press@37', 'release@273 held=236 long=false']);
  assert.equal(button.pressed, false);
  assert.deepEqual(button.status(), { label: '3B', pin: PIN, pressed: false, presses: 1, longPresses: 0, edges: 8 });
  button.close();
});

test('a glitch shorter than the debounce time is no press', () => {
  const { clock, events, press, lift, button } = rig();
  press();
  clock.advance(5);
  lift();
  clock.advance(BUTTON_DEBOUNCE_MS * 3);
  assert.deepEqual(events, []);
  assert.equal(button.status().presses, 0);
  button.close();
});

test('held past the long-press time: one long press, then the release says so', () => {
  const { clock, events, press, lift, button } = rig();
  press();
  clock.advance(BUTTON_DEBOUNCE_MS);
  clock.advance(BUTTON_LONG_PRESS_MS - 1);
  assert.deepEqual(events, ['press@30']);
  clock.advance(1);
  assert.deepEqual(events, ['press@30', 'long@1530']);
  clock.advance(5000);
  assert.equal(events.length, 2, 'a long press fires once, however long the button is held');
  lift();
  clock.advance(BUTTON_DEBOUNCE_MS);
  assert.deepEqual(events, ['press@30', 'long@1530', 'release@6560 held=6530 long=true']);
  assert.equal(button.status().longPresses, 1);
  button.close();
});

test('debounce and long-press times are configurable', () => {
  const { clock, events, press, lift, button } = rig({ debounceMs: 10, longPressMs: 500 });
  press();
  clock.advance(10);
  clock.advance(500);
  lift();
  clock.advance(10);
  assert.deepEqual(events, ['press@10', 'long@510', 'release@520 held=510 long=true']);
  button.close();
});

test('an active-high button with a pull-down', () => {
  const clock = new FakeClock();
  const gpio = new SimGpio();
  const events: string[] = [];
  const button = new Button({ gpio, clock }, { pin: 5, pull: 'down', activeLevel: 1, onPress: () => events.push('press'), onRelease: () => events.push('release') });
  gpio.drive(5, 1);
  clock.advance(BUTTON_DEBOUNCE_MS);
  gpio.release(5);
  clock.advance(BUTTON_DEBOUNCE_MS);
  assert.deepEqual(events, ['press', 'release']);
  button.close();
});

test('a button held (or stuck) at start is not a press; the next press is', () => {
  const clock = new FakeClock();
  const gpio = new SimGpio();
  gpio.drive(PIN, 0);
  const events: string[] = [];
  const button = new Button({ gpio, clock }, { pin: PIN, onPress: () => events.push('press'), onLongPress: () => events.push('long'), onRelease: () => events.push('release') });
  clock.advance(BUTTON_LONG_PRESS_MS * 2);
  assert.equal(button.pressed, false);
  gpio.release(PIN);
  clock.advance(BUTTON_DEBOUNCE_MS);
  assert.deepEqual(events, []);
  gpio.drive(PIN, 0);
  clock.advance(BUTTON_DEBOUNCE_MS);
  assert.deepEqual(events, ['press']);
  button.close();
});

test('at most two timers whatever the line does, none after close, and no callback after close', () => {
  const { clock, gpio, events, press, lift, button } = rig();
  for (let i = 0; i < 1000; i++) {
    if (i % 2) lift();
    else press();
    clock.advance(1);
  }
  assert.ok(clock.pending <= 2, `pending timers: ${clock.pending}`);
  press();
  clock.advance(BUTTON_DEBOUNCE_MS);
  assert.equal(clock.pending, 1, 'the long-press timer');
  press();
  lift();
  button.close();
  button.close();
  assert.equal(clock.pending, 0);
  const before = [...events];
  clock.advance(BUTTON_LONG_PRESS_MS * 2);
  assert.deepEqual(events, before);
  // The pin is released: another driver may open it.
  gpio.digital({ pin: PIN, mode: 'input' }).close();
});
