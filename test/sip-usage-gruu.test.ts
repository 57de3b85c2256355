// RELOAD GRUUs (RFC 7904 §6): vectors worked by hand from the RFC and the digest, both
// written forms, a table of malformed GRUUs each with its typed error, and a property that
// arbitrary text only ever fails with a GruuError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Destination, fromHex, nodeDestination, resourceDestination } from '../src/codec/index.ts';
import { GruuError, type GruuErrorReason, decodeGruuParameter, gruuFor, gruuParameter, isGruu, parseGruu } from '../src/usage/sip/index.ts';

// The digest's worked example: base64 of `01 10 <16-byte Node-ID>`, 18 bytes, no padding.
const EXAMPLE = 'alice@overlay.example.org;gr=ARDA59KhRHpE+i5Dls1sC9Ce';
const EXAMPLE_NODE = fromHex('c0e7d2a1447a44fa2e4396cd6c0bd09e');
const NODE = fromHex('00112233445566778899aabbccddeeff');

test('the worked example decodes to a one-entry destination list naming its Node-ID', () => {
  const g = parseGruu(EXAMPLE);
  assert.equal(g.aor, 'alice@overlay.example.org');
  assert.deepEqual(g.destinationList, [nodeDestination(EXAMPLE_NODE)]);
  assert.equal(gruuFor('alice@overlay.example.org', [nodeDestination(EXAMPLE_NODE)]), EXAMPLE);
});

test('padding is written with ~ in place of = (RFC 7904 §6)', () => {
  // `02 11 10 <16 bytes>`: 19 bytes, two padding characters.
  assert.equal(gruuParameter([resourceDestination(NODE)]), 'AhEQABEiM0RVZneImaq7zN3u/w~~');
  // `01 10 <16 bytes> 80 05`: 20 bytes, one padding character.
  const two: Destination[] = [nodeDestination(NODE), { type: 'compact', id: 5 }];
  assert.equal(gruuParameter(two), 'ARAAESIzRFVmd4iZqrvM3e7/gAU~');
  for (const list of [[resourceDestination(NODE)], two]) {
    assert.deepEqual(parseGruu(gruuFor('flat1@building.example', list)).destinationList, list);
  }
});

test('a sip: or sips: URI with other parameters besides gr is a GRUU of its AOR', () => {
  for (const text of [
    'sip:alice@overlay.example.org;gr=ARDA59KhRHpE+i5Dls1sC9Ce',
    'sip:alice@overlay.example.org;transport=tls;gr=ARDA59KhRHpE+i5Dls1sC9Ce;lr',
    'SIPS:alice@overlay.example.org;GR=ARDA59KhRHpE+i5Dls1sC9Ce',
    'sip:%61lice@overlay.example.org;gr=ARDA59KhRHpE+i5Dls1sC9Ce',
  ]) {
    assert.ok(isGruu(text), text);
    assert.deepEqual(parseGruu(text), { aor: 'alice@overlay.example.org', destinationList: [nodeDestination(EXAMPLE_NODE)] }, text);
  }
  // A URI keeps its form; the gr parameter is appended.
  assert.equal(gruuFor('sip:alice@overlay.example.org;transport=tls', [nodeDestination(EXAMPLE_NODE)]),
    'sip:alice@overlay.example.org;transport=tls;gr=ARDA59KhRHpE+i5Dls1sC9Ce');
});

test('RFC 7904 §6\'s own example is base64 of ASCII digits, no destination list', () => {
  assert.equal(Buffer.from('MDEyMzQ1Njc4OTAxMjM0NTY3ODk=', 'base64').toString(), '01234567890123456789');
  assert.ok(isGruu('alice@example.com;gr=MDEyMzQ1Njc4OTAxMjM0NTY3ODk~'));
  assert.throws(() => parseGruu('alice@example.com;gr=MDEyMzQ1Njc4OTAxMjM0NTY3ODk~'), isGruuError('bad_destination_list'));
});

test('only a gr parameter after the host makes a GRUU', () => {
  assert.equal(isGruu('alice@example.com'), false);
  assert.equal(isGruu('sip:alice@example.com;transport=tls'), false);
  // A URI user part may hold `;` and `=`: there it is no parameter.
  assert.equal(isGruu('sip:a;gr=AQ~~@example.com'), false);
  assert.equal(isGruu('alice@example.com;grx=AQ~~'), false);
});

