// Defaults of the enrollment server and client (RFC 6940 §11.3), with where they come from.

/** RFC 6940 §14.2 registers TCP 6084 as "reload-config"; the enrollment server shares it by default. */
export const ENROLLMENT_PORT = 6084;

/** Path the enrollment server answers on; the configuration's enrollment-server URL names it (§11.1). */
export const ENROLLMENT_PATH = '/enroll';

/** Largest request body read; checked against Content-Length before any byte is buffered. */
export const ENROLLMENT_MAX_BODY_BYTES = 64 * 1024;

/** Most form fields in one request (username, password, nodeids, csr and a little slack). */
export const ENROLLMENT_MAX_FORM_PARTS = 8;

/** Most header bytes of one form part. */
export const ENROLLMENT_MAX_PART_HEADER_BYTES = 1024;

/** Longest user name or password accepted (§11.3 compares them as binary UTF-8). */
export const ENROLLMENT_MAX_CREDENTIAL_BYTES = 256;

/** Most Node-IDs one user may hold (the "nodeids" form parameter, §11.3). */
export const ENROLLMENT_MAX_NODE_IDS = 8;

/** Requests handled at once; more wait in the kernel's backlog. */
export const ENROLLMENT_MAX_CONNECTIONS = 32;

/** Time for a whole request to arrive, ms. */
export const ENROLLMENT_REQUEST_TIMEOUT_MS = 30_000;

/** Lifetime of an issued node certificate: RELOAD has no revocation (§13.3), so a year. */
export const ISSUED_CERTIFICATE_VALIDITY_MS = 365 * 24 * 60 * 60 * 1000;

/** Lifetime of the enrollment CA's root certificate. */
export const CA_VALIDITY_MS = 20 * 365 * 24 * 60 * 60 * 1000;

/** Lifetime of the HTTPS server certificate, made afresh at each start. */
export const SERVER_CERTIFICATE_VALIDITY_MS = 30 * 24 * 60 * 60 * 1000;

/** notBefore is set this far back so that devices with slightly slow clocks accept. */
export const ISSUE_BACKDATE_MS = 60 * 60 * 1000;

/** scrypt cost of stored password hashes (RFC 7914): N = 2^14, r = 8, p = 1 uses 16 MiB. */
export const PASSWORD_SCRYPT = { N: 16384, r: 8, p: 1, keyBytes: 32, saltBytes: 16 } as const;

/** Largest users file read. */
export const USERS_FILE_MAX_BYTES = 1024 * 1024;

/** Largest certificate accepted in an enrollment answer. */
export const ENROLLMENT_MAX_ANSWER_BYTES = 16 * 1024;

/** Time the client waits for the whole enrollment answer, ms. */
export const ENROLLMENT_CLIENT_TIMEOUT_MS = 30_000;

/** Files in the enrollment server's data directory. */
export const CA_KEY_FILE = 'ca.key';
export const CA_CERT_FILE = 'ca.crt';
export const USERS_FILE = 'users.json';
export const NODE_IDS_FILE = 'node-ids.json';

/** The root certificate `p2psip enroll` keeps next to the identity, for a later CaTrust. */
export const ROOT_CERT_FILE = 'root-cert.pem';

/** Private keys and the password hashes: owner only. */
export const SECRET_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;
