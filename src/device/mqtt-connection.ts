// One broker connection that keeps itself up: MQTT.js underneath with its fixed-period
// reconnect turned off, our exponential backoff on the injected clock instead, a last will,
// and a send() that never waits or throws (false when there is no connection to send on).
import type { IClientOptions, IClientPublishOptions, IPublishPacket, ISubscriptionMap, MqttClient } from 'mqtt';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/log.ts';
import { ReconnectBackoff } from './mqtt-backoff.ts';
import { MQTT_CLOSE_TIMEOUT_MS, MQTT_MAX_INCOMING_PACKET_BYTES } from './mqtt-constants.ts';

export interface MqttConnectionInit {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  ca?: string;
  protocolVersion: 4 | 5;
  /** Published retained by the broker if we vanish without DISCONNECT. */
  will: { topic: string; payload: string };
  reconnectMinMs: number;
  reconnectMaxMs: number;
  stableConnectionMs: number;
  connectTimeoutMs: number;
  keepaliveSec: number;
}

export interface MqttConnectionHandlers {
  /** After every successful CONNACK: the session is clean, so subscribe and republish here. */
  connected(): void;
  /** A message on a subscribed topic, only while connected. */
  message(topic: string, payload: Buffer, packet: IPublishPacket): void;
}

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'closing' | 'closed';

export interface MqttConnectionStatus {
  state: ConnectionState;
  connected: boolean;
  /** Successful connections after the first. */
  reconnects: number;
  /** Attempts that ended before CONNACK. */
  failedAttempts: number;
  /** Milliseconds until the next attempt, while waiting. */
  nextAttemptInMs?: number;
  lastError?: string;
}

// Legal edges of the connection state machine; anything else is a bug in this file.
const EDGES: Record<ConnectionState, ConnectionState[]> = {
  idle: ['connecting', 'closing'],
  connecting: ['connected', 'waiting', 'closing'],
  connected: ['waiting', 'closing'],
  waiting: ['connecting', 'closing'],
  closing: ['closed'],
  closed: [],
};

