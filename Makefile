# SPDX-FileCopyrightText: 2026 video_converter_fm contributors
# SPDX-License-Identifier: AGPL-3.0-or-later
#
# `make` lists the targets. Variables can be set on the command line: make run APP_SECRET=… APP_PORT=…

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON        ?= python3
APP_ID        := video_converter_fm
VERSION       := $(shell sed -n 's:.*<version>\(.*\)</version>.*:\1:p' appinfo/info.xml | head -n 1)

# make run / make register (manual_install)
APP_HOST      ?= 127.0.0.1
APP_PORT      ?= 23000
APP_SECRET    ?=
NEXTCLOUD_URL ?= http://localhost
AA_VERSION    ?= 3.2.3
APP_PERSISTENT_STORAGE ?= $(CURDIR)/.data
OCC           ?=

# make test / make lint
PYTEST_ARGS   ?=
LINT_PATHS    := $(wildcard ex_app tests bench scripts)

# make docker
IMAGE         ?= ghcr.io/video-converter-fm/video_converter_fm

# root installs system packages directly, everyone else through sudo
SUDO          := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# `make install` records the environment it installed into; other targets reinstall when that changed.
STAMP         := .make/installed
PY_PREFIX      = $(shell $(PYTHON) -c 'import sys; print(sys.prefix)')
SCRIPTS_DIR    = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
HADOLINT       = $(or $(wildcard $(SCRIPTS_DIR)/hadolint),hadolint)

.PHONY: help install deps ffmpeg node build test lint demo bench run register unregister l10n l10n-extract docker clean

help:
	@echo "video_converter_fm $(VERSION)"
	@echo ""
	@echo "  make demo          the ExApp converting a sample against the embedded stand-in [VIDEO=… TARGET=mp4]"
	@echo "  make demo UI=1     … then keep running and print the Conversions page's URL [PORT=8080]"
	@echo "  make test          install, ffmpeg if missing, then the whole pytest suite (PYTEST_ARGS=…)"
	@echo "  make lint          ruff check + ruff format --check, hadolint Dockerfile, vue-tsc on src/ (+ shellcheck if present)"
	@echo ""
	@echo "  make install       pip install -e '.[dev]' into the current environment (venv, or the system as root)"
	@echo "  make ffmpeg        apt-get install ffmpeg when it is missing"
	@echo "  make build         the conversions page: npm ci + vite build into $(FRONTEND) (when src/ changed)"
	@echo "  make run           run the ExApp here for manual_install: APP_SECRET=… [APP_PORT=$(APP_PORT)] [NEXTCLOUD_URL=…]"
	@echo "  make register      OCC='…/occ' APP_SECRET=…: register the running ExApp with AppAPI (manual_install)"
	@echo "  make unregister    OCC='…/occ'"
	@echo "  make l10n          compile translationfiles/*/*.po into .mo and l10n/<lang>.js|json"
	@echo "  make l10n-extract  refresh the .pot from the Python and page sources and merge it into every .po"
	@echo "  make docker        build $(IMAGE):$(VERSION) (needs a Docker engine with BuildKit)"
	@echo ""
	@echo "  make bench         benchmarks against the stand-in: P1 P2 P3 P8 E1 F1 P5 P7 U1 [BENCH_ARGS='--only U1']"

# --- environment -----------------------------------------------------------------------------------------

install:
	@if ! $(PYTHON) -m pip --version >/dev/null 2>&1; then \
		echo "install: no pip for $(PYTHON); installing python3-pip"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pip; \
	fi
	@# Outside a venv, Debian's python refuses pip installs (PEP 668); as root we install anyway, as intended.
	flags="$$($(PYTHON) -c 'import os, sys, sysconfig; venv = sys.prefix != sys.base_prefix; \
		managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")); \
		root = os.geteuid() == 0; \
		print(" ".join(f for f, on in (("--break-system-packages", managed and not venv and root), \
		("--root-user-action=ignore", root)) if on))')"; \
	$(PYTHON) -m pip install $$flags -e '.[dev]'
	@mkdir -p $(dir $(STAMP)) && echo "$(PY_PREFIX)" > $(STAMP)

