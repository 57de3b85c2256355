// Duplicate suppression (RFC 6940 §6.2.1): a retransmitted request gets the answer the first
// transmission got, never a second execution. Bounded by count and by the request lifetime.
import type { Clock } from '../util/clock.ts';

interface Entry {
  at: number;
  /** undefined while the first transmission is still being handled. */
  answer: Uint8Array[] | undefined;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  /** Entries dropped because the cache was full. */
  evictions = 0;

  constructor(
    private readonly clock: Clock,
    private readonly cap: number,
    private readonly lifetimeMs: number,
  ) {}

  /**
   * Looks up a request by originator and transaction ID. Returns 'new' the first time (and
   * remembers it as in progress), 'in_progress' while it is being handled, or the answer.
   */
  begin(key: string): 'new' | 'in_progress' | Uint8Array[] {
    this.expire();
    const e = this.entries.get(key);
    if (e) return e.answer ?? 'in_progress';
    if (this.entries.size >= this.cap) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evictions++;
    }
    this.entries.set(key, { at: this.clock.now(), answer: undefined });
    return 'new';
  }

  /** Records the answer (possibly fragments) sent for `key`. */
  complete(key: string, answer: Uint8Array[]): void {
    const e = this.entries.get(key);
    if (e) e.answer = answer;
  }

  get size(): number {
    return this.entries.size;
  }

  private expire(): void {
    const limit = this.clock.now() - this.lifetimeMs;
    for (const [k, e] of this.entries) {
      if (e.at > limit) break; // insertion order is time order
      this.entries.delete(k);
    }
  }
}
