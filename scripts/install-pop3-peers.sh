#!/usr/bin/env bash
# Installs the POP3 clients and the reference POP3 server the POP3 interop test and `bench pop3`
# drive: fetchmail, getmail6 (retrieving into a local maildir) and Dovecot's POP3 server.
# Idempotent: does nothing when everything is present. Needs root (or sudo) for apt-get.
set -euo pipefail
packages=(python3 fetchmail getmail6 dovecot-core dovecot-pop3d)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "installing POP3 peers: ${missing[*]}"
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
  "${missing[@]}" >/dev/null
