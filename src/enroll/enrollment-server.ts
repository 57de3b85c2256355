// The enrollment server (RFC 6940 §11.3): HTTPS POST of multipart/form-data with username,
// password, optional nodeids and a PKCS#10 csr; answers 200 with a bare DER certificate
// (application/pkix-cert) or 403 with one text/plain token. Bodies are size-checked before
// they are buffered; nothing a client sends can make the server throw.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { type NodeId, toHex } from '../codec/index.ts';
import { type CertificateRequest, CertificateRequestError, csrDer, parseCsr } from '../reload/security/index.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import { type CertificateAuthority, issueCertificate } from './certificate-authority.ts';
import {
  ENROLLMENT_MAX_BODY_BYTES, ENROLLMENT_MAX_CONNECTIONS, ENROLLMENT_MAX_CREDENTIAL_BYTES, ENROLLMENT_PATH, ENROLLMENT_REQUEST_TIMEOUT_MS,
  ISSUED_CERTIFICATE_VALIDITY_MS,
} from './constants.ts';
import { type FormPart, MultipartError, boundaryOf, parseHeaderParameters, parseMultipart } from './multipart.ts';
import { isLegalUserName } from './users.ts';

/** The 403 tokens of §11.3. */
export type EnrollmentRefusal = 'failed_authentication' | 'username_not_available' | 'Node-IDs_not_available' | 'bad_CSR';

/** Checks an account's password (§11.3: "MUST authenticate the request"). */
export interface Authenticator {
  authenticate(userName: string, password: string): Promise<boolean>;
}

/** Remembers the Node-IDs of each user (§11.3); see NodeIdRegistry. */
export interface NodeIdAssigner {
  /** Largest count `assign` accepts. */
  readonly limit: number;
  assign(userName: string, count: number): Promise<NodeId[]>;
}

export interface EnrollmentServerComponents {
  ca: CertificateAuthority;
  accounts: Authenticator;
  nodeIds: NodeIdAssigner;
  /** default the system clock. */
  clock?: Clock;
  /** default silent. */
  log?: Logger;
}

export interface EnrollmentServerInit {
  /** Overlay instance name written into the reload:// URIs (§11.3, §14.15). */
  overlay: string;
  /** HTTPS key and PEM certificate chain; §11.3 wants the certificate to match the overlay name. */
  tls: { key: KeyObject | string; cert: string };
  /** Request path; default ENROLLMENT_PATH ("/enroll"). */
  path?: string;
  /** Largest body; default ENROLLMENT_MAX_BODY_BYTES (64 KiB). Larger gets 413. */
  maxBodyBytes?: number;
  /** Lifetime of issued certificates; default ISSUED_CERTIFICATE_VALIDITY_MS (1 year). */
  validityMs?: number;
  /** Connections at once; default ENROLLMENT_MAX_CONNECTIONS (32). */
  maxConnections?: number;
  /** Time for a whole request, ms; default ENROLLMENT_REQUEST_TIMEOUT_MS (30 s). */
  requestTimeoutMs?: number;
}

export interface EnrollmentCounters {
  issued: number;
  refused: Record<EnrollmentRefusal, number>;
  /** Requests refused before any form was read: method, path, size, type. */
  rejected: number;
}

