# Rahdari — the two commands a newcomer needs: `make demo` and `make test`.
# Both install what they need (Debian packages, Python packages in .venv,
# front-end assets from npm) and are safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBS := postgresql chromium chromium-driver fonts-noto-core gettext libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install debs python assets demo test lint check-migrations unit-sqlite unit-postgres messages clean

install: debs python assets

debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

python: $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: node_modules/.installed
	@$(BIN)/python scripts/vendor_assets.py

messages: python
	cd rahdari && ../$(BIN)/django-admin compilemessages --ignore=.venv -v 0

demo: install messages
	$(BIN)/rahdari demo

lint: python
	$(BIN)/ruff check rahdari tests benchmarks
	$(BIN)/ruff format --check rahdari tests benchmarks
	$(BIN)/mypy rahdari
	PYTHONPATH=. $(BIN)/lint-imports

check-migrations: python
	RAHDARI_DATABASE_URL=sqlite:///:memory: $(BIN)/python -m django makemigrations --check --dry-run --settings=rahdari.config.settings

unit-sqlite: install messages
	$(BIN)/pytest -q -n 2 -m "not postgres_only and not browser"
	$(BIN)/pytest -q -m "browser"

unit-postgres: install messages
	scripts/with-postgres.sh $(BIN)/pytest -q -n 2 -m "not browser"

test: install messages lint check-migrations unit-sqlite unit-postgres

clean:
	rm -rf $(VENV) node_modules rahdari/static/vendor
