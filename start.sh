#!/bin/bash
# SPDX-FileCopyrightText: 2026 video_converter_fm contributors
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# Container entrypoint. With HaRP (HP_SHARED_KEY set by AppAPI on Nextcloud 32+) it writes the FRP client
# config and starts frpc, which tunnels HaRP's port to the app's unix socket; nc_py_api's run_app listens
# on that socket (HP_EXAPP_SOCK) instead of APP_HOST:APP_PORT. Without HaRP (DSP, manual install) it only
# starts the app. Arguments replace the default command (python3 -m ex_app.lib.main).
set -euo pipefail

FRPC_CONFIG=${FRPC_CONFIG:-/frpc.toml}
APP_USER=${VCFM_RUN_AS:-vcfm}
EXAPP_SOCK=${HP_EXAPP_SOCK:-/tmp/exapp.sock}

write_frpc_config() {
    local tls='transport.tls.enable = false'
    if [ -d /certs/frp ]; then
        echo "start.sh: /certs/frp found, FRP with TLS"
        tls='transport.tls.enable = true
transport.tls.certFile = "/certs/frp/client.crt"
transport.tls.keyFile = "/certs/frp/client.key"
transport.tls.trustedCaFile = "/certs/frp/ca.crt"
transport.tls.serverName = "harp.nc"'
    fi
    # The file holds the shared key: readable by root (frpc) only.
    (
        umask 077
        cat >"$FRPC_CONFIG" <<TOML
serverAddr = "${HP_FRP_ADDRESS}"
serverPort = ${HP_FRP_PORT}
loginFailExit = false

${tls}

metadatas.token = "${HP_SHARED_KEY}"

[[proxies]]
name = "${APP_ID}"
type = "tcp"
remotePort = ${APP_PORT}
[proxies.plugin]
type = "unix_domain_socket"
unixPath = "${EXAPP_SOCK}"
TOML
    )
}

if [ -n "${HP_SHARED_KEY:-}" ]; then
    write_frpc_config
    # A socket left by the previous run would stop the app from binding.
    rm -f "$EXAPP_SOCK"
    echo "start.sh: starting frpc"
    frpc -c "$FRPC_CONFIG" &
else
    # Regenerated on every start, so a config from an earlier HaRP deployment must not linger.
    rm -f "$FRPC_CONFIG" 2>/dev/null || true
fi

if [ "$#" -eq 0 ]; then
    set -- python3 -m ex_app.lib.main
fi

# Run the app unprivileged when the image's user exists and we are root (not under `docker run --user`).
if [ "$(id -u)" = 0 ] && id "$APP_USER" >/dev/null 2>&1; then
    storage=${APP_PERSISTENT_STORAGE:-}
    if [ -n "$storage" ]; then
        mkdir -p "$storage"
        # Volumes created by an earlier root-run version, or by docker from a host path, start out root's.
        if [ "$(stat -c %U "$storage")" != "$APP_USER" ]; then
            chown -R "$APP_USER:" "$storage"
        fi
    fi
    HOME=$(getent passwd "$APP_USER" | cut -d: -f6)
    export HOME
    echo "start.sh: starting as ${APP_USER}: $*"
    exec setpriv --reuid="$APP_USER" --regid="$(id -g "$APP_USER")" --init-groups --inh-caps=-all -- "$@"
fi

echo "start.sh: starting: $*"
exec "$@"
