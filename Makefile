# The dashboard: `make run` does everything from a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=
export WEB_HOST WEB_PORT

VENV := .venv
# The service manager runs with the system python3 (stdlib only): it comes before the venv.
SERVICES := python3 deploy/services.py
# deploy/supervisord.conf reads these two: the programs run as whoever runs make, and its
# socket asks for the password deploy/services.py start generated.
STACK_ENV := SUPERVISOR_USER="$$(id -un)" SUPERVISOR_PASSWORD="$$(cat var/secrets/supervisor_password 2>/dev/null)"
SUPERVISORCTL := $(STACK_ENV) $(VENV)/bin/supervisorctl -c deploy/supervisord.conf
URL := http://$(WEB_HOST):$(WEB_PORT)/
# True when the supervisord of this checkout answers on its socket.
SUPERVISORD_RUNNING := [[ -x $(VENV)/bin/supervisorctl ]] && $(SUPERVISORCTL) pid >/dev/null 2>&1

.PHONY: help venv services services-stop migrate admin run up down restart-workers worker-host test test-unit bench chaos screenshots translations

help:
	@echo "make run            services, venv, migrations, admin user, then the whole stack in the foreground"
	@echo "make up / down      the stack in the background (waits for $(URL)readyz) / stopped"
	@echo "make restart-workers  a rolling graceful restart, one worker at a time"
	@echo "make worker-host    a worker-only host: WORKERS=n (2) workers in the foreground (DATABASE_URL, CELERY_BROKER_URL)"
	@echo "make test           the test suite (PYTEST_ARGS='-k ...' to narrow it)"
	@echo "make test-unit      the unit tier only (tests/unit): no PostgreSQL, RabbitMQ or browser"
	@echo "make bench          the benchmarks (BENCH_ARGS='--quick' or '--only throughput,latency')"
	@echo "make chaos          the fault-injection suite (its own database and vhost)"
	@echo "make screenshots    docs/screenshots/*.png taken by the test browser from the running product"
	@echo "make translations   extract the strings, merge them into the Korean catalog, compile it"
	@echo "make services       start local PostgreSQL and RabbitMQ (data in var/); services-stop stops them"
	@echo "make venv | migrate | admin"
	@echo "Settings: WEB_HOST=$(WEB_HOST) WEB_PORT=$(WEB_PORT); the rest is in .env (make services writes it;"
	@echo "          DATABASE_URL / CELERY_BROKER_URL there or in the environment use existing servers)."

# Korean pages need CJK glyphs in the browser the tests and screenshots drive.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

venv: $(VENV)/.stamp

$(VENV)/.stamp: requirements.txt
	@if ! python3 -c 'import ensurepip' 2>/dev/null && [[ $$(id -u) == 0 ]]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv; fi
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

services:
	$(SERVICES) start

services-stop:
	$(SERVICES) stop

migrate: venv services
	$(VENV)/bin/flask --app wsgi db upgrade

admin: venv services migrate
	$(VENV)/bin/flask --app wsgi users ensure-admin

run: venv services migrate admin
	@if $(SUPERVISORD_RUNNING); then echo "The stack is already running in the background (make down)."; exit 1; fi
	@echo "Dashboard: $(URL)  (Ctrl-C stops everything; logs in var/log/)"
	$(STACK_ENV) exec deploy/run.sh