export class MqttConnection {
  private readonly backoff: ReconnectBackoff;
  private state: ConnectionState = 'idle';
  private client: MqttClient | undefined;
  private timer: TimerHandle | undefined;
  private nextAttemptAt = 0;
  private connectedAt = 0;
  private connects = 0;
  private failedAttempts = 0;
  private lastError: string | undefined;
  private outageLogged = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly components: { clock: Clock; log: Logger },
    private readonly init: MqttConnectionInit,
    private readonly handlers: MqttConnectionHandlers,
  ) {
    this.backoff = new ReconnectBackoff({ minMs: init.reconnectMinMs, maxMs: init.reconnectMaxMs, stableMs: init.stableConnectionMs });
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /**
   * Starts connecting; resolves once the first attempt is under way, not when the broker
   * answers, so an absent broker never holds up the device. Idempotent.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.transition('connecting');
    // Loaded here so a device without MQTT configured never pays for the client library.
    const { connect } = await import('mqtt');
    if (this.closing) return; // closed while loading
    const client = connect(this.init.url, this.clientOptions());
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (e) => this.onError(e));
    client.on('message', (topic, payload, packet) => {
      if (this.state === 'connected') this.handlers.message(topic, payload, packet);
    });
  }

  /** Hands one publication to the client if connected; false (and nothing sent) otherwise. */
  send(topic: string, payload: string, options: { retain: boolean; correlationData?: Buffer | undefined }): boolean {
    const client = this.client;
    if (!client || this.state !== 'connected') return false;
    // QoS 0 throughout: every retained value is republished after each connect, and the
    // client's in-flight store is discarded on reconnect anyway, so QoS 1 would add
    // message-id bookkeeping without surviving an outage.
    const publish: IClientPublishOptions = { qos: 0, retain: options.retain };
    if (options.correlationData && this.init.protocolVersion === 5) publish.properties = { correlationData: options.correlationData };
    return this.publishNow(client, topic, payload, publish);
  }

  subscribe(subscriptions: ISubscriptionMap): void {
    const client = this.client;
    if (!client || this.state !== 'connected') return;
    client.subscribe(subscriptions, (err, granted) => {
      if (err) this.components.log.warn('could not subscribe', { error: err.message });
      for (const g of granted ?? []) if (g.qos === 128) this.components.log.warn('subscription refused by the broker', { topic: g.topic });
    });
  }

  status(): MqttConnectionStatus {
    const s: MqttConnectionStatus = {
      state: this.state,
      connected: this.state === 'connected',
      reconnects: Math.max(0, this.connects - 1),
      failedAttempts: this.failedAttempts,
    };
    if (this.state === 'waiting') s.nextAttemptInMs = Math.max(0, this.nextAttemptAt - this.components.clock.now());
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  /**
   * Sends `farewell` (retained) if connected, then DISCONNECTs, which tells the broker to
   * discard the will. Idempotent; nothing is delivered to the handlers afterwards.
   */
  close(farewell?: { topic: string; payload: string }): Promise<void> {
    this.closing ??= this.shutdown(farewell);
    return this.closing;
  }

  private clientOptions(): IClientOptions {
    const options: IClientOptions = {
      clientId: this.init.clientId,
      protocolVersion: this.init.protocolVersion,
      clean: true,
      // Reconnecting is ours (exponential backoff); MQTT.js only knows a fixed period.
      reconnectPeriod: 0,
      resubscribe: false,
      connectTimeout: this.init.connectTimeoutMs,
      keepalive: this.init.keepaliveSec,
      // The bridge's outbox is the only offline queue, so the client library never grows one.
      queueQoSZero: false,
      will: { topic: this.init.will.topic, payload: Buffer.from(this.init.will.payload), qos: 1, retain: true },
    };
    if (this.init.protocolVersion === 5) options.properties = { maximumPacketSize: MQTT_MAX_INCOMING_PACKET_BYTES };
    if (this.init.username !== undefined) options.username = this.init.username;
    if (this.init.password !== undefined) options.password = this.init.password;
    if (this.init.ca !== undefined) options.ca = this.init.ca;
    return options;
  }

  private transition(to: ConnectionState): void {
    if (!EDGES[this.state].includes(to)) throw new Error(`mqtt connection: illegal transition ${this.state} -> ${to}`);
    this.state = to;
  }

  private onConnect(): void {
    if (this.state !== 'connecting') return;
    this.transition('connected');
    this.connectedAt = this.components.clock.now();
    this.connects++;
    this.outageLogged = false;
    this.lastError = undefined;
    this.components.log.info('connected to the broker', { url: this.init.url, reconnects: this.connects - 1 });
    try {
      this.handlers.connected();
    } catch (e) {
      this.components.log.error('mqtt connected handler failed', { error: (e as Error).message });
    }
  }

  private onClose(): void {
    if (this.state !== 'connecting' && this.state !== 'connected') return;
    const now = this.components.clock.now();
    const lasted = this.state === 'connected' ? now - this.connectedAt : 0;
    if (this.state === 'connected') this.components.log.warn('lost the broker', { url: this.init.url, connectedMs: Math.round(lasted) });
    else this.failedAttempts++;
    this.transition('waiting');
    const wait = this.backoff.next(lasted);
    this.nextAttemptAt = now + wait;
    this.timer = this.components.clock.setTimeout(() => this.attempt(), wait);
  }

  private attempt(): void {
    this.timer = undefined;
    if (this.state !== 'waiting' || !this.client) return;
    this.transition('connecting');
    this.client.reconnect();
  }

  private onError(error: Error): void {
    this.lastError = error.message;
    // One warning per outage; every further failed attempt only at debug level.
    if (this.outageLogged) this.components.log.debug('broker connection error', { error: error.message });
    else this.components.log.warn('broker connection error', { url: this.init.url, error: error.message });
    this.outageLogged = true;
  }

  private async shutdown(farewell?: { topic: string; payload: string }): Promise<void> {
    this.components.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const wasConnected = this.state === 'connected';
    this.transition('closing');
    const client = this.client;
    if (client) {
      if (wasConnected && farewell) this.publishNow(client, farewell.topic, farewell.payload, { qos: 0, retain: true });
      await new Promise<void>((resolve) => {
        // A broker that stopped answering never completes a clean DISCONNECT: cut the socket.
        const deadline = this.components.clock.setTimeout(() => {
          client.stream?.destroy();
          resolve();
        }, MQTT_CLOSE_TIMEOUT_MS);
        client.end(!wasConnected, {}, () => {
          this.components.clock.clearTimeout(deadline);
          resolve();
        });
      });
    }
    this.transition('closed');
  }

  private publishNow(client: MqttClient, topic: string, payload: string, options: IClientPublishOptions): boolean {
    try {
      client.publish(topic, payload, options, (e) => {
        if (e) this.components.log.debug('publish failed', { topic, error: e.message });
      });
      return true;
    } catch (e) {
      this.components.log.warn('publish failed', { topic, error: (e as Error).message });
      return false;
    }
  }
}
