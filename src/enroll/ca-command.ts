// `p2psip ca`: the overlay's enrollment server (RFC 6940 §11.3), with the CA made on its
// first start, and `p2psip ca add-user` to create accounts.
import { mkdir } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { certificatePem } from '../reload/security/index.ts';
import { DEFAULT_DEVICE_CONFIG, parseEndpoint } from '../run/config.ts';
import { createLogger } from '../util/log.ts';
import { loadOrCreateCertificateAuthority } from './ca-store.ts';
import { issueServerCertificate } from './certificate-authority.ts';
import { ENROLLMENT_PORT, NODE_IDS_FILE, USERS_FILE } from './constants.ts';
import { EnrollmentServer } from './enrollment-server.ts';
import { NodeIdRegistry } from './node-id-registry.ts';
import { readPasswordLine } from './password-input.ts';
import { UserDirectory, addUser } from './users.ts';
import { untilTerminated } from '../util/signals.ts';

export const CA_USAGE = `usage: p2psip ca [--data DIR] [--listen HOST:PORT] [--overlay NAME] [--users FILE] [--server-name NAME[,NAME...]]
       p2psip ca add-user NAME PASSWORD|- [--data DIR] [--users FILE]`;

/** Default data directory of the enrollment server: apart from a device's own. */
const DEFAULT_CA_DATA_DIR = 'ca-data';

function parseFlags(args: string[], allowed: readonly string[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--') || a === '-') {
      positional.push(a);
      continue;
    }
    const name = a.slice(2);
    if (!allowed.includes(name)) throw new Error(`unknown option ${a}\n${CA_USAGE}`);
    if (i + 1 >= args.length) throw new Error(`${a} needs a value\n${CA_USAGE}`);
    flags.set(name, args[++i]);
  }
  return { flags, positional };
}

export async function runCa(args: string[], print: (line: string) => void): Promise<number> {
  if (args[0] === 'add-user') return addUserCommand(args.slice(1), print);
  if (args[0] === '--help' || args[0] === '-h') {
    print(CA_USAGE);
    return 0;
  }
  const { flags, positional } = parseFlags(args, ['data', 'listen', 'overlay', 'users', 'server-name']);
  if (positional.length > 0) throw new Error(`unexpected argument "${positional[0]}"\n${CA_USAGE}`);
  const dataDir = flags.get('data') ?? DEFAULT_CA_DATA_DIR;
  const overlay = flags.get('overlay') ?? DEFAULT_DEVICE_CONFIG.overlay;
  const listen = parseEndpoint(flags.get('listen') ?? `0.0.0.0:${ENROLLMENT_PORT}`);
  const log = createLogger('enroll:server');

  const { ca, certificatePath, created } = await loadOrCreateCertificateAuthority(dataDir, { name: `${overlay} enrollment CA` });
  // §11.3: the server certificate "MUST match the overlay name"; the addresses it is reached
  // at are added so that plain RFC 2818 clients (curl) accept it too.
  const names = [overlay, ...(flags.get('server-name')?.split(',').filter(Boolean) ?? []), ...listenNames(listen.host)];
  const server = issueServerCertificate(ca, { names });
  const enrollment = new EnrollmentServer({
    ca,
    accounts: new UserDirectory(flags.get('users') ?? join(dataDir, USERS_FILE)),
    nodeIds: await NodeIdRegistry.open(join(dataDir, NODE_IDS_FILE)),
    log,
  }, {
    overlay,
    tls: { key: server.privateKey, cert: certificatePem(server.certificate) + certificatePem(ca.certificate) },
  });
  await enrollment.listen(listen.host, listen.port);
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
  print(JSON.stringify({
    event: 'started', url: enrollment.url(wildcard ? '127.0.0.1' : undefined), overlay, rootCertificate: certificatePath, createdCa: created,
  }));
  await untilTerminated();
  await enrollment.close();
  print(JSON.stringify({ event: 'stopped', counters: enrollment.counters }));
  return 0;
}

/** The names a server listening on `host` is reached at: the host, or every local address. */
function listenNames(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host];
  const out = ['localhost'];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (host === '::' || a.family === 'IPv4') out.push(a.address.split('%')[0]);
  }
  return out;
}

async function addUserCommand(args: string[], print: (line: string) => void): Promise<number> {
  const { flags, positional } = parseFlags(args, ['data', 'users']);
  const [name, given] = positional;
  if (name === undefined || given === undefined || positional.length > 2) throw new Error(CA_USAGE);
  const password = given === '-' ? await readPasswordLine() : given;
  const path = flags.get('users') ?? join(flags.get('data') ?? DEFAULT_CA_DATA_DIR, USERS_FILE);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const added = await addUser(path, name, password);
  print(JSON.stringify({ event: added ? 'user-added' : 'user-updated', user: name, users: path }));
  return 0;
}