class Refusal extends Error {
  constructor(readonly token: EnrollmentRefusal, detail: string) {
    super(detail);
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export class EnrollmentServer {
  readonly counters: EnrollmentCounters = {
    issued: 0, rejected: 0,
    refused: { failed_authentication: 0, username_not_available: 0, 'Node-IDs_not_available': 0, bad_CSR: 0 },
  };
  private readonly components: Required<EnrollmentServerComponents>;
  private readonly path: string;
  private readonly maxBodyBytes: number;
  private readonly overlay: string;
  private readonly validityMs: number;
  private readonly server: Server;
  private address: AddressInfo | undefined;
  private closed: Promise<void> | undefined;

  constructor(components: EnrollmentServerComponents, init: EnrollmentServerInit) {
    this.components = { clock: systemClock, log: silentLogger, ...components };
    this.overlay = init.overlay;
    this.path = init.path ?? ENROLLMENT_PATH;
    this.maxBodyBytes = init.maxBodyBytes ?? ENROLLMENT_MAX_BODY_BYTES;
    this.validityMs = init.validityMs ?? ISSUED_CERTIFICATE_VALIDITY_MS;
    const key = typeof init.tls.key === 'string' ? init.tls.key : init.tls.key.export({ type: 'pkcs8', format: 'pem' });
    this.server = createServer({ key, cert: init.tls.cert, minVersion: 'TLSv1.2' }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.components.log.error('enrollment request failed', { error: e });
        if (!res.headersSent) this.reply(res, 500, 'internal error');
        else res.destroy();
      });
    });
    this.server.maxConnections = init.maxConnections ?? ENROLLMENT_MAX_CONNECTIONS;
    this.server.requestTimeout = init.requestTimeoutMs ?? ENROLLMENT_REQUEST_TIMEOUT_MS;
    this.server.headersTimeout = Math.min(this.server.requestTimeout, 10_000);
  }

  /** Starts accepting; port 0 picks one. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    if (this.closed) throw new Error('enrollment server closed');
    if (this.address) return this.address;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = this.server.address() as AddressInfo;
    return this.address;
  }

  /** The https URL of the listening server, with `host` (default the bound address) in it. */
  url(host?: string): string {
    if (!this.address) throw new Error('enrollment server not listening');
    const h = host ?? this.address.address;
    return `https://${h.includes(':') ? `[${h}]` : h}:${this.address.port}${this.path}`;
  }

  /** Stops accepting and ends open connections; idempotent. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (!this.address) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== this.path) return this.reject(res, 404, 'not found');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return this.reject(res, 405, 'POST only');
    }
    // §11.3: "The Accept header MUST contain the type application/pkix-cert"; without one
    // any type is acceptable (RFC 9110 §12.5.1).
    if (req.headers.accept !== undefined && !acceptsPkixCert(req.headers.accept)) return this.reject(res, 406, 'application/pkix-cert only');
    let boundary: string;
    try {
      boundary = boundaryOf(req.headers['content-type']);
    } catch (e) {
      return this.reject(res, 415, (e as Error).message);
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && !(Number(declared) <= this.maxBodyBytes)) return this.reject(res, 413, `body over ${this.maxBodyBytes} bytes`);
    const body = await this.readBody(req);
    if (!body) return this.reject(res, 413, `body over ${this.maxBodyBytes} bytes`);
    let form: Map<string, FormPart>;
    try {
      form = parseMultipart(body, boundary);
    } catch (e) {
      if (!(e instanceof MultipartError)) throw e;
      return this.reject(res, 400, e.message);
    }
    try {
      const certificate = await this.enroll(form);
      this.counters.issued++;
      res.writeHead(200, { 'Content-Type': 'application/pkix-cert', 'Content-Length': certificate.length, 'Cache-Control': 'no-store' });
      res.end(certificate);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      this.counters.refused[e.token]++;
      this.components.log.info('enrollment refused', { reason: e.token, detail: e.message, remote: req.socket.remoteAddress });
      this.reply(res, 403, e.token);
    }
  }

  /** The §11.3 steps: authenticate, Node-ID count, CSR, user name, then issue. */
  private async enroll(form: Map<string, FormPart>): Promise<Uint8Array> {
    const userName = text(form.get('username'));
    const password = text(form.get('password'));
    if (userName === undefined || password === undefined) throw new Refusal('failed_authentication', 'username or password missing or not UTF-8');
    if (!(await this.components.accounts.authenticate(userName, password))) throw new Refusal('failed_authentication', `wrong password for ${JSON.stringify(userName.slice(0, 80))}`);

    const nodeids = form.has('nodeids') ? text(form.get('nodeids')) : '1';
    const count = nodeids !== undefined && /^\s*\d{1,3}\s*$/.test(nodeids) ? Number(nodeids) : NaN;
    if (!(count >= 1 && count <= this.components.nodeIds.limit)) throw new Refusal('Node-IDs_not_available', `nodeids ${JSON.stringify(nodeids?.slice(0, 20))}`);

    const csrPart = form.get('csr');
    if (!csrPart) throw new Refusal('bad_CSR', 'no csr field');
    // RFC 7578 §4.4 would make an untyped part text/plain; a bare CSR is read either way.
    const type = csrPart.contentType === undefined ? 'application/pkcs10' : safeMediaType(csrPart.contentType);
    if (type !== 'application/pkcs10' && type !== 'application/octet-stream') throw new Refusal('bad_CSR', `csr of type ${String(type).slice(0, 60)}`);
    let request: CertificateRequest;
    try {
      request = parseCsr(csrDer(csrPart.data));
    } catch (e) {
      if (e instanceof CertificateRequestError) throw new Refusal('bad_CSR', e.message);
      throw e;
    }
    // [AMBIG] §11.3 speaks of "the requested user name in the CSR" without saying where it
    // is; here the account name is the user name, so any subject in the CSR is ignored.
    if (!isLegalUserName(userName)) throw new Refusal('username_not_available', 'account name not usable as rfc822Name');

    const nodeIds = await this.components.nodeIds.assign(userName, count);
    const certificate = issueCertificate(this.components.ca, request, {
      userName, nodeIds, overlay: this.overlay, validityMs: this.validityMs, clock: this.components.clock,
    });
    this.components.log.info('certificate issued', { user: userName, nodeIds: nodeIds.map(toHex) });
    return certificate;
  }

  /** The body, or undefined once it grows past the limit (then the connection is closed). */
  private readBody(req: IncomingMessage): Promise<Uint8Array | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          req.removeAllListeners('data');
          req.pause();
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      req.once('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
      req.once('error', reject);
    });
  }

  private reject(res: ServerResponse, status: number, message: string): void {
    this.counters.rejected++;
    // The unread rest of the body is not waited for: the connection ends with the answer.
    res.setHeader('Connection', 'close');
    this.reply(res, status, message);
  }

  private reply(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(body);
  }
}

/** A form field as UTF-8 text of bounded size; undefined when absent, too long or not UTF-8. */
function text(part: FormPart | undefined): string | undefined {
  if (!part || part.data.length > ENROLLMENT_MAX_CREDENTIAL_BYTES) return undefined;
  try {
    return decoder.decode(part.data);
  } catch {
    return undefined;
  }
}

function safeMediaType(value: string): string | undefined {
  try {
    return parseHeaderParameters(value).value;
  } catch {
    return undefined;
  }
}

function acceptsPkixCert(accept: string): boolean {
  return accept.split(',').some((range) => {
    const type = range.split(';')[0].trim().toLowerCase();
    return type === 'application/pkix-cert' || type === 'application/*' || type === '*/*';
  });
}

