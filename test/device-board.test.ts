// Board definitions: the shipped boards load and are sound; every malformed board is a
// BoardError naming the file and the field, with a message an installer can act on; loading
// by name, by path and from an injected directory; per-device AOR overrides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyBoardOverrides, BoardError, defaultBoardDirs, listBoards, loadBoard, parseBoard } from '../src/device/board.ts';

const FILE = 'board/test.json';

function base(): Record<string, any> {
  return {
    name: 'test',
    description: 'test panel',
    gpio: 'rpio',
    buttons: [
      { label: '1A', pin: 17, pull: 'up', activeLevel: 0, aors: ['1a@building.example'] },
      { label: '1B', pin: 27, pull: 'up', activeLevel: 0, aors: ['1b@building.example'], longPressAors: ['caretaker@building.example'] },
    ],
    doorStrike: { pin: 23, activeLevel: 1, pulseMs: 3000, holdOffMs: 2000 },
    statusLed: { pin: 24, activeLevel: 1 },
    serial: { path: '/dev/serial0', baudRate: 115200 },
    resources: { memoryMb: 512, defaultRole: 'client' },
  };
}

interface Case {
  name: string;
  edit: (b: Record<string, any>) => void;
  message: string;
}

const CASES: Case[] = [
  { name: 'unknown top-level key', edit: (b) => { b.relay = {}; }, message: 'board/test.json: relay: unknown key; expected name, description, gpio, buttons, doorStrike, statusLed, resources, serial, sim' },
  { name: 'unknown button key', edit: (b) => { b.buttons[0].colour = 'red'; }, message: 'board/test.json: buttons[0].colour: unknown key; expected label, pin, pull, activeLevel, aors, longPressAors, debounceMs, longPressMs' },
  { name: 'unknown door strike key', edit: (b) => { b.doorStrike.pulse = 3; }, message: 'board/test.json: doorStrike.pulse: unknown key; expected pin, activeLevel, pulseMs, holdOffMs' },
  { name: 'missing name', edit: (b) => { delete b.name; }, message: 'board/test.json: name: missing' },
  { name: 'bad name', edit: (b) => { b.name = 'Pi 4'; }, message: 'board/test.json: name: "Pi 4" is not a board name: lowercase letters, digits and dashes' },
  { name: 'unknown gpio provider', edit: (b) => { b.gpio = 'wiringpi'; }, message: 'board/test.json: gpio: expected one of "rpio", "sim", got "wiringpi"' },
  { name: 'no buttons', edit: (b) => { b.buttons = []; }, message: 'board/test.json: buttons: must not be empty' },
  { name: 'pin beyond the header', edit: (b) => { b.buttons[1].pin = 40; }, message: 'board/test.json: buttons[1].pin: GPIO 40 is not on the 40-pin header (BCM GPIO 0-27)' },
  { name: 'negative pin', edit: (b) => { b.statusLed.pin = -1; }, message: 'board/test.json: statusLed.pin: GPIO -1 is not on the 40-pin header (BCM GPIO 0-27)' },
  { name: 'pin not an integer', edit: (b) => { b.buttons[0].pin = '17'; }, message: 'board/test.json: buttons[0].pin: expected an integer, got "17"' },
  { name: 'HAT EEPROM pin', edit: (b) => { b.buttons[0].pin = 0; }, message: 'board/test.json: buttons[0].pin: GPIO 0 (ID_SD) is reserved for the HAT ID EEPROM' },
  { name: 'UART pin with a serial console', edit: (b) => { b.buttons[1].pin = 14; }, message: "board/test.json: buttons[1].pin: GPIO 14 is the serial console's UART TXD (serial.path /dev/serial0)" },
  { name: 'duplicate pin between buttons', edit: (b) => { b.buttons[1].pin = 17; }, message: 'board/test.json: buttons[1].pin: GPIO 17 is already used by buttons[0].pin' },
  { name: 'LED on the relay pin', edit: (b) => { b.statusLed.pin = 23; }, message: 'board/test.json: statusLed.pin: GPIO 23 is already used by doorStrike.pin' },
  { name: 'pulse too short', edit: (b) => { b.doorStrike.pulseMs = 20; }, message: 'board/test.json: doorStrike.pulseMs: 20 is out of range 100..10000' },
  { name: 'pulse too long', edit: (b) => { b.doorStrike.pulseMs = 60000; }, message: 'board/test.json: doorStrike.pulseMs: 60000 is out of range 100..10000' },
  { name: 'hold-off negative', edit: (b) => { b.doorStrike.holdOffMs = -1; }, message: 'board/test.json: doorStrike.holdOffMs: -1 is out of range 0..60000' },
  {
    name: 'active-high relay on a pin pulled up at boot',
    edit: (b) => { b.doorStrike.pin = 5; },
    message: 'board/test.json: doorStrike.pin: GPIO 5 is pulled high from power-on until the program starts, so an active-high relay there would open the door at every boot; use GPIO 9-27 or an active-low relay',
  },
  { name: 'active level not 0/1', edit: (b) => { b.statusLed.activeLevel = 'high'; }, message: 'board/test.json: statusLed.activeLevel: expected 0 (active low) or 1 (active high), got "high"' },
  { name: 'pull-up with active high', edit: (b) => { b.buttons[0].activeLevel = 1; }, message: 'board/test.json: buttons[0].activeLevel: a pulled-up input rests at 1, so the button must be active low (0)' },
  { name: 'pull-down with active low', edit: (b) => { b.buttons[0].pull = 'down'; }, message: 'board/test.json: buttons[0].activeLevel: a pulled-down input rests at 0, so the button must be active high (1)' },
  { name: 'button without AORs', edit: (b) => { b.buttons[0].aors = []; }, message: 'board/test.json: buttons[0].aors: must not be empty' },
  { name: 'button AORs missing', edit: (b) => { delete b.buttons[1].aors; }, message: 'board/test.json: buttons[1].aors: missing' },
  { name: 'AOR without a domain', edit: (b) => { b.buttons[0].aors = ['1a']; }, message: 'board/test.json: buttons[0].aors[0]: "1a" is not an AOR: expected user@domain, e.g. 3b@building.example' },
  { name: 'AOR with a sip: scheme', edit: (b) => { b.buttons[0].aors = ['sip:1a@building.example']; }, message: 'board/test.json: buttons[0].aors[0]: "sip:1a@building.example": write the AOR without the sip: scheme, as user@domain' },
  { name: 'AOR with a bad domain', edit: (b) => { b.buttons[1].longPressAors = ['caretaker@bad_domain']; }, message: 'board/test.json: buttons[1].longPressAors[0]: "caretaker@bad_domain": "bad_domain" is not a domain name' },
  { name: 'AOR with a space in the user', edit: (b) => { b.buttons[0].aors = ['flat 1a@building.example']; }, message: 'board/test.json: buttons[0].aors[0]: "flat 1a@building.example": the user part has characters an AOR cannot carry' },
  { name: 'AOR listed twice', edit: (b) => { b.buttons[0].aors = ['1a@building.example', '1A@building.example']; }, message: 'board/test.json: buttons[0].aors[1]: "1A@building.example" is listed twice' },
  { name: 'duplicate label', edit: (b) => { b.buttons[1].label = '1a'; }, message: 'board/test.json: buttons[1].label: "1a" is already the label of buttons[0]' },
  { name: 'serial path outside /dev', edit: (b) => { b.serial.path = 'ttyS0'; }, message: 'board/test.json: serial.path: "ttyS0" is not a device path under /dev/' },
  { name: 'odd baud rate', edit: (b) => { b.serial.baudRate = 100000; }, message: 'board/test.json: serial.baudRate: 100000 is not a standard rate (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)' },
  { name: 'unknown default role', edit: (b) => { b.resources.defaultRole = 'server'; }, message: 'board/test.json: resources.defaultRole: expected one of "peer", "client", got "server"' },
  { name: 'memory not a number', edit: (b) => { b.resources.memoryMb = '512MB'; }, message: 'board/test.json: resources.memoryMb: expected an integer, got "512MB"' },
  { name: 'sim wiring on an rpio board', edit: (b) => { b.sim = { wires: [] }; }, message: 'board/test.json: sim: simulator wiring is only for boards with "gpio": "sim"' },
  {
    name: 'sim wire from an input',
    edit: (b) => { b.gpio = 'sim'; b.sim = { wires: [{ from: 17, to: 16 }] }; },
    message: 'board/test.json: sim.wires[0].from: GPIO 17 is not an output of this board (doorStrike.pin 23, statusLed.pin 24)',
  },
  { name: 'sim wire onto a used pin', edit: (b) => { b.gpio = 'sim'; b.sim = { wires: [{ from: 23, to: 27 }] }; }, message: 'board/test.json: sim.wires[0].to: GPIO 27 is already used by buttons[1].pin' },
  { name: 'buttons not an array', edit: (b) => { b.buttons = { label: '1A' }; }, message: 'board/test.json: buttons: expected an array, got an object' },
];

