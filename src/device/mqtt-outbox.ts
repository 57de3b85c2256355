// What the MQTT bridge holds for the broker while it is away, and bounded so an outage costs
// a fixed amount of memory: the latest value of each retained state topic (republished after
// every connect) and a short queue of non-retained events (sent on reconnect if still fresh).
import type { Clock } from '../util/clock.ts';

export interface OutboxEvent {
  topic: string;
  payload: string;
  /** Clock time the event was queued. */
  at: number;
  /** MQTT 5 correlation data of the command this answers, if any. */
  correlationData?: Buffer;
}

export interface MqttOutboxInit {
  /** Distinct retained topics remembered. */
  maxRetainedTopics: number;
  /** Events queued while disconnected; more are refused and counted. */
  maxQueuedEvents: number;
  /** Events older than this when the broker returns are dropped and counted. */
  eventMaxAgeMs: number;
}

export type RememberResult = 'changed' | 'unchanged' | 'refused';

export class MqttOutbox {
  readonly counters = { eventsQueued: 0, eventsRefused: 0, eventsStale: 0, retainedRefused: 0 };
  private readonly state = new Map<string, string>();
  private events: OutboxEvent[] = [];

  constructor(private readonly components: { clock: Clock }, private readonly init: MqttOutboxInit) {}

  /** Records the latest value of a retained topic. */
  remember(topic: string, payload: string): RememberResult {
    const previous = this.state.get(topic);
    if (previous === payload) return 'unchanged';
    if (previous === undefined && this.state.size >= this.init.maxRetainedTopics) {
      this.counters.retainedRefused++;
      return 'refused';
    }
    this.state.set(topic, payload);
    return 'changed';
  }

  /** Every remembered retained value, in the order the topics were first seen. */
  retained(): Array<[topic: string, payload: string]> {
    return [...this.state];
  }

  /**
   * Queues an event for the next connection. Over the bound the new event is refused (and
   * counted) rather than an older one evicted: the queue keeps a bounded, ordered prefix.
   */
  queue(topic: string, payload: string, correlationData?: Buffer): boolean {
    if (this.events.length >= this.init.maxQueuedEvents) {
      this.counters.eventsRefused++;
      return false;
    }
    const event: OutboxEvent = { topic, payload, at: this.components.clock.now() };
    if (correlationData) event.correlationData = correlationData;
    this.events.push(event);
    this.counters.eventsQueued++;
    return true;
  }

  /** Removes and returns the queued events still fresh enough to send. */
  drain(): OutboxEvent[] {
    const now = this.components.clock.now();
    const events = this.events;
    this.events = [];
    const fresh = events.filter((e) => now - e.at <= this.init.eventMaxAgeMs);
    this.counters.eventsStale += events.length - fresh.length;
    return fresh;
  }

  get queued(): number {
    return this.events.length;
  }

  /** Events that never reached the broker: refused by the bound or expired in the queue. */
  get dropped(): number {
    return this.counters.eventsRefused + this.counters.eventsStale;
  }
}
