// Fragmentation and reassembly (RFC 6940 §6.7): fragments repeat the forwarding header,
// offsets count from its end, the last carries the last-fragment bit; the destination holds
// them at most 15 s and within count and byte bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type ForwardingHeader, FRAGMENT_UNFRAGMENTED, decodeHeaderOf, decodeMessage, fragmentField, fragmentOffset,
  isFragment, nodeDestination, resourceDestination, resourceId,
} from '../src/codec/index.ts';
import { REASSEMBLY_TIMEOUT_MS } from '../src/reload/constants.ts';
import { type ReassemblyLimits, Reassembly, fragmentMessage } from '../src/reload/reassembly.ts';
import { FakeClock } from '../src/util/clock.ts';
import { identity, signedRequest } from './harness/memory-overlay.ts';
import { selfSignedSecurity } from '../src/run/overlay-device.ts';

const LIMITS: ReassemblyLimits = { maxMessages: 4, maxBytes: 64 * 1024, timeoutMs: REASSEMBLY_TIMEOUT_MS, maxMessageSize: 5000 };
const security = selfSignedSecurity(identity(0), new FakeClock());

/** A whole signed request of about `padding` + 600 bytes, with a via list to carry along. */
function message(padding: number, transactionId = 0x1122334455667788n): { bytes: Uint8Array; header: ForwardingHeader; payload: Uint8Array } {
  const { bytes } = signedRequest(security, {
    name: 'ping_req', body: { padding: new Uint8Array(padding).map((_, i) => i & 0xff) }, transactionId,
    destinations: [resourceDestination(resourceId('door'))], viaList: [nodeDestination(identity(0).nodeId)],
  });
  const { header, cursor } = decodeHeaderOf(bytes);
  return { bytes, header, payload: bytes.subarray(cursor.pos) };
}

/** The forwarding header and payload of each encoded fragment, as the transport hands them in. */
function split(fragments: Uint8Array[]): { header: ForwardingHeader; payload: Uint8Array }[] {
  return fragments.map((f) => {
    const { header, cursor } = decodeHeaderOf(f);
    return { header, payload: f.subarray(cursor.pos) };
  });
}

/** A fragment built by hand: any offset, any length, last bit as given. */
function fragment(header: ForwardingHeader, payload: Uint8Array, offset: number, length: number, last: boolean) {
  return { header: { ...header, fragment: fragmentField(offset, last) }, payload: payload.subarray(offset, offset + length) };
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

test('fragmentMessage: each fragment repeats the header, offsets count from its end, only the last has the last bit', () => {
  const m = message(2500);
  const fragments = fragmentMessage(m.header, m.payload, 1000);
  assert.equal(fragments.length, Math.ceil(m.payload.length / 1000));
  const parts = split(fragments);
  let offset = 0;
  parts.forEach(({ header, payload }, i) => {
    assert.ok(isFragment(header));
    assert.equal(fragmentOffset(header), offset);
    assert.equal((header.fragment & 0x80000000) !== 0, true, 'high bit always set');
    assert.equal((header.fragment & 0x40000000) !== 0, i === parts.length - 1, 'last-fragment bit');
    assert.deepEqual(header.viaList, m.header.viaList);
    assert.deepEqual(header.destinationList, m.header.destinationList);
    assert.equal(header.transactionId, m.header.transactionId);
    assert.equal(header.length, fragments[i].length, 'length is the size after fragmentation');
    assert.ok(payload.length <= 1000);
    assert.deepEqual(payload, m.payload.subarray(offset, offset + payload.length));
    offset += payload.length;
  });
  assert.equal(offset, m.payload.length);
});

test('fragmentMessage: equal-sized fragments, each with at least 256 body bytes (§6.7)', () => {
  // Cutting n bytes into (n - 1)-byte pieces would leave a 1-byte tail.
  const m = message(2500);
  const n = m.payload.length;
  for (const max of [n - 1, n - 200, 1000, 600]) {
    const sizes = split(fragmentMessage(m.header, m.payload, max)).map((p) => p.payload.length);
    assert.ok(sizes.every((s) => s >= 256 && s <= max), `max ${max}: ${sizes}`);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `max ${max}: ${sizes}`);
  }
});

test('a message that fits is one fragment with the unfragmented value 0xC0000000', () => {
  const m = message(10);
  const [only, ...rest] = fragmentMessage(m.header, m.payload, 5000);
  assert.equal(rest.length, 0);
  assert.deepEqual(only, m.bytes);
  assert.equal(decodeHeaderOf(only).header.fragment, FRAGMENT_UNFRAGMENTED);
});

