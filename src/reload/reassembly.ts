// Reassembly of fragmented messages at their destination (RFC 6940 §6.7), bounded in count,
// bytes and time.
import {
  type ForwardingHeader, FRAGMENT_UNFRAGMENTED, fragmentField, fragmentOffset, forwardingHeaderLength, Cursor, encodeForwardingHeader,
} from '../codec/index.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';

interface Partial {
  header: ForwardingHeader;
  chunks: Map<number, Uint8Array>;
  bytes: number;
  /** Total payload length, known once the last fragment arrived. */
  total: number | undefined;
  timer: TimerHandle;
}

export interface ReassemblyLimits {
  maxMessages: number;
  maxBytes: number;
  timeoutMs: number;
  maxMessageSize: number;
}

export class Reassembly {
  private readonly partials = new Map<bigint, Partial>();
  private bytes = 0;
  /** Fragments refused because a bound was hit, and messages timed out. */
  refused = 0;
  timedOut = 0;

  constructor(private readonly clock: Clock, private readonly limits: ReassemblyLimits) {}

  /**
   * Adds one fragment (its header and the payload after the header). Returns the whole
   * message once every byte is in, else undefined.
   */
  add(header: ForwardingHeader, payload: Uint8Array): Uint8Array | undefined {
    const key = header.transactionId;
    let p = this.partials.get(key);
    if (!p) {
      if (this.partials.size >= this.limits.maxMessages) { this.refused++; return undefined; }
      p = { header, chunks: new Map(), bytes: 0, total: undefined, timer: this.clock.setTimeout(() => this.drop(key, true), this.limits.timeoutMs) };
      this.partials.set(key, p);
    }
    const offset = fragmentOffset(header);
    const last = (header.fragment & 0x40000000) !== 0;
    if (p.chunks.has(offset)) return undefined; // duplicate
    if (this.bytes + payload.length > this.limits.maxBytes || offset + payload.length > this.limits.maxMessageSize) {
      this.refused++;
      this.drop(key, false);
      return undefined;
    }
    p.chunks.set(offset, payload.slice());
    p.bytes += payload.length;
    this.bytes += payload.length;
    if (last) p.total = offset + payload.length;
    if (p.total === undefined || p.bytes < p.total) return undefined;
    const whole = this.join(p);
    this.drop(key, false);
    return whole;
  }

  private join(p: Partial): Uint8Array | undefined {
    const payload = new Uint8Array(p.total!);
    let covered = 0;
    for (const [offset, chunk] of [...p.chunks].sort((a, b) => a[0] - b[0])) {
      if (offset !== covered) return undefined; // overlapping or gapped fragments: drop
      if (offset + chunk.length > payload.length) return undefined; // past the last fragment's end
      payload.set(chunk, offset);
      covered += chunk.length;
    }
    const header = { ...p.header, fragment: FRAGMENT_UNFRAGMENTED };
    const headerLength = forwardingHeaderLength(header);
    const c = Cursor.alloc(headerLength + payload.length);
    encodeForwardingHeader({ ...header, length: c.bytes.length }, c);
    c.bytes.set(payload, headerLength);
    return c.bytes;
  }

  private drop(key: bigint, timeout: boolean): void {
    const p = this.partials.get(key);
    if (!p) return;
    this.clock.clearTimeout(p.timer);
    this.bytes -= p.bytes;
    this.partials.delete(key);
    if (timeout) this.timedOut++;
  }

  get size(): number {
    return this.partials.size;
  }

  close(): void {
    for (const key of [...this.partials.keys()]) this.drop(key, false);
  }
}

/**
 * Splits a whole message into fragments whose payloads are at most `maxPayload` bytes
 * (§6.7: each fragment repeats the forwarding header; offsets count from its end).
 */
export function fragmentMessage(header: ForwardingHeader, payload: Uint8Array, maxPayload: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  // §6.7: "SHOULD be split into equal-sized fragments", each with "at least 256 bytes of
  // the message body": no short tail.
  const count = Math.max(1, Math.ceil(payload.length / maxPayload));
  for (let i = 0; i < count; i++) {
    const offset = Math.floor((i * payload.length) / count);
    const chunk = payload.subarray(offset, Math.floor(((i + 1) * payload.length) / count));
    const h = { ...header, fragment: fragmentField(offset, i === count - 1) };
    const headerLength = forwardingHeaderLength(h);
    const c = Cursor.alloc(headerLength + chunk.length);
    encodeForwardingHeader({ ...h, length: c.bytes.length }, c);
    c.bytes.set(chunk, headerLength);
    out.push(c.bytes);
  }
  return out;
}
