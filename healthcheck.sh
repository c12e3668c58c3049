#!/bin/bash
# SPDX-FileCopyrightText: 2026 video_converter_fm contributors
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# Docker HEALTHCHECK: healthy when the app answers GET /heartbeat (no auth, cheap) where AppAPI reaches it,
# and, under HaRP, when the FRP client that carries that traffic is running.
set -uo pipefail

if [ -n "${HP_SHARED_KEY:-}" ]; then
    [ -f "${FRPC_CONFIG:-/frpc.toml}" ] && pgrep -x frpc >/dev/null || exit 1
    exec curl -fsS -o /dev/null --max-time 2 --unix-socket "${HP_EXAPP_SOCK:-/tmp/exapp.sock}" \
        http://localhost/heartbeat
fi

host=${APP_HOST:-127.0.0.1}
case "$host" in
    "" | 0.0.0.0) host=127.0.0.1 ;;  # listening on all interfaces: ask over loopback
    "::" | "[::]") host="[::1]" ;;
    \[*) ;;
    *:*) host="[$host]" ;;           # bare IPv6 literal
esac
exec curl -fsS -o /dev/null --max-time 2 "http://${host}:${APP_PORT:-23000}/heartbeat"
