// A mosquitto broker owned by a test, on a free loopback port: written config, started and
// waited for until it accepts connections, stopped or SIGKILLed by PID (and restartable on the
// same port), never outliving the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { until } from './wait.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';
/** The loopback address the broker listens on. */
export const HOST = '127.0.0.1';

/** A TCP port on HOST that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether a TCP connection to `port` on HOST is accepted. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: HOST, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A mosquitto on one loopback port, its config file in `dir`, anonymous and without persistence. */
export class Broker {
  private child: ChildProcess | undefined;
  private stderr = '';
  constructor(readonly port: number, private readonly dir: string) {
    writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} ${HOST}\nallow_anonymous true\npersistence false\n`);
  }

  get url(): string {
    return `mqtt://${HOST}:${this.port}`;
  }

  /** Starts it (again, after stop or kill) and waits until it accepts connections. */
  async start(): Promise<void> {
    const child = spawn(MOSQUITTO, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    // If this test process dies first (a timeout), its broker must not outlive it.
    const orphan = (): void => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    };
    process.once('exit', orphan);
    child.once('exit', () => process.off('exit', orphan));
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    await until(`mosquitto listening on ${this.port} (${this.stderr})`, async () => child.exitCode === null && (await canConnect(this.port)), 5000, 20);
  }

  /** SIGTERM by PID: mosquitto closes its clients' connections and exits. */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL by PID: no goodbye to anyone. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, signal);
    await exited;
  }
}
