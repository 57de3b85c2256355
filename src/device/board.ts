// Board definitions: which pins a device's buttons, door strike relay and status LED are on,
// which GPIO provider drives them, its serial console and resource hints. They are JSON files
// in board/ (format in board/README.md), read at run time rather than bundled, so an
// installer can add a board without rebuilding. Validation is strict and names the file and
// the field: a wrong pin on a door panel is found at start, not when the door fails to open.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOOR_STRIKE_MAX_HOLD_OFF_MS, DOOR_STRIKE_MAX_PULSE_MS, DOOR_STRIKE_MIN_PULSE_MS } from './door-strike.ts';
import { GPIO_PROVIDERS, type GpioProviderName } from './gpio/provider.ts';

export type Level = 0 | 1;
export type Pull = 'up' | 'down' | 'none';
export type BoardRole = 'peer' | 'client';

export interface BoardButton {
  /** Unique on the board (case-insensitive); shown in logs and MQTT, e.g. "3B". */
  label: string;
  pin: number;
  pull: Pull;
  activeLevel: Level;
  /** AORs (user@domain) a press rings, in parallel. */
  aors: string[];
  /** AORs a long press rings instead. */
  longPressAors?: string[];
  /** Overrides the button driver's default. */
  debounceMs?: number;
  /** Overrides the button driver's default. */
  longPressMs?: number;
}

export interface BoardDoorStrike {
  pin: number;
  activeLevel: Level;
  pulseMs: number;
  holdOffMs: number;
}

export interface BoardStatusLed {
  pin: number;
  activeLevel: Level;
}

export interface BoardSerial {
  path: string;
  baudRate: number;
}

export interface BoardResources {
  memoryMb: number;
  cpuCores?: number;
  defaultRole: BoardRole;
}

export interface BoardSimWire {
  from: number;
  to: number;
}

export interface Board {
  name: string;
  description: string;
  gpio: GpioProviderName;
  buttons: BoardButton[];
  doorStrike: BoardDoorStrike;
  statusLed: BoardStatusLed;
  serial?: BoardSerial;
  resources: BoardResources;
  /** Simulator wiring (gpio "sim" only): outputs copied onto inputs. */
  sim?: { wires: BoardSimWire[] };
  /** The file it was read from. */
  file: string;
}

/** Per-device changes to a board: flat numbers and domains differ per building. */
export interface BoardOverrides {
  /** Replaces the domain of every AOR the board file lists (not of those given in `buttons`). */
  domain?: string;
  /** Per button label (case-insensitive): AORs to ring instead of the board file's. */
  buttons?: Record<string, { aors?: string[]; longPressAors?: string[] }>;
}

export interface LoadBoardOptions {
  /** Directory of board files. Default: the first of `defaultBoardDirs()` holding the board. */
  dir?: string;
  overrides?: BoardOverrides;
  /** Names the overrides in error messages (e.g. the settings file). Default "overrides". */
  overridesSource?: string;
}

/** A board file or overrides object that is not valid; `field` is a path like `buttons[1].pin`. */
export class BoardError extends Error {
  constructor(readonly file: string, readonly field: string, readonly detail: string) {
    super(field ? `${file}: ${field}: ${detail}` : `${file}: ${detail}`);
    this.name = 'BoardError';
  }
}

/** BCM GPIO numbers on the 40-pin header. */
export const BOARD_MAX_PIN = 27;
/** GPIO 0 and 1 (ID_SD, ID_SC) belong to the HAT ID EEPROM. */
const HAT_EEPROM_PINS: Readonly<Record<number, string>> = { 0: 'ID_SD', 1: 'ID_SC' };
/** The PL011/mini UART on the header, taken when the serial console uses it. */
const UART_PINS: Readonly<Record<number, string>> = { 14: 'TXD', 15: 'RXD' };
const HEADER_UART = /^\/dev\/(serial0|ttyS0|ttyAMA0)$/;
/**
 * BCM2835/BCM2711 pull GPIO 0-8 up from reset until software configures them (GPIO 2 and 3
 * also carry the I2C 1.8 kΩ pull-ups): an active-high relay there energises at every boot.
 */
