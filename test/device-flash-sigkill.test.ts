// Flash store under SIGKILL (DESIGN.md "The device's flash"): a writer process rewrites two
// records in a tight loop and is killed at a random moment, 200 times; after every kill a
// fresh reader must find each record complete and valid (the current copy or the .bak),
// holding a value the writer wrote whole, never older than what the previous reader saw, with
// the record's file mode, and no temporary file left once the store is opened.
//
// The writer is test/fixtures/flash-writer.ts, bundled by esbuild before the test: under
// `node --import tsx` each start costs about half a second of CPU, which for 200 processes
// is well over a minute; the bundle starts in a fifth of that and runs the same code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { build } from 'esbuild';
import { createHash, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlashStore } from '../src/device/flash-store.ts';
import { silentLogger } from '../src/util/log.ts';
import { PUBLIC_RECORD, SECRET_RECORD, type ProbeValue, probeValue } from './fixtures/flash-writer.ts';

const KILLS = 200;
/** Writers killed at once, each on its own data directory: process start-up dominates. */
const LANES = 4;
const WRITER_SOURCE = fileURLToPath(new URL('./fixtures/flash-writer.ts', import.meta.url));

/** The writer as one ESM file for plain `node` (the banner gives bundled CommonJS a require). */
async function bundleWriter(outfile: string): Promise<void> {
  await build({
    entryPoints: [WRITER_SOURCE], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node18', logLevel: 'warning',
    banner: { js: `import { createRequire as __flashCreateRequire } from 'node:module';\nconst require = __flashCreateRequire(import.meta.url);` },
  });
}

function startWriter(writer: string, dir: string): ChildProcess {
  return spawn(process.execPath, [writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Resolves once the writer is in its loop; rejects if it exits first. */
function writing(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code, signal) => reject(new Error(`writer exited before writing: ${code ?? signal}`)));
  });
}

function checkProbe(v: unknown, where: string): ProbeValue {
  const p = v as ProbeValue;
  assert.ok(p && typeof p === 'object', `${where}: not a map`);
  assert.ok(p.body instanceof Uint8Array, `${where}: body is not bytes`);
  assert.equal(createHash('sha256').update(p.body).digest('hex'), p.sha256, `${where}: the body is not the one written with it`);
  assert.ok(Number.isInteger(p.n) && p.n >= 0, `${where}: counter`);
  return p;
}

interface Lane {
  dir: string;
  sequences: Map<string, number>;
  fromBackup: number;
}

async function round(writer: string, lane: Lane, kill: number): Promise<void> {
  const child = startWriter(writer, lane.dir);
  const exited = once(child, 'exit');
  await writing(child);
  await new Promise((r) => setTimeout(r, randomInt(5, 41)));
  child.kill('SIGKILL');
  const [, signal] = (await exited) as [number | null, string | null];
  assert.equal(signal, 'SIGKILL', `kill ${kill}: the writer ended on its own`);

  // A fresh reader: a new store on the directory, nothing remembered from the writer.
  const reader = await FlashStore.open({ log: silentLogger }, { dir: lane.dir });
  assert.deepEqual(readdirSync(lane.dir).filter((f) => f.endsWith('.tmp')), [], `kill ${kill}: temporary files left after open`);
  for (const [name, mode] of [[SECRET_RECORD, 0o600], [PUBLIC_RECORD, 0o644]] as const) {
    const where = `kill ${kill}, ${name}`;
    const r = await reader.read(name);
    assert.ok(r, `${where}: the record is gone`);
    checkProbe(r.value, where);
    const before = lane.sequences.get(name) ?? 0;
    assert.ok(r.sequence >= before, `${where}: sequence ${r.sequence} went back from ${before}`);
    lane.sequences.set(name, r.sequence);
    if (r.fromBackup) lane.fromBackup++;
    assert.equal(statSync(r.file).mode & 0o777, mode, `${where}: mode of ${r.file}`);
  }
}

test(`flash store: ${KILLS} SIGKILLs during writes leave a readable, consistent state every time`, { timeout: 180_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'p2psip-flash-kill-'));
  try {
    const writer = join(root, 'flash-writer.mjs');
    await bundleWriter(writer);
    const lanes: Lane[] = [];
    for (let i = 0; i < LANES; i++) {
      const dir = join(root, `lane${i}`);
      // A record exists before the first kill: from then on one must always be readable.
      const seed = await FlashStore.open({ log: silentLogger }, { dir });
      await seed.write(SECRET_RECORD, probeValue(0, 0, new Uint8Array([1, 2, 3])), { secret: true });
      await seed.write(PUBLIC_RECORD, probeValue(0, 0, new Uint8Array([4, 5, 6])));
      lanes.push({ dir, sequences: new Map(), fromBackup: 0 });
    }
    let next = 0;
    await Promise.all(lanes.map(async (lane) => {
      for (let kill = next++; kill < KILLS; kill = next++) await round(writer, lane, kill);
    }));
    const written = lanes.map((l) => Math.min(...l.sequences.values()));
    assert.ok(written.every((s) => s > 1), `every writer got some writes done: ${written.join(', ')}`);
    t.diagnostic(`records written per lane (lowest sequence): ${written.join(', ')}; reads from the .bak copy: ${lanes.reduce((n, l) => n + l.fromBackup, 0)}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
