#!/usr/bin/env bash
# Installs the peers benchmarks compare against (Dovecot LMTP and IMAP; Postfix and its
# smtp-source for `bench smtp`). Best effort: a benchmark still prints Postern's own figures
# when a peer cannot be installed.
set -uo pipefail
bash "$(dirname "$0")/install-dav-peers.sh" || echo "could not install the DAV peers"
# SpamAssassin (spamd, spamc, sa-learn) for `bench spam`; before the early exit below.
bash "$(dirname "$0")/apt-install.sh" "SpamAssassin for bench spam" spamassassin spamc ||
  echo "could not install SpamAssassin; bench spam will print Postern's figures only"
if [[ -x /usr/sbin/dovecot && -x /usr/lib/dovecot/lmtp && -x /usr/lib/dovecot/imap &&
  -x /usr/sbin/postfix && -x /usr/sbin/smtp-source ]]; then exit 0; fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "installing benchmark peers: dovecot-core dovecot-lmtpd dovecot-imapd postfix"
# Postfix asks what kind of mail server this is; answer "No configuration" so it neither prompts
# nor writes a main.cf (the benchmark runs Postfix with a throwaway config of its own).
echo "postfix postfix/main_mailer_type select No configuration" |
  $SUDO debconf-set-selections >/dev/null 2>&1
$SUDO apt-get update -qq >/dev/null 2>&1
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-core dovecot-lmtpd \
  dovecot-imapd >/dev/null 2>&1 ||
  echo "could not install Dovecot; benchmarks will print Postern's figures only"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null 2>&1 ||
  echo "could not install Postfix; bench smtp will print Postern's figures only"
exit 0
