// Lexical forms of the grammar's datatypes (RFC 6940 §11.1.1, XML Schema Part 2): booleans,
// integers, base64, hexadecimal Node-IDs, dateTime. Surrounding whitespace is ignored, as
// xsd's whitespace collapsing does and as the RFC's own example needs (" CHORD-RELOAD ").
import { type NodeId, fromHex } from '../../codec/index.ts';
import { MAX_NODE_ID_LENGTH_BYTES } from './constants.ts';
import { invalid } from './errors.ts';
import type { NsElement } from './xml-tree.ts';

/** The trimmed text of an element that must hold text only. */
export function textOf(el: NsElement): string {
  if (el.children.length > 0) invalid(el.local, `expected text, found element <${el.children[0].qname}>`);
  return el.text.trim();
}

/** xsd:boolean: "true" or "1", "false" or "0" (§11.1). */
export function parseBoolean(value: string, element: string): boolean {
  const v = value.trim();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return invalid(element, `not a boolean (true, false, 1, 0): ${JSON.stringify(v.slice(0, 40))}`);
}

/** An xsd integer within [min, max]. */
export function parseInteger(value: string, element: string, min: number, max: number): number {
  const v = value.trim();
  if (!/^[+-]?\d{1,15}$/.test(v)) invalid(element, `not an integer: ${JSON.stringify(v.slice(0, 40))}`);
  const n = Number(v);
  if (n < min || n > max) invalid(element, `${n} is outside ${min}..${max}`);
  return n;
}

export function booleanOf(el: NsElement): boolean {
  return parseBoolean(textOf(el), el.local);
}

export function integerOf(el: NsElement, min: number, max: number): number {
  return parseInteger(textOf(el), el.local, min, max);
}

/** xsd:base64Binary, RFC 4648 alphabet; whitespace anywhere (the RFC's example wraps lines). */
export function parseBase64(value: string, element: string): Uint8Array {
  const v = value.replace(/[\s]+/g, '');
  if (v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v)) {
    invalid(element, 'not base64');
  }
  return new Uint8Array(Buffer.from(v, 'base64'));
}

export function base64Of(el: NsElement): Uint8Array {
  return parseBase64(textOf(el), el.local);
}

/**
 * A Node-ID in hexadecimal (kind-signer, configuration-signer, bad-node; §11.1).
 * [AMBIG] §11.1: the RFC's example lists 8-byte Node-IDs although its node-id-length is 16,
 * so any length up to 20 bytes is accepted; a shorter one simply never matches a node.
 */
export function nodeIdOf(el: NsElement): NodeId {
  const v = textOf(el);
  if (v.length === 0 || v.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(v) || v.length / 2 > MAX_NODE_ID_LENGTH_BYTES) {
    invalid(el.local, `not a Node-ID in hexadecimal: ${JSON.stringify(v.slice(0, 48))}`);
  }
  return fromHex(v);
}

// RFC 3339 §5.6 date-time (a profile of xsd:dateTime), §11.1 "specified using UTC".
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The expiration attribute; an offset other than Z is accepted and converted. */
export function parseDateTime(value: string, element: string): Date {
  const v = value.trim();
  const m = DATE_TIME.exec(v);
  const ms = m ? Date.parse(v.toUpperCase()) : NaN;
  const [, year, month, day, hour, minute, second] = (m ?? []).map(Number);
  // Date.parse rolls 2030-02-31 over into March; the calendar date must exist as written.
  const dayExists = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && month >= 1 && month <= 12;
  if (!m || Number.isNaN(ms) || !dayExists || hour > 23 || minute > 59 || second > 59) {
    return invalid(element, `not an RFC 3339 date-time: ${JSON.stringify(v.slice(0, 40))}`);
  }
  return new Date(ms);
}
