#!/usr/bin/env bash
# Installs the Debian packages the interop suite drives (real clients and peers).
# postfix is a peer MTA (tests/helpers/postfix.ts runs private instances of it); python3-dkim
# provides dkimverify; dovecot-imapd is the reference IMAP server the FETCH items are compared with.
bash "$(dirname "$0")/install-sieve-peers.sh"
bash "$(dirname "$0")/install-dav-peers.sh"
bash "$(dirname "$0")/apt-install.sh" "ManageSieve client (sieve-connect)" sieve-connect
exec bash "$(dirname "$0")/apt-install.sh" "interop tools" \
  openssl swaks python3 postfix python3-dkim dovecot-imapd isync
