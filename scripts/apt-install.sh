#!/usr/bin/env bash
# Installs the Debian packages named after the label that are not installed yet:
#   bash scripts/apt-install.sh "interop tools" openssl swaks …
# Idempotent: does nothing when everything is present. Needs root (or sudo) for apt-get.
set -euo pipefail
label=$1
shift
missing=()
for package in "$@"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "installing $label: ${missing[*]}"
# Postfix asks for a mailer type on install; "No configuration" leaves the system instance
# unconfigured (and not started): tests and benchmarks run private instances of their own.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
  "${missing[@]}" >/dev/null
