// SerialConsole on an in-memory line: line splitting across chunk boundaries, editing keys,
// junk, bounds on lines, typed-ahead lines and output, timeouts, `log tail`, and close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandInterpreter } from '../src/control/control-server.ts';
import { LogRing, SerialConsole, type SerialConsoleInit } from '../src/device/serial-console.ts';
import { MemorySerial, type MemorySerialInit } from '../src/device/serial.ts';
import { FakeClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';

const PROMPT = 'p2psip> ';

/** Lets queued command promises settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
}

function rig(init: Partial<SerialConsoleInit> = {}, lineInit: MemorySerialInit = {}, logRing?: LogRing) {
  const clock = new FakeClock();
  const interpreter = new CommandInterpreter();
  interpreter.register('status', () => ({ state: 'idle' }));
  interpreter.register('echo', (args) => args);
  let line!: MemorySerial;
  const console = new SerialConsole(
    { serial: (o) => (line = new MemorySerial(o, lineInit)), interpreter, clock, log: silentLogger, ...(logRing ? { logRing } : {}) },
    { path: 'memory', ...init },
  );
  const decoder = new TextDecoder();
  /** Everything the console wrote since the last call. */
  const out = (): string => decoder.decode(line.transmitted());
  return { clock, interpreter, line, console, out };
}

const ok = (result: unknown): string => `${JSON.stringify({ ok: true, result })}\r\n${PROMPT}`;

test('a prompt is shown when the console opens', () => {
  const { out } = rig();
  assert.equal(out(), PROMPT);
});

test('lines split across chunks, one byte at a time, and CRLF are whole lines', async () => {
  const { line, out } = rig();
  out();
  for (const chunk of ['sta', 'tus\r', '\n', 'echo a  b\r\nech', 'o c\n']) line.receive(chunk);
  await settle();
  assert.equal(out(), ok({ state: 'idle' }) + ok(['a', 'b']) + ok(['c']));
  for (const b of new TextEncoder().encode('echo one\r\necho two\r\n')) line.receive(Uint8Array.of(b));
  await settle();
  assert.equal(out(), ok(['one']) + ok(['two']));
});

test('bare CR and bare LF each end a line; LF then CR is two lines', async () => {
  const { line, out } = rig();
  out();
  line.receive('echo cr\recho lf\necho lfcr\n\r');
  await settle();
  assert.equal(out(), ok(['cr']) + ok(['lf']) + ok(['lfcr']) + PROMPT);
});

test('backspace and DEL erase a character, a multi-byte one whole', async () => {
  const { line, out } = rig();
  out();
  line.receive('stx\x08atus\r');
  line.receive('echo é\x7fe\r');
  line.receive('\x08\x08\x7fstatus\r');
  await settle();
  assert.equal(out(), ok({ state: 'idle' }) + ok(['e']) + ok({ state: 'idle' }));
});

test('echo returns typed characters, erases with BS-space-BS and ends lines with CRLF', async () => {
  const { line, out } = rig({ echo: true });
  out();
  line.receive('ecx\x7fho\r');
  await settle();
  assert.equal(out(), `ecx\b \bho\r\n${JSON.stringify({ ok: true, result: [] })}\r\n${PROMPT}`);
});

test('escape sequences and control bytes are ignored, Ctrl-C drops the line', async () => {
  const { line, out } = rig();
  out();
  line.receive('\x1b[A\x1b[1;5Cst\x00\x07at\x1bOPus\x1b\r');
  await settle();
  assert.equal(out(), ok({ state: 'idle' }));
  line.receive('echo lost\x03echo kept\r');
  await settle();
  assert.equal(out(), `^C\r\n${PROMPT}${ok(['kept'])}`);
});

test('a line that is not UTF-8 is refused and the next one runs', async () => {
  const { console, line, out } = rig();
  out();
  line.receive(Uint8Array.of(0xff, 0xfe, 0xc3, 0x0d));
  line.receive('status\r');
  await settle();
  assert.equal(out(), `${JSON.stringify({ ok: false, error: 'line is not UTF-8, discarded' })}\r\n${PROMPT}${ok({ state: 'idle' })}`);
  assert.equal(console.counters.linesDiscarded, 1);
});

test('random bytes never throw and the console still answers afterwards', async () => {
  const { line, out } = rig({ maxLineBytes: 64, maxPendingLines: 4 });
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let i = 0; i < 200; i++) line.receive(Uint8Array.from({ length: 1 + (i % 37) }, random));
  await settle();
  out();
  line.receive('\x03status\r');
  await settle();
  assert.match(out(), /\{"ok":true,"result":\{"state":"idle"\}\}\r\np2psip> $/);
});

test('an overlong line is discarded with a message and the console keeps working', async () => {
  const { console, line, out } = rig({ maxLineBytes: 16 });
  out();
  line.receive(`echo ${'x'.repeat(40)}`);
  line.receive(`${'y'.repeat(4000)}\r\n`);
  line.receive('echo fits in 16\r');
  await settle();
  assert.equal(
    out(),
    `${JSON.stringify({ ok: false, error: 'line longer than 16 bytes, discarded' })}\r\n${PROMPT}${ok(['fits', 'in', '16'])}`,
  );
  assert.equal(console.counters.linesDiscarded, 1);
});

