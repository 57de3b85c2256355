// End-to-end reliability of requests this node originates (RFC 6940 §6.2.1): retransmission
// every overlay-reliability-timer, five transmissions at most, then failure; bounded,
// abortable, and nothing left pending after close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { nodeDestination } from '../src/codec/index.ts';
import { OVERLAY_RELIABILITY_TIMER_MS, MAX_TRANSMISSIONS } from '../src/reload/constants.ts';
import { RequestTimeout } from '../src/reload/errors.ts';
import { type Answered, Transactions } from '../src/reload/transactions.ts';
import { FakeClock } from '../src/util/clock.ts';
import { settle, transportChain } from './harness/memory-overlay.ts';

const limits = { reliabilityTimerMs: OVERLAY_RELIABILITY_TIMER_MS, maxTransmissions: MAX_TRANSMISSIONS, maxPending: 4 };
const answered = {} as Answered;

/** A transaction table and a record of when each transmission happened. */
function table(maxPending = limits.maxPending) {
  const clock = new FakeClock();
  const transactions = new Transactions(clock, { ...limits, maxPending });
  const sends: number[] = [];
  const start = (id: bigint, opts: { signal?: AbortSignal } = {}) => transactions.start(id, () => sends.push(clock.now()), opts);
  return { clock, transactions, sends, start };
}

/** Settles a promise into a value or an error, so a test can look at it later. */
function outcome<T>(p: Promise<T>): { value?: T; error?: Error; done: boolean } {
  const o: { value?: T; error?: Error; done: boolean } = { done: false };
  p.then((v) => { o.value = v; o.done = true; }, (e: Error) => { o.error = e; o.done = true; });
  return o;
}

test('a request goes out every overlay-reliability-timer, 5 times, and fails after the 5th timer (§6.2.1)', async () => {
  const t = table();
  const o = outcome(t.start(1n));
  t.clock.advance(4 * OVERLAY_RELIABILITY_TIMER_MS);
  assert.deepEqual(t.sends, [0, 3000, 6000, 9000, 12000]);
  t.clock.advance(OVERLAY_RELIABILITY_TIMER_MS - 1);
  await settle(1);
  assert.equal(o.done, false, 'still waiting on the 5th transmission');
  t.clock.advance(1);
  await settle(1);
  assert.ok(o.error instanceof RequestTimeout);
  assert.equal(t.sends.length, 5);
  assert.equal(t.transactions.retransmissions, 4);
  assert.equal(t.transactions.timeouts, 1);
  assert.equal(t.transactions.size, 0);
  assert.equal(t.clock.pending, 0, 'no timer left behind');
});

test('end to end: an unanswered request crosses the link 5 times, then RequestTimeout at 15 s', async () => {
  const chain = transportChain(2);
  const [a, b] = chain.nodes;
  // A Node-ID nobody holds: node 1 is "responsible" for it and drops the request silently.
  const nowhere = new Uint8Array(16).fill(0x42);
  const o = outcome(a.transport.request([nodeDestination(nowhere)], 'ping_req', { padding: new Uint8Array(0) }, { via: chain.link(0, 1) }));
  for (let i = 1; i <= 5; i++) {
    await settle();
    assert.equal(b.transport.counters.received, i, `transmission ${i} arrived`);
    chain.clock.advance(OVERLAY_RELIABILITY_TIMER_MS - (i === 5 ? 1 : 0));
  }
  await settle();
  assert.equal(o.done, false);
  chain.clock.advance(1);
  await settle();
  assert.ok(o.error instanceof RequestTimeout, String(o.error));
  assert.equal(b.transport.counters.received, 5);
  assert.equal(b.transport.counters.unroutableDropped, 5);
  chain.close();
});

test('an answer stops retransmission; a retransmission meanwhile is not executed twice', async () => {
  const chain = transportChain(2);
  const [a, b] = chain.nodes;
  let release: () => void = () => {};
  let executions = 0;
  b.transport.handle('ping_req', async () => {
    executions++;
    await new Promise<void>((r) => { release = r; });
    return { name: 'ping_ans', body: { responseId: 7n, time: 0n } };
  });
  const o = outcome(a.transport.request([nodeDestination(b.identity.nodeId)], 'ping_req', { padding: new Uint8Array(0) }));
  await settle();
  chain.clock.advance(OVERLAY_RELIABILITY_TIMER_MS);
  await settle();
  assert.equal(b.transport.counters.received, 2, 'the retransmission arrived');
  assert.equal(b.transport.counters.duplicates, 1);
  release();
  await settle();
  assert.equal(o.done, true);
  assert.equal(o.error, undefined);
  assert.equal(executions, 1);
  assert.equal(a.transport.transactions.size, 0);
  chain.clock.advance(10 * OVERLAY_RELIABILITY_TIMER_MS);
  await settle();
  assert.equal(b.transport.counters.received, 2, 'nothing sent after the answer');
  assert.equal(a.transport.transactions.retransmissions, 1);
  chain.close();
});

