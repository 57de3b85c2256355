// The device's own configuration for `p2psip run`: which overlay, where to listen, whom to
// bootstrap from, where its flash lives, and whether it is a peer or a client.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Endpoint } from '../link/link.ts';
import type { BoardOverrides } from '../device/board.ts';
import { RELOAD_PORT } from '../codec/index.ts';

export interface DeviceConfig {
  /** Overlay instance name (§11.1 instance-name); also the SIP domain of the building. */
  overlay: string;
  /** peer: full Chord member; client: attaches to a peer and never routes (§4.2). */
  role: 'peer' | 'client';
  /** Address to accept overlay links on; port 0 picks one. */
  listen: Endpoint;
  /** Address to offer in Attach candidates; default the listen address (or 127.0.0.1 for 0.0.0.0). */
  advertise?: string;
  /** Bootstrap peers (§11.4); empty: start a new overlay as its first node. */
  bootstrap: Endpoint[];
  /** Where identity and state persist across power cuts. */
  dataDir: string;
  /** The user name in this device's certificate (rfc822Name). */
  userName: string;
  /** Control socket path; default <dataDir>/control.sock. */
  control?: string;
  /** overlay-reliability-timer, ms (§6.2.1). */
  reliabilityTimerMs?: number;
  /** Chord tuning: neighbours per side, finger entries, Update and finger refresh intervals, ms. */
  chord?: { neighbours?: number; fingers?: number; updateIntervalMs?: number; fingerIntervalMs?: number };
  /** Connection table cap. */
  maxLinks?: number;
  /** Link failure timeout, ms (§6.6.5; the RFC's example is 30 s). */
  linkFailureTimeoutMs?: number;
  /**
   * An overlay configuration document (§11.1, XML); default none: the embedded self-signed
   * building overlay, or the document a ConfigUpdate left on flash.
   */
  overlayConfiguration?: string;
  /** Bytes of overlay data a peer holds at most; default 16 MiB (STORAGE_BUDGET_BYTES). */
  storageBudgetBytes?: number;
  /** The SIP user agent; its AOR is `userName` (RFC 7904 §3.3: the certificate's rfc822Name). */
  sip?: SipSettings;
  /**
   * The board (`board/<name>.json` or a file): buttons, door strike, LED, serial console.
   * `auto`: the Raspberry Pi model this runs on, else none. Default none: no intercom I/O.
   */
  board?: string;
  /** Per-device changes to the board: the flats' AORs, the building's domain. */
  boardOverrides?: BoardOverrides;
  /** DTMF code a resident keys to open the door, e.g. "1234#"; default none (no opening by code). */
  doorCode?: string;
  /** Who may open with the code, per called AOR (see src/app/intercom.ts); default every AOR a button rings. */
  openers?: Record<string, string[]>;
  /** Callers to the panel may open with the code too; default false. */
  openOnIncoming?: boolean;
  /** A door call nobody answers stops ringing after this many ms; default 45 s. */
  callTimeoutMs?: number;
  /** The technician's serial console; default the board's. */
  serial?: { path: string; baudRate?: number };
  /** The MQTT broker home automation listens on; default none. */
  mqtt?: { url: string; username?: string; password?: string; baseTopic?: string; discoveryPrefix?: string };
  /**
   * RSS this process may use. Below what a peer needs (or with the board short of memory,
   * load or disk) the device runs as a client, and changes role while running; default none.
   */
  memoryBudgetBytes?: number;
  /** Let resources choose peer or client while running; default true for a peer, false with --client. */
  autoRole?: boolean;
  /**
   * Announce this peer on the LAN (DNS-SD over mDNS) and, with no remembered or configured
   * bootstrap peer, look there first (RFC 6940 §11.4). `p2psip run` turns it on unless
   * --no-lan-discovery; default off for devices built in-process (tests).
   */
  lanDiscovery?: boolean;
  /** Free-form settings kept for the device (written by `p2psip flash --set`). */
  device?: Record<string, unknown>;
}

export interface SipSettings {
  /** false: no SIP at all, an overlay-only device (--no-sip); default true. */
  enabled?: boolean;
  /** Where SIP listens on UDP and TCP; default the overlay's listen host, port 5060. */
  listen?: Endpoint;
  /** Address written into Via, Contact and SDP; default the overlay's advertised address. */
  advertise?: string;
  /** Audio sent in calls: `silence`, `tone:HZ`, `wav:FILE`, `alsa[:DEVICE]`; default silence. */
  audioIn?: string;
  /** Where received audio goes: `null`, `wav:FILE`, `alsa[:DEVICE]`; default null. */
  audioOut?: string;
  /** Answer incoming calls by themselves after this many ms; default off. */
  autoAnswerMs?: number;
  /** Cancel an outgoing call nobody answers after this many ms; default 60 s. */
  noAnswerMs?: number;
  /** Refuse an incoming call with 480 after it rang this many ms; default 90 s. */
  ringTimeoutMs?: number;
  /** How callers should reach us, stated in contact_prefs (RFC 7904 §3.2, §5): `sip` (TCP) or `sips` (TLS); default sip. */
  scheme?: 'sip' | 'sips';
}

/** The embedded default: a new overlay, this device its first node. */
export const DEFAULT_DEVICE_CONFIG: DeviceConfig = {
  overlay: 'building.example',
  role: 'peer',
  listen: { host: '0.0.0.0', port: RELOAD_PORT },
  bootstrap: [],
  dataDir: 'data',
  userName: 'device@building.example',
};

