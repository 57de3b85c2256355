// Duplicate suppression (RFC 6940 §6.2.1): "Receiving nodes MUST generate semantically
// equivalent responses to retransmissions of the same request ... within the maximum request
// lifetime (15 seconds)". Here: the same answer bytes, and the handler runs once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, decodeBodyAs, decodeMessage, nodeDestination } from '../src/codec/index.ts';
import { AnswerCache } from '../src/reload/answer-cache.ts';
import { REQUEST_LIFETIME_MS } from '../src/reload/constants.ts';
import { FakeClock } from '../src/util/clock.ts';
import { settle, signedRequest, transportChain } from './harness/memory-overlay.ts';

const bytes = (s: string): Uint8Array[] => [new TextEncoder().encode(s)];

test('AnswerCache: new, then in progress, then the recorded answer', () => {
  const cache = new AnswerCache(new FakeClock(), 8, REQUEST_LIFETIME_MS);
  assert.equal(cache.begin('a:1'), 'new');
  assert.equal(cache.begin('a:1'), 'in_progress');
  cache.complete('a:1', bytes('answer'));
  assert.deepEqual(cache.begin('a:1'), bytes('answer'));
  assert.equal(cache.begin('b:1'), 'new', 'keys are per originator and transaction');
  assert.equal(cache.size, 2);
});

test('AnswerCache: entries expire after the 15 s request lifetime', () => {
  const clock = new FakeClock();
  const cache = new AnswerCache(clock, 8, REQUEST_LIFETIME_MS);
  cache.begin('a:1');
  cache.complete('a:1', bytes('first'));
  clock.advance(5_000);
  cache.begin('a:2');
  clock.advance(REQUEST_LIFETIME_MS - 5_000 - 1);
  assert.deepEqual(cache.begin('a:1'), bytes('first'), 'still within the lifetime');
  clock.advance(1);
  assert.equal(cache.begin('a:1'), 'new', 'forgotten at 15 s');
  assert.equal(cache.begin('a:2'), 'in_progress', 'a younger entry stays');
  clock.advance(REQUEST_LIFETIME_MS);
  // Expiry runs on lookup: the next request sweeps every stale entry.
  assert.equal(cache.begin('c:1'), 'new');
  assert.equal(cache.size, 1, 'only the entry just begun');
  assert.equal(cache.evictions, 0, 'expiry is not eviction');
});

test('AnswerCache: at the cap the oldest entry is evicted and counted', () => {
  const cache = new AnswerCache(new FakeClock(), 2, REQUEST_LIFETIME_MS);
  cache.begin('k1');
  cache.complete('k1', bytes('1'));
  cache.begin('k2');
  cache.begin('k3');
  assert.equal(cache.size, 2);
  assert.equal(cache.evictions, 1);
  assert.equal(cache.begin('k2'), 'in_progress', 'the newer entries are kept');
  assert.equal(cache.begin('k1'), 'new', 'the oldest was evicted');
  assert.equal(cache.evictions, 2);
  cache.complete('k2', bytes('late')); // completing an evicted or present key never throws
});

/** Node 0 sends raw bytes to node 1 and collects what comes back over the link. */
function pair() {
  const chain = transportChain(2);
  const [a, b] = chain.nodes;
  const back: Uint8Array[] = [];
  const toB = chain.link(0, 1);
  toB.onMessage = (m) => back.push(m);
  return { chain, a, b, back, send: (m: Uint8Array) => toB.send(m) };
}

test('a retransmitted request gets the cached answer, never a second execution', async () => {
  const p = pair();
  let executions = 0;
  p.b.transport.handle('ping_req', () => {
    executions++;
    return { name: 'ping_ans', body: { responseId: BigInt(executions), time: 0n } };
  });
  const { bytes: request } = signedRequest(p.a.security, { name: 'ping_req', body: { padding: new Uint8Array(0) }, destinations: [nodeDestination(p.b.identity.nodeId)] });
  p.send(request);
  await settle();
  p.send(request);
  await settle();
  p.send(request);
  await settle();
  assert.equal(executions, 1);
  assert.equal(p.b.transport.counters.duplicates, 2);
  assert.equal(p.back.length, 3);
  // ECDSA signatures are randomized: a second execution could never produce the same bytes.
  assert.deepEqual(p.back[1], p.back[0]);
  assert.deepEqual(p.back[2], p.back[0]);
  assert.equal(decodeBodyAs('ping_ans', decodeMessage(p.back[0]).contents.body).responseId, 1n);
  p.chain.close();
});

