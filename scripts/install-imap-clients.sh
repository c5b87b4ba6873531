#!/usr/bin/env bash
# Installs the IMAP clients the IMAP client interop tests drive (tests/interop/imap_*_test.ts):
# offlineimap (Debian's offlineimap3) and mutt. imapflow needs no install: the test imports it
# as a pinned npm: specifier and Deno fetches it.
exec bash "$(dirname "$0")/apt-install.sh" "IMAP clients" offlineimap3 mutt
