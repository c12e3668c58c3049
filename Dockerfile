# syntax=docker/dockerfile:1
# SPDX-FileCopyrightText: 2026 video_converter_fm contributors
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# Image for AppAPI's docker_install. Build: make docker (needs a Docker engine with BuildKit).

#############################
# Stage 1: the FRP client that HaRP (Nextcloud 32+) uses to reach the app; unused on DSP / AppAPI 3.2.
#############################
FROM python:3.12-slim-bookworm AS frpc

# Bump version and both checksums together (the release's frp_sha256_checksums.txt).
ARG FRP_VERSION=0.61.1
ARG FRP_AMD64_SHA256=bff260b68ca7b1461182a46c4f34e9709ba32764eed30a15dd94ac97f50a2c40
ARG FRP_ARM64_SHA256=af6366f2b43920ebfe6235dba6060770399ed1fb18601e5818552bd46a7621f8
# Set by BuildKit; the classic builder leaves it empty and the build platform is used.
ARG TARGETARCH

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Unpinned on purpose: bookworm point releases drop old package versions, and a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN arch="${TARGETARCH:-$(dpkg --print-architecture)}" \
    && case "${arch}" in \
        amd64) sha="${FRP_AMD64_SHA256}" ;; \
        arm64) sha="${FRP_ARM64_SHA256}" ;; \
        *) echo "no FRP checksum for ${arch}" >&2; exit 1 ;; \
    esac \
    && name="frp_${FRP_VERSION}_linux_${arch}" \
    && curl -fsSL -o /tmp/frp.tar.gz "https://github.com/fatedier/frp/releases/download/v${FRP_VERSION}/${name}.tar.gz" \
    && echo "${sha}  /tmp/frp.tar.gz" | sha256sum -c - \
    && tar -xzf /tmp/frp.tar.gz -C /tmp "${name}/frpc" \
    && install -m 0755 "/tmp/${name}/frpc" /usr/local/bin/frpc \
    && rm -rf /tmp/frp.tar.gz "/tmp/${name}"

#############################
# Stage 2: the conversions page (src/ → ex_app/js/video_converter_fm-main.js, see vite.config.ts)
#############################
FROM node:20-bookworm-slim AS frontend

WORKDIR /build
# Packages first, in their own layer, so that a change in src/ does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# @nextcloud/vite-config reads the app id and version from appinfo/info.xml.
COPY appinfo/info.xml appinfo/
COPY vite.config.ts tsconfig.json ./
COPY l10n/ l10n/
COPY src/ src/
RUN npm run build

#############################
# Stage 3: runtime
#############################
FROM python:3.12-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg does the work; curl and procps (pgrep) serve healthcheck.sh.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg curl procps \
    && rm -rf /var/lib/apt/lists/*

COPY --from=frpc /usr/local/bin/frpc /usr/local/bin/frpc

# start.sh runs as root (HaRP's /frpc.toml and the TLS client key under /certs/frp belong to root), then
# starts the app as this user. The volume mount point is created here so that a new named volume
# inherits its owner.
RUN groupadd --system --gid 10001 vcfm \
    && useradd --system --uid 10001 --gid vcfm --create-home --home-dir /home/vcfm --shell /usr/sbin/nologin vcfm \
    && install -d -o vcfm -g vcfm /nc_app_video_converter_fm_data

WORKDIR /app

# Dependencies first, in their own layer, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir --root-user-action=ignore -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY ex_app/ ex_app/
COPY --from=frontend /build/ex_app/js/ ex_app/js/
COPY appinfo/ appinfo/
COPY l10n/ l10n/
COPY translationfiles/ translationfiles/
RUN pip install --no-cache-dir --root-user-action=ignore --no-deps .

COPY --chmod=755 start.sh healthcheck.sh /

# AppAPI 3.2 waits up to 15 minutes for "healthy" and gives up at "unhealthy": the start period and retries
# leave room for a slow first start (database migrations) without marking the container unhealthy.
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=24 CMD ["/healthcheck.sh"]
ENTRYPOINT ["/start.sh"]