test('unknown commands answer with the interpreter error', async () => {
  const { line, out } = rig();
  out();
  line.receive('frobnicate now\r');
  await settle();
  const [reply] = out().split('\r\n');
  const parsed = JSON.parse(reply!) as { ok: boolean; error: string };
  assert.equal(parsed.ok, false);
  assert.match(parsed.error, /unknown command "frobnicate"/);
});

test('help lists the interpreter commands and the console built-ins', async () => {
  const { line, out } = rig({}, {}, new LogRing());
  out();
  line.receive('help\r');
  await settle();
  assert.equal(out(), ok({ commands: ['echo', 'help', 'log tail [N]', 'status'] }));
});

test('lines typed while a command runs wait their turn; past the bound they are refused', async () => {
  const { console, interpreter, line, out } = rig({ maxPendingLines: 2 });
  let release!: () => void;
  interpreter.register('slow', () => new Promise<string>((r) => (release = () => r('done'))));
  out();
  line.receive('slow\recho 1\recho 2\recho 3\r');
  await settle();
  assert.equal(out(), `${JSON.stringify({ ok: false, error: 'console busy, line dropped' })}\r\n`);
  release();
  await settle();
  assert.equal(out(), ok('done') + ok(['1']) + ok(['2']));
  assert.equal(console.counters.linesDropped, 1);
});

test('a command that never answers times out and the next one runs', async () => {
  const { clock, interpreter, line, out } = rig({ commandTimeoutMs: 1000 });
  interpreter.register('hang', () => new Promise(() => {}));
  out();
  line.receive('hang\rstatus\r');
  await settle();
  assert.equal(out(), '');
  clock.advance(1000);
  await settle();
  assert.equal(out(), `${JSON.stringify({ ok: false, error: 'command timed out after 1000 ms' })}\r\n${PROMPT}${ok({ state: 'idle' })}`);
  assert.equal(clock.pending, 0);
});

test('output waits for transmit space and is cut short, prompt kept, past the queue bound', async () => {
  const { console, interpreter, line, out } = rig({ maxOutputBytes: 1024 }, { transmitBufferBytes: 64 });
  interpreter.register('big', () => 'z'.repeat(5000));
  out();
  line.receive('big\r');
  await settle();
  let text = '';
  for (let chunk = out(); chunk !== ''; chunk = out()) {
    assert.ok(chunk.length <= 64);
    text += chunk;
  }
  assert.match(text, /^\{"ok":true,"result":"z+ \[output truncated\]\r\np2psip> $/);
  assert.equal(text.length, 1024);
  assert.ok(console.counters.outputDroppedBytes > 3900);
  line.receive('status\r');
  await settle();
  assert.equal(out(), ok({ state: 'idle' }));
});

test('log tail shows the most recent lines with control bytes made harmless', async () => {
  const ring = new LogRing({ capacity: 3 });
  for (const l of ['one', 'two', 'three', 'four\x1b[2J']) ring.push(l);
  const { line, out } = rig({}, {}, ring);
  out();
  line.receive('log tail\rlog tail 2\rlog tail zero\r');
  await settle();
  assert.equal(
    out(),
    `two\r\nthree\r\nfour\ufffd[2J\r\n${PROMPT}three\r\nfour\ufffd[2J\r\n${PROMPT}` +
      `${JSON.stringify({ ok: false, error: 'usage: log tail [N], N ≥ 1' })}\r\n${PROMPT}`,
  );
});

test('without a log ring, log goes to the interpreter', async () => {
  const { line, out } = rig();
  out();
  line.receive('log tail\r');
  await settle();
  assert.match(out(), /unknown command \\"log\\"/);
});

test('LogRing keeps the newest lines in order and cuts long ones', () => {
  const ring = new LogRing({ capacity: 4, maxLineChars: 5 });
  assert.deepEqual(ring.tail(3), []);
  for (let i = 1; i <= 10; i++) ring.push(`line ${i}`);
  assert.equal(ring.size, 4);
  assert.deepEqual(ring.tail(2), ['line…', 'line…']);
  const wide = new LogRing({ capacity: 3 });
  for (let i = 1; i <= 7; i++) wide.push(String(i));
  assert.deepEqual(wide.tail(), ['5', '6', '7']);
  assert.deepEqual(wide.tail(2), ['6', '7']);
  assert.deepEqual(wide.tail(99), ['5', '6', '7']);
});

test('close is idempotent, releases the line and prints nothing afterwards', async () => {
  const { interpreter, line, console, out } = rig();
  let release!: () => void;
  interpreter.register('slow', () => new Promise<string>((r) => (release = () => r('late'))));
  out();
  line.receive('slow\rstatus\r');
  await settle();
  const closing = console.close();
  assert.equal(console.close(), closing);
  await closing;
  assert.equal(line.isClosed, true);
  release();
  line.receive('status\r');
  await settle();
  assert.equal(out(), '');
});
