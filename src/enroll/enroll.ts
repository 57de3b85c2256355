// The enrollment client (RFC 6940 §11.3): a device asks the enrollment server for its
// certificate over HTTPS, checks that the answer chains to a root-cert and certifies its own
// key, and keeps key, certificate and roots in the device's flash identity record
// (src/device/flash-identity.ts), so that `p2psip run` uses the CA-issued identity; the
// identity.key, identity.crt and root-cert.pem copies are where loadOrCreateIdentity and
// tools find them.
import { type KeyObject, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { type PeerCertificate, checkServerIdentity } from 'node:tls';
import { type NodeId } from '../codec/index.ts';
import { FlashIdentity } from '../device/flash-identity.ts';
import { FlashStore } from '../device/flash-store.ts';
import { type CertificateInfo, CaTrust, CertificateError, buildCsr, certificatePem, parseCertificate } from '../reload/security/index.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import { ENROLLMENT_CLIENT_TIMEOUT_MS, ENROLLMENT_MAX_ANSWER_BYTES } from './constants.ts';
import type { EnrollmentRefusal } from './enrollment-server.ts';
import { encodeMultipart } from './multipart.ts';

export type EnrollmentErrorReason =
  | EnrollmentRefusal
  /** A 403 with a token §11.3 does not define: "a failure for an unknown reason". */
  | 'unknown'
  /** Any other HTTP status, or an answer that is not application/pkix-cert. */
  | 'http'
  /** The returned certificate does not chain to a root, or certifies another key. */
  | 'untrusted_certificate'
  | 'network';

export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError';
  constructor(readonly reason: EnrollmentErrorReason, message: string, options?: ErrorOptions & { status?: number }) {
    super(`${reason}: ${message}`, options);
    this.status = options?.status;
  }
  readonly status: number | undefined;
}

const TOKENS: ReadonlySet<string> = new Set<EnrollmentRefusal>(['failed_authentication', 'username_not_available', 'Node-IDs_not_available', 'bad_CSR']);

export interface EnrollOptions {
  /** https URL of the enrollment server (the configuration's enrollment-server, §11.1). */
  server: string;
  /** DER root certificates (the configuration's root-cert list): the anchors of the server's and the issued certificate. */
  roots: readonly Uint8Array[];
  userName: string;
  password: string;
  /**
   * Overlay instance name: the issued certificate's URIs must name it, and the server's
   * certificate may match it instead of the URL's host (§11.3). Default: the overlay of the
   * issued certificate, and only the URL's host for the server.
   */
  overlay?: string;
  /** Node-IDs to ask for (the "nodeids" parameter, sent when above 1); default 1. */
  nodeIds?: number;
  /** The key to certify; default a new ECDSA P-256 key. */
  privateKey?: KeyObject;
  /** For the validity check of the answer; default the system clock. */
  clock?: Clock;
  /** Whole-exchange timeout, ms; default ENROLLMENT_CLIENT_TIMEOUT_MS (30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Enrollment {
  privateKey: KeyObject;
  /** DER certificate as issued. */
  certificate: Uint8Array;
  info: CertificateInfo;
  nodeIds: NodeId[];
  userName: string | undefined;
  overlay: string;
}

/** One enrollment exchange (§11.3); the answer is checked, nothing is saved. */
export async function requestCertificate(opts: EnrollOptions): Promise<Enrollment> {
  if (opts.roots.length === 0) throw new RangeError('enrollment needs the root certificate');
  const url = new URL(opts.server);
  if (url.protocol !== 'https:') throw new RangeError(`§11.3: enrollment "MUST be performed over HTTPS", not ${url.protocol}`);
  const privateKey = opts.privateKey ?? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const count = opts.nodeIds ?? 1;
  const form = encodeMultipart([
    { name: 'username', data: Buffer.from(opts.userName, 'utf8') },
    { name: 'password', data: Buffer.from(opts.password, 'utf8') },
    ...(count !== 1 ? [{ name: 'nodeids', data: Buffer.from(String(count)) }] : []),
    { name: 'csr', contentType: 'application/pkcs10', filename: 'csr.der', data: buildCsr(privateKey) },
  ]);
  const answer = await post(url, form, opts);
  if (answer.status === 403) {
    const token = Buffer.from(answer.body).toString('utf8').trim();
    if (TOKENS.has(token)) throw new EnrollmentError(token as EnrollmentRefusal, `the enrollment server refused: ${token}`, { status: 403 });
    throw new EnrollmentError('unknown', `the enrollment server refused: ${JSON.stringify(token.slice(0, 80))}`, { status: 403 });
  }
  if (answer.status !== 200 || answer.contentType !== 'application/pkix-cert') {
    throw new EnrollmentError('http', `HTTP ${answer.status} ${answer.contentType ?? ''}: ${Buffer.from(answer.body).toString('utf8').slice(0, 120)}`, { status: answer.status });
  }
  return checkIssued(answer.body, privateKey, opts);
}

