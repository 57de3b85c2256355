// `npm run demo` from the bundle: a building on one machine, every step printed, the door
// relay pulsed, every process gone at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BUNDLE, deviceNodeFlags, ensureBundle } from './harness/processes.ts';

test('the demo runs from node dist/p2psip.mjs: a press, an answer on the low-memory client, the code, a pulse', { timeout: 180_000 }, () => {
  ensureBundle();
  const r = spawnSync(process.execPath, [...deviceNodeFlags(), BUNDLE, 'demo'], { encoding: 'utf8', timeout: 170_000 });
  assert.equal(r.status, 0, `demo exited ${r.status}:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  const steps = r.stdout.split('\n').filter((l) => l.startsWith('[demo] '));
  for (const expected of [
    /8 flats joined as peers/,
    /memory budget: it runs as a client/,
    /presses button 2/,
    /both devices of flat 2 ring/,
    /answers on the small device/,
    /received \d+ RTP packets/,
    /keys 1234#/,
    /door relay energised/,
    /relay is off again/,
    /every device stopped/,
  ]) assert.ok(steps.some((l) => expected.test(l)), `no step matching ${expected}:\n${steps.join('\n')}`);
  const leftovers = spawnSync('pgrep', ['-f', 'p2psip-demo-'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(leftovers, '', 'no device process outlives the demo');
});