test('an answer clears the transaction and its timer', async () => {
  const t = table();
  const o = outcome(t.start(9n));
  assert.equal(t.transactions.has(9n), true);
  assert.equal(t.transactions.answer(9n, answered), true);
  await settle(1);
  assert.equal(o.value, answered);
  assert.equal(t.clock.pending, 0);
  t.clock.advance(60_000);
  assert.equal(t.sends.length, 1);
  assert.equal(t.transactions.answer(9n, answered), false, 'a late answer finds nobody waiting');
});

test('the pending table is capped: the next request is refused, counted and never sent', async () => {
  const t = table(2);
  t.start(1n).catch(() => {});
  t.start(2n).catch(() => {});
  await assert.rejects(t.start(3n), /pending transaction table full/);
  assert.equal(t.transactions.refused, 1);
  assert.equal(t.sends.length, 2);
  assert.equal(t.transactions.size, 2);
  // A slot freed by an answer is usable again.
  t.transactions.answer(1n, answered);
  const o = outcome(t.start(3n));
  assert.equal(t.sends.length, 3);
  t.transactions.close();
  await settle(1);
  assert.ok(o.error);
});

test('the transport refuses requests past maxPendingTransactions', async () => {
  const chain = transportChain(2, { init: () => ({ maxPendingTransactions: 1 }) });
  const [a, b] = chain.nodes;
  const dest = [nodeDestination(b.identity.nodeId)];
  b.transport.handle('ping_req', () => new Promise(() => {}));
  const first = outcome(a.transport.request(dest, 'ping_req', { padding: new Uint8Array(0) }));
  await assert.rejects(a.transport.request(dest, 'ping_req', { padding: new Uint8Array(0) }), /pending transaction table full/);
  assert.equal(a.transport.transactions.refused, 1);
  chain.close();
  await settle(1);
  assert.ok(first.error);
});

test('aborting the signal rejects the request and stops its retransmissions', async () => {
  const t = table();
  const ac = new AbortController();
  const o = outcome(t.start(5n, { signal: ac.signal }));
  t.clock.advance(OVERLAY_RELIABILITY_TIMER_MS);
  assert.equal(t.sends.length, 2);
  ac.abort();
  await settle(1);
  assert.match(String(o.error), /aborted/);
  assert.equal(t.transactions.size, 0);
  assert.equal(t.clock.pending, 0);
  t.clock.advance(60_000);
  assert.equal(t.sends.length, 2);
  assert.equal(t.transactions.timeouts, 0);
});

test('an already aborted signal rejects at once, without transmitting', async () => {
  const t = table();
  await assert.rejects(t.start(6n, { signal: AbortSignal.abort() }), /aborted/);
  assert.equal(t.sends.length, 0);
  assert.equal(t.transactions.size, 0);
  assert.equal(t.clock.pending, 0);
});

test('a settled transaction leaves no abort listener on a long-lived signal', async () => {
  const t = table();
  const shutdown = new AbortController();
  for (let i = 0n; i < 3n; i++) {
    const p = t.start(i, { signal: shutdown.signal });
    t.transactions.answer(i, answered);
    await p;
  }
  assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
});

test('close rejects every pending request and cancels every timer', async () => {
  const t = table();
  const all = [1n, 2n, 3n].map((id) => outcome(t.start(id)));
  t.transactions.close();
  await settle(1);
  for (const o of all) assert.match(String(o.error), /node closed/);
  assert.equal(t.transactions.size, 0);
  assert.equal(t.clock.pending, 0);
  t.clock.advance(60_000);
  assert.equal(t.sends.length, 3, 'nothing sent after close');
  t.transactions.close(); // idempotent
});

test('closing the transport rejects its pending requests', async () => {
  const chain = transportChain(2);
  const [a, b] = chain.nodes;
  b.transport.handle('ping_req', () => new Promise(() => {}));
  const o = outcome(a.transport.request([nodeDestination(b.identity.nodeId)], 'ping_req', { padding: new Uint8Array(0) }));
  await settle();
  a.transport.close();
  await settle(1);
  assert.match(String(o.error), /node closed/);
  chain.close();
});
