// Device defaults, units in the names.

/**
 * Memory budget a peer needs: an idle peer measures about 50 MB RSS in a 50-peer overlay and
 * a peer holding 10,000 records about 75 MB; below this budget the device is a client.
 */
export const RESOURCE_PEER_MEMORY_BYTES = 64 * 1024 * 1024;
/** Free memory the board keeps for the rest of the system before the device stops being a peer. */
export const RESOURCE_MIN_FREE_MEMORY_BYTES = 24 * 1024 * 1024;
/** One-minute load per core above which the board stops routing for others: only a board that
 * is hopelessly behind, since a busy board still routes better than none. */
export const RESOURCE_MAX_LOAD_PER_CORE = 8;
/** Free space the flash keeps (records, logs, updates). */
export const RESOURCE_MIN_FREE_DISK_BYTES = 32 * 1024 * 1024;
/** How often resources are sampled. */
export const RESOURCE_SAMPLE_INTERVAL_MS = 10_000;
/** Bad samples in a row before a peer becomes a client. */
export const RESOURCE_FALL_SAMPLES = 3;
/** Good samples in a row before a client becomes a peer again. */
export const RESOURCE_RISE_SAMPLES = 6;
/** A client comes back only with this much to spare on every threshold. */
export const RESOURCE_HYSTERESIS = 0.2;
