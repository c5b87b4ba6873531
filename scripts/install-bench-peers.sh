#!/usr/bin/env bash
# Installs the peers benchmarks compare against (Dovecot LMTP). Best effort: a benchmark still
# prints Postern's own figures when the peer cannot be installed.
set -uo pipefail
if [[ -x /usr/sbin/dovecot && -x /usr/lib/dovecot/lmtp ]]; then exit 0; fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "installing benchmark peers: dovecot-core dovecot-lmtpd"
{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dovecot-core dovecot-lmtpd; } >/dev/null 2>&1 ||
  echo "could not install Dovecot; benchmarks will print Postern's figures only"
exit 0