const PULLED_UP_AT_RESET_MAX_PIN = 8;
const BAUD_RATES = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];
/** Bound on the AORs one press rings in parallel (each is a call leg). */
export const BOARD_MAX_AORS_PER_BUTTON = 16;
export const BOARD_MAX_BUTTONS = 24;

// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ); host = hostname.
const AOR_USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$|^(?:\d{1,3}\.){3}\d{1,3}$/;
const BOARD_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Why `aor` is not user@domain, or undefined when it is. */
export function aorProblem(aor: string): string | undefined {
  if (/^sips?:/i.test(aor)) return `"${aor}": write the AOR without the sip: scheme, as user@domain`;
  const at = aor.lastIndexOf('@');
  if (at <= 0 || at === aor.length - 1) return `"${aor}" is not an AOR: expected user@domain, e.g. 3b@building.example`;
  if (!AOR_USER.test(aor.slice(0, at))) return `"${aor}": the user part has characters an AOR cannot carry`;
  if (!HOSTNAME.test(aor.slice(at + 1))) return `"${aor}": "${aor.slice(at + 1)}" is not a domain name`;
  return undefined;
}

/** Where board files are looked for: next to the bundle, then next to the sources. */
export function defaultBoardDirs(): string[] {
  const dirs: string[] = [];
  const script = process.argv[1];
  if (script) {
    let real = script;
    try {
      real = realpathSync(script);
    } catch {
      // A script path that cannot be resolved still names a directory worth trying.
    }
    // dist/p2psip.mjs → board/ beside dist/; also through an npm bin symlink.
    dirs.push(resolve(dirname(real), '..', 'board'));
  }
  // Run from the sources (tests, tsx): src/device/board.ts → board/ at the repository root.
  // In the bundle import.meta.url is the bundle itself, where this would point elsewhere.
  const here = import.meta.url;
  if (here.endsWith('/src/device/board.ts')) dirs.push(fileURLToPath(new URL('../../board', here)));
  return [...new Set(dirs)];
}

/** Board names (file names without .json) in `dir`. */
export function listBoards(dir?: string): string[] {
  const dirs = dir ? [dir] : defaultBoardDirs();
  const names = new Set<string>();
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (f.endsWith('.json')) names.add(f.slice(0, -5));
  }
  return [...names].sort();
}

/**
 * Loads a board by name (`pi-4b`, looked up in the board directory) or by file path (anything
 * with a `/` or ending in `.json`), validates it and applies `overrides`.
 */
