// The intercom: what a building expects of a door panel. A call button rings the flat's AORs
// (every device registered for each, RFC 7904 forking in the UA); the resident who answers
// opens the door by keying the configured DTMF code, if their AOR may open it; calls nobody
// answers end after a timeout; the status LED shows overlay and call state; every step is
// logged and reported to home automation.
import type { Call } from '../sip/ua/call.ts';
import type { CallEvent, UserAgent } from '../sip/ua/user-agent.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { INTERCOM_CALL_TIMEOUT_MS, INTERCOM_DTMF_BUFFER_DIGITS } from './constants.ts';

/** What the intercom needs of the door strike driver. */
export interface DoorLatch {
  /** Pulses the strike; false when refused (already open, in hold-off). */
  open(reason: string): boolean;
  status(): object;
}

/** What the intercom needs of the status LED. */
export interface Indicator {
  show(pattern: IndicatorPattern): void;
}

export type IndicatorPattern = 'off' | 'idle' | 'joining' | 'ringing' | 'call';

/** Events for home automation (MQTT) and logs. */
export interface IntercomEvents {
  ring(info: { button: string; aors: string[] }): void;
  callState(state: 'idle' | 'ringing' | 'active', attributes: object): void;
  door(state: 'opened' | 'refused', attributes: object): void;
}

export interface IntercomComponents {
  clock: Clock;
  log: Logger;
  ua: UserAgent;
  door: DoorLatch;
  led?: Indicator;
  events?: IntercomEvents;
}

export interface IntercomButton {
  /** Shown in logs and MQTT, e.g. "3B". */
  label: string;
  /** AORs rung by a press, all in parallel. */
  aors: string[];
  /** AORs rung by a long press instead (e.g. the caretaker); default the same as a press. */
  longPressAors?: string[];
}

export interface IntercomInit {
  buttons: IntercomButton[];
  /**
   * DTMF code that opens the door during a call, e.g. "1234#" (keyed by the resident).
   * Empty: the door never opens by DTMF.
   */
  doorCode: string;
  /**
   * Who may open with the code, per called AOR: the AORs whose answer counts. A flat's own
   * AOR opens by default; `*` lets any answering device of that AOR open. Default: every AOR
   * a button rings may open.
   */
  openers?: Record<string, string[]>;
  /** Let incoming calls (someone calling the panel) open with the code too; default false. */
  openOnIncoming?: boolean;
  /** A call nobody answers is ended after this; default INTERCOM_CALL_TIMEOUT_MS. */
  callTimeoutMs?: number;
}

interface Attempt {
  button: string;
  calls: Call[];
  digits: string;
  timer: TimerHandle | undefined;
}

export class Intercom {
  readonly counters = { presses: 0, callsPlaced: 0, doorOpened: 0, doorRefused: 0, wrongCodes: 0 };
  private readonly attempts = new Set<Attempt>();
  private overlayReady = false;
  private closed = false;

  constructor(private readonly components: IntercomComponents, private readonly init: IntercomInit) {
    const previous = components.ua.onCallEvent;
    components.ua.onCallEvent = (call, event, detail) => {
      previous(call, event, detail);
      this.callEvent(call, event, detail);
    };
    this.refreshLed();
  }

  /** The overlay joined (or lost its place): the LED shows it. */
  overlayState(ready: boolean): void {
    this.overlayReady = ready;
    this.refreshLed();
  }

  /** A press of button `label` (from GPIO, the keyboard or the control socket). */
  press(label: string, long = false): { button: string; calls: string[] } {
    if (this.closed) throw new Error('intercom closed');
    const button = this.init.buttons.find((b) => b.label.toLowerCase() === label.toLowerCase());
    if (!button) throw new Error(`no button "${label}"; buttons: ${this.init.buttons.map((b) => b.label).join(', ')}`);
    this.counters.presses++;
    const aors = long && button.longPressAors?.length ? button.longPressAors : button.aors;
    // A second press while its flat is still ringing does not ring it twice.
    const ringing = [...this.attempts].find((a) => a.button === button.label && a.calls.some((c) => !c.ended));
    if (ringing) {
      this.components.log.info('button pressed again while ringing', { button: button.label });
      return { button: button.label, calls: ringing.calls.map((c) => c.id) };
    }
    this.components.log.info('button pressed: ringing', { button: button.label, aors, long });
    this.components.events?.ring({ button: button.label, aors });
    const attempt: Attempt = { button: button.label, calls: [], digits: '', timer: undefined };
    for (const aor of aors) {
      try {
        attempt.calls.push(this.components.ua.call(aor));
        this.counters.callsPlaced++;
      } catch (e) {
        this.components.log.warn('could not ring', { button: button.label, aor, error: (e as Error).message });
      }
    }
    if (attempt.calls.length === 0) return { button: button.label, calls: [] };
    this.attempts.add(attempt);
    attempt.timer = this.components.clock.setTimeout(() => this.timeout(attempt), this.init.callTimeoutMs ?? INTERCOM_CALL_TIMEOUT_MS);
    this.refreshLed();
    return { button: button.label, calls: attempt.calls.map((c) => c.id) };
  }

  /** Opens the door on a command (technician, home automation); logged with who asked. */
  open(reason: string): { opened: boolean; door: object } {
    const opened = this.components.door.open(reason);
    this.doorResult(opened, { reason });
    return { opened, door: this.components.door.status() };
  }

