// Everything a device keeps on flash, opened together from its data directory: identity,
// overlay configuration, remembered bootstrap peers and device settings, each a record of one
// FlashStore (DESIGN.md "The device's flash").
import type { Clock } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import { SavedConfiguration } from './flash-configuration.ts';
import { FlashIdentity } from './flash-identity.ts';
import { RememberedPeers } from './flash-peers.ts';
import { DeviceSettings } from './flash-settings.ts';
import { FlashStore } from './flash-store.ts';

export interface DeviceFlash {
  readonly store: FlashStore;
  readonly identity: FlashIdentity;
  readonly configuration: SavedConfiguration;
  readonly peers: RememberedPeers;
  readonly settings: DeviceSettings;
  /** Writes what is pending (remembered peers) and stops the timers; idempotent. */
  close(): Promise<void>;
}

export interface DeviceFlashComponents {
  clock?: Clock;
  /** Default a `device:flash` logger. */
  log?: Logger;
}

export async function openDeviceFlash(dir: string, components: DeviceFlashComponents = {}): Promise<DeviceFlash> {
  const log = components.log ?? createLogger('device:flash');
  const store = await FlashStore.open({ clock: components.clock, log }, { dir });
  const peers = await RememberedPeers.open({ store, log, clock: components.clock });
  const settings = await DeviceSettings.open({ store, log });
  return {
    store,
    identity: new FlashIdentity({ store, log, clock: components.clock }),
    configuration: new SavedConfiguration({ store, log }),
    peers,
    settings,
    close: () => peers.close(),
  };
}
