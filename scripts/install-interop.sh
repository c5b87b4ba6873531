#!/usr/bin/env bash
# Installs the Debian packages the interop suite drives (real clients and peers). Idempotent:
# does nothing when everything is present. Needs root (or sudo) for apt-get.
# postfix is a peer MTA (tests/helpers/postfix.ts runs private instances of it); python3-dkim
# provides dkimverify; dovecot-imapd is the reference IMAP server the FETCH items are compared with.
set -euo pipefail
packages=(openssl swaks python3 postfix python3-dkim dovecot-imapd isync)
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
# Postfix asks for a mailer type on install; "No configuration" leaves the system instance
# unconfigured (and not started): the tests run private instances with their own config.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
