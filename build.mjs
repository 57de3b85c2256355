// Bundles src/main.ts into the single file dist/p2psip.mjs that a device runs.
import { build } from 'esbuild';
import { chmodSync, writeFileSync } from 'node:fs';

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

// The MQTT client speaks plain TCP and TLS to a broker on the LAN. What it brings for browsers,
// WebSockets and SOCKS proxies is replaced by stubs that throw if ever reached, its copy of
// Node's streams (readable-stream) by Node's own, and `debug` by a no-op: 880 → 625 KB.
const unusedOnDevice = {
  name: 'unused-on-device',
  setup(b) {
    const stub = (why) => `const fail = () => { throw new Error(${JSON.stringify(why)}); };
module.exports = new Proxy(fail, { get: (_, k) => (k === '__esModule' ? false : fail) });`;
    b.onResolve({ filter: /^(ws|socks|worker-timers)$/ }, (a) => ({ path: a.path, namespace: 'unused' }));
    b.onResolve({ filter: /^\.\/(ws|wx|ali|socks)$/ }, (a) => (/mqtt[\\/]build[\\/]lib[\\/]connect/.test(a.importer) ? { path: a.path, namespace: 'unused' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'unused' }, (a) => ({ contents: stub(`${a.path}: not available on the device (MQTT over TCP or TLS only)`), loader: 'js' }));
    b.onResolve({ filter: /^readable-stream$/ }, () => ({ path: 'stream', external: true }));
    // `debug` logging is never switched on in the device (it has its own logger): a no-op.
    b.onResolve({ filter: /^debug$/ }, () => ({ path: 'debug', namespace: 'quiet' }));
    b.onLoad({ filter: /.*/, namespace: 'quiet' }, () => ({
      contents: `const quiet = () => { const f = () => {}; f.enabled = false; f.extend = () => f; return f; };
module.exports = Object.assign(quiet, { enable() {}, disable() { return ''; }, enabled: () => false });`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: ['src/main.ts'],
  plugins: [unusedOnDevice],
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
  // P2PSIP_BUILD_META=FILE writes esbuild's metafile: what each input adds to the bundle.
  metafile: Boolean(process.env.P2PSIP_BUILD_META),
}).then((r) => {
  if (process.env.P2PSIP_BUILD_META) writeFileSync(process.env.P2PSIP_BUILD_META, JSON.stringify(r.metafile));
});
chmodSync('dist/p2psip.mjs', 0o755);
