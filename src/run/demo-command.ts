// `p2psip demo`: a building on one machine. A door panel on the simulated board, eight flats
// and a low-memory second device in flat 2 (a client, RFC 6940 §4.2) join one overlay on
// loopback; a press of the panel's button 2 rings both of flat 2's devices, the client
// answers, keys the door code, and the door relay pulses. Every step is printed.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sendCommand } from '../control/control-client.ts';

const DOMAIN = 'building.example';
const DOOR_CODE = '1234#';
const FLATS = 8;
const START_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 20_000;

interface Member {
  name: string;
  child: ChildProcess;
  control: string;
  listen: string;
  role: string;
}

type Answer = { ok: boolean; result?: any; error?: string };

export async function runDemo(args: string[], print: (line: string) => void): Promise<number> {
  const keep = args.includes('--keep');
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-demo-'));
  const members: Member[] = [];
  const say = (text: string): void => print(`[demo] ${text}`);
  const stopAll = async (): Promise<void> => {
    await Promise.all(members.map((m) => new Promise<void>((resolve) => {
      if (m.child.exitCode !== null || m.child.signalCode !== null) return resolve();
      m.child.once('exit', () => resolve());
      m.child.kill('SIGTERM');
      setTimeout(() => m.child.kill('SIGKILL'), 5_000).unref();
    })));
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    say(`a building on one machine: a door panel, ${FLATS} flats and a low-memory device in flat 2, all on loopback (${dir})`);
    const panel = await start(dir, 'panel', ['--board', 'sim', '--user', `door@${DOMAIN}`, '--door-code', DOOR_CODE], []);
    members.push(panel);
    say(`door panel up: ${panel.listen}, simulated board with buttons 1 and 2, door code ${DOOR_CODE}`);
    for (let i = 1; i <= FLATS; i++) {
      members.push(await start(dir, `flat${i}`, ['--user', `${i}@${DOMAIN}`, '--audio-in', 'tone:440'], [panel.listen]));
    }
    say(`${FLATS} flats joined as peers (1@${DOMAIN} … ${FLATS}@${DOMAIN})`);
    const small = await start(dir, 'flat2-small', ['--user', `2@${DOMAIN}`, '--memory-budget', '32M', '--audio-in', 'tone:1000'], [panel.listen]);
    members.push(small);
    say(`flat 2's second device has a 32 MiB memory budget: it runs as a ${small.role}`);
    const flat2 = members.find((m) => m.name === 'flat2')!;
    for (const m of [flat2, small]) {
      await until(`${m.name} registered`, async () => {
        const s = await command(m, 'status');
        return s.result?.sip?.registrations?.some((r: { state: string }) => r.state === 'registered') ? true : undefined;
      });
    }
    say(`both devices of flat 2 stored their registration for 2@${DOMAIN} in the overlay (RFC 7904)`);

    say('a visitor presses button 2 on the panel');
    await command(panel, 'press 2');
    for (const m of [flat2, small]) {
      await until(`${m.name} ringing`, async () => ((await lastCall(m))?.state === 'ringing' ? true : undefined));
    }
    say('both devices of flat 2 ring');
    const answered = await command(small, 'answer');
    if (!answered.ok) throw new Error(`answer: ${answered.error}`);
    say('the resident answers on the small device; the other stops ringing');
    await until('the call active at the panel', async () => ((await lastCall(panel))?.state === 'active' ? true : undefined));
    await until('flat 2 peer stopped', async () => ((await lastCall(flat2))?.state === 'ended' ? true : undefined));
    const heard = await until('audio both ways', async () => {
      const c = await lastCall(panel);
      return c?.media?.counters?.rtpReceived > 25 ? c.media : undefined;
    });
    say(`talking: the panel has received ${heard.counters.rtpReceived} RTP packets`);
    await command(small, `dtmf ${DOOR_CODE}`);
    say(`the resident keys ${DOOR_CODE}`);
    const door = await until('the door relay pulses', async () => {
      const d = await command(panel, 'door');
      return d.result?.state === 'open' ? d.result : undefined;
    });
    say(`door relay energised (GPIO ${door.pin ?? 23}); the door is open`);
    await until('the door locked again', async () => ((await command(panel, 'door')).result?.state !== 'open' ? true : undefined));
    say('the pulse is over: the relay is off again');
    await command(small, 'hangup');
    await until('the call over', async () => ((await lastCall(panel))?.state === 'ended' ? true : undefined));
    say('the resident hangs up; the call is over');
    return 0;
  } catch (e) {
    say(`failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await stopAll();
    say('every device stopped');
  }
}

/** Starts `p2psip run` from this same file, with the V8 flags this process runs under. */
async function start(dir: string, name: string, args: string[], bootstrap: string[]): Promise<Member> {
  const script = process.argv[1];
  const full = [...process.execArgv, script, 'run', '--listen', '127.0.0.1:0', '--sip-listen', '127.0.0.1:0', '--no-lan-discovery', '--data', join(dir, name), ...args];
  if (bootstrap.length) full.push('--bootstrap', bootstrap.join(','));
  const child = spawn(process.execPath, full, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, P2PSIP_DEBUG: '' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  const started = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${stderr}`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const e = JSON.parse(line) as Record<string, string>;
        if (e.event === 'started') { clearTimeout(timer); resolve(e); }
      } catch { /* not an event line */ }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}): ${stderr}`)); });
  });
  return { name, child, control: started.control, listen: started.listen, role: started.role };
}

async function command(m: Member, line: string): Promise<Answer> {
  return (await sendCommand(m.control, line, 10_000)) as Answer;
}

async function lastCall(m: Member): Promise<any> {
  const s = await command(m, 'status');
  return s.result?.sip?.calls?.at(-1);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${STEP_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
