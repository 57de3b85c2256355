// Named records on the device's flash, one CBOR file each in the data directory, that survive
// a power cut or a SIGKILL at any instant (DESIGN.md "The device's flash"):
//
// - a write goes to a temporary file (fsync), the good current copy is renamed to
//   `<name>.cbor.bak`, the temporary file is renamed to `<name>.cbor`, and the directory is
//   fsynced. Every instant leaves at least one complete good copy: before the first rename the
//   current one, between the renames the .bak, after them both;
// - a write whose value equals the current copy's does nothing: an SD card is not worn by
//   the overlay's churn;
// - a read checks the envelope (flash-envelope.ts); a damaged or missing current copy falls
//   back to the .bak with a logged warning naming the file, the damage and the copy used.
//   Both bad is a FlashRecordError, which each record's owner turns into a safe decision.
//
// One process owns a data directory; writes of one record are serialised within it.
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCode, removeStrayTempFiles, syncDirectory, writeTempFile } from '../reload/security/atomic-file.ts';
import { type Clock, systemClock } from '../util/clock.ts';
import { type Logger, createLogger } from '../util/log.ts';
import {
  FLASH_DIR_MODE, FLASH_MAX_RECORD_BYTES, FLASH_PUBLIC_FILE_MODE, FLASH_RECORD_NAME, FLASH_SECRET_FILE_MODE,
} from './flash-constants.ts';
import { EnvelopeError, type FlashEnvelope, decodeEnvelope, decodePayload, encodeEnvelope, encodePayload, envelopeOverhead } from './flash-envelope.ts';

export type FlashRecordErrorReason =
  /** Neither the current copy nor the .bak is a good record. */
  | 'corrupt'
  /** A value over the size limit: refused, nothing written. */
  | 'too_large'
  /** A record name that is not FLASH_RECORD_NAME. */
  | 'bad_name';

export interface FlashFileProblem {
  file: string;
  problem: string;
}

export class FlashRecordError extends Error {
  override readonly name = 'FlashRecordError';
  constructor(readonly reason: FlashRecordErrorReason, readonly record: string, message: string, readonly problems: readonly FlashFileProblem[] = [], options?: ErrorOptions) {
    super(message, options);
  }
}

export interface FlashRecord<T> {
  name: string;
  value: T;
  sequence: number;
  writtenAtMs: number;
  /** The file the value came from. */
  file: string;
  /** True when the current copy was bad or missing and the .bak was used. */
  fromBackup: boolean;
}

export interface FlashWriteOptions {
  /** A secret (a private key): mode 0600 instead of 0644. Default false. */
  secret?: boolean;
}

export interface FlashWriteResult {
  /** False when flash already held this value: nothing was written. */
  written: boolean;
  sequence: number;
}

/**
 * Checks a decoded value's shape and returns it typed; throws (any error) when the value is
 * not one the record's owner wrote, which counts as a damaged copy.
 */
export type FlashValueCheck<T> = (value: unknown) => T;

export interface FlashStoreComponents {
  /** Dates writes and names moved-aside copies; default the system clock. */
  clock?: Clock;
  /** Default a `device:flash` logger. */
  log?: Logger;
}

export interface FlashStoreInit {
  /** The data directory; created (0700) when missing. */
  dir: string;
  /** Largest payload accepted, bytes; default FLASH_MAX_RECORD_BYTES (256 KiB). */
  maxRecordBytes?: number;
}

interface CopyState {
  file: string;
  envelope?: FlashEnvelope;
  value?: unknown;
  /** Why the copy is not usable; undefined when good or missing. */
  problem?: string;
  missing: boolean;
}

export class FlashStore {
  readonly dir: string;
  private readonly maxRecordBytes: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  /** Per record: the tail of its write queue. */
  private readonly queues = new Map<string, Promise<unknown>>();

  private constructor(components: FlashStoreComponents, init: FlashStoreInit) {
    this.dir = init.dir;
    this.maxRecordBytes = init.maxRecordBytes ?? FLASH_MAX_RECORD_BYTES;
    this.clock = components.clock ?? systemClock;
    this.log = components.log ?? createLogger('device:flash');
  }

