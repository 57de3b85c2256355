// Identifiers: Node-IDs on the 2^128 Chord ring, Resource-IDs and the overlay hash
// (RFC 6940 §3, §6.3.2, §10.2).
import { createHash } from 'node:crypto';
import { NODE_ID_BYTES, RESOURCE_ID_BYTES } from './constants.ts';

export type NodeId = Uint8Array;
export type ResourceId = Uint8Array;

const RING_BITS = 128n;
const RING_MASK = (1n << RING_BITS) - 1n;
const encoder = new TextEncoder();

function sha1(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha1').update(data).digest());
}

/** CHORD-RELOAD Resource-ID: SHA-1 of the Resource Name, first 128 bits (§10.2). */
export function resourceId(name: string | Uint8Array): ResourceId {
  return sha1(typeof name === 'string' ? encoder.encode(name) : name).subarray(0, RESOURCE_ID_BYTES);
}

/** The forwarding header's `overlay` field: low 32 bits of SHA-1(instance name) (§6.3.2). */
export function overlayHash(instanceName: string): number {
  const d = sha1(encoder.encode(instanceName));
  return ((d[16] << 24) | (d[17] << 16) | (d[18] << 8) | d[19]) >>> 0;
}

/** All-ones Node-ID: "for me" at every node, never forwarded (§6.3.1.1). */
export const WILDCARD_NODE_ID: NodeId = new Uint8Array(NODE_ID_BYTES).fill(0xff);

export function nodeIdToBigInt(id: Uint8Array): bigint {
  // Two 64-bit reads for a 128-bit ID: routing does this on every decision.
  if (id.length === 16) {
    const v = new DataView(id.buffer, id.byteOffset, 16);
    return (v.getBigUint64(0) << 64n) | v.getBigUint64(8);
  }
  let v = 0n;
  for (const b of id) v = (v << 8n) | BigInt(b);
  return v;
}

export function nodeIdFromBigInt(v: bigint, length = NODE_ID_BYTES): NodeId {
  const id = new Uint8Array(length);
  const x = v & RING_MASK;
  if (length === 16) {
    const view = new DataView(id.buffer);
    view.setBigUint64(0, x >> 64n);
    view.setBigUint64(8, x & 0xffffffffffffffffn);
    return id;
  }
  let rest = x;
  for (let i = length - 1; i >= 0; i--) {
    id[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return id;
}

/** (a + b) mod 2^128. */
export function ringAdd(a: NodeId, b: bigint): NodeId {
  return nodeIdFromBigInt((nodeIdToBigInt(a) + b) & RING_MASK);
}

/** Clockwise distance from `from` to `to`: (to - from) mod 2^128. */
export function ringDistance(from: NodeId, to: NodeId): bigint {
  return (nodeIdToBigInt(to) - nodeIdToBigInt(from)) & RING_MASK;
}

/**
 * x in the half-open ring interval (a, b]: the responsibility test of §10.1 (p < k <= x).
 * With a == b the interval is the whole ring: a lone peer is responsible for everything.
 */
export function inRange(a: NodeId, x: NodeId, b: NodeId): boolean {
  const db = ringDistance(a, b);
  if (db === 0n) return true;
  const dx = ringDistance(a, x);
  return dx !== 0n && dx <= db;
}

/** x in the open ring interval (a, b). */
export function inOpenRange(a: NodeId, x: NodeId, b: NodeId): boolean {
  const dx = ringDistance(a, x);
  const db = ringDistance(a, b);
  return dx !== 0n && (db === 0n || dx < db);
}

/** Byte-wise comparison; for equal lengths it is the numeric order on the ring's integers. */
export function compareIds(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function idEquals(a: Uint8Array, b: Uint8Array): boolean {
  return compareIds(a, b) === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new TypeError(`not hex: ${hex.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}
