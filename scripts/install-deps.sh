#!/usr/bin/env bash
# Installs cipherl's build and test dependencies from Debian's packages.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libomp-dev libcmocka-dev libsodium-dev
      libsqlite3-dev libzmq3-dev gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
