// Benchmarks (not tests) of the SIP message parser: one JSON object per line,
//   {"bench":..., "metric":..., "value":..., "unit":..., "n":...}
// Each case runs for about two seconds after a warm-up, so the rate is stable from run to run.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseMessage, SipStreamFramer } from '../src/sip/core/parse.ts';
import { deviceNodeFlags, ensureBundle } from '../test/harness/processes.ts';
import { serialize } from '../src/sip/core/serialize.ts';

/** Set when this file runs again under the device's V8 flags: those lines are named `…_device_flags`. */
const DEVICE_RUN = process.env.P2PSIP_BENCH_DEVICE_FLAGS === '1';

function report(bench: string, metric: string, value: number, unit: string, n: number): void {
  if (DEVICE_RUN && unit === 'bytes') return;
  process.stdout.write(`${JSON.stringify({ bench: DEVICE_RUN ? `${bench}_device_flags` : bench, metric, value: Math.round(value), unit, n })}\n`);
}

/** Runs `fn` in batches for about `seconds` after a warm-up; returns operations per second and how many ran. */
function rate(fn: () => void, seconds = 2): { perSecond: number; n: number } {
  for (let i = 0; i < 20_000; i++) fn();
  const batch = 10_000;
  let n = 0;
  const start = process.hrtime.bigint();
  const stop = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < stop) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    now = process.hrtime.bigint();
  }
  return { perSecond: n / (Number(now - start) / 1e9), n };
}

const SDP = [
  'v=0',
  'o=door3b 2890844526 2890844526 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 49170 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  'm=video 51372 RTP/AVP 96',
  'a=rtpmap:96 H264/90000',
  'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1',
  'a=sendrecv',
  '',
].join('\r\n');

// A door station calling a flat: a typical INVITE with SDP, 12 header fields.
const INVITE = Buffer.from([
  'INVITE sip:flat3b@building.example SIP/2.0',
  'Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: "Flat 3B" <sip:flat3b@building.example>',
  'From: "Door" <sip:door@building.example>;tag=1928301774',
  'Call-ID: a84b4c76e66710@192.0.2.10',
  'CSeq: 314159 INVITE',
  'Contact: <sip:door@192.0.2.10:5060;transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO',
  'Supported: replaces, timer',
  'User-Agent: p2psip/0.1',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
].join('\r\n'));

const OK = Buffer.from([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10',
  'To: "Flat 3B" <sip:flat3b@building.example>;tag=a6c85cf',
  'From: "Door" <sip:door@building.example>;tag=1928301774',
  'Call-ID: a84b4c76e66710@192.0.2.10',
  'CSeq: 314159 INVITE',
  'Contact: <sip:flat3b@192.0.2.20:5060;transport=tcp>',
  'Content-Length: 0',
  '',
  '',
].join('\r\n'));

const invite = rate(() => parseMessage(INVITE));
report('sip_parse', 'messages_per_s', invite.perSecond, 'msg/s', invite.n);
const ok = rate(() => parseMessage(OK));
report('sip_parse_200_ok', 'messages_per_s', ok.perSecond, 'msg/s', ok.n);

// Ten INVITEs per TCP segment, the segments cut at an odd size so messages straddle them.
const PER_STREAM = 10;
const STREAM = Buffer.concat(Array.from({ length: PER_STREAM }, () => INVITE));
const SEGMENT = 1400;
const framer = new SipStreamFramer();
let framed = 0;
framer.onMessage = () => { framed++; };
framer.onError = (e) => { throw e; };
const stream = rate(() => {
  for (let at = 0; at < STREAM.length; at += SEGMENT) framer.push(STREAM.subarray(at, at + SEGMENT));
});
if (framed % PER_STREAM !== 0 || framer.bufferedBytes !== 0) throw new Error('framer lost a message');
report('sip_stream_framer', 'messages_per_s', stream.perSecond * PER_STREAM, 'msg/s', stream.n * PER_STREAM);

const parsed = parseMessage(INVITE);
const ser = rate(() => serialize(parsed));
report('sip_serialize', 'messages_per_s', ser.perSecond, 'msg/s', ser.n);

report('sip_invite_sdp_bytes', 'size', INVITE.length, 'bytes', 1);

// The same cases under the V8 flags a device runs with (the bundle's shebang: no optimizing
// compiler), which is the rate a door panel actually parses at.
if (!DEVICE_RUN) {
  ensureBundle();
  const again = spawnSync(process.execPath, [...deviceNodeFlags(), '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, P2PSIP_BENCH_DEVICE_FLAGS: '1' }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (again.status !== 0) process.exitCode = 1;
}