export function loadBoard(ref: string, options: LoadBoardOptions = {}): Board {
  let file: string;
  let expectName: string | undefined;
  if (ref.includes('/') || ref.endsWith('.json')) {
    file = resolve(ref);
  } else {
    if (!BOARD_NAME.test(ref)) throw new BoardError(ref, '', 'a board name is lowercase letters, digits and dashes');
    const dirs = options.dir ? [options.dir] : defaultBoardDirs();
    const found = dirs.map((d) => join(d, `${ref}.json`)).find((f) => existsSync(f));
    if (!found) {
      const known = listBoards(options.dir);
      throw new BoardError(`${ref}.json`, '', `no board "${ref}" in ${dirs.join(', ') || '(no board directory)'}; known: ${known.join(', ') || 'none'}`);
    }
    file = found;
    expectName = ref;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BoardError(file, '', `cannot read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BoardError(file, '', `not valid JSON: ${(e as Error).message}`);
  }
  const board = parseBoard(json, file);
  if (expectName !== undefined && board.name !== expectName) {
    throw new BoardError(file, 'name', `"${board.name}" does not match the file name ${basename(file)}`);
  }
  return options.overrides ? applyBoardOverrides(board, options.overrides, options.overridesSource ?? 'overrides') : board;
}

/** Validates a parsed board file; `file` names it in errors. */
export function parseBoard(json: unknown, file: string): Board {
  const v: Validator = new Validator(file);
  const top = v.object('', json, ['name', 'description', 'gpio', 'buttons', 'doorStrike', 'statusLed', 'resources'], ['serial', 'sim', '$comment']);
  const name = v.string('name', top.name);
  if (!BOARD_NAME.test(name)) v.fail('name', `"${name}" is not a board name: lowercase letters, digits and dashes`);
  const description = v.string('description', top.description);
  const gpio = v.oneOf('gpio', top.gpio, GPIO_PROVIDERS);

  // The serial console first: whether it takes the UART pins decides which pins are free.
  let serial: BoardSerial | undefined;
  if (top.serial !== undefined) {
    const s = v.object('serial', top.serial, ['path', 'baudRate'], []);
    const path = v.string('serial.path', s.path);
    if (!path.startsWith('/dev/')) v.fail('serial.path', `"${path}" is not a device path under /dev/`);
    const baudRate = v.integer('serial.baudRate', s.baudRate, 1, 4_000_000);
    if (!BAUD_RATES.includes(baudRate)) v.fail('serial.baudRate', `${baudRate} is not a standard rate (${BAUD_RATES.join(', ')})`);
    serial = { path, baudRate };
  }
  const pins = new PinTable(v, serial && HEADER_UART.test(serial.path) ? serial.path : undefined);

  const buttonsJson = v.array('buttons', top.buttons, 1, BOARD_MAX_BUTTONS);
  const labels = new Map<string, string>();
  const buttons = buttonsJson.map((b, i): BoardButton => {
    const at = `buttons[${i}]`;
    const o = v.object(at, b, ['label', 'pin', 'pull', 'activeLevel', 'aors'], ['longPressAors', 'debounceMs', 'longPressMs']);
    const label = v.string(`${at}.label`, o.label);
    const clash = labels.get(label.toLowerCase());
    if (clash) v.fail(`${at}.label`, `"${label}" is already the label of ${clash}`);
    labels.set(label.toLowerCase(), at);
    const pin = pins.claim(`${at}.pin`, o.pin);
    const pull = v.oneOf(`${at}.pull`, o.pull, ['up', 'down', 'none'] as const);
    const activeLevel = v.level(`${at}.activeLevel`, o.activeLevel);
    if (pull === 'up' && activeLevel === 1) v.fail(`${at}.activeLevel`, 'a pulled-up input rests at 1, so the button must be active low (0)');
    if (pull === 'down' && activeLevel === 0) v.fail(`${at}.activeLevel`, 'a pulled-down input rests at 0, so the button must be active high (1)');
    const button: BoardButton = { label, pin, pull, activeLevel, aors: v.aors(`${at}.aors`, o.aors) };
    if (o.longPressAors !== undefined) button.longPressAors = v.aors(`${at}.longPressAors`, o.longPressAors);
    if (o.debounceMs !== undefined) button.debounceMs = v.integer(`${at}.debounceMs`, o.debounceMs, 1, 1000);
    if (o.longPressMs !== undefined) button.longPressMs = v.integer(`${at}.longPressMs`, o.longPressMs, 200, 30_000);
    return button;
  });

  const ds = v.object('doorStrike', top.doorStrike, ['pin', 'activeLevel', 'pulseMs', 'holdOffMs'], []);
  const doorStrike: BoardDoorStrike = {
    pin: pins.claim('doorStrike.pin', ds.pin),
    activeLevel: v.level('doorStrike.activeLevel', ds.activeLevel),
    pulseMs: v.integer('doorStrike.pulseMs', ds.pulseMs, DOOR_STRIKE_MIN_PULSE_MS, DOOR_STRIKE_MAX_PULSE_MS),
    holdOffMs: v.integer('doorStrike.holdOffMs', ds.holdOffMs, 0, DOOR_STRIKE_MAX_HOLD_OFF_MS),
  };
  if (doorStrike.activeLevel === 1 && doorStrike.pin <= PULLED_UP_AT_RESET_MAX_PIN) {
    v.fail('doorStrike.pin', `GPIO ${doorStrike.pin} is pulled high from power-on until the program starts, so an active-high relay there would open the door at every boot; use GPIO 9-27 or an active-low relay`);
  }

  const led = v.object('statusLed', top.statusLed, ['pin', 'activeLevel'], []);
  const statusLed: BoardStatusLed = { pin: pins.claim('statusLed.pin', led.pin), activeLevel: v.level('statusLed.activeLevel', led.activeLevel) };

  const r = v.object('resources', top.resources, ['memoryMb', 'defaultRole'], ['cpuCores']);
  const resources: BoardResources = {
    memoryMb: v.integer('resources.memoryMb', r.memoryMb, 64, 1_048_576),
    defaultRole: v.oneOf('resources.defaultRole', r.defaultRole, ['peer', 'client'] as const),
  };
  if (r.cpuCores !== undefined) resources.cpuCores = v.integer('resources.cpuCores', r.cpuCores, 1, 256);

  const board: Board = { name, description, gpio, buttons, doorStrike, statusLed, resources, file };
  if (serial) board.serial = serial;
  if (top.sim !== undefined) {
    if (gpio !== 'sim') v.fail('sim', 'simulator wiring is only for boards with "gpio": "sim"');
    const s = v.object('sim', top.sim, ['wires'], []);
    const outputs = new Set([doorStrike.pin, statusLed.pin]);
    const wires = v.array('sim.wires', s.wires, 0, 32).map((w, i): BoardSimWire => {
      const at = `sim.wires[${i}]`;
      const o = v.object(at, w, ['from', 'to'], []);
      const from = v.integer(`${at}.from`, o.from, 0, BOARD_MAX_PIN);
      if (!outputs.has(from)) v.fail(`${at}.from`, `GPIO ${from} is not an output of this board (doorStrike.pin ${doorStrike.pin}, statusLed.pin ${statusLed.pin})`);
      return { from, to: pins.claim(`${at}.to`, o.to) };
    });
    board.sim = { wires };
  }
  return board;
}

/** Applies per-device AOR overrides to a validated board; `source` names them in errors. */
export function applyBoardOverrides(board: Board, overrides: BoardOverrides, source = 'overrides'): Board {
  const v: Validator = new Validator(source);
  const o = v.object('', overrides, [], ['domain', 'buttons']);
  let domain: string | undefined;
  if (o.domain !== undefined) {
    domain = v.string('domain', o.domain);
    if (!HOSTNAME.test(domain)) v.fail('domain', `"${domain}" is not a domain name`);
  }
  const redomain = (aors: string[] | undefined): string[] | undefined =>
    aors && domain !== undefined ? aors.map((a) => `${a.slice(0, a.lastIndexOf('@'))}@${domain}`) : aors;
  const buttons = board.buttons.map((b) => {
    const copy: BoardButton = { ...b, aors: redomain(b.aors)! };
    if (b.longPressAors) copy.longPressAors = redomain(b.longPressAors);
    return copy;
  });
  if (o.buttons !== undefined) {
    const per = v.object('buttons', o.buttons, [], Object.keys(o.buttons as object));
    for (const [label, value] of Object.entries(per)) {
      const at = `buttons.${label}`;
      const button = buttons.find((b) => b.label.toLowerCase() === label.toLowerCase());
      if (!button) v.fail(at, `no button labelled "${label}" on board ${board.name} (labels: ${board.buttons.map((b) => b.label).join(', ')})`);
      const x = v.object(at, value, [], ['aors', 'longPressAors']);
      if (x.aors !== undefined) button.aors = v.aors(`${at}.aors`, x.aors);
      if (x.longPressAors !== undefined) button.longPressAors = v.aors(`${at}.longPressAors`, x.longPressAors);
    }
  }
  return { ...board, buttons };
}

/** Pins in use on one board, with the field that took each. */
class PinTable {
  private readonly used = new Map<number, string>();
  constructor(private readonly v: Validator, private readonly uart: string | undefined) {}

  claim(field: string, value: unknown): number {
    const pin = this.v.integer(field, value, -Infinity, Infinity);
    if (pin < 0 || pin > BOARD_MAX_PIN) this.v.fail(field, `GPIO ${pin} is not on the 40-pin header (BCM GPIO 0-${BOARD_MAX_PIN})`);
    if (HAT_EEPROM_PINS[pin]) this.v.fail(field, `GPIO ${pin} (${HAT_EEPROM_PINS[pin]}) is reserved for the HAT ID EEPROM`);
    if (this.uart && UART_PINS[pin]) this.v.fail(field, `GPIO ${pin} is the serial console's UART ${UART_PINS[pin]} (serial.path ${this.uart})`);
    const other = this.used.get(pin);
    if (other) this.v.fail(field, `GPIO ${pin} is already used by ${other}`);
    this.used.set(pin, field);
    return pin;
  }
}

/** Type checks that throw BoardError with the file and the field path. */
class Validator {
  constructor(private readonly file: string) {}

  fail(field: string, detail: string): never {
    throw new BoardError(this.file, field, detail);
  }

  object(field: string, value: unknown, required: readonly string[], optional: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, `expected an object, got ${describe(value)}`);
    const o = value as Record<string, unknown>;
    const prefix = field ? `${field}.` : '';
    for (const key of Object.keys(o)) {
      if (!required.includes(key) && !optional.includes(key)) {
        this.fail(`${prefix}${key}`, `unknown key; expected ${[...required, ...optional].filter((k) => k !== '$comment').join(', ') || 'none'}`);
      }
    }
    for (const key of required) if (o[key] === undefined) this.fail(`${prefix}${key}`, 'missing');
    return o;
  }

  array(field: string, value: unknown, min: number, max: number): unknown[] {
    if (!Array.isArray(value)) this.fail(field, `expected an array, got ${describe(value)}`);
    if (value.length < min) this.fail(field, min === 1 ? 'must not be empty' : `needs at least ${min} entries`);
    if (value.length > max) this.fail(field, `has ${value.length} entries; at most ${max}`);
    return value;
  }

  string(field: string, value: unknown): string {
    if (typeof value !== 'string') this.fail(field, `expected a string, got ${describe(value)}`);
    if (value.trim() === '') this.fail(field, 'must not be empty');
    return value;
  }

  integer(field: string, value: unknown, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value)) this.fail(field, `expected an integer, got ${describe(value)}`);
    if (value < min || value > max) this.fail(field, `${value} is out of range ${min}..${max}`);
    return value;
  }

  level(field: string, value: unknown): Level {
    if (value !== 0 && value !== 1) this.fail(field, `expected 0 (active low) or 1 (active high), got ${describe(value)}`);
    return value;
  }

  oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(field, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${describe(value)}`);
    }
    return value as T;
  }

  aors(field: string, value: unknown): string[] {
    const list = this.array(field, value, 1, BOARD_MAX_AORS_PER_BUTTON);
    const seen = new Set<string>();
    return list.map((a, i) => {
      const at = `${field}[${i}]`;
      const aor = this.string(at, a);
      const problem = aorProblem(aor);
      if (problem) this.fail(at, problem);
      if (seen.has(aor.toLowerCase())) this.fail(at, `"${aor}" is listed twice`);
      seen.add(aor.toLowerCase());
      return aor;
    });
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}