const MALFORMED: [string, GruuErrorReason][] = [
  ['alice@example.com', 'not_a_gruu'],
  ['alice@example.com;gr', 'not_a_gruu'],
  ['alice;gr=ARDA59KhRHpE+i5Dls1sC9Ce', 'not_a_gruu'],
  ['@example.com;gr=ARDA59KhRHpE+i5Dls1sC9Ce', 'bad_aor'],
  ['alice@exa_mple.com;gr=ARDA59KhRHpE+i5Dls1sC9Ce', 'bad_aor'],
  ['sip:alice@example.com;gr=ARDA59KhRHpE+i5Dls1sC9Ce;gr=AQ~~', 'bad_aor'],
  ['sip:alice@example.com;gr=ARDA59KhRHpE+i5Dls1sC9Ce?subject=x', 'bad_aor'],
  ['alice@example.com;gr=', 'bad_base64'],
  // `=` is not allowed in a URI parameter value: that is why §6 uses `~`.
  ['alice@example.com;gr=AhEQABEiM0RVZneImaq7zN3u/w==', 'bad_base64'],
  ['alice@example.com;gr=AhEQABEiM0RVZneImaq7zN3u/w~', 'bad_base64'],
  ['alice@example.com;gr=AQ~A', 'bad_base64'],
  ['alice@example.com;gr=AQ-_', 'bad_base64'],
  // Canonical only: `AR~~` has padding bits set and would be a second spelling of `AQ~~`.
  ['alice@example.com;gr=AR~~', 'bad_base64'],
  // `01` alone: a Node-ID entry cut short.
  ['alice@example.com;gr=AQ~~', 'bad_destination_list'],
  // `01 10` and 15 bytes: one short.
  ['alice@example.com;gr=ARAAESIzRFVmd4iZqrvM3e4~', 'bad_destination_list'],
  // `05 01 00`: a destination type nobody can route.
  ['alice@example.com;gr=BQEA', 'bad_destination_list'],
  // `00 00`: invalidDestinationType.
  ['alice@example.com;gr=AAA~', 'bad_destination_list'],
];

test('malformed GRUUs fail with the error that names what is wrong', () => {
  for (const [text, reason] of MALFORMED) assert.throws(() => parseGruu(text), isGruuError(reason), text);
});

test('gruuFor refuses what no GRUU can carry', () => {
  assert.throws(() => gruuFor('alice@example.com', []), isGruuError('bad_destination_list'));
  assert.throws(() => gruuFor('alice@example.com', [{ type: 'unknown', code: 9, data: new Uint8Array(1) }]), isGruuError('bad_destination_list'));
  assert.throws(() => gruuFor('alice', [nodeDestination(NODE)]), isGruuError('bad_aor'));
  assert.throws(() => gruuFor(EXAMPLE.replace('alice@', 'sip:alice@'), [nodeDestination(NODE)]), isGruuError('bad_aor'));
});

test('any text and any gr value fail only with a GruuError', () => {
  const ok = (text: string): boolean => {
    try {
      parseGruu(text);
    } catch (e) {
      if (!(e instanceof GruuError)) throw e;
    }
    return true;
  };
  fc.assert(fc.property(fc.string(), ok), { numRuns: 2000 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => ok(`alice@example.com;gr=${Buffer.from(b).toString('base64').replace(/=/g, '~')}`)), { numRuns: 2000 });
  fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9+/~=]{0,24}$/), (v) => ok(`alice@example.com;gr=${v}`)), { numRuns: 2000 });
});

test('a decoded parameter re-encodes to itself', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 4 }), (ids) => {
    const list = ids.map((id) => nodeDestination(id));
    const value = gruuParameter(list);
    assert.deepEqual(decodeGruuParameter(value), list);
    assert.equal(gruuParameter(decodeGruuParameter(value)), value);
  }));
});

function isGruuError(reason: GruuErrorReason): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof GruuError, String(e));
    assert.equal(e.reason, reason, e.message);
    return true;
  };
}
