#!/usr/bin/env bash
# One command for a fresh Debian machine: install dependencies, build, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target cipherl_cli
exec build/cipherl demo "$@"
