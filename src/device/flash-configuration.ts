// The overlay configuration document in force (RFC 6940 §11.1) on flash: the last one a
// ConfigUpdate brought (§6.5.4), kept so that a device comes back under it after a power cut.
// The document is kept as received: its signature covers its bytes (§11.1).
//
// Both copies damaged: the device cannot know which document it ran under. It says so, moves
// the damaged files aside, and starts from the document given with --overlay-config (or the
// embedded default); the overlay floods a newer document again with the next ConfigUpdate.
import { join } from 'node:path';
import { readIfExists } from '../reload/security/atomic-file.ts';
import type { Logger } from '../util/log.ts';
import { CONFIGURATION_RECORD, LEGACY_CONFIGURATION_FILE } from './flash-constants.ts';
import { type FlashStore, FlashRecordError } from './flash-store.ts';

/** The record's value. */
export interface ConfigurationRecord {
  /** The document's text, exactly as received. */
  xml: string;
}

export function configurationRecordOf(v: unknown): ConfigurationRecord {
  if (typeof v !== 'object' || v === null || typeof (v as { xml?: unknown }).xml !== 'string') throw new TypeError('no xml text');
  return { xml: (v as { xml: string }).xml };
}

export interface SavedConfigurationComponents {
  store: FlashStore;
  log: Logger;
}

export class SavedConfiguration {
  /** The file of earlier versions, read when there is no record. */
  readonly legacyPath: string;

  constructor(private readonly components: SavedConfigurationComponents) {
    this.legacyPath = join(components.store.dir, LEGACY_CONFIGURATION_FILE);
  }

  /** The saved document; undefined when none was ever saved or it is lost (logged). */
  async load(): Promise<string | undefined> {
    const { store, log } = this.components;
    try {
      const found = await store.read(CONFIGURATION_RECORD, configurationRecordOf);
      if (found) return found.value.xml;
    } catch (e) {
      if (!(e instanceof FlashRecordError) || e.reason !== 'corrupt') throw e;
      const moved = await store.moveAside(CONFIGURATION_RECORD);
      log.error(`${e.message}. Moved aside (${moved.join(', ')}); running under the --overlay-config document or the embedded default until a newer configuration arrives`, { problems: e.problems });
      return undefined;
    }
    const legacy = await readIfExists(this.legacyPath);
    if (legacy === undefined) return undefined;
    try {
      await store.write(CONFIGURATION_RECORD, { xml: legacy });
      log.info('overlay configuration moved to its flash record', { from: this.legacyPath, to: store.pathOf(CONFIGURATION_RECORD) });
    } catch (e) {
      if (!(e instanceof FlashRecordError)) throw e;
      log.warn(`${this.legacyPath} stays where it is: ${e.message}`);
    }
    return legacy;
  }

  /** Saves an accepted document (the ConfigUpdate save path); an unchanged one is not rewritten. */
  async save(xml: string): Promise<void> {
    await this.components.store.write(CONFIGURATION_RECORD, { xml });
  }
}
