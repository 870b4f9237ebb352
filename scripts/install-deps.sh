#!/usr/bin/env bash
# Install the Debian packages blend builds, tests and benchmarks with, if missing.
set -euo pipefail
PKGS=(build-essential clang pkg-config
      libutf8proc-dev libstemmer-dev libzstd-dev libcjson-dev libstreamvbyte-dev
      libopenblas-serial-dev libcurl4-openssl-dev libmicrohttpd-dev
      python3 python3-numpy
      chromium chromium-driver nodejs)   # the server's browser test (tests/browser)
# npm ships inside some nodejs builds (nodesource); Debian's own is a package.
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
# Peers for `make bench` only (large): installed when BLEND_BENCH_DEPS=1.
if [ "${BLEND_BENCH_DEPS:-0}" = 1 ]; then
  PKGS+=(libxapian-dev libsqlite3-dev g++ python3-torch libopenblas0-openmp hyperfine)
  # ANN peers (bench/bench_ann.sh): hnswlib header, FAISS (+ its BLAS/LAPACK);
  # usearch comes from npm (bench_ann.sh installs it under build/bench when npm exists)
  PKGS+=(libhnswlib-dev libfaiss-dev libopenblas-dev liblapack-dev)
  PKGS+=(wrk)   # HTTP load for bench/serve.sh
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# playwright-core (drives the system chromium; downloads no browser) for the
# server's page test, pinned by tests/browser/package-lock.json
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$root/tests/browser/node_modules/playwright-core" ] && command -v npm >/dev/null 2>&1; then
  echo "install-deps: npm ci in tests/browser (playwright-core)" >&2
  (cd "$root/tests/browser" && npm ci --no-audit --no-fund --silent) || echo "install-deps: npm ci failed; the browser test will skip" >&2
fi
# Hybrid peers for bench/hybrid.sh (bench only): LanceDB and sqlite-vec from
# npm, where ../shared/tools/peers/ looks for them.
if [ "${BLEND_BENCH_DEPS:-0}" = 1 ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d /tmp/peers/sqlite-vec/node_modules/sqlite-vec-linux-x64 ]; then
    (mkdir -p /tmp/peers/sqlite-vec && cd /tmp/peers/sqlite-vec && npm init -y >/dev/null &&
     npm install --no-audit --no-fund --silent sqlite-vec) || echo "install-deps: npm sqlite-vec failed; bench/hybrid.sh skips it" >&2
  fi
  if [ ! -d /tmp/peers/lancedb/node_modules/@lancedb ]; then
    (mkdir -p /tmp/peers/lancedb && cd /tmp/peers/lancedb && npm init -y >/dev/null &&
     npm install --no-audit --no-fund --silent @lancedb/lancedb apache-arrow@18) || echo "install-deps: npm LanceDB failed; bench/hybrid.sh skips it" >&2
  fi
fi
