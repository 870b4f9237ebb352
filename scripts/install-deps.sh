#!/usr/bin/env bash
# Install the Debian packages blend builds, tests and benchmarks with, if missing.
set -euo pipefail
PKGS=(build-essential clang pkg-config
      libutf8proc-dev libstemmer-dev libzstd-dev libcjson-dev libstreamvbyte-dev
      libopenblas-serial-dev libcurl4-openssl-dev libmicrohttpd-dev
      python3 python3-numpy)
# Peers for `make bench` only (large): installed when BLEND_BENCH_DEPS=1.
if [ "${BLEND_BENCH_DEPS:-0}" = 1 ]; then
  PKGS+=(libxapian-dev libsqlite3-dev g++ python3-torch libopenblas0-openmp hyperfine)
  # ANN peers (bench/bench_ann.sh): hnswlib header, FAISS (+ its BLAS/LAPACK);
  # usearch comes from npm (bench_ann.sh installs it under build/bench when npm exists)
  PKGS+=(libhnswlib-dev libfaiss-dev libopenblas-dev liblapack-dev)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
