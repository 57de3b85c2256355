// Overlay devices inside the test process: real TLS links on loopback, each device with its
// own temporary flash directory; `closeAll()` stops them and removes the directories.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from '../../src/link/link.ts';
import type { DeviceConfig } from '../../src/run/config.ts';
import { type OverlayDevice, startOverlayDevice } from '../../src/run/overlay-device.ts';
import { silentLogger } from '../../src/util/log.ts';

export const OVERLAY = 'building.example';

export interface DeviceOptions extends Partial<Omit<DeviceConfig, 'bootstrap' | 'dataDir'>> {
  /** Bootstrap peers; none: the device starts a new overlay. */
  bootstrap?: Endpoint[];
}

const devices: OverlayDevice[] = [];
const dirs: string[] = [];

/** Starts a device on 127.0.0.1 (port picked by the OS) and resolves once it has joined. */
export async function startDevice(opts: DeviceOptions = {}): Promise<OverlayDevice> {
  const dataDir = mkdtempSync(join(tmpdir(), 'p2psip-dev-'));
  dirs.push(dataDir);
  const device = await startOverlayDevice({
    overlay: OVERLAY, role: 'peer', userName: 'device@building.example', listen: { host: '127.0.0.1', port: 0 },
    ...opts, bootstrap: opts.bootstrap ?? [], dataDir,
  }, { log: silentLogger });
  devices.push(device);
  return device;
}

/** Stops every device started here (peers leave gracefully) and removes their flash. */
export async function closeAll(): Promise<void> {
  const stopping = devices.splice(0);
  const results = await Promise.allSettled(stopping.map((d) => d.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
