# HELIOS: the two commands a new user needs.
#   make run    start the console (web + worker) on the embedded default, print where to log in
#   make test   run the whole test suite (SQLite; set DATABASE_URL for PostgreSQL)
# Both create .venv and install requirements on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

# DEBUG defaults to off (production). The first `make run` copies the development settings
# (.env.example: DEBUG on) to .env, which every manage.py command then reads; the tests set it.
run: $(VENV)/.runtime-installed | .env
	$(BIN)/python manage.py console

.env:
	cp .env.example .env
	@echo "Created .env from .env.example: development settings (DEBUG on). Production: see .env.production.example."

# Browser tests drive Debian's chromium; Playwright never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is not installed (sudo apt-get install chromium): browser tests will be skipped"; fi; }

test: $(VENV)/.dev-installed browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
