// The flash store (src/device/flash-store.ts, DESIGN.md "The device's flash"): records round
// trip, an unchanged value is not rewritten, secrets are 0600, every kind of damage to the
// current copy falls back to the .bak with a message naming file, damage and copy used, both
// bad is a typed error, and temporary files of killed writers are ignored and removed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cbor from 'cbor';
import fc from 'fast-check';
import { EnvelopeError, decodeEnvelope, encodeEnvelope } from '../src/device/flash-envelope.ts';
import { FlashRecordError, FlashStore } from '../src/device/flash-store.ts';
import { FakeClock } from '../src/util/clock.ts';
import type { Logger } from '../src/util/log.ts';

function recorder(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const add = (msg: string, fields?: Record<string, unknown>): void => void lines.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  return { log: { debug() {}, info: add, warn: add, error: add }, lines };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'p2psip-flash-'));
}

async function withStore(fn: (store: FlashStore, dir: string, lines: string[], clock: FakeClock) => Promise<void>, maxRecordBytes?: number): Promise<void> {
  const dir = tempDir();
  const { log, lines } = recorder();
  const clock = new FakeClock();
  try {
    await fn(await FlashStore.open({ log, clock }, { dir, maxRecordBytes }), dir, lines, clock);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A process id that no longer runs. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('flash store', () => {
  it('round trip: the value, its sequence and write time; bytes stay bytes', () => withStore(async (store, dir, _lines, clock) => {
    const value = { name: 'door', n: 3, ratio: -2.5, on: true, none: null, list: [1, 'two', [3]], key: new Uint8Array([0, 1, 254, 255]), nested: { a: { b: 'c' } } };
    assert.equal(await store.read('settings'), undefined, 'no record yet');
    assert.deepEqual(await store.write('settings', value), { written: true, sequence: 1 });
    const r = await store.read('settings');
    assert.deepEqual(r?.value, value);
    assert.equal(r?.sequence, 1);
    assert.equal(r?.writtenAtMs, clock.wallTime());
    assert.equal(r?.file, join(dir, 'settings.cbor'));
    assert.equal(r?.fromBackup, false);
    clock.advance(1000);
    assert.deepEqual(await store.write('settings', { ...value, n: 4 }), { written: true, sequence: 2 });
    const again = await (await FlashStore.open({}, { dir })).read('settings');
    assert.deepEqual(again?.value, { ...value, n: 4 });
    assert.equal(again?.writtenAtMs, clock.wallTime());
    // The previous value is the .bak, itself a whole record.
    assert.deepEqual(decodeEnvelope(readFileSync(join(dir, 'settings.cbor.bak')), 'settings').sequence, 1);
    assert.deepEqual(readdirSync(dir).sort(), ['settings.cbor', 'settings.cbor.bak']);
  }));

  it('the file is self-described CBOR (RFC 8949 §3.4.6): magic, version, name, sequence, time, payload, SHA-256', () => withStore(async (store, dir) => {
    await store.write('peers', { peers: [] });
    const bytes = readFileSync(join(dir, 'peers.cbor'));
    assert.equal(bytes.subarray(0, 3).toString('hex'), 'd9d9f7');
    const tagged = cbor.decodeFirstSync(bytes) as { tag: number; value: unknown[] };
    assert.equal(tagged.tag, 55799);
    const [magic, version, name, sequence, , payload, digest] = tagged.value;
    assert.deepEqual([magic, version, name, sequence], ['p2psip-flash', 1, 'peers', 1]);
    assert.deepEqual(cbor.decodeFirstSync(payload as Buffer), { peers: [] });
    assert.equal((digest as Buffer).length, 32);
  }));

  it('an unchanged value does not touch the file (same inode and mtime), whatever its key order', () => withStore(async (store, dir, _lines, clock) => {
    await store.write('settings', { a: 1, b: [1, 2] });
    const file = join(dir, 'settings.cbor');
    const before = statSync(file);
    clock.advance(5000);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await store.write('settings', { b: [1, 2], a: 1 }), { written: false, sequence: 1 });
    const after = statSync(file);
    assert.equal(after.ino, before.ino);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(existsSync(`${file}.bak`), false, 'no rotation either');
    assert.equal((await store.read('settings'))?.writtenAtMs, clock.wallTime() - 5000);
  }));

  it('secret records are 0600 and others 0644, whatever the umask; the .bak keeps its mode', () => withStore(async (store, dir) => {
    const old = process.umask(0o077);
    try {
      await store.write('identity', { key: new Uint8Array(32) }, { secret: true });
      await store.write('identity', { key: new Uint8Array(33) }, { secret: true });
      await store.write('settings', { a: 1 });
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(join(dir, 'identity.cbor')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'identity.cbor.bak')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'settings.cbor')).mode & 0o777, 0o644);
    assert.equal(statSync(dir).mode & 0o777, 0o700, 'the data directory is created owner-only');
  }));

  const damages: { name: string; damage: (file: string) => void; problem: RegExp }[] = [
    { name: 'truncated', damage: (f) => truncateSync(f, Math.floor(statSync(f).size / 2)), problem: /truncated/ },
    { name: 'a flipped byte', damage: (f) => { const b = readFileSync(f); b[Math.floor(b.length / 2)] ^= 0x10; writeFileSync(f, b); }, problem: /SHA-256 mismatch/ },
    { name: 'wrong magic', damage: (f) => { const b = readFileSync(f); b[6] ^= 0x01; writeFileSync(f, b); }, problem: /wrong magic/ },
    { name: 'an empty file', damage: (f) => writeFileSync(f, ''), problem: /empty file/ },
    { name: 'a missing file (killed between the renames)', damage: (f) => rmSync(f), problem: /missing/ },
    { name: 'another file format', damage: (f) => writeFileSync(f, '<overlay-config/>'), problem: /wrong magic/ },
    { name: 'another record\'s file', damage: (f) => copyFileSync(join(f, '..', 'other.cbor'), f), problem: /holds record "other"/ },
    { name: 'a file over the size limit', damage: (f) => writeFileSync(f, Buffer.alloc(8192)), problem: /over the limit/ },
  ];

  for (const d of damages) {
    it(`${d.name}: the .bak is used, and the message names file, damage and copy used`, () => withStore(async (store, dir, lines) => {
      await store.write('other', { x: 1 });
      await store.write('settings', { version: 1 });
      await store.write('settings', { version: 2 });
      const file = join(dir, 'settings.cbor');
      d.damage(file);
      const r = await store.read('settings');
      assert.deepEqual(r?.value, { version: 1 });
      assert.equal(r?.fromBackup, true);
      assert.equal(r?.file, `${file}.bak`);
      const message = lines.find((l) => l.includes('using the previous copy'));
      assert.ok(message, 'a warning');
      assert.ok(message.includes(file) && message.includes(`${file}.bak`), message);
      assert.match(message, d.problem);
      // Killed between the renames: the previous copy is the current one again, quietly.
      if (d.name.startsWith('a missing file')) assert.equal((await store.read('settings'))?.fromBackup, false);
      // The next write repairs: a damaged current copy never becomes the .bak.
      await store.write('settings', { version: 3 });
      assert.deepEqual((await store.read('settings'))?.value, { version: 3 });
      assert.deepEqual(decodeEnvelope(readFileSync(`${file}.bak`), 'settings').sequence, 1);
    }, 4096));
  }

  it('a value that fails the owner\'s check counts as damage', () => withStore(async (store) => {
    await store.write('settings', { version: 1 });
    await store.write('settings', { version: 'two' });
    const check = (v: unknown): { version: number } => {
      if (typeof (v as { version?: unknown }).version !== 'number') throw new TypeError('version is not a number');
      return v as { version: number };
    };
    const r = await store.read('settings', check);
    assert.deepEqual(r?.value, { version: 1 });
    assert.equal(r?.fromBackup, true);
  }));

  it('both copies bad: FlashRecordError "corrupt" naming both files and what is wrong', () => withStore(async (store, dir) => {
    await store.write('identity', { key: 1 }, { secret: true });
    await store.write('identity', { key: 2 }, { secret: true });
    const file = join(dir, 'identity.cbor');
    writeFileSync(file, '');
    truncateSync(`${file}.bak`, 10);
    await assert.rejects(store.read('identity'), (e: unknown) => {
      assert.ok(e instanceof FlashRecordError);
      assert.equal(e.reason, 'corrupt');
      assert.equal(e.record, 'identity');
      assert.deepEqual(e.problems.map((p) => p.file), [file, `${file}.bak`]);
      assert.match(e.message, /identity\.cbor: is damaged: empty file; .*identity\.cbor\.bak: is damaged: truncated/);
      return true;
    });
    // A .bak alone, damaged: still a clear error rather than "no record".
    rmSync(file);
    await assert.rejects(store.read('identity'), (e: unknown) => e instanceof FlashRecordError && /identity\.cbor: missing/.test(e.message));
  }));

  it('moveAside keeps the damaged copies as .corrupt-<time>; the record then reads as absent', () => withStore(async (store, dir) => {
    await store.write('settings', { a: 1 });
    await store.write('settings', { a: 2 });
    const moved = await store.moveAside('settings');
    assert.deepEqual(moved.map((m) => m.replace(dir, '')), ['/settings.cbor.corrupt-20231114T221320Z', '/settings.cbor.bak.corrupt-20231114T221320Z']);
    assert.equal(await store.read('settings'), undefined);
  }));

  it('temporary files of a killed writer are ignored, and removed when the store opens', () => withStore(async (store, dir) => {
    await store.write('settings', { a: 1 });
    const stray = join(dir, `.settings.cbor.${deadPid()}.0badcafe.tmp`);
    const live = join(dir, `.settings.cbor.${process.pid}.0badcafe.tmp`);
    writeFileSync(stray, 'half a record');
    writeFileSync(live, 'being written');
    assert.deepEqual((await store.read('settings'))?.value, { a: 1 });
    await FlashStore.open({}, { dir });
    assert.equal(existsSync(stray), false, 'a dead writer\'s file is removed');
    assert.equal(existsSync(live), true, 'a live writer\'s file is left alone');
  }));

  it('a value over the limit is refused and nothing is written', () => withStore(async (store, dir) => {
    await assert.rejects(store.write('settings', { blob: new Uint8Array(2000) }), (e: unknown) => e instanceof FlashRecordError && e.reason === 'too_large');
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(store.write('Bad/Name', {}), (e: unknown) => e instanceof FlashRecordError && e.reason === 'bad_name');
  }, 1024));

  it('create writes only where no copy exists: of concurrent creators exactly one wins', () => withStore(async (store, dir) => {
    const other = await FlashStore.open({}, { dir });
    const results = await Promise.all([store.create('identity', { who: 'a' }, { secret: true }), other.create('identity', { who: 'b' }, { secret: true })]);
    assert.deepEqual(results.filter(Boolean).length, 1);
    assert.equal(await store.create('identity', { who: 'c' }), false);
    const r = await store.read('identity');
    assert.deepEqual(r?.value, { who: results[0] ? 'a' : 'b' });
    assert.deepEqual(readdirSync(dir), ['identity.cbor'], 'no temporary file left');
  }));

  it('writes of one record are serialised: each lands whole, the last one wins', () => withStore(async (store) => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write('settings', { i })));
    const r = await store.read('settings');
    assert.deepEqual(r?.value, { i: 19 });
    assert.equal(r?.sequence, 20);
  }));
});

describe('flash envelope', () => {
  const sample = encodeEnvelope({ name: 'settings', sequence: 7, writtenAtMs: 1_700_000_000_000, payload: new Uint8Array(cbor.encodeCanonical({ a: [1, 2, 3], b: 'text' })) });

  it('every single-byte change and every truncation is caught', () => {
    for (let i = 0; i < sample.length; i++) {
      const bad = new Uint8Array(sample);
      bad[i] ^= 0x01;
      assert.throws(() => decodeEnvelope(bad, 'settings'), EnvelopeError, `byte ${i}`);
    }
    for (let n = 0; n < sample.length; n++) {
      assert.throws(() => decodeEnvelope(sample.subarray(0, n), 'settings'), EnvelopeError, `${n} bytes`);
    }
    assert.throws(() => decodeEnvelope(new Uint8Array([...sample, 0]), 'settings'), EnvelopeError, 'a trailing byte');
  });

  it('random bytes only ever give an EnvelopeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeEnvelope(bytes, 'settings');
        return false;
      } catch (e) {
        return e instanceof EnvelopeError;
      }
    }), { numRuns: 2000 });
  });
});
