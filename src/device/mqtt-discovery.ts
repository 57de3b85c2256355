// Home Assistant MQTT discovery: one retained config per entity under
// `<discoveryPrefix>/<component>/<deviceId>/<object>/config`, all sharing one `device` block
// so Home Assistant groups them under the intercom, and all following the availability topic
// so they grey out when the device (or its link to the broker) is gone.
import type { BridgeTopics } from './mqtt-topics.ts';

export interface DiscoveryDevice {
  /** Topic-safe id, `[A-Za-z0-9_-]+`. */
  deviceId: string;
  name: string;
  model: string;
  manufacturer: string;
  swVersion: string;
}

export interface DiscoveryConfig {
  /** Home Assistant platform: `event`, `button`, `sensor`, `binary_sensor`. */
  component: string;
  /** Object id, unique within the device. */
  object: string;
  topic: string;
  payload: Record<string, unknown>;
}

export const CALL_STATES = ['idle', 'ringing', 'active'] as const;
export const RESOURCE_ROLES = ['peer', 'client'] as const;
export const DOOR_EVENT_TYPES = ['opened', 'refused'] as const;

/** Device identifiers are global in Home Assistant; a bare device id could collide. */
export function deviceIdentifier(deviceId: string): string {
  return `p2psip_${deviceId}`;
}

export function discoveryConfigs(prefix: string, device: DiscoveryDevice, topics: BridgeTopics): DiscoveryConfig[] {
  const id = deviceIdentifier(device.deviceId);
  const shared = {
    availability_topic: topics.availability,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: {
      identifiers: [id],
      name: device.name,
      model: device.model,
      manufacturer: device.manufacturer,
      sw_version: device.swVersion,
    },
    origin: { name: 'p2psip', sw_version: device.swVersion },
  };
  const entity = (component: string, object: string, fields: Record<string, unknown>): DiscoveryConfig => ({
    component,
    object,
    topic: `${prefix}/${component}/${device.deviceId}/${object}/config`,
    payload: { unique_id: `${id}_${object}`, ...fields, ...shared },
  });
  return [
    entity('event', 'ring', {
      name: 'Doorbell',
      device_class: 'doorbell',
      event_types: ['ring'],
      state_topic: topics.ring,
    }),
    // The door strike only pulses (the intercom's DoorLatch has `open()` and nothing else), so
    // the door is a `button` plus a read-only state, not a `lock`. Home Assistant's MQTT lock
    // docs: "It's mandatory for locks to support lock and unlock"; `payload_open` only adds
    // Open beside them. For a strike that re-latches by itself Lock and Unlock are promises
    // the hardware cannot keep, and an optimistic lock shows "Unlocked" after Open for a door
    // that is latched again seconds later. The button sends the `open` command line a person
    // would type on the control socket, so the interpreter decides, and answers on
    // `command/result`.
    entity('button', 'open_door', {
      name: 'Open door',
      icon: 'mdi:door-open',
      command_topic: topics.command,
      payload_press: 'open',
    }),
    // What the strike is doing: device class `lock` shows ON as "Unlocked".
    entity('binary_sensor', 'door', {
      name: 'Door strike',
      device_class: 'lock',
      state_topic: topics.door,
      value_template: "{{ 'OFF' if value == 'LOCKED' else 'ON' }}",
    }),
    entity('event', 'door_event', {
      name: 'Door',
      icon: 'mdi:door',
      event_types: [...DOOR_EVENT_TYPES],
      state_topic: topics.doorEvent,
    }),
    entity('sensor', 'call', {
      name: 'Call',
      icon: 'mdi:phone',
      device_class: 'enum',
      options: [...CALL_STATES],
      state_topic: topics.call,
      value_template: '{{ value_json.state }}',
      json_attributes_topic: topics.call,
    }),
    entity('binary_sensor', 'overlay', {
      name: 'Overlay',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: topics.overlay,
      value_template: "{{ 'ON' if value_json.joined else 'OFF' }}",
      json_attributes_topic: topics.overlay,
    }),
    entity('sensor', 'overlay_peers', {
      name: 'Overlay peers',
      icon: 'mdi:lan',
      entity_category: 'diagnostic',
      state_class: 'measurement',
      state_topic: topics.overlay,
      value_template: '{{ value_json.peers }}',
    }),
    entity('sensor', 'role', {
      name: 'Role',
      icon: 'mdi:server-network',
      device_class: 'enum',
      options: [...RESOURCE_ROLES],
      entity_category: 'diagnostic',
      state_topic: topics.role,
      value_template: '{{ value_json.role }}',
      json_attributes_topic: topics.role,
    }),
  ];
}
