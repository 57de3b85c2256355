// Defaults of the device's flash (DESIGN.md "The device's flash"), with where they come from.

/** First item of every record file's envelope: which program wrote it. */
export const FLASH_MAGIC = 'p2psip-flash';

/** Envelope layout version; a reader refuses others rather than guess. */
export const FLASH_FORMAT_VERSION = 1;

/**
 * Largest record payload written or read. The biggest record is the overlay configuration
 * document (§11.1: kinds, root certificates, signatures), a few KiB in practice; a file far
 * over this is damage, and is refused before it is read into memory.
 */
export const FLASH_MAX_RECORD_BYTES = 256 * 1024;

/** Record names: lower-case words with dashes, short enough for any file system. */
export const FLASH_RECORD_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** Records holding a private key: owner only. */
export const FLASH_SECRET_FILE_MODE = 0o600;
export const FLASH_PUBLIC_FILE_MODE = 0o644;
/** The data directory itself: owner only, since it holds the private key. */
export const FLASH_DIR_MODE = 0o700;

/** Record names of the device's state. */
export const IDENTITY_RECORD = 'identity';
export const CONFIGURATION_RECORD = 'overlay-configuration';
export const REMEMBERED_PEERS_RECORD = 'bootstrap-peers';
export const SETTINGS_RECORD = 'settings';

/** RFC 6940 §11.4: "The suggested number of peers to cache is 10." */
export const REMEMBERED_PEERS_MAX = 10;

/**
 * The remembered peers are written at most this often: the neighbour set churns, an SD card
 * wears out. A change inside the interval is written at its end (or at close).
 */
export const REMEMBERED_PEERS_WRITE_INTERVAL_MS = 10 * 60 * 1000;

/** How often a running device looks at whom it is linked to, to remember them. */
export const REMEMBERED_PEERS_SAMPLE_INTERVAL_MS = 60 * 1000;

/** Largest device settings object, as CBOR. */
export const DEVICE_SETTINGS_MAX_BYTES = 16 * 1024;

/** Where earlier versions kept the overlay configuration in force; migrated once. */
export const LEGACY_CONFIGURATION_FILE = 'overlay-config.xml';
