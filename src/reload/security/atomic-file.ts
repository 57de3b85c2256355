// Crash-safe file writes for the persisted identity: a reader sees the old file or the whole
// new one, never a torn key (write a temporary file, fsync, rename or link, fsync the folder).
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the new file, before the umask. */
  mode: number;
  /** Replace an existing file; when false an existing file wins and false is returned. */
  overwrite: boolean;
}

function hasCode(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as { code?: unknown }).code as string);
}

/** Writes `data` to `path` atomically; returns false when `overwrite` is off and `path` exists. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<boolean> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(temp, 'wx', options.mode);
  let placed = false;
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
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
    await fh.close().catch(() => {});
    if (!placed || !options.overwrite) await unlink(temp).catch(() => {});
  }
  if (placed) await syncDirectory(dir);
  return placed;
}

/** Makes the new directory entry durable; some platforms cannot fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
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

/** A text file's contents, or undefined when there is no such file. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (hasCode(e, 'ENOENT')) return undefined;
    throw e;
  }
}