for (const c of CASES) {
  test(`board validation: ${c.name}`, () => {
    const b = base();
    c.edit(b);
    assert.throws(() => parseBoard(b, FILE), (e: unknown) => {
      assert.ok(e instanceof BoardError, `expected BoardError, got ${String(e)}`);
      assert.equal(e.message, c.message);
      assert.equal(e.file, FILE);
      return true;
    });
  });
}

test('the base board of the table is valid', () => {
  const b = parseBoard(base(), FILE);
  assert.equal(b.buttons.length, 2);
  assert.deepEqual(b.buttons[1].longPressAors, ['caretaker@building.example']);
  assert.equal(b.file, FILE);
});

test('UART pins are free when the serial console is not on the header UART', () => {
  const b = base();
  b.serial = { path: '/dev/ttyUSB0', baudRate: 115200 };
  b.buttons[1].pin = 14;
  assert.equal(parseBoard(b, FILE).buttons[1].pin, 14);
  delete b.serial;
  assert.equal(parseBoard(b, FILE).serial, undefined);
});

test('an active-low relay may sit on a pin pulled up at boot', () => {
  const b = base();
  b.doorStrike = { pin: 6, activeLevel: 0, pulseMs: 3000, holdOffMs: 2000 };
  assert.equal(parseBoard(b, FILE).doorStrike.pin, 6);
});

