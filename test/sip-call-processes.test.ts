// Calls through the overlay with real processes on loopback (integration tier): ten peers;
// A is alice, B1 and B2 are both bob. A calls bob: the AOR is fetched (RFC 7904 §4.2), both
// devices are reached by AppAttach (§5) and ring in parallel; B2 answers and B1 is cancelled;
// audio flows both ways with a tone detected at each end; DTMF from B2 arrives at A; BYE ends
// it. Every step is read back through `status`, as a technician would.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster, type DeviceProcess, waitConverged } from './harness/processes.ts';
import { until } from './harness/wait.ts';

const PEERS = 10;
const DOMAIN = 'building.example';
/** Status is polled every POLL_MS for up to WAIT_MS. */
const WAIT_MS = 15_000;
const POLL_MS = 100;

interface CallStatus {
  id: string;
  direction: string;
  state: string;
  endReason: string | null;
  forks: { label: string; state: string; status: number | null }[];
  dtmfReceived: string;
  media: { counters: { rtpSent: number; rtpReceived: number; rtcpSent: number; dtmfReceived: number }; tone: { frequencyHz: number } | null } | null;
  timeline: { atMs: number; event: string }[];
}

describe('A calls bob, registered on B1 and B2, through a 10-peer overlay', { timeout: 180_000 }, () => {
  const cluster = new Cluster(['--reliability-timer', '1000']);
  let a: DeviceProcess;
  let b1: DeviceProcess;
  let b2: DeviceProcess;
  const calls = async (d: DeviceProcess): Promise<CallStatus[]> => ((await cluster.status(d)) as unknown as { sip: { calls: CallStatus[] } }).sip.calls;
  const lastCall = async (d: DeviceProcess): Promise<CallStatus | undefined> => (await calls(d)).at(-1);

  before(async () => {
    const first = await cluster.start({ args: ['--user', `door@${DOMAIN}`] });
    for (let i = 1; i < PEERS - 3; i++) await cluster.start({ bootstrap: [first.listen], args: ['--user', `flat${i}@${DOMAIN}`] });
    a = await cluster.start({ bootstrap: [first.listen], args: ['--user', `alice@${DOMAIN}`, '--audio-in', 'tone:440'] });
    b1 = await cluster.start({ bootstrap: [first.listen], args: ['--user', `bob@${DOMAIN}`, '--audio-in', 'tone:1000'] });
    b2 = await cluster.start({ bootstrap: [first.listen], args: ['--user', `bob@${DOMAIN}`, '--audio-in', 'tone:1000'] });
    await waitConverged(cluster, 3, 30_000);
    // Both bob devices have stored their registration (RFC 7904 §3).
    for (const b of [b1, b2]) {
      await until('bob registered', async () => {
        const s = (await cluster.status(b)) as unknown as { sip: { registrations: { aor: string; state: string }[] } };
        return s.sip.registrations.some((r) => r.aor === `bob@${DOMAIN}` && r.state === 'registered') ? true : undefined;
      }, WAIT_MS, POLL_MS);
    }
  });
  after(() => cluster.close());

  it('rings both bob devices in parallel', async () => {
    const placed = await cluster.command(a, `call bob@${DOMAIN}`);
    assert.ok(placed.ok, placed.error);
    for (const b of [b1, b2]) {
      await until('an incoming call ringing', async () => {
        const c = await lastCall(b);
        return c?.direction === 'incoming' && c.state === 'ringing' ? c : undefined;
      }, WAIT_MS, POLL_MS);
    }
    const outgoing = await until('ringing at A', async () => {
      const c = await lastCall(a);
      return c?.state === 'ringing' && c.forks.filter((f) => f.state === 'ringing').length === 2 ? c : undefined;
    }, WAIT_MS, POLL_MS);
    assert.equal(outgoing.forks.length, 2, 'one branch per registered device');
  });

  it('B2 answers; B1 stops ringing with a CANCEL', async () => {
    const answered = await cluster.command(b2, 'answer');
    assert.ok(answered.ok, answered.error);
    const atA = await until('A active', async () => {
      const c = await lastCall(a);
      return c?.state === 'active' ? c : undefined;
    }, WAIT_MS, POLL_MS);
    assert.ok(atA.forks.some((f) => f.state === 'answered'));
    const atB1 = await until('B1 cancelled', async () => {
      const c = await lastCall(b1);
      return c?.state === 'ended' ? c : undefined;
    }, WAIT_MS, POLL_MS);
    // The CANCEL says why (RFC 3326): B1 shows the call as answered elsewhere, not missed.
    assert.equal(atB1.endReason, 'answered-elsewhere');
    assert.ok(atB1.timeline.some((t) => /CANCEL/.test(t.event)));
  });

  it('audio flows both ways and each side hears the other\'s tone', async () => {
    const both = await until('RTP both ways with tones detected', async () => {
      const [ca, cb] = [await lastCall(a), await lastCall(b2)];
      const ok = ca?.media && cb?.media && ca.media.counters.rtpReceived > 50 && cb.media.counters.rtpReceived > 50
        && ca.media.tone && cb.media.tone;
      return ok ? { ca: ca!, cb: cb! } : undefined;
    }, WAIT_MS, POLL_MS);
    assert.ok(Math.abs(both.ca.media!.tone!.frequencyHz - 1000) <= 10, `A hears ${both.ca.media!.tone!.frequencyHz} Hz`);
    assert.ok(Math.abs(both.cb.media!.tone!.frequencyHz - 440) <= 10, `B2 hears ${both.cb.media!.tone!.frequencyHz} Hz`);
    assert.ok(both.ca.media!.counters.rtpSent > 50 && both.cb.media!.counters.rtpSent > 50);
  });

  it('DTMF 1234# sent by B2 arrives at A as digits', async () => {
    const sent = await cluster.command(b2, 'dtmf 1234#');
    assert.ok(sent.ok, sent.error);
    const atA = await until('digits at A', async () => {
      const c = await lastCall(a);
      return c?.dtmfReceived === '1234#' ? c : undefined;
    }, WAIT_MS, POLL_MS);
    assert.equal(atA.dtmfReceived, '1234#');
  });

  it('BYE ends the call on both sides', async () => {
    const hung = await cluster.command(a, 'hangup');
    assert.ok(hung.ok, hung.error);
    const atB2 = await until('B2 ended', async () => {
      const c = await lastCall(b2);
      return c?.state === 'ended' ? c : undefined;
    }, WAIT_MS, POLL_MS);
    assert.equal(atB2.endReason, 'hangup-remote');
    const atA = await lastCall(a);
    assert.equal(atA?.state, 'ended');
    assert.equal(atA?.endReason, 'hangup-local');
    assert.ok(atA!.timeline.some((t) => /BYE/.test(t.event)));
  });
});
