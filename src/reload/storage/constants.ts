// Storage defaults (RFC 6940 §7, §10.4). Limits per Kind come from the overlay configuration
// (§11.1 max-count, max-size); these bound what a peer holds in all.

/** Bytes of stored data a peer accepts in all, replicas included; over it Stores are refused. */
export const STORAGE_BUDGET_BYTES = 16 * 1024 * 1024;
/** Resources a peer holds at most, whatever their size. */
export const STORAGE_MAX_RESOURCES = 50_000;
/** Copies besides the responsible peer's: its two successors (§10.4). */
export const REPLICAS = 2;
/** How often expired values are swept out, ms (they are also skipped when read). */
export const EXPIRY_SWEEP_INTERVAL_MS = 10_000;
/** Quiet time after a neighbour change before replicas are pushed, ms (§10.7.1 hold-down, shortened). */
export const REPLICATION_SETTLE_MS = 300;
/** Periodic check that every replica is in place, ms. */
export const REPLICATION_INTERVAL_MS = 5_000;
/** Replica Stores in flight at once, so a large handover does not flood the links. */
export const REPLICATION_CONCURRENCY = 8;
/** Values in one replica Store; a resource with more goes in several. */
export const REPLICATION_VALUES_PER_STORE = 64;
/** Highest i tried for NODE-MULTIPLE when the Kind gives no max-node-multiple (§7.3.4). */
export const DEFAULT_MAX_NODE_MULTIPLE = 20;
