// The device's identity on flash (RFC 6940 §11.3): private key, certificate and, after
// `p2psip enroll`, the enrollment CA's root certificates, in one secret record (0600), so that
// key, certificate and roots always change together.
//
// identity.key, identity.crt and root-cert.pem, the files of earlier versions, are still kept
// as a copy of the record (flash-identity-pem.ts): tools, openssl and loadOrCreateIdentity
// read them. A data directory with those files and no record is migrated once. The record is
// the truth; copies that differ from it are rewritten, unless they are a valid identity
// written after the record (an older `p2psip enroll`), which is then taken into the record.
//
// Both copies of the record damaged (the corruption policy):
// 1. identity.key + identity.crt still a valid identity: used, and the record rewritten;
// 2. else identity.key alone still good, the identity self-signed: certified again from it,
//    same Node-ID (§11.3.1);
// 3. else, when the identity was self-signed and the overlay accepts a new self-signed one:
//    the damaged files are moved aside (.corrupt-<time>) and a new identity is made, with a
//    loud error in the log: the device comes back under a new Node-ID;
// 4. else (the CA issued it, or the overlay takes CA certificates only, §11.3: only the CA
//    can replace it): IdentityUnreadableError, whose message says to run `p2psip enroll`;
//    nothing is changed, and `p2psip enroll` moves the damaged files aside first.
// No branch leaves a half-made identity behind, so a restart meets the same, clear state.
import { type KeyObject, createPrivateKey } from 'node:crypto';
import { toHex } from '../codec/index.ts';
import { readIfExists } from '../reload/security/atomic-file.ts';
import { CertificateError, certificatePem } from '../reload/security/certificate.ts';
import { type LoadIdentityOptions, type NodeIdentity, checkStoredIdentity, createSelfSignedIdentity, fromPem } from '../reload/security/identity.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { IDENTITY_RECORD } from './flash-constants.ts';
import { IdentityPemFiles, fileModifiedMs, keyPemOf, pkcs8Der, sameBytes } from './flash-identity-pem.ts';
import { type FlashFileProblem, type FlashStore, FlashRecordError } from './flash-store.ts';

/** The identity record's value. */
export interface IdentityRecord {
  /** PKCS#8 DER private key. */
  key: Uint8Array;
  /** DER certificate, self-signed or CA-issued. */
  certificate: Uint8Array;
  /** DER root certificates saved by enrollment (§11.3); empty for a self-signed identity. */
  roots: Uint8Array[];
}

/** What the trust decision needs before the identity itself is loaded. */
export interface EnrollmentState {
  /** Roots saved by `p2psip enroll`. */
  roots: Uint8Array[];
  /** Whether the device holds a certificate at all (else it must enroll first). */
  hasCertificate: boolean;
}