  /** Opens the data directory: creates it, and removes temporary files of killed writers. */
  static async open(components: FlashStoreComponents, init: FlashStoreInit): Promise<FlashStore> {
    const store = new FlashStore(components, init);
    await mkdir(init.dir, { recursive: true, mode: FLASH_DIR_MODE });
    const removed = await removeStrayTempFiles(init.dir);
    if (removed.length > 0) store.log.info('removed temporary files of an interrupted write', { dir: init.dir, files: removed });
    return store;
  }

  /** `<dir>/<name>.cbor`; the previous good copy is this plus `.bak`. */
  pathOf(name: string): string {
    checkName(name);
    return join(this.dir, `${name}.cbor`);
  }

  /**
   * The record, from the current copy or, when that is bad or missing, the .bak (logged);
   * undefined when neither file exists. Throws FlashRecordError('corrupt') when copies exist
   * and none is good.
   */
  async read<T = unknown>(name: string, check?: FlashValueCheck<T>): Promise<FlashRecord<T> | undefined> {
    const path = this.pathOf(name);
    const current = await this.readCopy(path, name, check);
    if (current.envelope) return recordOf<T>(name, current, false);
    const backup = await this.readCopy(`${path}.bak`, name, check);
    if (current.missing && backup.missing) return undefined;
    if (backup.envelope) {
      this.log.warn(`flash record ${name}: ${current.file} ${current.problem ?? 'is missing (a write was interrupted)'}; using the previous copy ${backup.file}`, {
        record: name, file: current.file, problem: current.problem ?? 'missing', using: backup.file, sequence: backup.envelope.sequence,
        writtenAt: new Date(backup.envelope.writtenAtMs).toISOString(),
      });
      // A write killed between its two renames: finish it as if it never started (the .bak
      // becomes the current copy again, a link: no data written), so later boots are quiet.
      // A damaged current copy is left for the next write to replace.
      if (current.missing) await this.restoreFromBackup(path);
      return recordOf<T>(name, backup, true);
    }
    const problems = [current, backup].map((c) => ({ file: c.file, problem: c.problem ?? 'missing' }));
    throw new FlashRecordError('corrupt', name, `flash record ${name} is unreadable: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`, problems);
  }

  /**
   * Writes the record unless flash holds this value already (then nothing is touched).
   * Serialised per record; `secret` records are 0600, others 0644.
   */
  write(name: string, value: unknown, opts: FlashWriteOptions = {}): Promise<FlashWriteResult> {
    return this.queued(name, () => this.writeNow(name, value, opts, false)) as Promise<FlashWriteResult>;
  }

  /**
   * Writes the record only if it has no copy at all; false when one exists (another writer,
   * possibly another process, got there first). For first-run creation, such as an identity.
   */
  create(name: string, value: unknown, opts: FlashWriteOptions = {}): Promise<boolean> {
    return this.queued(name, async () => (await this.writeNow(name, value, opts, true)).written) as Promise<boolean>;
  }

  /**
   * Renames both copies to `<file>.corrupt-<time>`, kept for inspection; the record then
   * reads as absent. Returns the new names.
   */
  moveAside(name: string): Promise<string[]> {
    return this.queued(name, async () => {
      const path = this.pathOf(name);
      const moved: string[] = [];
      for (const file of [path, `${path}.bak`]) {
        const to = asideName(file, 'corrupt', this.clock.wallTime());
        try {
          await rename(file, to);
          moved.push(to);
        } catch (e) {
          if (!hasCode(e, 'ENOENT')) throw e;
        }
      }
      if (moved.length > 0) await syncDirectory(this.dir);
      return moved;
    }) as Promise<string[]>;
  }

  private queued<R>(name: string, job: () => Promise<R>): Promise<R> {
    if (!FLASH_RECORD_NAME.test(name)) return Promise.reject(nameError(name));
    const run = (this.queues.get(name) ?? Promise.resolve()).then(job, job);
    const tail = run.catch(() => {});
    this.queues.set(name, tail);
    void tail.then(() => { if (this.queues.get(name) === tail) this.queues.delete(name); });
    return run;
  }

