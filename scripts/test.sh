#!/usr/bin/env bash
# One command for a fresh Debian machine: install dependencies, then build and run
# every test three ways: gcc Release, gcc with AddressSanitizer + UBSan, and clang.
# All builds use -Wall -Wextra -Werror.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)

run() { # name, cmake args...
  local name=$1; shift
  echo "=== test build: $name"
  cmake -S . -B "build-test/$name" -DCIPHERL_WERROR=ON "$@" >/dev/null
  cmake --build "build-test/$name" -j"$jobs"
  (cd "build-test/$name" && ctest --output-on-failure -j"$jobs" --timeout 900)
}

run gcc-release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release
run gcc-asan-ubsan -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCIPHERL_SANITIZE=ON
run clang-release -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release
echo "all test builds passed"
