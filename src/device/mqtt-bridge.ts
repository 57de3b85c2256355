// The device's link to home automation over MQTT: Home Assistant discovery, rings and door
// events, call/door/overlay/role state, and a command topic that feeds the same command
// interpreter as the control socket and the serial console.
//
// The broker is a convenience, never a dependency: publishing is synchronous and never
// throws or waits, whatever the broker does. While it is away the bridge keeps the latest
// value of each retained topic and a short queue of events (both bounded, see MqttOutbox),
// reconnects with exponential backoff, and republishes everything after each connect.
import type { IPublishPacket } from 'mqtt';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import {
  MQTT_BASE_TOPIC_PREFIX,
  MQTT_BIRTH_REPUBLISH_MIN_INTERVAL_MS,
  MQTT_CONNECT_TIMEOUT_MS,
  MQTT_DISCOVERY_PREFIX,
  MQTT_EVENT_MAX_AGE_MS,
  MQTT_KEEPALIVE_S,
  MQTT_MAX_PAYLOAD_BYTES,
  MQTT_MAX_QUEUED_EVENTS,
  MQTT_MAX_RETAINED_TOPICS,
  MQTT_RECONNECT_MAX_MS,
  MQTT_RECONNECT_MIN_MS,
  MQTT_STABLE_CONNECTION_MS,
} from './mqtt-constants.ts';
import { type CALL_STATES, type DOOR_EVENT_TYPES, type DiscoveryConfig, type RESOURCE_ROLES, discoveryConfigs } from './mqtt-discovery.ts';
import { type CommandLineInterpreter, MqttCommandTopic, jsonValue } from './mqtt-commands.ts';
import { type MqttConnectionInit, type MqttConnectionStatus, MqttConnection } from './mqtt-connection.ts';
import { MqttOutbox } from './mqtt-outbox.ts';
import { type BridgeTopics, bridgeTopics, isDiscoveryId, isPublishableTopic } from './mqtt-topics.ts';

export type { CommandLineInterpreter } from './mqtt-commands.ts';

export interface MqttBridgeComponents {
  clock: Clock;
  log: Logger;
  interpreter: CommandLineInterpreter;
}

export interface MqttBridgeInit {
  /** Broker URL: `mqtt://host:1883`, `mqtts://host:8883`, `ws://…`. No default. */
  url: string;
  /** This device in topics and Home Assistant ids; `[A-Za-z0-9_-]+`. No default. */
  deviceId: string;
  /** MQTT client id; default `p2psip-<deviceId>`. Must be unique on the broker. */
  clientId?: string;
  /** Broker credentials; default none (anonymous). */
  username?: string;
  password?: string;
  /** PEM CA certificate(s) for an `mqtts://` broker; default the system's. */
  ca?: string;
  /** Root of this device's topics; default `p2psip/<deviceId>`. */
  baseTopic?: string;
  /** Home Assistant discovery prefix; default `homeassistant`. */
  discoveryPrefix?: string;
  /** Device name shown in Home Assistant; default the device id. */
  deviceName?: string;
  /** Device model shown in Home Assistant; default `p2psip intercom`. */
  model?: string;
  /** Manufacturer shown in Home Assistant; default `p2psip`. */
  manufacturer?: string;
  /** Firmware version shown in Home Assistant; default `unknown`. */
  swVersion?: string;
  /** MQTT protocol version; default 5 (3.1.1 = 4, for old brokers). */
  protocolVersion?: 4 | 5;
  /** First reconnect wait; default MQTT_RECONNECT_MIN_MS. */
  reconnectMinMs?: number;
  /** Longest reconnect wait; default MQTT_RECONNECT_MAX_MS. */
  reconnectMaxMs?: number;
  /** Connection lifetime that resets the backoff; default MQTT_STABLE_CONNECTION_MS. */
  stableConnectionMs?: number;
  /** Connect (TCP + CONNACK) timeout; default MQTT_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** MQTT keep alive in seconds; default MQTT_KEEPALIVE_S. */
  keepaliveSec?: number;
  /** Events kept while disconnected; default MQTT_MAX_QUEUED_EVENTS. */
  maxQueuedEvents?: number;
  /** Queued events older than this are dropped; default MQTT_EVENT_MAX_AGE_MS. */
  eventMaxAgeMs?: number;
}

export type CallState = (typeof CALL_STATES)[number];
export type ResourceRoleName = (typeof RESOURCE_ROLES)[number];
export type DoorEventType = (typeof DOOR_EVENT_TYPES)[number];
/** `open`: the strike is energized (a pulse); `unlocked`: held released; `locked`: latched. */
export type DoorState = 'locked' | 'unlocked' | 'open';

export interface RingInfo {
  /** The button's label, e.g. "3B". */
  button: string;
  /** The AOR rung, or the first of `aors`. */
  aor?: string;
  /** Every AOR the press rings. */
  aors?: string[];
}

export interface OverlayHealth {
  joined: boolean;
  role: string;
  peers: number;
  [attribute: string]: unknown;
}

