// The local control socket: one command per line in, one JSON line out. The serial console
// and MQTT speak the same commands through the same interpreter.
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { Logger } from '../util/log.ts';

export type Command = (args: string[]) => unknown | Promise<unknown>;

/** Longest command line accepted; longer input closes the connection. */
const MAX_LINE_BYTES = 4096;

export class CommandInterpreter {
  private readonly commands = new Map<string, Command>();

  register(name: string, command: Command): void {
    this.commands.set(name, command);
  }

  names(): string[] {
    return [...this.commands.keys()].sort();
  }

  /** Runs one command line; the result is always a JSON-able object. */
  async run(line: string): Promise<unknown> {
    const [name, ...args] = line.trim().split(/\s+/);
    const command = this.commands.get(name ?? '');
    if (!command) return { ok: false, error: `unknown command "${name ?? ''}"`, commands: this.names() };
    try {
      return { ok: true, result: await command(args) };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }
}

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly components: { log: Logger; interpreter: CommandInterpreter }, private readonly path: string) {}

  async start(): Promise<void> {
    // A socket file left by a process that died (SIGKILL) would block the bind.
    rmSync(this.path, { force: true });
    const server = createServer((socket) => this.serve(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES) {
        socket.destroy();
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        void this.components.interpreter.run(line).then((r) => {
          if (!socket.destroyed) socket.write(`${JSON.stringify(r, jsonReplacer)}\n`);
        });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

/** Byte strings as hex, 64-bit integers as strings. */
export function jsonReplacer(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'bigint') return v.toString();
  return v;
}
