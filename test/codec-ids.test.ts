// Node-ID arithmetic on the 2^128 ring (RFC 6940 §10.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareIds, inOpenRange, inRange, nodeIdFromBigInt, nodeIdToBigInt, ringAdd, ringDistance, toHex } from '../src/codec/index.ts';

const id = (n: bigint) => nodeIdFromBigInt(n);
const TOP = (1n << 128n) - 1n;

test('addition and distance wrap modulo 2^128', () => {
  assert.equal(toHex(ringAdd(id(TOP), 1n)), '00'.repeat(16));
  assert.equal(toHex(ringAdd(id(0n), 1n << 127n)), '80' + '00'.repeat(15));
  assert.equal(ringDistance(id(TOP), id(1n)), 2n);
  assert.equal(ringDistance(id(1n), id(TOP)), TOP - 1n);
  assert.equal(nodeIdToBigInt(id(0x1234n)), 0x1234n);
});

test('responsibility interval (p, x] with and without wrap', () => {
  assert.ok(inRange(id(10n), id(11n), id(20n)));
  assert.ok(inRange(id(10n), id(20n), id(20n)));
  assert.ok(!inRange(id(10n), id(10n), id(20n)));
  assert.ok(!inRange(id(10n), id(21n), id(20n)));
  assert.ok(inRange(id(TOP - 5n), id(2n), id(3n)), 'wraps past zero');
  assert.ok(inRange(id(TOP - 5n), id(TOP), id(3n)));
  assert.ok(!inRange(id(TOP - 5n), id(4n), id(3n)));
  assert.ok(inRange(id(7n), id(7n), id(7n)), 'a lone peer is responsible for the whole ring');
  assert.ok(inOpenRange(id(10n), id(15n), id(20n)));
  assert.ok(!inOpenRange(id(10n), id(20n), id(20n)));
  assert.ok(inOpenRange(id(7n), id(3n), id(7n)));
});

test('byte order is numeric order', () => {
  assert.ok(compareIds(id(1n), id(256n)) < 0);
  assert.ok(compareIds(id(TOP), id(0n)) > 0);
  assert.equal(compareIds(id(5n), id(5n)), 0);
});