test('a retransmission that arrives while the first is being handled is not executed and not answered twice', async () => {
  const p = pair();
  let executions = 0;
  let release: () => void = () => {};
  p.b.transport.handle('ping_req', async () => {
    executions++;
    await new Promise<void>((r) => { release = r; });
    return { name: 'ping_ans', body: { responseId: 1n, time: 0n } };
  });
  const { bytes: request } = signedRequest(p.a.security, { name: 'ping_req', body: { padding: new Uint8Array(0) }, destinations: [nodeDestination(p.b.identity.nodeId)] });
  p.send(request);
  p.send(request);
  await settle();
  assert.equal(executions, 1);
  assert.equal(p.back.length, 0);
  release();
  await settle();
  assert.equal(p.back.length, 1, 'one answer for both transmissions');
  p.send(request);
  await settle();
  assert.equal(executions, 1);
  assert.deepEqual(p.back[1], p.back[0]);
  p.chain.close();
});

test('an error answer is cached like any other', async () => {
  const p = pair();
  let executions = 0;
  p.b.transport.handle('ping_req', () => {
    executions++;
    throw new Error('handler broke');
  });
  const { bytes: request } = signedRequest(p.a.security, { name: 'ping_req', body: { padding: new Uint8Array(0) }, destinations: [nodeDestination(p.b.identity.nodeId)] });
  for (let i = 0; i < 3; i++) {
    p.send(request);
    await settle();
  }
  assert.equal(executions, 1);
  assert.equal(p.back.length, 3);
  assert.equal(decodeBodyAs('error', decodeMessage(p.back[0]).contents.body).errorCode, ErrorCode.Error_Invalid_Message);
  assert.deepEqual(p.back[2], p.back[0]);
  p.chain.close();
});

test('after the request lifetime the transport no longer remembers the request', async () => {
  const p = pair();
  let executions = 0;
  p.b.transport.handle('ping_req', () => {
    executions++;
    return { name: 'ping_ans', body: { responseId: BigInt(executions), time: 0n } };
  });
  const { bytes: request } = signedRequest(p.a.security, { name: 'ping_req', body: { padding: new Uint8Array(0) }, destinations: [nodeDestination(p.b.identity.nodeId)] });
  p.send(request);
  await settle();
  p.chain.clock.advance(REQUEST_LIFETIME_MS - 1);
  await settle();
  p.send(request);
  await settle();
  assert.equal(executions, 1, 'still a duplicate just under 15 s');
  p.chain.clock.advance(1);
  await settle();
  p.send(request);
  await settle();
  assert.equal(executions, 2, 'no longer a retransmission (§6.2.1: five timers of 3 s)');
  p.chain.close();
});

test('the transport answer cache is capped: the oldest request is forgotten and counted', async () => {
  const chain = transportChain(2, { init: () => ({ maxAnswerCache: 2 }) });
  const [a, b] = chain.nodes;
  chain.link(0, 1).onMessage = () => {};
  let executions = 0;
  b.transport.handle('ping_req', () => {
    executions++;
    return { name: 'ping_ans', body: { responseId: 0n, time: 0n } };
  });
  const requests = [1n, 2n, 3n].map((transactionId) =>
    signedRequest(a.security, { name: 'ping_req', body: { padding: new Uint8Array(0) }, destinations: [nodeDestination(b.identity.nodeId)], transactionId }).bytes);
  for (const r of requests) {
    chain.link(0, 1).send(r);
    await settle();
  }
  assert.equal(b.transport.answers.size, 2);
  assert.equal(b.transport.answers.evictions, 1);
  chain.link(0, 1).send(requests[2]);
  await settle();
  assert.equal(executions, 3, 'the newest is still cached');
  chain.link(0, 1).send(requests[0]);
  await settle();
  assert.equal(executions, 4, 'the evicted one runs again');
  chain.close();
});
