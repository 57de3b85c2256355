// Interop tier: our user agent against SIP software a user would trust, all on 127.0.0.5 while
// tshark captures. sipp's built-in UAC scenario calls us over UDP and over TCP; our UA calls
// sipp's built-in UAS; baresip calls us, plays a tone and sends DTMF that we decode; then
// tshark's SIP dissector reads every packet of it without a malformed one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, type DeviceProcess } from './harness/processes.ts';
import { until } from './harness/wait.ts';

const HOST = '127.0.0.5';
const UA_PORT = 5070;
const SIPP_UAC_PORT = 5071;
const SIPP_UAS_PORT = 5072;
const BARESIP_PORT = 5073;
const BARESIP_CTRL_PORT = 4444;
const BARESIP_TONE_HZ = 700;
const WAIT_MS = 20_000;
const POLL_MS = 100;

const missing = ['sipp', 'baresip', 'tshark'].filter((tool) => (spawnSync(tool, ['-v'], { timeout: 10_000 }).error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT');
const SKIP = missing.length ? `${missing.join(', ')} not on PATH: the interop tier needs the Debian packages sip-tester, baresip-core and tshark` : false;

interface CallStatus {
  id: string;
  direction: string;
  state: string;
  endReason: string | null;
  dtmfReceived: string;
  media: { counters: { rtpReceived: number; rtpSent: number }; tone: { frequencyHz: number } | null } | null;
}

/** Runs a child to its end, bounded; resolves with its exit code and output. */
function run(command: string, args: string[], cwd: string, timeoutMs = 60_000): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8000); });
  child.stderr!.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8000); });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); }));
  return { child, done };
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

/** A mono 16-bit 8 kHz WAV holding a sine tone. */
function toneWav(path: string, hz: number, seconds: number): void {
  const n = 8000 * seconds;
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(8000, 24); b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000)), 44 + 2 * i);
  writeFileSync(path, b);
}

/** One JSON command to baresip's ctrl_tcp module, netstring framed; resolves on its response. */
function baresipCommand(command: string, params: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect({ host: HOST, port: BARESIP_CTRL_PORT }, () => {
      const body = JSON.stringify({ command, params, token: command });
      socket.write(`${Buffer.byteLength(body)}:${body},`);
    });
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`baresip did not answer ${command}`)); }, 5_000);
    socket.on('data', (d: Buffer) => {
      received += d.toString();
      if (received.includes('"response":true')) { clearTimeout(timer); socket.destroy(); resolve(received); }
    });
    socket.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