# install only when pyproject.toml changed or the environment is another one
deps:
	@if [ "$$(cat $(STAMP) 2>/dev/null)" != "$(PY_PREFIX)" ] || [ pyproject.toml -nt $(STAMP) ]; then \
		$(MAKE) --no-print-directory install PYTHON="$(PYTHON)"; \
	fi

ffmpeg:
	@if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then \
		echo "ffmpeg: $$(command -v ffmpeg)"; \
	else \
		echo "ffmpeg: not found, installing Debian's"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg; \
	fi

# The conversions page (src/, Vue + @nextcloud/vue, built by Vite into one classic script the ExApp serves).
# Rebuilt only when the sources, the lock file or the build config are newer than the output.
FRONTEND      := ex_app/js/video_converter_fm-main.js
FRONTEND_SRC  := $(shell find src -type f 2>/dev/null) $(wildcard l10n/*.js) package.json package-lock.json vite.config.ts tsconfig.json
# Vite 7 needs Node.js 20.19 or newer (Debian 13's nodejs; on Debian 12 NodeSource's nodejs 20 or 22).
NODE_MIN      := 20.19

node:
	@if ! command -v node >/dev/null 2>&1; then \
		echo "node: not found, installing Debian's nodejs and npm"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm; \
	elif ! command -v npm >/dev/null 2>&1; then \
		echo "npm: not found, installing Debian's npm"; \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm; \
	fi
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error("node: " + process.version + " is too old, the page needs Node.js >= $(NODE_MIN) (Vite 7)"); process.exit(1) }'

build: $(FRONTEND)

$(FRONTEND): $(FRONTEND_SRC)
	@$(MAKE) --no-print-directory node
	npm ci --no-audit --no-fund
	npm run build
	@touch $@

# --- checks ----------------------------------------------------------------------------------------------

test: deps ffmpeg build
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint: deps build
	$(PYTHON) -m ruff check $(LINT_PATHS)
	$(PYTHON) -m ruff format --check $(LINT_PATHS)
	$(HADOLINT) Dockerfile
	npm run --silent typecheck
	@if command -v shellcheck >/dev/null 2>&1; then shellcheck start.sh healthcheck.sh .ci/run; \
	else echo "lint: shellcheck not installed, shell scripts skipped"; fi

# The ExApp against the embedded Nextcloud stand-in: register, upload a sample, convert it, show the job.
# make demo VIDEO=path/to/clip.mov TARGET=webm converts your own file (exit 1 when the job fails).
# make demo UI=1 keeps everything running and prints the Conversions page's URL (stand-in on PORT).
VIDEO  ?=
TARGET ?= mp4
UI     ?=
PORT   ?= 8080
demo: deps ffmpeg build
	$(PYTHON) scripts/demo.py --target "$(TARGET)" $(if $(VIDEO),--video "$(VIDEO)") $(if $(UI),--ui --port $(PORT))

# Performance figures (P1, P2, P3, P8, E1, F1, P5, P7; see bench/run.py). BENCH_ARGS="--only P3" to pick; P5 uses wrk when installed (apt-get install wrk), else httpx.
BENCH_ARGS ?=
bench: deps ffmpeg build
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# --- manual_install against a real Nextcloud ---------------------------------------------------------------

run: deps
	@[ -n "$(APP_SECRET)" ] || { echo "run: set APP_SECRET (the same value goes to make register)"; exit 2; }
	@mkdir -p "$(APP_PERSISTENT_STORAGE)"
	APP_ID=$(APP_ID) APP_DISPLAY_NAME="Video converter" APP_VERSION=$(VERSION) AA_VERSION=$(AA_VERSION) \
	APP_HOST=$(APP_HOST) APP_PORT=$(APP_PORT) APP_SECRET="$(APP_SECRET)" NEXTCLOUD_URL="$(NEXTCLOUD_URL)" \
	APP_PERSISTENT_STORAGE="$(APP_PERSISTENT_STORAGE)" PYTHONUNBUFFERED=1 \
	$(PYTHON) -m ex_app.lib.main

# OCC is the occ command line, e.g. OCC="sudo -u www-data php /var/www/nextcloud/occ"
# or OCC="docker exec -u www-data nextcloud php occ". --force-scopes is gone from AppAPI 3 (accepted, unused).
register:
	@[ -n "$(OCC)" ] || { echo "register: set OCC, e.g. OCC='sudo -u www-data php /var/www/nextcloud/occ'"; exit 2; }
	@[ -n "$(APP_SECRET)" ] || { echo "register: set APP_SECRET to the secret make run was started with"; exit 2; }
	$(OCC) app_api:app:register $(APP_ID) manual_install \
		--json-info "$$($(PYTHON) scripts/json_info.py --port $(APP_PORT) --secret='$(APP_SECRET)')" \
		--wait-finish

unregister:
	@[ -n "$(OCC)" ] || { echo "unregister: set OCC, e.g. OCC='sudo -u www-data php /var/www/nextcloud/occ'"; exit 2; }
	$(OCC) app_api:app:unregister $(APP_ID) --force

# --- translations (see translationfiles/README.md) ---------------------------------------------------------

l10n:
	@for po in translationfiles/*/$(APP_ID).po; do \
		[ -e "$$po" ] || continue; \
		msgfmt --check --output-file="$${po%.po}.mo" "$$po" || exit 1; \
	done
	$(PYTHON) scripts/l10n.py

# The page's t()/n() strings (src/**/*.ts|vue) come from scripts/l10n_js.py and are merged into the same template.
# Strings translated elsewhere (the Files action names, which the browser translates) are marked with the
# no-op N_("…") so that xgettext finds them. A msgid that would vanish from the template stops the target:
# rerun with FORCE=1 when the string really was removed.
l10n-extract:
	@pot=translationfiles/templates/$(APP_ID).pot; tmp=$$(mktemp); \
	find ex_app -name '*.py' -print0 | sort -z | xargs -0 xgettext --language=Python --from-code=UTF-8 \
		--keyword=_ --keyword=_n:1,2 --keyword=N_ --add-comments=TRANSLATORS: --sort-by-file \
		--package-name=$(APP_ID) --package-version=$(VERSION) \
		--msgid-bugs-address=https://github.com/video-converter-fm/video_converter_fm/issues \
		--output="$$tmp" || exit 1; \
	if [ ! -s "$$tmp" ]; then rm -f "$$tmp"; echo "l10n-extract: no _() strings found, $$pot left as it is"; exit 1; fi; \
	$(PYTHON) scripts/l10n_js.py --output "$$tmp.page" || { rm -f "$$tmp" "$$tmp.page"; exit 1; }; \
	sed -i 's/charset=CHARSET/charset=UTF-8/' "$$tmp"; \
	msgcat --use-first --sort-by-file --output-file="$$tmp.all" "$$tmp" "$$tmp.page" || { rm -f "$$tmp" "$$tmp.page"; exit 1; }; \
	mv "$$tmp.all" "$$tmp"; rm -f "$$tmp.page"; \
	gone=$$(comm -23 <(grep '^msgid "..*"' "$$pot" | sort) <(grep '^msgid "..*"' "$$tmp" | sort)); \
	if [ -n "$$gone" ] && [ "$(FORCE)" != 1 ]; then \
		rm -f "$$tmp"; echo "l10n-extract: these strings are no longer in the sources (FORCE=1 drops them):"; \
		echo "$$gone"; exit 1; \
	fi; \
	mv "$$tmp" "$$pot"; \
	for po in translationfiles/*/$(APP_ID).po; do [ -e "$$po" ] && msgmerge --quiet --update --backup=none "$$po" "$$pot"; done; \
	echo "l10n-extract: $$pot updated; translate, then make l10n"

# --- image -------------------------------------------------------------------------------------------------

docker:
	@command -v docker >/dev/null 2>&1 || { echo "docker: needs a Docker engine (docker build with BuildKit)"; exit 2; }
	DOCKER_BUILDKIT=1 docker build --tag $(IMAGE):$(VERSION) .

clean:
	rm -rf .make .pytest_cache .ruff_cache node_modules ex_app/js test-output
