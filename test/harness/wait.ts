// Waiting in tests: `sleep` for a fixed time, and `until` to poll a condition (sync or async)
// until it yields a value or a deadline passes.

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `probe` every `intervalMs` until it returns (or resolves to) something other than
 * `undefined` or `false`, and returns that. A probe that throws or rejects is tried again; if
 * the deadline passes, the error names `what` and the last such exception.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 3000,
  intervalMs = 10,
): Promise<T> {
  const started = performance.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (performance.now() - started > timeoutMs) {
      const why = last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(`${what}: not within ${timeoutMs} ms${why}`);
    }
    await sleep(intervalMs);
  }
}
