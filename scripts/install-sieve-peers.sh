#!/usr/bin/env bash
# Installs Dovecot Pigeonhole (dovecot-sieve, which provides sieve-test) and dovecot-core: the
# reference Sieve interpreter whose outcomes tests/fixtures/sieve/ records and
# tests/interop/sieve_pigeonhole_corpus_test.ts re-checks.
exec bash "$(dirname "$0")/apt-install.sh" "sieve reference (Pigeonhole)" \
  dovecot-core dovecot-sieve