export function parseEndpoint(s: string): Endpoint {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`not host:port: ${s}`);
  return { host: m[1], port: Number(m[2]) };
}

const USAGE = `usage: p2psip run [--config FILE] [--overlay NAME] [--listen HOST:PORT] [--advertise HOST]
                  [--bootstrap HOST:PORT[,HOST:PORT...]] [--data DIR] [--user NAME] [--client]
                  [--control PATH] [--reliability-timer MS] [--max-links N] [--fingers N]
                  [--storage-budget BYTES] [--overlay-config FILE.xml]
                  [--sip-listen HOST:PORT] [--audio-in SPEC] [--audio-out SPEC] [--auto-answer MS]
                  [--no-answer MS] [--ring-timeout MS] [--sip-scheme sip|sips]
                  [--board NAME|FILE|auto] [--door-code DIGITS] [--call-timeout MS] [--serial PATH[:BAUD]]
                  [--mqtt URL] [--memory-budget BYTES[K|M|G]] [--fixed-role] [--no-lan-discovery] [--no-sip]`;

/** Embedded default, then the JSON file of --config, then the flags. */
export function deviceConfigFrom(args: string[]): DeviceConfig {
  let config: DeviceConfig = { ...DEFAULT_DEVICE_CONFIG };
  const flags = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"\n${USAGE}`);
    const name = a.slice(2);
    if (['client', 'peer', 'fixed-role', 'no-lan-discovery', 'no-sip'].includes(name)) flags.set(name, true);
    else if (i + 1 < args.length) flags.set(name, args[++i]);
    else throw new Error(`--${name} needs a value\n${USAGE}`);
  }
  const file = flags.get('config');
  if (typeof file === 'string') config = { ...config, ...(JSON.parse(readFileSync(file, 'utf8')) as Partial<DeviceConfig>) };
  for (const [name, v] of flags) {
    const value = String(v);
    switch (name) {
      case 'config': break;
      case 'overlay': config.overlay = value; break;
      case 'listen': config.listen = parseEndpoint(value); break;
      case 'advertise': config.advertise = value; break;
      case 'bootstrap': config.bootstrap = value.split(',').filter(Boolean).map(parseEndpoint); break;
      case 'data': config.dataDir = value; break;
      case 'user': config.userName = value; break;
      case 'client': config.role = 'client'; config.autoRole = false; break;
      case 'peer': config.role = 'peer'; break;
      case 'control': config.control = value; break;
      case 'reliability-timer': config.reliabilityTimerMs = positive(name, value); break;
      case 'max-links': config.maxLinks = positive(name, value); break;
      case 'fingers': config.chord = { ...config.chord, fingers: positive(name, value) }; break;
      case 'storage-budget': config.storageBudgetBytes = positive(name, value); break;
      case 'overlay-config': config.overlayConfiguration = value; break;
      case 'sip-listen': config.sip = { ...config.sip, listen: parseEndpoint(value) }; break;
      case 'audio-in': config.sip = { ...config.sip, audioIn: value }; break;
      case 'audio-out': config.sip = { ...config.sip, audioOut: value }; break;
      case 'auto-answer': config.sip = { ...config.sip, autoAnswerMs: positive(name, value) }; break;
      case 'no-answer': config.sip = { ...config.sip, noAnswerMs: positive(name, value) }; break;
      case 'ring-timeout': config.sip = { ...config.sip, ringTimeoutMs: positive(name, value) }; break;
      case 'board': config.board = value; break;
      case 'door-code':
        if (!/^[0-9*#A-D]{1,16}$/i.test(value)) throw new Error(`--door-code is 1 to 16 DTMF digits (0-9 * # A-D), got "${value}"`);
        config.doorCode = value.toUpperCase();
        break;
      case 'call-timeout': config.callTimeoutMs = positive(name, value); break;
      case 'serial': {
        const m = /^(.+?)(?::(\d+))?$/.exec(value)!;
        config.serial = { path: m[1], baudRate: m[2] ? Number(m[2]) : undefined };
        break;
      }
      case 'mqtt': config.mqtt = { ...config.mqtt, url: value }; break;
      case 'memory-budget': config.memoryBudgetBytes = bytes(name, value); break;
      case 'fixed-role': config.autoRole = false; break;
      case 'no-lan-discovery': config.lanDiscovery = false; break;
      case 'no-sip': config.sip = { ...config.sip, enabled: false }; break;
      case 'sip-scheme':
        if (value !== 'sip' && value !== 'sips') throw new Error(`--sip-scheme is sip or sips, got "${value}"`);
        config.sip = { ...config.sip, scheme: value };
        break;
      default: throw new Error(`unknown option --${name}\n${USAGE}`);
    }
  }
  return config;
}

/** `64M`, `65536K`, `1G` or plain bytes. */
function bytes(name: string, value: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(value.trim());
  if (!m) throw new Error(`--${name} needs a size such as 64M, got "${value}"`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1048576, G: 1073741824 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
}

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} needs a whole number, got "${value}"`);
  return n;
}

export function controlPath(config: Pick<DeviceConfig, 'control' | 'dataDir'>): string {
  return config.control ?? join(config.dataDir, 'control.sock');
}