up: venv services migrate admin
	@if $(SUPERVISORD_RUNNING); then \
		$(SUPERVISORCTL) start all >/dev/null || true; \
	else \
		$(STACK_ENV) $(VENV)/bin/supervisord -c deploy/supervisord.conf; \
	fi
	@echo "Waiting for $(URL)readyz ..."
	@deadline=$$((SECONDS + 60)); \
	until $(VENV)/bin/python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
			"$(URL)readyz" 2>/dev/null; do \
		if ((SECONDS >= deadline)); then \
			echo "$(URL)readyz did not answer 200 within 60 s" >&2; \
			$(SUPERVISORCTL) status >&2 || true; \
			tail -n 20 var/log/*.log >&2; \
			exit 1; \
		fi; \
		sleep 1; \
	done; \
	echo "Dashboard: $(URL)"

down:
	@if $(SUPERVISORD_RUNNING); then \
		$(SUPERVISORCTL) shutdown; \
		for i in $$(seq 240); do [[ -f var/run/supervisord.pid ]] || exit 0; sleep 0.5; done; \
		echo "supervisord did not exit within 120 s" >&2; exit 1; \
	else \
		echo "The stack is not running."; \
	fi

# One worker at a time: graceful restart, then wait until it answers again with a new pid.
restart-workers: venv
	$(VENV)/bin/flask --app wsgi workers rolling-restart

# A host that only runs workers: its settings from the environment or .env (DATABASE_URL,
# CELERY_BROKER_URL, WORKERS=n); the venv is built only when missing, so afterwards this
# needs no network but PostgreSQL's and RabbitMQ's (deploy/worker_host.py).
worker-host:
	@[[ -x $(VENV)/bin/celery && -x $(VENV)/bin/supervisord ]] || $(MAKE) --no-print-directory venv
	@$(if $(WORKERS),WORKERS='$(WORKERS)') exec $(VENV)/bin/python deploy/worker_host.py

# The tiers tests/unit, tests/integration/<area> and tests/browser (pyproject's testpaths);
# not tests/chaos (make chaos). The example job types (examples/acme_jobs) are installed in
# the venv first (editable, so only a changed pyproject.toml installs them again).
test: venv services
	@if [[ $$(id -u) == 0 && ( ! -x /usr/bin/chromium || ! -e $(CJK_FONT) ) ]]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver fonts-noto-cjk; fi
	@if [[ $$(id -u) == 0 && ! -x /usr/bin/promtool ]]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; fi
	@# tests/integration/hosts makes worker hosts in network namespaces: ip (iproute2), unshare.
	@if [[ $$(id -u) == 0 ]] && ! command -v ip >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y iproute2; fi
	@[[ $(VENV)/.acme_jobs -nt examples/acme_jobs/pyproject.toml ]] || { $(VENV)/bin/pip install --disable-pip-version-check -q -e examples/acme_jobs && touch $(VENV)/.acme_jobs; }
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The README's pictures: a script (bench/screenshots.py), not a test: the test suite's browser
# on the live product with seeded data, on a database and vhost of its own
# (dashboard_screenshots). SHOTS='list workers' takes only those.
screenshots: venv services
	@if [[ $$(id -u) == 0 && ( ! -x /usr/bin/chromium || ! -e $(CJK_FONT) ) ]]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver fonts-noto-cjk; fi
	$(VENV)/bin/python -m bench.screenshots $(SHOTS)

# The Korean catalog: extract the English strings (translations/babel.cfg), merge them into
# translations/ko/LC_MESSAGES/messages.po, compile the .mo the app reads. The .mo is
# committed, so a fresh clone needs no step; after changing strings, run this, translate the
# new empty entries in the .po, and run it again (tests/unit/test_catalog.py checks both).
translations: venv
	$(VENV)/bin/pybabel extract -F translations/babel.cfg -k _l -k lazy_gettext -k nav:2 \
		--sort-by-file -w 100 --project request-dashboard -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations -l ko -w 100 \
		--no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d translations -l ko --statistics

# No services: tests/unit needs neither a database nor a broker (nor .env).
test-unit: venv
	$(VENV)/bin/python -m pytest tests/unit $(PYTEST_ARGS)

bench: venv services
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

# On the local services: a database and vhost of its own (dashboard_chaos), so `make test` can run
# alongside; without them it stops here (never on the shared dashboard_test).
chaos: venv services
	@chaos_env=$$($(SERVICES) test-env chaos) || { \
		echo "make chaos: could not create its own database and vhost dashboard_chaos (above);" \
			"refusing to run on the shared test database" >&2; exit 1; }; \
	eval "$$chaos_env"; \
	$(VENV)/bin/python -m pytest tests/chaos -p no:cacheprovider $(PYTEST_ARGS)
