// The identity's PEM files of earlier versions, kept as a copy of the flash record
// (flash-identity.ts): identity.key (PKCS#8, 0600), identity.crt and root-cert.pem, which
// loadOrCreateIdentity, `openssl` and other tools read. Compared by what they hold (DER), so
// a file is written only when its content differs, and a key file is never overwritten: one
// that differs is kept beside it.
import { type KeyObject, createPrivateKey } from 'node:crypto';
import { rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT_CERT_FILE } from '../enroll/constants.ts';
import { hasCode, readIfExists, writeFileAtomic } from '../reload/security/atomic-file.ts';
import { certificatePem, isSelfIssued, parseCertificate } from '../reload/security/certificate.ts';
import { IDENTITY_CERT_FILE, IDENTITY_CERT_FILE_MODE, IDENTITY_KEY_FILE, IDENTITY_KEY_FILE_MODE } from '../reload/security/constants.ts';
import { fromPem } from '../reload/security/identity.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { FLASH_PUBLIC_FILE_MODE } from './flash-constants.ts';
import type { IdentityRecord } from './flash-identity.ts';
import { asideName } from './flash-store.ts';

/** What the PEM files hold. */
export type PemCopy =
  | { state: 'none' | 'certificate_only' | 'invalid' }
  /** A key without certificate: an earlier version's first run stopped between its files. */
  | { state: 'key_only'; key: KeyObject }
  | { state: 'valid'; record: IdentityRecord };

export function pkcs8Der(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
}

export function keyPemOf(der: Uint8Array): string {
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

export function pemCertificates(pem: string): Uint8Array[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new Uint8Array(Buffer.from(b.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')));
}

/** A file's modification time, ms; 0 when there is no such file. */
export async function fileModifiedMs(file: string): Promise<number> {
  try {
    return (await stat(file)).mtimeMs;
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return 0;
    throw e;
  }
}

export class IdentityPemFiles {
  readonly keyPath: string;
  readonly certificatePath: string;
  readonly rootPath: string;

  constructor(dir: string, private readonly components: { log: Logger; clock?: Clock }) {
    this.keyPath = join(dir, IDENTITY_KEY_FILE);
    this.certificatePath = join(dir, IDENTITY_CERT_FILE);
    this.rootPath = join(dir, ROOT_CERT_FILE);
  }

  async read(): Promise<PemCopy> {
    const keyPem = await readIfExists(this.keyPath);
    const certPem = await readIfExists(this.certificatePath);
    if (keyPem === undefined) return { state: certPem === undefined ? 'none' : 'certificate_only' };
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch {
      return { state: 'invalid' };
    }
    if (certPem === undefined) return { state: 'key_only', key };
    try {
      const id = fromPem(keyPem, certPem);
      return { state: 'valid', record: { key: pkcs8Der(key), certificate: id.certificate, roots: await this.roots() } };
    } catch {
      return { state: 'invalid' };
    }
  }

  /** root-cert.pem's certificates; none without the file. */
  async roots(): Promise<Uint8Array[]> {
    const text = await readIfExists(this.rootPath);
    return text === undefined ? [] : pemCertificates(text);
  }

  async hasCertificate(): Promise<boolean> {
    return (await readIfExists(this.certificatePath)) !== undefined;
  }

  /** The later modification time of identity.key and identity.crt, ms; 0 without them. */
  async modifiedMs(): Promise<number> {
    return Math.max(await fileModifiedMs(this.keyPath), await fileModifiedMs(this.certificatePath));
  }

  /** An enrolled device left root-cert.pem, or a CA-issued identity.crt (§11.3). */
  async looksEnrolled(): Promise<boolean> {
    if ((await readIfExists(this.rootPath)) !== undefined) return true;
    const pem = await readIfExists(this.certificatePath);
    const [der] = pem ? pemCertificates(pem) : [];
    if (!der) return false;
    try {
      return !isSelfIssued(parseCertificate(der));
    } catch {
      return false;
    }
  }

  /** Brings the three files in line with `r`, writing only those whose content differs. */
  async write(r: IdentityRecord, recordPath: string): Promise<void> {
    const keyText = await readIfExists(this.keyPath);
    let held: Uint8Array | undefined;
    try {
      held = keyText === undefined ? undefined : pkcs8Der(createPrivateKey(keyText));
    } catch {
      held = undefined;
    }
    if (!held || !sameBytes(held, r.key)) {
      // Another key is never overwritten: it may be the only copy of someone's key.
      if (keyText !== undefined) {
        const to = await this.moveAside(this.keyPath, held ? 'replaced' : 'corrupt');
        this.components.log.warn(`${this.keyPath} did not hold the key of ${recordPath}: kept as ${to}, rewritten from the record`);
      }
      await writeFileAtomic(this.keyPath, keyPemOf(r.key), { mode: IDENTITY_KEY_FILE_MODE, overwrite: true });
    }
    const certs = pemCertificates((await readIfExists(this.certificatePath)) ?? '');
    if (certs.length !== 1 || !sameBytes(certs[0], r.certificate)) {
      await writeFileAtomic(this.certificatePath, certificatePem(r.certificate), { mode: IDENTITY_CERT_FILE_MODE, overwrite: true });
    }
    if (r.roots.length === 0) return;
    const roots = await this.roots();
    if (roots.length !== r.roots.length || roots.some((c, i) => !sameBytes(c, r.roots[i]))) {
      await writeFileAtomic(this.rootPath, r.roots.map(certificatePem).join(''), { mode: FLASH_PUBLIC_FILE_MODE, overwrite: true });
    }
  }

  /** Renames a file to `<file>.<why>-<time>`; the new name, or undefined when it was not there. */
  async moveAside(path: string, why: 'corrupt' | 'replaced'): Promise<string | undefined> {
    const to = asideName(path, why, (this.components.clock ?? systemClock).wallTime());
    try {
      await rename(path, to);
      return to;
    } catch (e) {
      if (hasCode(e, 'ENOENT')) return undefined;
      throw e;
    }
  }
}
