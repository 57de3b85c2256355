// CHORD-RELOAD defaults (RFC 6940 §10). Where the RFC's values suit a large, slowly
// changing overlay, a building's overlay of tens of devices wants faster repair: a door call
// cannot wait ten minutes for a dead neighbour to be replaced.

/** Predecessors and successors kept, each; the RFC asks for at least 3 (§10.1). */
export const CHORD_NEIGHBOURS = 3;
/** Finger table entries (§10.1: grow to 16). */
export const CHORD_FINGERS = 16;
/**
 * Periodic Update to neighbours (chord-update-interval, §10.7.4.1; RFC example 600 s). Changes
 * travel at once by reactive recovery and a dead neighbour is found by its link (a closed
 * socket, or ACKs missing after a keepalive Ping), so this only catches what both missed.
 * Every Update costs signatures and wakes a neighbour: at 1 s an idle peer spent 3.3 % of a
 * core here, at 5 s 1.4 % (30-peer overlay on loopback), which matters on a Pi Zero.
 */
export const CHORD_UPDATE_INTERVAL_MS = 5_000;
/**
 * Finger table refresh (chord-ping-interval, §10.7.4.2; RFC default 3600 s). Each refresh is
 * an Attach routed to every finger target; a finger only shortens paths, and greedy routing
 * also uses every linked peer that routes, so a stale finger costs little.
 */
export const CHORD_FINGER_INTERVAL_MS = 30_000;
/** Reactive recovery: Update at once when the neighbour set changes (chord-reactive, §10.7.1). */
export const CHORD_REACTIVE = true;
/** How long a joining node waits for the admitting peer's routing table (§10.5 step 2). */
export const CHORD_JOIN_UPDATE_WAIT_MS = 2_000;
/** Pause between attempts to (re)join when no bootstrap answers. */
export const CHORD_REJOIN_BACKOFF_MS = 1_000;
/** Peers remembered as bootstraps for a rejoin (§11.4: "cache ... about 10"). */
export const CHORD_BOOTSTRAP_CACHE = 10;