export interface ResourceRole {
  role: ResourceRoleName;
  [attribute: string]: unknown;
}

export interface MqttBridgeStatus extends MqttConnectionStatus {
  /** Events waiting for the broker. */
  queued: number;
  /** Events that never reached the broker (queue full or stale). */
  dropped: number;
  /** Retained topics remembered for republishing. */
  retainedTopics: number;
  /** Publications refused: payload too large, unserializable, or retained topics full. */
  refused: number;
  commands: { run: number; rejected: number; inFlight: number };
}

export class MqttBridge {
  readonly topics: BridgeTopics;
  private readonly discovery: Array<{ topic: string; payload: string }>;
  private readonly birthTopic: string;
  private readonly outbox: MqttOutbox;
  private readonly commands: MqttCommandTopic;
  private readonly connection: MqttConnection;
  private lastFullPublishAt = -Infinity;
  private refused = 0;
  private closed = false;

  constructor(private readonly components: MqttBridgeComponents, init: MqttBridgeInit) {
    // Configuration errors surface at startup, not as a broker that silently ignores us.
    if (!isDiscoveryId(init.deviceId)) throw new Error(`MQTT deviceId "${init.deviceId}" must match [A-Za-z0-9_-]+`);
    const base = init.baseTopic ?? `${MQTT_BASE_TOPIC_PREFIX}/${init.deviceId}`;
    const prefix = init.discoveryPrefix ?? MQTT_DISCOVERY_PREFIX;
    if (!isPublishableTopic(base)) throw new Error(`MQTT base topic "${base}" is not a valid topic name`);
    if (!isPublishableTopic(prefix)) throw new Error(`MQTT discovery prefix "${prefix}" is not a valid topic name`);
    this.topics = bridgeTopics(base);
    this.birthTopic = `${prefix}/status`;
    const device = {
      deviceId: init.deviceId,
      name: init.deviceName ?? init.deviceId,
      model: init.model ?? 'p2psip intercom',
      manufacturer: init.manufacturer ?? 'p2psip',
      swVersion: init.swVersion ?? 'unknown',
    };
    this.discovery = discoveryConfigs(prefix, device, this.topics).map((c: DiscoveryConfig) => ({ topic: c.topic, payload: JSON.stringify(c.payload) }));
    this.outbox = new MqttOutbox(components, {
      maxRetainedTopics: MQTT_MAX_RETAINED_TOPICS,
      maxQueuedEvents: init.maxQueuedEvents ?? MQTT_MAX_QUEUED_EVENTS,
      eventMaxAgeMs: init.eventMaxAgeMs ?? MQTT_EVENT_MAX_AGE_MS,
    });
    // Results are events: sent now, or queued (bounded) if the broker went away meanwhile.
    this.commands = new MqttCommandTopic(components, (payload, correlationData) => this.sendEvent(this.topics.commandResult, payload, correlationData));
    const connection: MqttConnectionInit = {
      url: init.url,
      clientId: init.clientId ?? `p2psip-${init.deviceId}`,
      protocolVersion: init.protocolVersion ?? 5,
      will: { topic: this.topics.availability, payload: 'offline' },
      reconnectMinMs: init.reconnectMinMs ?? MQTT_RECONNECT_MIN_MS,
      reconnectMaxMs: init.reconnectMaxMs ?? MQTT_RECONNECT_MAX_MS,
      stableConnectionMs: init.stableConnectionMs ?? MQTT_STABLE_CONNECTION_MS,
      connectTimeoutMs: init.connectTimeoutMs ?? MQTT_CONNECT_TIMEOUT_MS,
      keepaliveSec: init.keepaliveSec ?? MQTT_KEEPALIVE_S,
    };
    if (init.username !== undefined) connection.username = init.username;
    if (init.password !== undefined) connection.password = init.password;
    if (init.ca !== undefined) connection.ca = init.ca;
    this.connection = new MqttConnection(components, connection, {
      connected: () => this.connected(),
      message: (topic, payload, packet) => this.message(topic, payload, packet),
    });
  }

  /**
   * Starts connecting; resolves once the first attempt is under way, not when the broker
   * answers, so an absent broker never holds up the device. Idempotent.
   */
  start(): Promise<void> {
    return this.connection.start();
  }

  // ---- what the app publishes -------------------------------------------------------------

  /** A ring: an `event` for Home Assistant, never retained. */
  publishRing(info: RingInfo): void {
    const aors = info.aors ?? (info.aor !== undefined ? [info.aor] : []);
    this.publishEvent(this.topics.ring, {
      event_type: 'ring',
      button: info.button,
      aor: info.aor ?? aors[0] ?? null,
      aors,
      time: new Date(this.components.clock.wallTime()).toISOString(),
    });
  }

  /** Call state, retained: `{"state":…, …attributes}` (remote, call id, button). */
  publishCallState(state: CallState, attributes: Record<string, unknown> = {}): void {
    this.publishRetained(this.topics.call, { ...attributes, state });
  }

