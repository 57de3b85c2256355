// Waiting for the process to be told to stop: the long-running commands' main loop.

/** Resolves at the first SIGINT or SIGTERM, and stops listening for them. */
export function untilTerminated(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
