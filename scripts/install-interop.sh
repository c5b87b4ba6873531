#!/usr/bin/env bash
# Installs the Debian packages the interop suite drives (real clients and peers).
# postfix is a peer MTA (tests/helpers/postfix.ts runs private instances of it); python3-dkim
# provides dkimverify; dovecot-imapd is the reference IMAP server the FETCH items are compared with;
# pebble is the ACME test CA tests/interop/acme_pebble_test.ts issues certificates from;
# chromium is the headless browser tests/interop/admin_browser_test.ts drives the web admin with.
bash "$(dirname "$0")/install-sieve-peers.sh"
bash "$(dirname "$0")/install-dav-peers.sh"
bash "$(dirname "$0")/apt-install.sh" "ManageSieve client (sieve-connect)" sieve-connect
bash "$(dirname "$0")/apt-install.sh" "ACME test CA (pebble)" pebble
bash "$(dirname "$0")/apt-install.sh" "headless browser (chromium)" chromium
exec bash "$(dirname "$0")/apt-install.sh" "interop tools" \
  openssl swaks python3 postfix python3-dkim dovecot-imapd isync
