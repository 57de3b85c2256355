// `p2psip enroll`: get this device's certificate from the overlay's enrollment server
// (RFC 6940 §11.3) and keep it in the data directory for `p2psip run`.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { toHex } from '../codec/index.ts';
import { DEFAULT_DEVICE_CONFIG } from '../run/config.ts';
import { enrollDevice } from './enroll.ts';
import { readPasswordLine } from './password-input.ts';

export const ENROLL_USAGE = `usage: p2psip enroll --server URL --root FILE --user NAME --password PW|- [--data DIR] [--overlay NAME] [--nodeids N]`;

const FLAGS = ['server', 'root', 'user', 'password', 'data', 'overlay', 'nodeids'] as const;

/** Certificates of a PEM file (one or more) or of a single DER file. */
export function readRootCertificates(bytes: Uint8Array): Uint8Array[] {
  const text = Buffer.from(bytes).toString('latin1');
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  const out = pems ? pems.map((p) => new Uint8Array(new X509Certificate(p).raw)) : [new Uint8Array(new X509Certificate(Buffer.from(bytes)).raw)];
  return out;
}

export async function runEnroll(args: string[], print: (line: string) => void): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    print(ENROLL_USAGE);
    return 0;
  }
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : '';
    if (!(FLAGS as readonly string[]).includes(name)) throw new Error(`unexpected argument "${args[i]}"\n${ENROLL_USAGE}`);
    if (i + 1 >= args.length) throw new Error(`${args[i]} needs a value\n${ENROLL_USAGE}`);
    flags.set(name, args[++i]);
  }
  const server = flags.get('server');
  const rootFile = flags.get('root');
  const userName = flags.get('user');
  let password = flags.get('password');
  if (!server || !rootFile || !userName || password === undefined) throw new Error(ENROLL_USAGE);
  if (password === '-') password = await readPasswordLine();
  const nodeIds = flags.has('nodeids') ? Number(flags.get('nodeids')) : 1;
  if (!Number.isInteger(nodeIds) || nodeIds < 1) throw new Error(`--nodeids must be a positive integer\n${ENROLL_USAGE}`);
  const roots = readRootCertificates(await readFile(rootFile));
  const dataDir = flags.get('data') ?? DEFAULT_DEVICE_CONFIG.dataDir;
  // The device's overlay by default, so that `p2psip run` with the same defaults accepts it.
  const overlay = flags.get('overlay') ?? DEFAULT_DEVICE_CONFIG.overlay;
  const saved = await enrollDevice(dataDir, { server, roots, userName, password, overlay, nodeIds });
  const e = saved.enrollment;
  print(JSON.stringify({
    event: 'enrolled', nodeIds: e.nodeIds.map(toHex), userName: e.userName, overlay: e.overlay,
    notAfter: new Date(e.info.notAfterMs).toISOString(), certificate: saved.certificatePath, key: saved.keyPath, rootCertificate: saved.rootPath, record: saved.recordPath,
  }));
  return 0;
}