test('fragments in any order reassemble to the original message, byte for byte', () => {
  const m = message(2500);
  const parts = split(fragmentMessage(m.header, m.payload, 800));
  assert.equal(parts.length, 4);
  for (const order of permutations(parts)) {
    const r = new Reassembly(new FakeClock(), LIMITS);
    const results = order.map((p) => r.add(p.header, p.payload));
    assert.ok(results.slice(0, -1).every((x) => x === undefined), 'nothing until the last piece is in');
    const whole = results.at(-1)!;
    assert.deepEqual(whole, m.bytes);
    assert.equal(decodeMessage(whole).header.fragment, FRAGMENT_UNFRAGMENTED);
    assert.equal(r.size, 0);
  }
});

test('a duplicated fragment is ignored', () => {
  const m = message(2500);
  const parts = split(fragmentMessage(m.header, m.payload, 1000));
  const r = new Reassembly(new FakeClock(), LIMITS);
  assert.equal(r.add(parts[0].header, parts[0].payload), undefined);
  assert.equal(r.add(parts[0].header, parts[0].payload), undefined);
  assert.equal(r.add(parts[1].header, parts[1].payload), undefined);
  assert.deepEqual(r.add(parts[2].header, parts[2].payload), m.bytes);
});

test('an incomplete message is discarded after 15 s and counted (§6.7)', () => {
  const clock = new FakeClock();
  const m = message(2500);
  const parts = split(fragmentMessage(m.header, m.payload, 1000));
  const r = new Reassembly(clock, LIMITS);
  r.add(parts[0].header, parts[0].payload);
  r.add(parts[2].header, parts[2].payload);
  clock.advance(REASSEMBLY_TIMEOUT_MS - 1);
  assert.equal(r.size, 1);
  clock.advance(1);
  assert.equal(r.size, 0);
  assert.equal(r.timedOut, 1);
  // The missing piece, late, starts over instead of completing the message.
  assert.equal(r.add(parts[1].header, parts[1].payload), undefined);
  assert.equal(r.size, 1);
  r.close();
  assert.equal(r.size, 0);
  assert.equal(clock.pending, 0, 'close cancels the timers');
});

test('the cap on messages in reassembly refuses a new one and counts it', () => {
  const r = new Reassembly(new FakeClock(), { ...LIMITS, maxMessages: 2 });
  const first = (id: bigint) => {
    const m = message(2500, id);
    return split(fragmentMessage(m.header, m.payload, 1000))[0];
  };
  for (const id of [1n, 2n]) assert.equal(r.add(first(id).header, first(id).payload), undefined);
  assert.equal(r.add(first(3n).header, first(3n).payload), undefined);
  assert.equal(r.size, 2);
  assert.equal(r.refused, 1);
});

test('the cap on buffered bytes refuses and drops the message that would pass it', () => {
  const m = message(2500);
  const parts = split(fragmentMessage(m.header, m.payload, 1000));
  const r = new Reassembly(new FakeClock(), { ...LIMITS, maxBytes: 1500 });
  assert.equal(r.add(parts[0].header, parts[0].payload), undefined);
  assert.equal(r.add(parts[1].header, parts[1].payload), undefined);
  assert.equal(r.refused, 1);
  assert.equal(r.size, 0, 'the partial message is dropped, its bytes released');
  assert.equal(r.add(parts[0].header, parts[0].payload), undefined, 'room again after the drop');
  assert.equal(r.size, 1);
});

test('a fragment reaching past the reassembled-size limit is refused', () => {
  const m = message(2500);
  const r = new Reassembly(new FakeClock(), { ...LIMITS, maxMessageSize: 2000 });
  const f = fragment(m.header, m.payload, 1500, 1000, true);
  assert.equal(r.add(f.header, f.payload), undefined);
  assert.equal(r.refused, 1);
  assert.equal(r.size, 0);
});

test('overlapping fragments are dropped', () => {
  const m = message(2500);
  const r = new Reassembly(new FakeClock(), LIMITS);
  const n = m.payload.length;
  for (const f of [fragment(m.header, m.payload, 0, 1000, false), fragment(m.header, m.payload, 600, 1000, false), fragment(m.header, m.payload, 1600, n - 1600, true)]) {
    assert.equal(r.add(f.header, f.payload), undefined);
  }
  assert.equal(r.size, 0);
});

test('a fragment past the end the last fragment announced is dropped, never thrown', () => {
  const m = message(2500);
  const r = new Reassembly(new FakeClock(), LIMITS);
  // The "last" fragment says the message ends at 1000; another claims bytes 1000..2000.
  const beyond = fragment(m.header, m.payload, 1000, 1000, false);
  const last = fragment(m.header, m.payload, 0, 1000, true);
  assert.equal(r.add(beyond.header, beyond.payload), undefined);
  assert.doesNotThrow(() => assert.equal(r.add(last.header, last.payload), undefined));
  assert.equal(r.size, 0, 'nothing left half-assembled');
});
