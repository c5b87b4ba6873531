#!/usr/bin/env bash
# Installs the IMAP clients the IMAP client interop tests drive (tests/interop/imap_*_test.ts):
# offlineimap (Debian's offlineimap3) and mutt. imapflow needs no install: the test imports it
# as a pinned npm: specifier and Deno fetches it.
# Idempotent: does nothing when everything is present. Needs root (or sudo) for apt-get.
set -euo pipefail
packages=(offlineimap3 mutt)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "installing IMAP clients: ${missing[*]}"
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
  "${missing[@]}" >/dev/null
