#!/usr/bin/env bash
# Installs the Debian packages the interop suite drives (real clients and peers). Idempotent:
# does nothing when everything is present. Needs root (or sudo) for apt-get.
set -euo pipefail
packages=(openssl swaks python3)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "installing interop tools: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
