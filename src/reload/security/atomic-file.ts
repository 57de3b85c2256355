// Crash-safe file writes for the persisted identity: a reader sees the old file or the whole
// new one, never a torn key (write a temporary file, fsync, rename or link, fsync the folder).
// The flash store (src/device/flash-store.ts) builds its rotating records from the same parts.
import { randomBytes } from 'node:crypto';
import { link, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the new file, before the umask. */
  mode: number;
  /** Replace an existing file; when false an existing file wins and false is returned. */
  overwrite: boolean;
}

export function hasCode(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as { code?: unknown }).code as string);
}

/** `.<name>.<pid>.<8 hex>.tmp`: the writer's pid tells a stray file from one being written. */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Writes `data` to a new temporary file beside `path` and makes it durable (fsync) before
 * returning its name. `exactMode` sets the mode regardless of the umask (fchmod).
 */
export async function writeTempFile(path: string, data: string | Uint8Array, mode: number, exactMode = false): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(temp, 'wx', mode);
  try {
    if (exactMode) await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw e;
  }
  await fh.close();
  return temp;
}

/** Writes `data` to `path` atomically; returns false when `overwrite` is off and `path` exists. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<boolean> {
  const temp = await writeTempFile(path, data, options.mode);
  let placed = false;
  try {
    if (options.overwrite) {
      await rename(temp, path);
      placed = true;
    } else {
      // link() never replaces: of two processes creating at once, exactly one wins.
      try {
        await link(temp, path);
        placed = true;
      } catch (e) {
        if (!hasCode(e, 'EEXIST')) throw e;
      }
    }
  } finally {
    if (!placed || !options.overwrite) await unlink(temp).catch(() => {});
  }
  if (placed) await syncDirectory(dirname(path));
  return placed;
}

/** Makes new directory entries durable; some platforms cannot fsync a directory. */
export async function syncDirectory(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!hasCode(e, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF')) throw e;
  } finally {
    await fh?.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return !hasCode(e, 'ESRCH');
  }
}

/**
 * Removes the temporary files of writers that died before their rename (a power cut, a
 * SIGKILL); those of a live process, this one included, are still being written. Returns
 * the names removed.
 */
export async function removeStrayTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return [];
    throw e;
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch (e) {
      if (!hasCode(e, 'ENOENT')) throw e;
    }
  }
  return removed;
}

/** A text file's contents, or undefined when there is no such file. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return undefined;
    throw e;
  }
}
