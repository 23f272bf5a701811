#!/usr/bin/env bash
# Installs the Debian 12 packages Fieldbook builds and tests with. Idempotent: when every
# package is already installed it touches nothing (and needs no network).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libsqlite3-dev libboost-dev libboost-system-dev libcpprest-dev rapidjson-dev catch2
  libssl-dev zlib1g-dev libdeflate-dev libicu-dev libpq-dev postgresql
  default-jdk-headless clang
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
