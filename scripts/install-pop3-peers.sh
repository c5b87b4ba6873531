#!/usr/bin/env bash
# Installs the POP3 clients and the reference POP3 server the POP3 interop test and `bench pop3`
# drive: fetchmail, getmail6 (retrieving into a local maildir) and Dovecot's POP3 server.
exec bash "$(dirname "$0")/apt-install.sh" "POP3 peers" \
  python3 fetchmail getmail6 dovecot-core dovecot-pop3d
