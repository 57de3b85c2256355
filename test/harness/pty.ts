// Pseudo-terminal pairs for serial tests: socat joins two ptys (optionally reachable through
// symlinks), their /dev/pts paths are read from its stderr, and it is stopped by PID.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Starts `socat` joining two ptys and returns it with their /dev/pts paths, read from its
 * stderr. With `links`, socat also creates a symlink at each of those paths to its pty (first
 * link to the first pty), and replaces them if it is started again on the same links.
 */
export async function ptyPair(links?: readonly [string, string]): Promise<{ socat: ChildProcess; paths: [string, string] }> {
  const ends = links ? links.map((link) => `pty,raw,echo=0,link=${link}`) : ['pty,raw,echo=0', 'pty,raw,echo=0'];
  const socat = spawn('socat', ['-d', '-d', ...ends], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socat did not start: ${stderr}`)), 5000);
    socat.once('error', reject);
    socat.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('starting data transfer loop')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const paths = [...stderr.matchAll(/PTY is (\/dev\/pts\/\d+)/g)].map((m) => m[1]!);
  assert.equal(paths.length, 2, stderr);
  return { socat, paths: [paths[0]!, paths[1]!] };
}

/** Stops socat with SIGTERM by PID and waits for it to exit; a no-op if it already has. */
export async function stopSocat(socat: ChildProcess): Promise<void> {
  if (socat.exitCode !== null || socat.signalCode !== null) return;
  const exited = new Promise((r) => socat.once('exit', r));
  process.kill(socat.pid!, 'SIGTERM');
  await exited;
}
