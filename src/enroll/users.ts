// Enrollment accounts (RFC 6940 §11.3): user name and password, "compared as binary objects".
// Kept in a small JSON file of scrypt hashes (RFC 7914), never the passwords themselves:
//   { "version": 1, "users": { "alice@building.example": { "password": "scrypt$16384$8$1$<salt>$<hash>" } } }
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../reload/security/index.ts';
import { ENROLLMENT_MAX_CREDENTIAL_BYTES, PASSWORD_SCRYPT, SECRET_FILE_MODE, USERS_FILE_MAX_BYTES } from './constants.ts';

interface UsersFile {
  version: 1;
  users: Record<string, { password: string }>;
}

function scrypt(password: Uint8Array, salt: Uint8Array, keyBytes: number, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  // maxmem covers 128·N·r bytes with room to spare (Node's default is 32 MiB).
  const maxmem = 256 * cost.N * cost.r;
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyBytes, { ...cost, maxmem }, (e, key) => (e ? reject(e) : resolve(key)));
  });
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/** A user name the certificate can carry as rfc822Name (§11.3: "only legal characters"). */
export function isLegalUserName(name: string): boolean {
  return /^[\x21-\x7e]+$/.test(name) && name.length <= ENROLLMENT_MAX_CREDENTIAL_BYTES;
}

/** `scrypt$N$r$p$<salt base64>$<hash base64>` of a password. */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyBytes, saltBytes } = PASSWORD_SCRYPT;
  const salt = randomBytes(saltBytes);
  const hash = await scrypt(utf8(password), salt, keyBytes, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

const HASH_FORM = /^scrypt\$(\d{1,7})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{4,88})\$([A-Za-z0-9+/=]{4,88})$/;

/** Constant-time check of a password against a stored hash; false for an unreadable hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH_FORM.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounded: a hand-edited file must not make one request allocate gigabytes.
  if (N < 2 || (N & (N - 1)) !== 0 || N > 1 << 20 || r < 1 || p < 1 || 128 * N * r > 256 * 1024 * 1024) return false;
  const expected = Buffer.from(m[5], 'base64');
  const actual = await scrypt(utf8(password), Buffer.from(m[4], 'base64'), expected.length, { N, r, p });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

function parseUsersFile(text: string, path: string): UsersFile {
  const v = JSON.parse(text) as Partial<UsersFile>;
  if (v?.version !== 1 || typeof v.users !== 'object' || v.users === null) throw new Error(`${path}: not a version 1 users file`);
  return v as UsersFile;
}

/** The accounts of a users file, re-read whenever the file changes (`p2psip ca add-user` while running). */
export class UserDirectory {
  private users: UsersFile['users'] = {};
  private seen = '';
  /** A hash to check unknown names against, so that they take as long as known ones. */
  private readonly decoy: Promise<string> = hashPassword(randomBytes(16).toString('hex'));

  constructor(private readonly path: string) {}

  /** True when `name` exists and `password` is its password (§11.3, binary comparison). */
  async authenticate(name: string, password: string): Promise<boolean> {
    await this.refresh();
    const record = Object.hasOwn(this.users, name) ? this.users[name] : undefined;
    const ok = await verifyPassword(password, record?.password ?? (await this.decoy));
    return ok && record !== undefined;
  }

  private async refresh(): Promise<void> {
    let st;
    try {
      st = await stat(this.path);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e;
      this.users = {};
      this.seen = '';
      return;
    }
    const version = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (version === this.seen) return;
    if (st.size > USERS_FILE_MAX_BYTES) throw new Error(`${this.path} is larger than ${USERS_FILE_MAX_BYTES} bytes`);
    this.users = parseUsersFile(await readFile(this.path, 'utf8'), this.path).users;
    this.seen = version;
  }
}

/** Adds or replaces an account; returns true when it was new. */
export async function addUser(path: string, name: string, password: string): Promise<boolean> {
  if (!isLegalUserName(name)) throw new RangeError(`user name ${JSON.stringify(name)} is not usable as an rfc822Name (printable ASCII, no spaces)`);
  if (password.length === 0 || utf8(password).length > ENROLLMENT_MAX_CREDENTIAL_BYTES) {
    throw new RangeError(`a password is 1 to ${ENROLLMENT_MAX_CREDENTIAL_BYTES} bytes`);
  }
  let file: UsersFile = { version: 1, users: {} };
  try {
    file = parseUsersFile(await readFile(path, 'utf8'), path);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  const isNew = !Object.hasOwn(file.users, name);
  file.users[name] = { password: await hashPassword(password) };
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: SECRET_FILE_MODE, overwrite: true });
  return isNew;
}
