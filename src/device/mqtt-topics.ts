// The MQTT topic layout of one device, under its base topic (default `p2psip/<deviceId>`).
// Retained state topics carry the latest value; event topics are never retained.

export interface BridgeTopics {
  /** `online` / `offline`, retained; `offline` is also the last will. */
  readonly availability: string;
  /** Plain-text command lines in, the control socket's syntax. */
  readonly command: string;
  /** One JSON result per command, not retained. */
  readonly commandResult: string;
  /** Event: `{"event_type":"ring","button":…,"aor":…,"aors":[…]}` per ring. */
  readonly ring: string;
  /** Event: `{"event_type":"opened"|"refused",…}` per door decision. */
  readonly doorEvent: string;
  /** Retained: `LOCKED`, `UNLOCKED` or `OPEN`. */
  readonly door: string;
  /** Retained JSON: `{"state":"idle"|"ringing"|"active",…attributes}`. */
  readonly call: string;
  /** Retained JSON: overlay health `{"joined":…,"role":…,"peers":…,…}`. */
  readonly overlay: string;
  /** Retained JSON: the resource decision `{"role":"peer"|"client",…}`. */
  readonly role: string;
}

export function bridgeTopics(base: string): BridgeTopics {
  return {
    availability: `${base}/availability`,
    command: `${base}/command`,
    commandResult: `${base}/command/result`,
    ring: `${base}/ring`,
    doorEvent: `${base}/door/event`,
    door: `${base}/door`,
    call: `${base}/call`,
    overlay: `${base}/overlay`,
    role: `${base}/role`,
  };
}

/** Topic names we publish to: no wildcards, no empty levels, no leading or trailing `/`. */
export function isPublishableTopic(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic) && !topic.startsWith('/') && !topic.endsWith('/') && !topic.includes('//');
}

/** Home Assistant's node_id and object_id: `[a-zA-Z0-9_-]+`. */
export function isDiscoveryId(id: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(id);
}
