#!/usr/bin/env bash
# Installs the DAV peers and clients the DAV interop tests drive: litmus (WebDAV conformance),
# Radicale (the reference CalDAV/CardDAV server tests/helpers/radicale.ts runs privately),
# python3-caldav with python3-dateutil and python3-icalendar (CalDAV client and a brute-force
# recurrence expansion to check it against), vdirsyncer, khal and khard (sync and list calendars
# and contacts), and cadaver (a command-line WebDAV client).
exec bash "$(dirname "$0")/apt-install.sh" "DAV peers and clients" \
  litmus radicale python3-caldav vdirsyncer khal khard cadaver python3-dateutil python3-icalendar