  /** Door strike state, retained: `LOCKED`, `UNLOCKED` or `OPEN`. */
  publishDoor(state: DoorState): void {
    this.publishRetainedText(this.topics.door, state.toUpperCase());
  }

  /** A door decision (opened, refused) with who asked: an event, never retained. */
  publishDoorEvent(type: DoorEventType, attributes: Record<string, unknown> = {}): void {
    this.publishEvent(this.topics.doorEvent, {
      ...attributes,
      event_type: type,
      time: new Date(this.components.clock.wallTime()).toISOString(),
    });
  }

  /** Overlay health, retained. */
  publishHealth(health: OverlayHealth): void {
    this.publishRetained(this.topics.overlay, health);
  }

  /** The resource decision (peer or client, and why), retained. */
  publishRole(role: ResourceRole): void {
    this.publishRetained(this.topics.role, role);
  }

  status(): MqttBridgeStatus {
    return {
      ...this.connection.status(),
      queued: this.outbox.queued,
      dropped: this.outbox.dropped,
      retainedTopics: this.outbox.retained().length,
      refused: this.refused + this.outbox.counters.retainedRefused,
      commands: { ...this.commands.counters, inFlight: this.commands.inFlight },
    };
  }

  /** Publishes `offline` and disconnects cleanly (so the broker drops the will). Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    return this.connection.close({ topic: this.topics.availability, payload: 'offline' });
  }

  // ---- after each connect -----------------------------------------------------------------

  private connected(): void {
    // Retain handling 2 (MQTT 5 §3.8.3.1): a command left retained on the topic must not
    // open the door again at every reconnect. 3.1.1 brokers ignore it; the command topic
    // checks the RETAIN flag too. QoS 0: at most once, so one press never opens twice.
    this.connection.subscribe({ [this.topics.command]: { qos: 0, rh: 2 }, [this.birthTopic]: { qos: 0 } });
    this.republish();
    for (const e of this.outbox.drain()) this.connection.send(e.topic, e.payload, { retain: false, correlationData: e.correlationData });
  }

  /** Availability, discovery and every retained value: a restarted broker may have lost them. */
  private republish(): void {
    this.lastFullPublishAt = this.components.clock.now();
    this.connection.send(this.topics.availability, 'online', { retain: true });
    for (const d of this.discovery) this.connection.send(d.topic, d.payload, { retain: true });
    for (const [topic, payload] of this.outbox.retained()) this.connection.send(topic, payload, { retain: true });
  }

  // ---- publishing -------------------------------------------------------------------------

  private publishRetained(topic: string, value: unknown): void {
    const payload = this.serialize(topic, value);
    if (payload !== undefined) this.publishRetainedText(topic, payload);
  }

  private publishRetainedText(topic: string, payload: string): void {
    if (this.closed || !this.fits(topic, payload)) return;
    const r = this.outbox.remember(topic, payload);
    if (r === 'refused') this.components.log.warn('too many retained topics; value not kept', { topic });
    if (r === 'changed') this.connection.send(topic, payload, { retain: true });
  }

  private publishEvent(topic: string, value: unknown): void {
    const payload = this.serialize(topic, value);
    if (payload !== undefined && this.fits(topic, payload)) this.sendEvent(topic, payload);
  }

  /** Sends now, or queues (bounded, counted) for the next connection. */
  private sendEvent(topic: string, payload: string, correlationData?: Buffer): void {
    if (this.closed) return;
    if (!this.connection.send(topic, payload, { retain: false, correlationData })) this.outbox.queue(topic, payload, correlationData);
  }

  private serialize(topic: string, value: unknown): string | undefined {
    try {
      return JSON.stringify(value, jsonValue);
    } catch (e) {
      this.refused++;
      this.components.log.warn('value not serializable; not published', { topic, error: (e as Error).message });
      return undefined;
    }
  }

  private fits(topic: string, payload: string): boolean {
    if (Buffer.byteLength(payload) <= MQTT_MAX_PAYLOAD_BYTES) return true;
    this.refused++;
    this.components.log.warn('payload too large; not published', { topic, bytes: Buffer.byteLength(payload) });
    return false;
  }

  // ---- incoming ---------------------------------------------------------------------------

  private message(topic: string, payload: Buffer, packet: IPublishPacket): void {
    // Called from inside the client's packet handling: nothing may escape into it.
    try {
      if (topic === this.topics.command) this.commands.receive(payload, packet);
      else if (topic === this.birthTopic) this.homeAssistantBirth(payload);
    } catch (e) {
      this.components.log.error('mqtt message handling failed', { topic, error: (e as Error).message });
    }
  }

  /** Home Assistant restarted (its birth message): it may have lost what it knew. */
  private homeAssistantBirth(payload: Buffer): void {
    if (payload.toString('latin1') !== 'online') return;
    if (this.components.clock.now() - this.lastFullPublishAt < MQTT_BIRTH_REPUBLISH_MIN_INTERVAL_MS) return;
    this.components.log.debug('home assistant came online; republishing');
    this.republish();
  }
}