describe('interop: sipp and baresip against our user agent, read by tshark', { skip: SKIP, timeout: 240_000 }, () => {
  const cluster = new Cluster();
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-sip-interop-'));
  const pcap = join(dir, 'sip.pcap');
  let device: DeviceProcess;
  let capture: ChildProcess | undefined;
  const calls = async (): Promise<CallStatus[]> => ((await cluster.status(device)) as unknown as { sip: { calls: CallStatus[] } }).sip.calls;

  before(async () => {
    capture = spawn('tshark', ['-i', 'lo', '-f', `host ${HOST}`, '-w', pcap], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`tshark did not start capturing: ${stderr}`)), WAIT_MS);
      capture!.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('Capturing on')) { clearTimeout(timer); resolve(); }
      });
      capture!.once('exit', (code) => { clearTimeout(timer); reject(new Error(`tshark exited ${code}: ${stderr}`)); });
    });
    device = await cluster.start({ args: ['--user', `bob@building.example`, '--sip-listen', `${HOST}:${UA_PORT}`, '--auto-answer', '300', '--audio-in', 'tone:440'] });
  });

  after(async () => {
    await stop(capture);
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`sipp's UAC scenario calls our UA over ${transport.toUpperCase()} and passes`, async () => {
      const before = (await calls()).length;
      const { done } = run('sipp', [
        '-sn', 'uac', `${HOST}:${UA_PORT}`, '-i', HOST, '-p', String(SIPP_UAC_PORT), '-t', transport === 'udp' ? 'u1' : 't1',
        '-m', '1', '-s', 'bob', '-nostdin', '-timeout', '30s', '-timeout_error',
      ], dir);
      const { code, output } = await done;
      assert.equal(code, 0, `sipp uac exited ${code}:\n${output}`);
      const mine = (await calls()).slice(before);
      assert.equal(mine.length, 1);
      assert.equal(mine[0].direction, 'incoming');
      assert.equal(mine[0].endReason, 'hangup-remote', 'sipp hung up with BYE');
    });
  }

  it('our UA calls sipp\'s UAS scenario, which passes', async () => {
    const sipp = run('sipp', ['-sn', 'uas', '-i', HOST, '-p', String(SIPP_UAS_PORT), '-m', '1', '-nostdin', '-timeout', '30s', '-timeout_error'], dir);
    // sipp binds its port before reading the network; give it a moment, bounded by the probe.
    await new Promise((r) => setTimeout(r, 500));
    const placed = await cluster.command(device, `call sip:service@${HOST}:${SIPP_UAS_PORT}`);
    assert.ok(placed.ok, placed.error);
    const id = placed.result.id as string;
    await until('the call to sipp answered', async () => ((await calls()).find((c) => c.id === id)?.state === 'active' ? true : undefined), WAIT_MS, POLL_MS);
    const hung = await cluster.command(device, `hangup ${id}`);
    assert.ok(hung.ok, hung.error);
    const { code, output } = await sipp.done;
    assert.equal(code, 0, `sipp uas exited ${code}:\n${output}`);
    const call = (await calls()).find((c) => c.id === id)!;
    assert.equal(call.endReason, 'hangup-local');
  });

  it('our UA registers with a sipp registrar scenario (REGISTER, §10.2)', async () => {
    const scenario = fileURLToPath(new URL('./interop/sipp-registrar.xml', import.meta.url));
    const sipp = run('sipp', ['-sf', scenario, '-i', HOST, '-p', String(SIPP_UAS_PORT), '-m', '1', '-nostdin', '-timeout', '30s', '-timeout_error'], dir);
    await new Promise((r) => setTimeout(r, 500));
    const registered = await cluster.command(device, `register sip:${HOST}:${SIPP_UAS_PORT} 900`);
    assert.ok(registered.ok, registered.error);
    assert.deepEqual(registered.result, { status: 200, reason: 'OK', expiresS: 600 });
    const { code, output } = await sipp.done;
    assert.equal(code, 0, `sipp registrar exited ${code}:\n${output}`);
  });

  it('baresip calls our UA; we hear its tone and decode its DTMF', async () => {
    const home = join(dir, 'baresip');
    spawnSync('mkdir', ['-p', home]);
    const wav = join(home, 'tone.wav');
    toneWav(wav, BARESIP_TONE_HZ, 30);
    writeFileSync(join(home, 'config'), [
      'poll_method epoll', `sip_listen ${HOST}:${BARESIP_PORT}`, 'sip_trans_def udp', `net_interface ${HOST}`,
      `audio_source aufile,${wav}`, `audio_player aufile,${join(home, 'heard.wav')}`, 'audio_alert aufile,/dev/null',
      'ausrc_srate 8000', 'auplay_srate 8000', 'ausrc_channels 1', 'auplay_channels 1', 'rtp_ports 10000-10100',
      'module_path /usr/lib/baresip/modules', 'module g711.so', 'module aufile.so',
      'module_app account.so', 'module_app menu.so', 'module_app ctrl_tcp.so', `ctrl_tcp_listen ${HOST}:${BARESIP_CTRL_PORT}`, '',
    ].join('\n'));
    writeFileSync(join(home, 'accounts'), `<sip:carol@${HOST}>;regint=0\n`);
    const before = (await calls()).length;
    const baresip = run('baresip', ['-f', home, '-e', `/dial sip:bob@${HOST}:${UA_PORT}`], home, 90_000);
    try {
      const call = await until('baresip\'s call answered', async () => {
        const c = (await calls()).slice(before).find((x) => x.direction === 'incoming');
        return c?.state === 'active' ? c : undefined;
      }, WAIT_MS, POLL_MS);
      const heard = await until('baresip\'s tone detected', async () => {
        const c = (await calls()).find((x) => x.id === call.id);
        return c?.media?.tone ? c.media.tone : undefined;
      }, WAIT_MS, POLL_MS);
      assert.ok(Math.abs(heard.frequencyHz - BARESIP_TONE_HZ) <= 10, `heard ${heard.frequencyHz} Hz`);
      // baresip sends DTMF for its menu's sndcode command, one digit per command.
      for (const digit of '1234#') {
        const answer = await baresipCommand('sndcode', digit);
        assert.match(answer, /"ok":true/, `baresip sndcode ${digit}: ${answer}`);
        await new Promise((r) => setTimeout(r, 300));
      }
      const done = await until('DTMF 1234# from baresip', async () => {
        const c = (await calls()).find((x) => x.id === call.id);
        return c?.dtmfReceived === '1234#' ? c : undefined;
      }, WAIT_MS, POLL_MS);
      assert.ok(done.media!.counters.rtpReceived > 25);
      const hung = await cluster.command(device, `hangup ${call.id}`);
      assert.ok(hung.ok, hung.error);
    } finally {
      await stop(baresip.child);
    }
  });

  it('tshark\'s SIP dissector reads every message of it with zero malformed packets', async () => {
    await new Promise((r) => setTimeout(r, 500));
    await stop(capture);
    const decodeAs = ['-d', `udp.port==${UA_PORT},sip`, '-d', `tcp.port==${UA_PORT},sip`];
    const fields = spawnSync('tshark', ['-r', pcap, ...decodeAs, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'sip.CSeq.method'],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(fields.status, 0, fields.stderr);
    const lines = fields.stdout.trim().split('\n').filter(Boolean);
    const methods = lines.map((l) => l.split('\t')[0]).filter(Boolean);
    const statuses = lines.map((l) => l.split('\t')[1]).filter(Boolean);
    assert.ok(methods.includes('REGISTER'), 'REGISTER seen');
    for (const m of ['INVITE', 'ACK', 'BYE']) assert.ok(methods.filter((x) => x === m).length >= 4, `${m} seen ${methods.filter((x) => x === m).length} times`);
    for (const s of ['180', '200']) assert.ok(statuses.includes(s), `status ${s} seen`);
    const malformed = spawnSync('tshark', ['-r', pcap, ...decodeAs, '-Y', '_ws.malformed || _ws.expert.severity == error', '-T', 'fields', '-e', 'frame.number', '-e', '_ws.col.Info'],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(malformed.status, 0, malformed.stderr);
    assert.equal(malformed.stdout.trim(), '', `malformed packets:\n${malformed.stdout}`);
  });
});
