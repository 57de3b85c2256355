// The technician console on a real pseudo-terminal pair from socat: the console holds one end
// through NodeSerial (the native binding, as on a board), the test types on the other end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { CommandInterpreter } from '../src/control/control-server.ts';
import { LogRing, SerialConsole } from '../src/device/serial-console.ts';
import { NodeSerial } from '../src/device/serial.ts';
import { silentLogger } from '../src/util/log.ts';
import { ptyPair, stopSocat } from './harness/pty.ts';
import { until } from './harness/wait.ts';

const PROMPT = 'p2psip> ';

/** The technician's end: raw reads through a tty stream, writes on a second descriptor. */
function terminal(path: string) {
  const readFd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  const writeFd = openSync(path, constants.O_WRONLY | constants.O_NOCTTY);
  const input = new ReadStream(readFd);
  let received = '';
  input.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  return {
    type(text: string | Uint8Array): void {
      writeSync(writeFd, typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
    },
    /** Waits for the console to print the prompt after a reply, and returns the reply lines. */
    async reply(what: string): Promise<string[]> {
      const text = await until(what, () => {
        const end = received.indexOf(`\r\n${PROMPT}`);
        if (end < 0) return undefined;
        const reply = received.slice(0, end);
        received = received.slice(end + 2 + PROMPT.length);
        return reply;
      });
      return text.split('\r\n');
    },
    take(): string {
      const text = received;
      received = '';
      return text;
    },
    close(): void {
      input.destroy();
      closeSync(writeFd);
    },
  };
}

/** Which of this process's file descriptors point at `path`. */
function descriptorsOn(path: string): string[] {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  });
}

describe('serial console on a pty pair', () => {
  let socat: ChildProcess;
  let consolePath: string;
  let technician: ReturnType<typeof terminal>;
  let console: SerialConsole;
  const ring = new LogRing({ capacity: 50 });

  before(async () => {
    const pair = await ptyPair();
    socat = pair.socat;
    consolePath = pair.paths[0];
    technician = terminal(pair.paths[1]);
    const interpreter = new CommandInterpreter();
    interpreter.register('status', () => ({ door: 'locked', peers: 3 }));
    interpreter.register('unlock', (args) => ({ unlocked: true, seconds: Number(args[0] ?? 5) }));
    console = new SerialConsole(
      { serial: (o) => new NodeSerial(o, { log: silentLogger }), interpreter, logRing: ring, log: silentLogger },
      { path: consolePath, baudRate: 115200 },
    );
    // The prompt comes through only once the console's end is open: from then on input is read.
    await until('first prompt', () => technician.take().endsWith(PROMPT));
  });

  after(async () => {
    await console?.close();
    technician?.close();
    if (socat) await stopSocat(socat);
  });

  test('status returns the interpreter result as one JSON line', async () => {
    technician.type('status\r\n');
    assert.deepEqual(await technician.reply('status reply'), ['{"ok":true,"result":{"door":"locked","peers":3}}']);
    technician.type('unlock 8\n');
    assert.deepEqual(JSON.parse((await technician.reply('unlock reply'))[0]!), { ok: true, result: { unlocked: true, seconds: 8 } });
  });

  test('help lists the commands', async () => {
    technician.type('help\r');
    const [line] = await technician.reply('help reply');
    assert.deepEqual(JSON.parse(line!), { ok: true, result: { commands: ['help', 'log tail [N]', 'status', 'unlock'] } });
  });

  test('an unknown command gives an error line', async () => {
    technician.type('open-sesame\r');
    const [line] = await technician.reply('error reply');
    const reply = JSON.parse(line!) as { ok: boolean; error: string };
    assert.equal(reply.ok, false);
    assert.equal(reply.error, 'unknown command "open-sesame"');
  });

  test('an overlong line is refused and the next command still works', async () => {
    technician.type(`status ${'a'.repeat(2000)}\r`);
    assert.deepEqual(await technician.reply('overlong reply'), ['{"ok":false,"error":"line longer than 256 bytes, discarded"}']);
    technician.type('status\r');
    assert.deepEqual(await technician.reply('status after overlong'), ['{"ok":true,"result":{"door":"locked","peers":3}}']);
  });

  test('junk bytes do not break it', async () => {
    technician.type(Uint8Array.of(0x00, 0x1b, 0x5b, 0x41, 0x07, 0x7f, 0x08, 0x01));
    technician.type('stat\x1b[Dus\r');
    assert.deepEqual(await technician.reply('status through control junk'), ['{"ok":true,"result":{"door":"locked","peers":3}}']);
    technician.type(Uint8Array.of(0xff, 0xfe, 0x80, 0xc3, 0x0d));
    assert.deepEqual(await technician.reply('binary line'), ['{"ok":false,"error":"line is not UTF-8, discarded"}']);
    technician.type('status\r');
    assert.deepEqual(await technician.reply('status after binary'), ['{"ok":true,"result":{"door":"locked","peers":3}}']);
  });

  test('log tail shows recent lines', async () => {
    for (let i = 1; i <= 5; i++) ring.push(JSON.stringify({ level: 'info', c: 'app:door', msg: `event ${i}` }));
    technician.type('log tail 2\r');
    assert.deepEqual(await technician.reply('log tail'), [
      '{"level":"info","c":"app:door","msg":"event 4"}',
      '{"level":"info","c":"app:door","msg":"event 5"}',
    ]);
  });

  test('close releases the port', async () => {
    assert.equal(descriptorsOn(consolePath).length, 1);
    await console.close();
    assert.deepEqual(descriptorsOn(consolePath), []);
    await console.close();
    technician.type('status\r');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(technician.take(), '');
  });
});
