// Device settings on flash: one small JSON-like object that other parts of the device keep
// across power cuts, each under its own key (door-strike timing, volume, …). Written only
// when a value changes. Both copies damaged: the settings are preferences, so the device says
// so, moves the files aside and starts from defaults rather than refusing to run.
import type { Logger } from '../util/log.ts';
import { DEVICE_SETTINGS_MAX_BYTES, SETTINGS_RECORD } from './flash-constants.ts';
import { encodePayload } from './flash-envelope.ts';
import { type FlashStore, FlashRecordError } from './flash-store.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

const MAX_DEPTH = 16;

/** Throws TypeError unless `v` is plain JSON data: finite numbers, plain objects, arrays. */
function checkJson(v: unknown, path: string, depth: number): asserts v is JsonValue {
  if (depth > MAX_DEPTH) throw new TypeError(`${path}: nested deeper than ${MAX_DEPTH}`);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`${path}: ${v} is not a finite number`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkJson(x, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) checkJson(x, `${path}.${k}`, depth + 1);
    return;
  }
  throw new TypeError(`${path}: ${typeof v} is not JSON data`);
}

export function settingsRecordOf(v: unknown): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError('not a map');
  checkJson(v, 'settings', 0);
  return v as JsonObject;
}

function copy<T extends JsonValue | undefined>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

export interface DeviceSettingsComponents {
  store: FlashStore;
  log: Logger;
}

export interface DeviceSettingsInit {
  /** Largest settings object as CBOR, bytes; default DEVICE_SETTINGS_MAX_BYTES (16 KiB). */
  maxBytes?: number;
}

export class DeviceSettings {
  private value: JsonObject = {};
  private readonly maxBytes: number;

  private constructor(private readonly components: DeviceSettingsComponents, init: DeviceSettingsInit) {
    this.maxBytes = init.maxBytes ?? DEVICE_SETTINGS_MAX_BYTES;
  }

  /** Loads the settings; damaged ones are moved aside (logged) and the defaults apply. */
  static async open(components: DeviceSettingsComponents, init: DeviceSettingsInit = {}): Promise<DeviceSettings> {
    const s = new DeviceSettings(components, init);
    try {
      s.value = (await components.store.read(SETTINGS_RECORD, settingsRecordOf))?.value ?? {};
    } catch (e) {
      if (!(e instanceof FlashRecordError) || e.reason !== 'corrupt') throw e;
      const moved = await components.store.moveAside(SETTINGS_RECORD);
      components.log.error(`${e.message}. Moved aside (${moved.join(', ')}); the device settings start from their defaults`, { problems: e.problems });
    }
    return s;
  }

  /** The whole settings object (a copy). */
  get(): JsonObject;
  /** One setting (a copy); undefined when unset. */
  get(key: string): JsonValue | undefined;
  get(key?: string): JsonValue | undefined {
    return key === undefined ? copy(this.value) : copy(Object.hasOwn(this.value, key) ? this.value[key] : undefined);
  }

  /**
   * Sets one setting (undefined removes it) and writes the object when that changed it.
   * Returns whether flash was written. Non-JSON values and objects over the size limit are
   * refused with a TypeError or RangeError, nothing changed.
   */
  set(key: string, value: JsonValue | undefined): Promise<boolean> {
    const next: JsonObject = { ...this.value };
    if (value === undefined) delete next[key];
    else next[key] = value;
    return this.replace(next);
  }

  /** Replaces the whole object; written only when it differs from what flash holds. */
  async replace(value: JsonObject): Promise<boolean> {
    checkJson(value, 'settings', 0);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('settings must be an object');
    const size = encodePayload(value).length;
    if (size > this.maxBytes) throw new RangeError(`device settings of ${size} bytes, over the limit of ${this.maxBytes}`);
    const kept = structuredClone(value);
    const { written } = await this.components.store.write(SETTINGS_RECORD, kept);
    this.value = kept;
    return written;
  }
}
