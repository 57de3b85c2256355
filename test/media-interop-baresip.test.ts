// Interop with a real SIP phone: baresip calls a bare-bones SIP answerer in this test, whose
// media is a MediaSession. Checks, against baresip's own RTP/RTCP stack: its offer is
// answered, its sine tone (ausine, 440 Hz) is recognised here, digits typed on its console
// arrive as RFC 4733 events exactly once, digits sent from here are reported by baresip,
// and the 1000 Hz tone sent from here is what baresip decoded (its sndfile recording).
// Skipped when baresip is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerOffer, MediaSession, NullSink, readWavFile, ToneDetector, ToneSource } from '../src/sip/media/index.ts';
import { systemClock } from '../src/util/clock.ts';
import { silentLogger } from '../src/util/log.ts';

const HOST = '127.0.0.1';
const haveBaresip = !spawnSync('baresip', ['-h'], { stdio: 'ignore' }).error;

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, r));
  const { port } = s.address();
  s.close();
  return port;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Answers one INVITE with 200 OK and `answer(sdp)`'s body, and any BYE with 200 OK. Just enough SIP for a test. */
function sipAnswerer(socket: Socket, answer: (offer: string) => string | undefined): void {
  socket.on('message', (msg, rinfo) => {
    const text = msg.toString('latin1');
    const split = text.indexOf('\r\n\r\n');
    const lines = text.slice(0, split).split('\r\n');
    const method = lines[0].split(' ')[0];
    const headers = (name: string): string[] => lines.filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
    if (method !== 'INVITE' && method !== 'BYE') return;
    const body = method === 'INVITE' ? answer(text.slice(split + 4)) : undefined;
    if (method === 'INVITE' && body === undefined) return;
    const { port } = socket.address();
    const response = [
      'SIP/2.0 200 OK', ...headers('Via'), ...headers('From'), `${headers('To')[0]}${method === 'INVITE' ? ';tag=media-test' : ''}`,
      ...headers('Call-ID'), ...headers('CSeq'), `Contact: <sip:door@${HOST}:${port}>`,
      ...(body === undefined ? ['Content-Length: 0', '', ''] : ['Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(body)}`, '', body]),
    ].join('\r\n');
    socket.send(response, rinfo.port, rinfo.address);
  });
}

test('baresip: tones both ways, DTMF both ways, RTCP', { skip: haveBaresip ? false : 'baresip not installed', timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2psip-baresip-'));
  const sip = createSocket('udp4');
  await new Promise<void>((r) => sip.bind(0, HOST, r));
  const consolePort = await freeUdpPort();
  const session = await MediaSession.open({ clock: systemClock, log: silentLogger }, {
    address: HOST, source: new ToneSource({ frequencyHz: 1000 }), sink: new NullSink(), rtcpIntervalMs: 1000,
  });
  const digits: string[] = [];
  session.onDtmf = (d) => digits.push(d);
  let offered = '';
  sipAnswerer(sip, (offer) => {
    offered = offer;
    const r = answerOffer(offer, { address: HOST, port: session.port });
    if (!r.ok) return undefined;
    if (session.state === 'open') session.start(r.negotiated);
    return r.sdp;
  });
  // ausine only runs at 48 kHz stereo; baresip resamples to the 8 kHz of G.711.
  writeFileSync(join(dir, 'config'), [
    'sip_listen\t127.0.0.1:0', 'sip_trans_def\tudp', 'rtcp_mux\tno',
    'audio_source\tausine,440', 'ausrc_srate\t48000', 'ausrc_channels\t2', 'audio_player\taubridge,x', 'audio_alert\taubridge,x',
    'module_path\t/usr/lib/baresip/modules', 'module\tcons.so', 'module\tg711.so', 'module\taubridge.so', 'module\tausine.so', 'module\tsndfile.so',
    'module_app\taccount.so', 'module_app\tmenu.so', `cons_listen\t127.0.0.1:${consolePort}`, `snd_path\t${dir}`, '',
  ].join('\n'));
  writeFileSync(join(dir, 'accounts'), '<sip:intercom@127.0.0.1>;regint=0\n');
  const baresip = spawn('baresip', ['-f', dir, '-e', `/dial sip:door@${HOST}:${sip.address().port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  baresip.stdout.on('data', (d: Buffer) => { output += d.toString('utf8'); });
  baresip.stderr.on('data', (d: Buffer) => { output += d.toString('utf8'); });
  const exited = new Promise<void>((r) => baresip.once('exit', () => r()));
  const keys = createSocket('udp4');
  try {
    await until('baresip INVITE', () => session.state === 'started', 10_000);
    assert.match(offered, /^m=audio \d+ RTP\/AVP .*\b101\b/m);

    await until('440 Hz from baresip', () => Math.abs((session.tone()?.frequencyHz ?? 0) - 440) <= 10, 5000);

    // Keys typed on baresip's console are sent as RFC 4733 events during a call.
    for (const key of '1234#') {
      keys.send(key, consolePort, HOST);
      await sleep(250);
    }
    await until('digits from baresip', () => digits.length >= 5, 5000);
    await sleep(300);
    assert.equal(digits.join(''), '1234#');

    assert.equal(session.sendDtmf('59*'), 3);
    await until('baresip reports the digits', () => output.includes("received event: '*' (end=1)"), 5000);
    const reported = [...output.matchAll(/received event: '(.)' \(end=1\)/g)].map((m) => m[1]);
    assert.deepEqual(reported, ['5', '9', '*']);

    await until('RTCP from baresip', () => session.counters.rtcpReceived > 0 && session.counters.rttMs !== undefined, 5000);
    const c = session.counters;
    assert.ok(c.rtpReceived > 50 && c.rtpSent > 50);
    assert.equal(c.rtpDropped, 0);
    assert.equal(c.lost, 0);
    assert.ok(c.jitterMs < 30, `jitter ${c.jitterMs} ms`);
  } finally {
    baresip.kill('SIGTERM');
    const grace = new AbortController();
    await Promise.race([exited, sleep(5000, undefined, { signal: grace.signal }).catch(() => {})]);
    grace.abort();
    baresip.kill('SIGKILL');
    session.stop();
    sip.close();
    keys.close();
  }
  // baresip's recording of what it decoded from this side: the 1000 Hz tone.
  const decoded = readdirSync(dir).find((f) => f.endsWith('-dec.wav'));
  assert.ok(decoded, `no recording in ${readdirSync(dir).join(', ')}`);
  const samples = readWavFile(join(dir, decoded));
  const detector = new ToneDetector();
  const found = new Set<number>();
  for (let at = 0; at + 160 <= samples.length; at += 160) {
    detector.write(samples.subarray(at, at + 160));
    const r = detector.detect();
    if (r) found.add(Math.round(r.frequencyHz));
  }
  assert.ok([...found].some((f) => Math.abs(f - 1000) <= 10), `baresip decoded ${[...found].join(', ')} Hz`);
  rmSync(dir, { recursive: true, force: true });
});
