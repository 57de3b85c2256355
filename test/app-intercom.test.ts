// The intercom behaviour over real SIP between in-process agents: a button rings every AOR it
// names, the first to answer keeps the call, the door code keyed by an allowed resident opens
// the door once, a wrong code or a resident not allowed does not, nobody answering stops the
// ringing, and the LED follows overlay and call state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type DoorLatch, type Indicator, type IndicatorPattern, Intercom, type IntercomEvents, type IntercomInit } from '../src/app/intercom.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';
import { type Agent, agents } from './harness/sip-agents.ts';
import { until } from './harness/wait.ts';

class FakeDoor implements DoorLatch {
  readonly opens: string[] = [];
  open(reason: string): boolean {
    this.opens.push(reason);
    return true;
  }
  status(): object {
    return { opens: this.opens.length };
  }
}

class RecordingLed implements Indicator {
  readonly shown: IndicatorPattern[] = [];
  show(p: IndicatorPattern): void {
    if (this.shown.at(-1) !== p) this.shown.push(p);
  }
}

function recorder(): IntercomEvents & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    ring: (i) => log.push(`ring ${i.button}`),
    callState: (s) => { if (log.at(-1) !== `call ${s}`) log.push(`call ${s}`); },
    door: (s) => log.push(`door ${s}`),
  };
}

async function building(t: Parameters<typeof agents>[0], init: (flats: Agent[]) => Partial<IntercomInit> = () => ({})) {
  const [panel, flatA, flatB] = await agents(t, ['door'], ['flata'], ['flatb']);
  const door = new FakeDoor();
  const led = new RecordingLed();
  const events = recorder();
  const intercom = new Intercom({ clock: systemClock, log: silentLogger, ua: panel.ua, door, led, events }, {
    buttons: [{ label: '3B', aors: [flatA.uri(), flatB.uri()] }],
    doorCode: '1234#',
    ...init([flatA, flatB]),
  });
  t.after(async () => intercom.close());
  return { panel, flatA, flatB, door, led, events, intercom };
}

const ringingAt = (a: Agent) => until(`${a.name} ringing`, () => a.ua.all().find((c) => c.direction === 'incoming' && c.state === 'ringing'));

test('a press rings every AOR of the button; the first to answer keeps the call and the other stops ringing', async (t) => {
  const { panel, flatA, flatB, intercom, events } = await building(t);
  const pressed = intercom.press('3b');
  assert.equal(pressed.calls.length, 2);
  const [a, b] = [await ringingAt(flatA), await ringingAt(flatB)];
  flatB.ua.answer(b.id);
  await until('flat A stops ringing', () => a.ended);
  assert.equal(panel.ua.all().filter((c) => c.state === 'active').length, 1);
  assert.deepEqual(events.log.slice(0, 1), ['ring 3B']);
  assert.ok(events.log.includes('call active'));
});

test('the door code keyed by the resident who answered opens the door once', async (t) => {
  const { flatB, door, intercom, events } = await building(t);
  intercom.press('3B');
  const b = await ringingAt(flatB);
  flatB.ua.answer(b.id);
  await until('active', () => b.state === 'active');
  flatB.ua.dtmf('991234#', { mode: 'info' });
  await until('door opened', () => door.opens.length === 1);
  assert.match(door.opens[0], /DTMF code from flatb@127\.0\.0\.1/);
  assert.equal(intercom.counters.doorOpened, 1);
  assert.ok(events.log.includes('door opened'));
});

test('a wrong code does not open; a resident not allowed to open cannot, even with the code', async (t) => {
  const { flatA, flatB, door, intercom } = await building(t, (flats) => ({ openers: { [flats[0].uri()]: ['*'] } }));
  intercom.press('3B');
  const b = await ringingAt(flatB);
  await ringingAt(flatA);
  flatB.ua.answer(b.id);
  await until('active', () => b.state === 'active');
  flatB.ua.dtmf('9999#', { mode: 'info' });
  await until('wrong code counted', () => intercom.counters.wrongCodes === 1);
  flatB.ua.dtmf('1234#', { mode: 'info' });
  await until('refused', () => intercom.counters.doorRefused === 1);
  assert.equal(door.opens.length, 0, 'flat B is not among the openers of its AOR');
});

test('nobody answering: the ringing stops after the call timeout', async (t) => {
  const { flatA, flatB, intercom, panel } = await building(t, () => ({ callTimeoutMs: 400 }));
  intercom.press('3B');
  const [a, b] = [await ringingAt(flatA), await ringingAt(flatB)];
  await until('both stop ringing', () => a.ended && b.ended, 5000);
  assert.ok(panel.ua.all().every((c) => c.ended));
  assert.equal(a.endReason, 'cancelled');
  assert.deepEqual((intercom.status() as { attempts: unknown[] }).attempts, []);
});

test('pressing again while the flat rings does not ring it twice', async (t) => {
  const { flatA, intercom } = await building(t);
  const first = intercom.press('3B');
  await ringingAt(flatA);
  const second = intercom.press('3B');
  assert.deepEqual(second.calls, first.calls);
  assert.equal(intercom.counters.callsPlaced, 2);
  assert.throws(() => intercom.press('9Z'), /no button "9Z"/);
});

test('the LED shows joining, idle, ringing and a call in turn', async (t) => {
  const { flatB, intercom, led } = await building(t);
  intercom.overlayState(true);
  intercom.press('3B');
  const b = await ringingAt(flatB);
  flatB.ua.answer(b.id);
  await until('active', () => b.state === 'active');
  flatB.ua.hangup(b.id);
  await until('idle again', () => led.shown.at(-1) === 'idle');
  assert.deepEqual(led.shown, ['joining', 'idle', 'ringing', 'call', 'idle']);
});

test('open on command pulses the door and reports it', async (t) => {
  const { intercom, door, events } = await building(t);
  const r = intercom.open('command from mqtt');
  assert.equal(r.opened, true);
  assert.deepEqual(door.opens, ['command from mqtt']);
  assert.ok(events.log.includes('door opened'));
});
