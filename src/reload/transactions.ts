// Requests this node originated, awaiting answers: end-to-end retransmission every
// overlay-reliability-timer, at most five transmissions (RFC 6940 §6.2.1). Bounded.
import type { DecodedMessage, NodeId } from '../codec/index.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import { RequestTimeout } from './errors.ts';

/** An answer, with the Node-IDs its verified signer holds. */
export interface Answered {
  message: DecodedMessage;
  signer: NodeId[];
}

interface Pending {
  resolve(a: Answered): void;
  reject(e: Error): void;
  timer: TimerHandle | undefined;
  sent: number;
  /** Sends (or re-sends) the request; false when no route exists right now. */
  transmit(): void;
  /** Detaches the abort listener once the transaction is over. */
  release(): void;
}

export interface TransactionLimits {
  reliabilityTimerMs: number;
  maxTransmissions: number;
  maxPending: number;
}

export class Transactions {
  private readonly pending = new Map<bigint, Pending>();
  /** Requests refused because `maxPending` were outstanding. */
  refused = 0;
  retransmissions = 0;
  timeouts = 0;

  constructor(private readonly clock: Clock, private readonly limits: TransactionLimits) {}

  get size(): number {
    return this.pending.size;
  }

  has(id: bigint): boolean {
    return this.pending.has(id);
  }

  /** Starts a transaction: `transmit` runs now and at each retransmission. */
  start(id: bigint, transmit: () => void, opts: { signal?: AbortSignal; timerMs?: number } = {}): Promise<Answered> {
    if (this.pending.size >= this.limits.maxPending) {
      this.refused++;
      return Promise.reject(new Error(`pending transaction table full (${this.limits.maxPending})`));
    }
    // Already aborted: nothing is sent, and no listener would ever fire.
    if (opts.signal?.aborted) return Promise.reject(new Error('aborted'));
    const timerMs = opts.timerMs ?? this.limits.reliabilityTimerMs;
    return new Promise<Answered>((resolve, reject) => {
      const p: Pending = { resolve, reject, timer: undefined, sent: 0, transmit, release: () => {} };
      const fire = (): void => {
        if (!this.pending.has(id)) return;
        if (p.sent >= this.limits.maxTransmissions) {
          // "After the timer for the fifth transmission fires, the message MUST be
          // considered to have failed." (§6.2.1)
          this.timeouts++;
          this.finish(id)?.reject(new RequestTimeout(`no answer after ${p.sent} transmissions`));
          return;
        }
        if (p.sent > 0) this.retransmissions++;
        p.sent++;
        p.timer = this.clock.setTimeout(fire, timerMs);
        p.transmit();
      };
      this.pending.set(id, p);
      const signal = opts.signal;
      if (signal) {
        const onAbort = (): void => this.finish(id)?.reject(new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        // A long-lived signal (a node's shutdown) must not collect one listener per request.
        p.release = () => signal.removeEventListener('abort', onAbort);
      }
      fire();
    });
  }

  /** Hands an answer to its transaction; false when none waits for it (late or unknown). */
  answer(id: bigint, a: Answered): boolean {
    const p = this.finish(id);
    if (!p) return false;
    p.resolve(a);
    return true;
  }

  /** Fails a transaction early, e.g. when an error answer arrives. */
  fail(id: bigint, e: Error): void {
    this.finish(id)?.reject(e);
  }

  close(): void {
    for (const id of [...this.pending.keys()]) this.finish(id)?.reject(new Error('node closed'));
  }

  private finish(id: bigint): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.clock.clearTimeout(p.timer);
    this.pending.delete(id);
    p.release();
    return p;
  }
}