  private async writeNow(name: string, value: unknown, opts: FlashWriteOptions, exclusive: boolean): Promise<FlashWriteResult> {
    const payload = encodePayload(value);
    if (payload.length > this.maxRecordBytes) {
      throw new FlashRecordError('too_large', name, `flash record ${name}: ${payload.length} bytes, over the limit of ${this.maxRecordBytes}`);
    }
    const path = this.pathOf(name);
    const backupPath = `${path}.bak`;
    const current = await this.readCopy(path, name);
    const backup = current.envelope ? undefined : await this.readCopy(backupPath, name);
    if (exclusive && !(current.missing && (backup?.missing ?? false))) return { written: false, sequence: current.envelope?.sequence ?? backup?.envelope?.sequence ?? 0 };
    if (current.envelope && Buffer.from(current.envelope.payload).equals(payload)) return { written: false, sequence: current.envelope.sequence };
    const sequence = Math.max(current.envelope?.sequence ?? 0, backup?.envelope?.sequence ?? 0) + 1;
    const bytes = encodeEnvelope({ name, sequence, writtenAtMs: Math.max(0, Math.floor(this.clock.wallTime())), payload });
    const mode = opts.secret ? FLASH_SECRET_FILE_MODE : FLASH_PUBLIC_FILE_MODE;
    const temp = await writeTempFile(path, bytes, mode, true);
    let renamed = false;
    try {
      if (exclusive) {
        // link() never replaces: of two processes creating at once, exactly one wins.
        try {
          await link(temp, path);
        } catch (e) {
          if (hasCode(e, 'EEXIST')) return { written: false, sequence: 0 };
          throw e;
        }
      } else {
        // Only a good current copy becomes the .bak: a damaged one must not push out the
        // last good copy. Between the two renames the .bak is the record.
        if (current.envelope) await rename(path, backupPath);
        await rename(temp, path);
        renamed = true;
      }
    } finally {
      if (!renamed) await unlink(temp).catch(() => {});
    }
    // One fsync for both renames: a journalling file system replays them in order, so a power
    // cut leaves one of the states a kill can leave.
    await syncDirectory(this.dir);
    return { written: true, sequence };
  }

  private async restoreFromBackup(path: string): Promise<void> {
    try {
      await link(`${path}.bak`, path);
      await syncDirectory(this.dir);
    } catch (e) {
      // EEXIST: a writer got there first, which is as good.
      if (!hasCode(e, 'EEXIST', 'ENOENT')) this.log.warn('could not restore the previous copy', { file: path, error: (e as Error).message });
    }
  }

  private async readCopy(file: string, name: string, check?: FlashValueCheck<unknown>): Promise<CopyState> {
    let fh;
    try {
      fh = await open(file, 'r');
    } catch (e) {
      if (hasCode(e, 'ENOENT')) return { file, missing: true };
      return { file, missing: false, problem: `cannot be read: ${(e as Error).message}` };
    }
    try {
      // The limit is checked before a byte is buffered: a damaged size never allocates.
      const { size } = await fh.stat();
      const limit = this.maxRecordBytes + envelopeOverhead(name);
      if (size > limit) return { file, missing: false, problem: `is ${size} bytes, over the limit of ${limit}` };
      const bytes = new Uint8Array(size);
      let got = 0;
      while (got < size) {
        const { bytesRead } = await fh.read(bytes, got, size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const envelope = decodeEnvelope(bytes.subarray(0, got), name);
      const decoded = decodePayload(envelope.payload);
      let value: unknown = decoded;
      if (check) {
        try {
          value = check(decoded);
        } catch (e) {
          return { file, missing: false, problem: `holds an unexpected value: ${(e as Error).message}` };
        }
      }
      return { file, missing: false, envelope, value };
    } catch (e) {
      if (e instanceof EnvelopeError) return { file, missing: false, problem: `is damaged: ${e.message}` };
      return { file, missing: false, problem: `cannot be read: ${(e as Error).message}` };
    } finally {
      await fh.close();
    }
  }
}

/** `<file>.<why>-<UTC time>`: where a file goes that is kept for inspection, not used. */
export function asideName(file: string, why: string, wallTimeMs: number): string {
  return `${file}.${why}-${new Date(wallTimeMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

function nameError(name: string): FlashRecordError {
  return new FlashRecordError('bad_name', name, `flash record name ${JSON.stringify(name)} is not ${FLASH_RECORD_NAME}`);
}

function checkName(name: string): void {
  if (!FLASH_RECORD_NAME.test(name)) throw nameError(name);
}

function recordOf<T>(name: string, copy: CopyState, fromBackup: boolean): FlashRecord<T> {
  const e = copy.envelope!;
  return { name, value: copy.value as T, sequence: e.sequence, writtenAtMs: e.writtenAtMs, file: copy.file, fromBackup };
}
