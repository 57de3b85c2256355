// Defaults of node identity and message security, with the section they come from.

/** GenericCertificate type of an X.509 certificate, from RFC 6091 (RFC 6940 §6.3.4). */
export const X509_CERTIFICATE_TYPE = 0;

/** Node-ID digest of self-signed certificates when the configuration names none (§11.3.1). */
export const DEFAULT_NODE_ID_DIGEST = 'sha256';

/**
 * Lifetime of a self-made certificate. RELOAD has no revocation, so lifetimes trade the
 * compromise window against renewal (§13.3); a door unit renews itself from the same key.
 */
export const SELF_SIGNED_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** notBefore is set this far in the past so peers with slightly slow clocks accept it. */
export const CERTIFICATE_BACKDATE_MS = 60 * 60 * 1000;

/** Random serial length; RFC 5280 §4.1.2.2 allows at most 20 octets. */
export const CERTIFICATE_SERIAL_BYTES = 16;

/** Smallest RSA modulus accepted from peers (RFC 6940 §6.3.4 makes RSA mandatory). */
export const RSA_MIN_MODULUS_BITS = 2048;

/** Certificates remembered from verified messages and data (§6.3.4 lets senders omit them). */
export const DEFAULT_CERTIFICATE_CACHE_SIZE = 256;

/**
 * How long a passed trust check is reused before the whole check runs again; the
 * certificate's own validity window is still checked on every use (§7.1).
 */
export const TRUST_RECHECK_INTERVAL_MS = 10 * 60 * 1000;

/** File names of the persisted identity inside the data directory. */
export const IDENTITY_KEY_FILE = 'identity.key';
export const IDENTITY_CERT_FILE = 'identity.crt';

/** The private key file is readable by its owner only. */
export const IDENTITY_KEY_FILE_MODE = 0o600;
export const IDENTITY_CERT_FILE_MODE = 0o644;

/**
 * A wall clock before this has not been set (a board without a real-time clock, before time
 * sync): certificates dated from it would be expired once the clock is right.
 */
export const MIN_PLAUSIBLE_WALL_TIME_MS = Date.UTC(2020, 0, 1);
