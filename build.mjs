// Bundles src/main.ts into the single file dist/p2psip.mjs that a device runs.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

// Native modules stay outside the bundle: they are built per board and loaded lazily,
// only by the provider that needs them.
const external = ['rpio', '@serialport/bindings-cpp', '@serialport/stream'];

// V8 flags of a device, measured on loopback. A 1 MB young generation takes about 6 MB off
// each peer's RSS. No optimizing and no baseline compiler take another 7 MB off a peer in a
// 30-peer overlay (57.8 → 50.0 MB median), and optimize-for-size 15 MB off a peer holding
// 10,000 records (90 → 75 MB); CPU per peer and verified Stores per second do not change
// beyond the noise, since a peer's work is mostly signatures and TLS, which are native.
// (--lite-mode saves as much but removes WebAssembly, and with it Node's fetch.)
const DEVICE_NODE_FLAGS = '--max-semi-space-size=1 --no-opt --no-sparkplug --optimize-for-size';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/p2psip.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node18',
  external,
  // Minified and pure ASCII: V8 keeps the source of every lazily compiled function, one byte
  // per character only when there is no other (about 1 MB less RSS for a client, measured).
  minifySyntax: true,
  minifyWhitespace: true,
  minifyIdentifiers: true,
  charset: 'ascii',
  legalComments: 'none',
  // An ESM bundle has no `require`; CommonJS dependencies pulled into it need one. The
  // shebang carries the device's V8 flags (the test harness reads them from there).
  banner: {
    js: `#!/usr/bin/env -S node ${DEVICE_NODE_FLAGS}\nimport { createRequire as __p2psipCreateRequire } from 'node:module';\nconst require = __p2psipCreateRequire(import.meta.url);`,
  },
  logLevel: 'warning',
});
chmodSync('dist/p2psip.mjs', 0o755);