  status(): object {
    return {
      overlayReady: this.overlayReady,
      buttons: this.init.buttons.map((b) => ({ label: b.label, aors: b.aors, longPressAors: b.longPressAors ?? [] })),
      attempts: [...this.attempts].map((a) => ({ button: a.button, calls: a.calls.map((c) => ({ id: c.id, remote: c.remote, state: c.state })) })),
      door: this.components.door.status(),
      counters: this.counters,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.attempts) this.components.clock.clearTimeout(a.timer);
    this.attempts.clear();
    this.components.led?.show('off');
  }

  private callEvent(call: Call, event: CallEvent, detail?: string): void {
    if (this.closed) return;
    const attempt = [...this.attempts].find((a) => a.calls.includes(call));
    switch (event) {
      case 'answered':
        if (attempt) {
          this.components.log.info('answered', { button: attempt.button, call: call.id, remote: call.remote, by: detail });
          // One flat answered: the other AORs of the button stop ringing.
          for (const other of attempt.calls) if (other !== call && !other.ended) this.hangupQuietly(other);
          this.components.clock.clearTimeout(attempt.timer);
        }
        break;
      case 'dtmf':
        if (detail) this.digit(call, attempt, detail);
        break;
      case 'ended':
        if (attempt && attempt.calls.every((c) => c.ended)) {
          this.components.clock.clearTimeout(attempt.timer);
          this.attempts.delete(attempt);
          this.components.log.info('call over', { button: attempt.button, reasons: attempt.calls.map((c) => c.endReason) });
        }
        break;
      default:
        break;
    }
    this.publishCallState();
    this.refreshLed();
  }

  /**
   * A digit from the answering side. The code counts only in an active call, only from an
   * AOR allowed to open for the button's call, and only once per keying.
   */
  private digit(call: Call, attempt: Attempt | undefined, digit: string): void {
    const code = this.init.doorCode;
    if (!code || call.state !== 'active') return;
    const incoming = call.direction === 'incoming';
    if (!attempt && !(incoming && this.init.openOnIncoming)) return;
    const buffer = ((attempt?.digits ?? '') + digit).slice(-INTERCOM_DTMF_BUFFER_DIGITS);
    if (attempt) attempt.digits = buffer;
    const keyed = incoming ? call.dtmfReceived : buffer;
    if (!keyed.endsWith(code)) {
      // A terminator without the code is a wrong code: counted, the buffer starts again.
      if ((digit === '#' || keyed.length >= INTERCOM_DTMF_BUFFER_DIGITS) && attempt) {
        this.counters.wrongCodes++;
        attempt.digits = '';
      }
      return;
    }
    if (attempt) attempt.digits = '';
    const who = bareAor(call.remote);
    if (!this.mayOpen(who, incoming)) {
      this.components.log.warn('door code from someone not allowed to open', { call: call.id, who });
      this.doorResult(false, { call: call.id, who, why: 'not allowed' });
      return;
    }
    const opened = this.components.door.open(`DTMF code from ${who}`);
    this.doorResult(opened, { call: call.id, who });
  }

  private mayOpen(aor: string, incoming: boolean): boolean {
    const openers = this.init.openers;
    const who = bareAor(aor);
    if (!openers) {
      // By default the flats the buttons ring may open; a caller to the panel may not.
      return !incoming && this.init.buttons.some((b) => [...b.aors, ...(b.longPressAors ?? [])].some((a) => bareAor(a) === who));
    }
    if (incoming) return Object.values(openers).some((list) => list.some((a) => bareAor(a) === who));
    const list = Object.entries(openers).find(([k]) => bareAor(k) === who)?.[1] ?? [];
    return list.some((a) => a === '*' || bareAor(a) === who);
  }

  private doorResult(opened: boolean, attributes: object): void {
    if (opened) this.counters.doorOpened++;
    else this.counters.doorRefused++;
    this.components.log.info(opened ? 'door opened' : 'door not opened', attributes as Record<string, unknown>);
    this.components.events?.door(opened ? 'opened' : 'refused', attributes);
  }

  private timeout(attempt: Attempt): void {
    if (!this.attempts.has(attempt)) return;
    const unanswered = attempt.calls.filter((c) => c.state !== 'active' && !c.ended);
    if (unanswered.length === 0) return;
    this.components.log.info('nobody answered: ringing stopped', { button: attempt.button });
    for (const c of unanswered) this.hangupQuietly(c);
  }

  private hangupQuietly(call: Call): void {
    try {
      this.components.ua.hangup(call.id);
    } catch { /* it ended meanwhile */ }
  }

  private publishCallState(): void {
    const calls = [...this.attempts].flatMap((a) => a.calls.map((c) => ({ button: a.button, call: c })));
    const active = calls.find((x) => x.call.state === 'active');
    const ringing = calls.find((x) => x.call.state === 'ringing' || x.call.state === 'calling' || x.call.state === 'resolving');
    const state = active ? 'active' : ringing ? 'ringing' : 'idle';
    const pick = active ?? ringing;
    this.components.events?.callState(state, pick ? { button: pick.button, call: pick.call.id, remote: pick.call.remote } : {});
  }

  private refreshLed(): void {
    const led = this.components.led;
    if (!led || this.closed) return;
    const calls = [...this.attempts].flatMap((a) => a.calls);
    const all = [...calls, ...this.components.ua.all().filter((c) => c.direction === 'incoming')];
    if (all.some((c) => c.state === 'active')) led.show('call');
    else if (all.some((c) => !c.ended)) led.show('ringing');
    else led.show(this.overlayReady ? 'idle' : 'joining');
  }
}

/** `sip:3b@building.example;gr=…` → `3b@building.example`, for comparing AORs. */
function bareAor(uri: string): string {
  return uri.replace(/^sips?:/i, '').split(';')[0].trim().toLowerCase();
}
