// The enrollment CA on disk: ca.key (PKCS#8, 0600) and ca.crt (PEM, the overlay's root-cert),
// made on the first start and loaded afterwards. Written atomically, never replaced.
import { createPrivateKey } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { certificatePem, readIfExists, writeFileAtomic } from '../reload/security/index.ts';
import type { Clock } from '../util/clock.ts';
import { type CertificateAuthority, certificateAuthorityFrom, createCertificateAuthority } from './certificate-authority.ts';
import { CA_CERT_FILE, CA_KEY_FILE, PUBLIC_FILE_MODE, SECRET_FILE_MODE } from './constants.ts';

export interface CaStoreOptions {
  /** commonName of a new CA; default "<overlay> enrollment CA" is the caller's choice. */
  name: string;
  /** default the system clock. */
  clock?: Clock;
}

export interface StoredCertificateAuthority {
  ca: CertificateAuthority;
  /** Path of the PEM root certificate, to hand to devices (`p2psip enroll --root`). */
  certificatePath: string;
  /** True when this call made the CA. */
  created: boolean;
}

/** Loads the CA of `dataDir`, making it when there is none. */
export async function loadOrCreateCertificateAuthority(dataDir: string, opts: CaStoreOptions): Promise<StoredCertificateAuthority> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const keyPath = join(dataDir, CA_KEY_FILE);
  const certificatePath = join(dataDir, CA_CERT_FILE);
  const keyPem = await readIfExists(keyPath);
  const certPem = await readIfExists(certificatePath);
  if (keyPem !== undefined && certPem !== undefined) {
    return { ca: certificateAuthorityFrom(keyPem, certPem), certificatePath, created: false };
  }
  // Devices hold the old root: a CA certificate without its key is never silently replaced.
  if (certPem !== undefined) throw new Error(`${certificatePath} exists but ${keyPath} does not: refusing to replace the enrollment CA`);
  // A key alone is a first start that stopped between the two files: certify that key.
  const ca = createCertificateAuthority({
    name: opts.name,
    clock: opts.clock,
    ...(keyPem !== undefined ? { privateKey: createPrivateKey(keyPem) } : {}),
  });
  if (keyPem === undefined) {
    const pem = ca.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    if (!(await writeFileAtomic(keyPath, pem, { mode: SECRET_FILE_MODE, overwrite: false }))) {
      return loadOrCreateCertificateAuthority(dataDir, opts); // another process made it meanwhile
    }
  }
  if (!(await writeFileAtomic(certificatePath, certificatePem(ca.certificate), { mode: PUBLIC_FILE_MODE, overwrite: false }))) {
    return loadOrCreateCertificateAuthority(dataDir, opts);
  }
  return { ca, certificatePath, created: true };
}