/** Both copies of the identity record are damaged and the identity cannot be replaced here. */
export class IdentityUnreadableError extends Error {
  override readonly name = 'IdentityUnreadableError';
  constructor(message: string, readonly problems: readonly FlashFileProblem[], options?: ErrorOptions) {
    super(message, options);
  }
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${what} is not a byte string`);
  return new Uint8Array(v);
}

/** The FlashValueCheck of the identity record. */
export function identityRecordOf(v: unknown): IdentityRecord {
  if (typeof v !== 'object' || v === null) throw new TypeError('not a map');
  const r = v as Record<string, unknown>;
  if (!Array.isArray(r.roots)) throw new TypeError('roots is not an array');
  return { key: bytes(r.key, 'key'), certificate: bytes(r.certificate, 'certificate'), roots: r.roots.map((c, i) => bytes(c, `roots[${i}]`)) };
}

/** Byte strings as plain CBOR byte strings (node-cbor tags a bare Uint8Array, RFC 8746). */
function toStored(r: IdentityRecord): object {
  const b = (u: Uint8Array): Buffer => Buffer.from(u);
  return { key: b(r.key), certificate: b(r.certificate), roots: r.roots.map(b) };
}

function identityOfRecord(r: IdentityRecord): NodeIdentity {
  return fromPem(keyPemOf(r.key), certificatePem(r.certificate));
}

function sameIdentity(a: IdentityRecord, b: IdentityRecord): boolean {
  return sameBytes(a.key, b.key) && sameBytes(a.certificate, b.certificate);
}

export interface FlashIdentityComponents {
  store: FlashStore;
  log: Logger;
  /** Names moved-aside files; default the system clock. */
  clock?: Clock;
}

export class FlashIdentity {
  readonly recordPath: string;
  /** identity.key, identity.crt and root-cert.pem. */
  readonly pem: IdentityPemFiles;
  private readonly store: FlashStore;
  private readonly log: Logger;
  /** The record as read at start: read once, dropped by every write. */
  private reading: Promise<IdentityRecord | undefined> | undefined;

  constructor(components: FlashIdentityComponents) {
    this.store = components.store;
    this.log = components.log;
    this.recordPath = this.store.pathOf(IDENTITY_RECORD);
    this.pem = new IdentityPemFiles(this.store.dir, components);
  }

  get keyPath(): string {
    return this.pem.keyPath;
  }

  get certificatePath(): string {
    return this.pem.certificatePath;
  }

  get rootPath(): string {
    return this.pem.rootPath;
  }

  /**
   * The identity record: from flash, else migrated once from identity.key/identity.crt;
   * undefined when the device has no identity yet. Throws FlashRecordError('corrupt').
   */
  read(): Promise<IdentityRecord | undefined> {
    this.reading ??= this.readNow();
    return this.reading;
  }

  private async readNow(): Promise<IdentityRecord | undefined> {
    const found = await this.store.read(IDENTITY_RECORD, identityRecordOf);
    const copy = await this.pem.read();
    if (!found) {
      if (copy.state === 'certificate_only') throw new Error(`${this.certificatePath} exists but ${this.keyPath} does not: refusing to replace the node's identity`);
      if (copy.state !== 'valid') return undefined;
      await this.store.write(IDENTITY_RECORD, toStored(copy.record), { secret: true });
      this.log.info('identity moved to its flash record', { from: [this.keyPath, this.certificatePath], to: this.recordPath });
      return copy.record;
    }
    const record = found.value;
    if (copy.state === 'valid' && !sameIdentity(record, copy.record) && (await this.pem.modifiedMs()) > (await fileModifiedMs(found.file))) {
      // Written after the record the value came from: an older `p2psip enroll`, a person, or
      // the last write before the current copy was damaged.
      await this.store.write(IDENTITY_RECORD, toStored(copy.record), { secret: true });
      this.log.warn(`${this.keyPath} and ${this.certificatePath} are newer than ${found.file} and hold a valid identity: taken into the record`);
      return copy.record;
    }
    await this.pem.write(record, this.recordPath);
    return record;
  }

  /** Roots and whether a certificate exists, for the trust decision (§11.3). */
  async enrollmentState(): Promise<EnrollmentState> {
    try {
      const r = await this.read();
      return { roots: r?.roots ?? [], hasCertificate: r !== undefined };
    } catch (e) {
      if (!(e instanceof FlashRecordError)) throw e;
      // The record is damaged: the copies say what they can; loadOrCreate decides.
      return { roots: await this.pem.roots(), hasCertificate: await this.pem.hasCertificate() };
    }
  }

  /**
   * The device's identity, created (self-signed, §11.3.1) on first run, checked against the
   * run options like loadOrCreateIdentity, a renewed self-signed certificate written back.
   * Damaged records follow the policy at the top of this file.
   */
  async loadOrCreate(opts: LoadIdentityOptions): Promise<NodeIdentity> {
    let record: IdentityRecord | undefined;
    try {
      record = await this.read();
    } catch (e) {
      if (!(e instanceof FlashRecordError) || e.reason !== 'corrupt') throw e;
      record = await this.recover(e, opts);
    }
    if (!record) {
      // A key without certificate (an earlier version's first run that stopped between its
      // two files) fixes the Node-ID (§11.3.1): it is certified, not replaced.
      const copy = await this.pem.read();
      const created = createSelfSignedIdentity({ ...opts, privateKey: copy.state === 'key_only' ? copy.key : undefined });
      const fresh: IdentityRecord = { key: pkcs8Der(created.privateKey), certificate: created.certificate, roots: [] };
      this.reading = undefined;
      if (await this.store.create(IDENTITY_RECORD, toStored(fresh), { secret: true })) {
        await this.pem.write(fresh, this.recordPath);
        this.log.info('new self-signed identity', { record: this.recordPath, nodeId: toHex(created.nodeId) });
      }
      // Another process made one meanwhile: then that is the identity.
      return this.loadOrCreate(opts);
    }
    let stored: NodeIdentity;
    try {
      stored = identityOfRecord(record);
    } catch (e) {
      throw new Error(`${this.recordPath} does not hold a usable identity: ${(e as Error).message}`, { cause: e });
    }
    const { identity, renewed } = checkStoredIdentity(stored, this.recordPath, opts);
    if (renewed) {
      this.reading = undefined;
      const next: IdentityRecord = { ...record, certificate: identity.certificate };
      await this.store.write(IDENTITY_RECORD, toStored(next), { secret: true });
      await this.pem.write(next, this.recordPath);
      this.log.info('self-signed certificate renewed', { notAfter: new Date(identity.info.notAfterMs).toISOString() });
    }
    return identity;
  }

  /**
   * The key `p2psip enroll` certifies: the stored one, so that the certificate changes and
   * the key stays. A damaged record is moved aside (enrolling is its remedy); the copy's key is
   * used when it is still readable. Undefined: make a new key.
   */
  async keyForEnrollment(): Promise<KeyObject | undefined> {
    this.reading = undefined;
    try {
      const r = await this.read();
      if (r) return createPrivateKey({ key: Buffer.from(r.key), format: 'der', type: 'pkcs8' });
    } catch (e) {
      if (!(e instanceof FlashRecordError) || e.reason !== 'corrupt') throw e;
      const moved = await this.store.moveAside(IDENTITY_RECORD);
      this.log.warn(`${e.message}; moved aside before enrolling`, { moved });
      this.reading = undefined;
    }
    const pem = await readIfExists(this.keyPath);
    if (pem === undefined) return undefined;
    try {
      return createPrivateKey(pem);
    } catch (e) {
      const moved = await this.pem.moveAside(this.keyPath, 'corrupt');
      this.log.warn(`${this.keyPath} is unreadable (${(e as Error).message}): a new key is made`, { moved });
      return undefined;
    }
  }

  /**
   * Stores an enrollment (§11.3): the key, the CA-issued certificate and the roots, in one
   * write. `newKey`: the key was made for this enrollment, so an identity that appeared
   * meanwhile (another process) is not overwritten.
   */
  async saveEnrollment(record: IdentityRecord, newKey: boolean): Promise<void> {
    this.reading = undefined;
    if (newKey) {
      if (!(await this.store.create(IDENTITY_RECORD, toStored(record), { secret: true }))) {
        throw new Error(`an identity appeared in ${this.store.dir} while enrolling: enroll again`);
      }
    } else await this.store.write(IDENTITY_RECORD, toStored(record), { secret: true });
    await this.pem.write(record, this.recordPath);
  }

  private async recover(e: FlashRecordError, opts: LoadIdentityOptions): Promise<IdentityRecord | undefined> {
    this.reading = undefined;
    const copy = await this.pem.read();
    if (copy.state === 'valid') {
      await this.store.write(IDENTITY_RECORD, toStored(copy.record), { secret: true });
      this.log.warn(`${e.message}; recovered the identity from ${this.keyPath} and ${this.certificatePath}`, { problems: e.problems });
      return copy.record;
    }
    const enrolled = await this.pem.looksEnrolled();
    if (enrolled || !this.overlayAcceptsSelfSigned(opts)) {
      throw new IdentityUnreadableError(
        `${e.message}. ${enrolled ? 'The identity was issued by the enrollment CA' : 'The overlay accepts no self-signed identity'}, so only the CA can replace it: ` +
        'run `p2psip enroll` (it moves the damaged files aside first); until then this device cannot join.',
        e.problems, { cause: e });
    }
    const moved = await this.store.moveAside(IDENTITY_RECORD);
    if (copy.state === 'key_only') {
      // The key alone fixes a self-signed Node-ID (§11.3.1): certified again, nothing lost.
      this.log.warn(`${e.message}. The damaged files are moved aside (${moved.join(', ')}); the identity is certified again from ${this.keyPath}, same Node-ID`, { problems: e.problems, moved });
      return undefined;
    }
    for (const f of [this.keyPath, this.certificatePath]) {
      const to = await this.pem.moveAside(f, 'corrupt');
      if (to) moved.push(to);
    }
    this.log.error(`${e.message}. The damaged files are moved aside (${moved.join(', ')}) and a NEW self-signed identity is made: this device joins under a new Node-ID`, { problems: e.problems, moved });
    return undefined;
  }

  /** Would the overlay accept a fresh self-signed identity (§11.3.1)? */
  private overlayAcceptsSelfSigned(opts: LoadIdentityOptions): boolean {
    if (!opts.trust) return true;
    try {
      const probe = createSelfSignedIdentity(opts);
      opts.trust.check(probe.info, (opts.clock ?? systemClock).wallTime());
      return true;
    } catch (e) {
      if (e instanceof CertificateError) return false;
      throw e;
    }
  }
}
