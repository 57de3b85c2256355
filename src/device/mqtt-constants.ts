// MQTT bridge defaults (home automation link), units in the names.

/** Base topic is `<prefix>/<deviceId>` unless configured. */
export const MQTT_BASE_TOPIC_PREFIX = 'p2psip';
/** Home Assistant's default discovery prefix. */
export const MQTT_DISCOVERY_PREFIX = 'homeassistant';

/** First wait after losing the broker; doubled per failed attempt. */
export const MQTT_RECONNECT_MIN_MS = 1_000;
/** Longest wait between attempts. */
export const MQTT_RECONNECT_MAX_MS = 60_000;
/**
 * A connection that lasted this long resets the backoff. One that drops sooner keeps it
 * growing, so a broker that accepts and then kicks us (e.g. a duplicate client id) is not
 * hammered at the minimum interval.
 */
export const MQTT_STABLE_CONNECTION_MS = 10_000;
/** TCP connect plus CONNACK must finish within this. */
export const MQTT_CONNECT_TIMEOUT_MS = 10_000;
/** MQTT keep alive; a dead broker behind a silent network is noticed within 1.5x this. */
export const MQTT_KEEPALIVE_S = 30;

/** Non-retained events (rings, door events, command results) kept while the broker is away. */
export const MQTT_MAX_QUEUED_EVENTS = 16;
/**
 * A queued event older than this is dropped instead of sent: a ring delivered minutes late
 * would trigger "someone is at the door" automations for nobody.
 */
export const MQTT_EVENT_MAX_AGE_MS = 30_000;
/** Distinct retained state topics remembered for republishing. */
export const MQTT_MAX_RETAINED_TOPICS = 32;
/** Largest payload this bridge publishes; larger state is refused and counted. */
export const MQTT_MAX_PAYLOAD_BYTES = 16_384;

/** Longest command accepted on the command topic: the control socket's line limit. */
export const MQTT_MAX_COMMAND_BYTES = 4_096;
/**
 * Largest packet the broker may send us (MQTT 5 Maximum Packet Size, §3.1.2.11.8): bigger
 * publications on the command topic are discarded by the broker, not buffered here.
 */
export const MQTT_MAX_INCOMING_PACKET_BYTES = 8_192;
/** Commands from MQTT running at once; more are answered "busy". */
export const MQTT_MAX_COMMANDS_IN_FLIGHT = 4;

/** close() waits this long for the broker to take `offline` and DISCONNECT. */
export const MQTT_CLOSE_TIMEOUT_MS = 2_000;
/** Home Assistant's birth message triggers a republish at most this often. */
export const MQTT_BIRTH_REPUBLISH_MIN_INTERVAL_MS = 5_000;