test('every shipped board loads by name and is sound', () => {
  const names = listBoards();
  for (const n of ['pi-zero-2w', 'pi-3b-plus', 'pi-4b', 'sim']) assert.ok(names.includes(n), `board ${n} is shipped`);
  for (const n of names) {
    const b = loadBoard(n);
    assert.equal(b.name, n);
    assert.ok(b.buttons.length >= 1);
    // Every shipped board keeps clear of the UART and I2C pins.
    for (const pin of [...b.buttons.map((x) => x.pin), b.doorStrike.pin, b.statusLed.pin]) assert.ok(![0, 1, 2, 3, 14, 15].includes(pin), `${n}: pin ${pin}`);
  }
  assert.equal(loadBoard('sim').gpio, 'sim');
  assert.deepEqual(loadBoard('sim').sim, { wires: [{ from: 23, to: 16 }] });
  assert.equal(loadBoard('pi-4b').gpio, 'rpio');
});

test('the board directory is found from the running script and from the sources', () => {
  assert.ok(defaultBoardDirs().some((d) => d.endsWith('/board')));
});

test('loading from an injected directory and from a file path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-board-'));
  try {
    writeFileSync(join(dir, 'test.json'), JSON.stringify(base()));
    assert.equal(loadBoard('test', { dir }).name, 'test');
    assert.equal(loadBoard(join(dir, 'test.json')).file, join(dir, 'test.json'));
    assert.deepEqual(listBoards(dir), ['test']);

    writeFileSync(join(dir, 'other.json'), JSON.stringify(base()));
    assert.throws(() => loadBoard('other', { dir }), { message: `${join(dir, 'other.json')}: name: "test" does not match the file name other.json` });

    writeFileSync(join(dir, 'broken.json'), '{ "name": ');
    assert.throws(() => loadBoard('broken', { dir }), (e: unknown) => e instanceof BoardError && e.message.startsWith(`${join(dir, 'broken.json')}: not valid JSON:`));

    assert.throws(() => loadBoard('pi-9', { dir }), { message: `pi-9.json: no board "pi-9" in ${dir}; known: broken, other, test` });
    assert.throws(() => loadBoard('../etc/passwd'), BoardError);
    assert.throws(() => loadBoard('Pi4', { dir }), { message: 'Pi4: a board name is lowercase letters, digits and dashes' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('overrides replace AORs per button and the domain of the rest', () => {
  const board = parseBoard(base(), FILE);
  const b = applyBoardOverrides(board, { domain: 'haus.example', buttons: { '1a': { aors: ['mueller@haus.example', 'mueller-mobile@haus.example'] } } });
  assert.deepEqual(b.buttons[0].aors, ['mueller@haus.example', 'mueller-mobile@haus.example']);
  assert.deepEqual(b.buttons[1].aors, ['1b@haus.example']);
  assert.deepEqual(b.buttons[1].longPressAors, ['caretaker@haus.example']);
  // The loaded board is not changed underneath its other users.
  assert.deepEqual(board.buttons[0].aors, ['1a@building.example']);

  const dir = mkdtempSync(join(tmpdir(), 'p2psip-board-'));
  try {
    writeFileSync(join(dir, 'test.json'), JSON.stringify(base()));
    const loaded = loadBoard('test', { dir, overrides: { buttons: { '1B': { longPressAors: ['front@building.example'] } } } });
    assert.deepEqual(loaded.buttons[1].longPressAors, ['front@building.example']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad overrides name the override source and the field', () => {
  const board = parseBoard(base(), FILE);
  const cases: Array<[unknown, string]> = [
    [{ buttons: { '9Z': { aors: ['9z@building.example'] } } }, 'settings.json: buttons.9Z: no button labelled "9Z" on board test (labels: 1A, 1B)'],
    [{ buttons: { '1A': { aors: [] } } }, 'settings.json: buttons.1A.aors: must not be empty'],
    [{ buttons: { '1A': { aors: ['1a'] } } }, 'settings.json: buttons.1A.aors[0]: "1a" is not an AOR: expected user@domain, e.g. 3b@building.example'],
    [{ buttons: { '1A': { ring: ['1a@x.example'] } } }, 'settings.json: buttons.1A.ring: unknown key; expected aors, longPressAors'],
    [{ domain: 'no domain' }, 'settings.json: domain: "no domain" is not a domain name'],
    [{ flats: {} }, 'settings.json: flats: unknown key; expected domain, buttons'],
  ];
  for (const [overrides, message] of cases) {
    assert.throws(() => applyBoardOverrides(board, overrides as never, 'settings.json'), { name: 'BoardError', message });
  }
});
