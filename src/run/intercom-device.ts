// The intercom on a board: its call buttons, door strike and status LED through the board's
// GPIO provider (rpio on a Pi, the simulator elsewhere), the intercom behaviour on top of the
// user agent, the technician's serial console, and the commands that reach all of it.
import { join } from 'node:path';
import { type IntercomEvents, Intercom } from '../app/intercom.ts';
import type { CommandInterpreter } from '../control/control-server.ts';
import { type Board, loadBoard } from '../device/board.ts';
import { Button } from '../device/button.ts';
import { DoorStrike, type DoorStrikeState } from '../device/door-strike.ts';
import { gpioProvider } from '../device/gpio/index.ts';
import { SimGpio } from '../device/gpio/index.ts';
import type { GpioProvider } from '../device/io.ts';
import { NodeSerial } from '../device/serial.ts';
import { type LogRing, SerialConsole } from '../device/serial-console.ts';
import { StatusLed } from '../device/status-led.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import type { DeviceConfig } from './config.ts';
import type { OverlayDevice } from './overlay-device.ts';
import type { SipAgent } from './sip-agent.ts';

/** How long a simulated press holds the button down; a long press holds past the long-press time. */
const SIM_PRESS_MS = 120;
const SIM_LONG_PRESS_MS = 2000;
/** How often the LED re-reads overlay and registration state. */
const OVERLAY_STATE_POLL_MS = 1000;

export interface IntercomDevice {
  readonly board: Board;
  readonly intercom: Intercom;
  readonly door: DoorStrike;
  status(): object;
  stop(): Promise<void>;
}

export interface IntercomDeviceComponents {
  clock: Clock;
  log?: Logger;
  interpreter: CommandInterpreter;
  events?: IntercomEvents;
  logRing?: LogRing;
  /** Every state of the door strike (locked, open, hold-off), e.g. for MQTT. */
  onDoorState?: (state: DoorStrikeState) => void;
}

export async function startIntercomDevice(device: OverlayDevice, sip: SipAgent, config: DeviceConfig & { board: string }, components: IntercomDeviceComponents): Promise<IntercomDevice> {
  const { clock, interpreter } = components;
  const logFor = (name: string): Logger => components.log ?? createLogger(name);
  const log = logFor('app:intercom');
  const board = loadBoard(config.board, { overrides: config.boardOverrides, overridesSource: 'device configuration' });
  const gpio: GpioProvider = gpioProvider(board.gpio, {
    logger: logFor('device:gpio'),
    // The simulator keeps pin levels in the data directory: a relay left on by a crash is seen
    // (and turned off) by the next start, as on a real board.
    sim: { stateFile: join(config.dataDir, 'sim-gpio.json'), wires: board.sim?.wires },
  });
  // The strike is driven off the moment it is opened, before anything else can fail.
  const door = new DoorStrike({ gpio, clock, logger: logFor('device:door') }, { ...board.doorStrike, onStateChange: components.onDoorState });
  const forceOff = (): void => door.forceOff();
  process.on('exit', forceOff);
  const led = new StatusLed({ gpio, clock, logger: logFor('device:led') }, board.statusLed);
  const intercom = new Intercom({ clock, log, ua: sip.ua, door, led, events: components.events }, {
    buttons: board.buttons.map((b) => ({ label: b.label, aors: b.aors, longPressAors: b.longPressAors })),
    doorCode: config.doorCode ?? '',
    openers: config.openers,
    openOnIncoming: config.openOnIncoming,
    callTimeoutMs: config.callTimeoutMs,
  });
  const pressed = (label: string, long: boolean): void => {
    try {
      intercom.press(label, long);
    } catch (e) {
      log.warn('button press not served', { button: label, error: (e as Error).message });
    }
  };
  const buttons = board.buttons.map((b) => new Button({ gpio, clock, logger: logFor('device:button') }, {
    pin: b.pin, pull: b.pull, activeLevel: b.activeLevel, label: b.label, debounceMs: b.debounceMs, longPressMs: b.longPressMs,
    // With long-press AORs the press is known short only at release; without, it rings at once.
    onPress: b.longPressAors?.length ? undefined : () => pressed(b.label, false),
    onLongPress: b.longPressAors?.length ? () => pressed(b.label, true) : undefined,
    onRelease: b.longPressAors?.length ? (r) => { if (!r.long) pressed(b.label, false); } : undefined,
  }));

  const overlayTimer: { h: TimerHandle | undefined } = { h: undefined };
  const pollOverlay = (): void => {
    const registered = sip.registrations.status().some((r) => r.state === 'registered');
    intercom.overlayState(device.topology.state === 'joined' || device.topology.state === 'attached' ? registered : false);
    overlayTimer.h = clock.setTimeout(pollOverlay, OVERLAY_STATE_POLL_MS);
  };
  pollOverlay();

  let serialConsole: SerialConsole | undefined;
  const serial = config.serial ?? board.serial;
  if (serial) {
    try {
      serialConsole = new SerialConsole({
        serial: (o) => new NodeSerial(o, { clock, log: logFor('device:serial') }), interpreter, logRing: components.logRing, clock, log: logFor('device:console'),
      }, serial);
    } catch (e) {
      // A missing serial port never stops the intercom; the technician is told in the log.
      log.warn('serial console not started', { path: serial.path, error: (e as Error).message });
    }
  }

  interpreter.register('press', async (args) => {
    const label = args.find((a) => !a.startsWith('--'));
    if (!label) throw new Error(`usage: press <button> [--long] [--bounce]; buttons: ${board.buttons.map((b) => b.label).join(', ')}`);
    const button = board.buttons.find((b) => b.label.toLowerCase() === label.toLowerCase());
    if (!button) throw new Error(`no button "${label}"; buttons: ${board.buttons.map((b) => b.label).join(', ')}`);
    const long = args.includes('--long');
    if (gpio instanceof SimGpio) {
      // On the simulator a press drives the input pin, so debounce and long-press run as on a board.
      const active = button.activeLevel;
      if (args.includes('--bounce')) {
        // Contact bounce: a few edges inside the debounce window before the level settles.
        for (const v of [active, 1 - active, active, 1 - active]) { gpio.drive(button.pin, v); await sleep(3); }
      }
      gpio.drive(button.pin, active);
      await sleep(long ? SIM_LONG_PRESS_MS : SIM_PRESS_MS);
      gpio.drive(button.pin, 1 - active);
      return { pressed: button.label, long, via: 'simulated GPIO' };
    }
    intercom.press(button.label, long);
    return { pressed: button.label, long, via: 'command' };
  });
  interpreter.register('open', (args) => intercom.open(args.length ? `command: ${args.join(' ')}` : 'command'));
  interpreter.register('door', () => door.status());

  return {
    board, intercom, door,
    status: () => ({
      board: board.name, gpio: board.gpio, intercom: intercom.status(), led: led.status(),
      buttons: buttons.map((b) => b.status()), serialConsole: serialConsole ? { path: serial!.path, ...serialConsole.counters } : null,
    }),
    async stop() {
      clock.clearTimeout(overlayTimer.h);
      intercom.close();
      for (const b of buttons) b.close();
      await serialConsole?.close();
      led.close();
      door.close();
      gpio.close();
      process.off('exit', forceOff);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