/** §11.3: "The client MUST check that the returned certificate chains back to one of the certificates received in the root-cert list". */
function checkIssued(certificate: Uint8Array, privateKey: KeyObject, opts: EnrollOptions): Enrollment {
  try {
    const info = parseCertificate(certificate);
    const overlay = opts.overlay ?? info.reloadUris[0]?.overlay ?? '';
    new CaTrust({ roots: opts.roots, overlay }).check(info, (opts.clock ?? systemClock).wallTime());
    const ours = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    if (!Buffer.from(info.spki).equals(ours)) throw new CertificateError('key_mismatch', 'the certificate is for another key');
    return { privateKey, certificate: info.der, info, nodeIds: [...info.nodeIds], userName: info.userName, overlay };
  } catch (e) {
    if (e instanceof CertificateError) throw new EnrollmentError('untrusted_certificate', e.message, { cause: e });
    throw e;
  }
}

interface Answer {
  status: number;
  contentType: string | undefined;
  body: Uint8Array;
}

function post(url: URL, form: { body: Uint8Array; contentType: string }, opts: EnrollOptions): Promise<Answer> {
  const timeoutMs = opts.timeoutMs ?? ENROLLMENT_CLIENT_TIMEOUT_MS;
  return new Promise<Answer>((resolve, reject) => {
    const fail = (e: unknown): void => {
      clearTimeout(timer);
      reject(e instanceof EnrollmentError ? e : new EnrollmentError('network', e instanceof Error ? e.message : String(e), { cause: e }));
    };
    const req = httpsRequest(url, {
      method: 'POST',
      agent: false,
      ca: opts.roots.map(certificatePem),
      checkServerIdentity: (host: string, cert: PeerCertificate) => {
        // RFC 2818 against the URL's host, or §11.3's "MUST match the overlay name".
        const byHost = checkServerIdentity(host, cert);
        if (!byHost || (opts.overlay !== undefined && !checkServerIdentity(opts.overlay, cert))) return undefined;
        return byHost;
      },
      headers: { 'Content-Type': form.contentType, 'Content-Length': form.body.length, Accept: 'application/pkix-cert' },
      signal: opts.signal,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > ENROLLMENT_MAX_ANSWER_BYTES) {
          req.destroy(new EnrollmentError('http', `answer over ${ENROLLMENT_MAX_ANSWER_BYTES} bytes`, { status: res.statusCode }));
          return;
        }
        chunks.push(chunk);
      });
      res.once('end', () => {
        clearTimeout(timer);
        const type = res.headers['content-type']?.split(';')[0].trim().toLowerCase();
        resolve({ status: res.statusCode ?? 0, contentType: type, body: new Uint8Array(Buffer.concat(chunks)) });
      });
      res.once('error', fail);
    });
    const timer = setTimeout(() => req.destroy(new EnrollmentError('network', `no answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', fail);
    req.end(form.body);
  });
}

export interface EnrolledFiles {
  enrollment: Enrollment;
  /** The PEM copies of earlier versions: identity.key (0600), identity.crt, root-cert.pem. */
  keyPath: string;
  certificatePath: string;
  rootPath: string;
  /** The flash record that holds all three (identity.cbor, 0600). */
  recordPath: string;
}

/**
 * Enrolls the device whose data directory is `dataDir`. A key already there (a self-signed
 * identity, or an earlier enrollment) is the one certified, so that only the certificate
 * changes; otherwise a new ECDSA P-256 key is made. Key, certificate and roots are written
 * in one atomic record, so a power cut never leaves a key with another key's certificate.
 * A damaged identity record is moved aside first: enrolling again is its remedy.
 */
export async function enrollDevice(dataDir: string, opts: Omit<EnrollOptions, 'privateKey'>, components: { log?: Logger } = {}): Promise<EnrolledFiles> {
  const log = components.log ?? createLogger('enroll:client');
  const store = await FlashStore.open({ clock: opts.clock, log }, { dir: dataDir });
  const identity = new FlashIdentity({ store, log, clock: opts.clock });
  const existing = await identity.keyForEnrollment();
  const privateKey = existing ?? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const enrollment = await requestCertificate({ ...opts, privateKey });
  await identity.saveEnrollment({
    key: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })), certificate: enrollment.certificate, roots: [...opts.roots],
  }, existing === undefined);
  return { enrollment, keyPath: identity.keyPath, certificatePath: identity.certificatePath, rootPath: identity.rootPath, recordPath: identity.recordPath };
}
