// Exponential backoff between broker connection attempts. MQTT.js only knows a fixed
// `reconnectPeriod`, so the bridge turns that off and asks this for each wait instead.

export interface ReconnectBackoffInit {
  /** First wait, ms. */
  minMs: number;
  /** Cap, ms. */
  maxMs: number;
  /** A connection that lasted at least this long resets the backoff, ms. */
  stableMs: number;
}

export class ReconnectBackoff {
  private failures = 0;

  constructor(private readonly init: ReconnectBackoffInit) {
    if (!(init.minMs > 0) || !(init.maxMs >= init.minMs)) throw new RangeError('backoff needs 0 < minMs <= maxMs');
  }

  /** The wait before the next attempt, after a connection (or attempt) that lasted `lastedMs`. */
  next(lastedMs: number): number {
    if (lastedMs >= this.init.stableMs) this.failures = 0;
    // 2^failures overflows into Infinity long after the cap is reached; the min() keeps it finite.
    const wait = Math.min(this.init.maxMs, this.init.minMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return wait;
  }

  reset(): void {
    this.failures = 0;
  }
}
