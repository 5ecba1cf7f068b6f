# Two commands: `make run` serves the demo clinic, `make test` runs the whole suite.
# The interpreter the virtual environment is made from: the distribution's own python3 when it is 3.11
# or newer and can make one (its venv module and the pip wheel ensurepip installs), else the python3
# first on PATH. Debian builds its interpreter with profile-guided and link-time optimisation, which
# a pyenv build lacks unless asked: three back-to-back pairs of `make test` took 5 min 47 s on average
# under it against 6 min 10 s under pyenv's 3.11.7 (docs/test-budget.md). PYTHON=...
# picks another; a .venv keeps the interpreter it was made from (`make clean` first to change it).
SYSTEM_PYTHON := /usr/bin/python3
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip, venv; ensurepip.version(); \
	sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $(SYSTEM_PYTHON) || echo python3)
endif
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# the address the staff's emails link to (safety alerts, daily summaries): where `make run` serves
KI_APP_URL ?= http://$(HOST):$(PORT)
# Some machines set PYTHONDONTWRITEBYTECODE: then every process a recipe starts (the test suite's
# servers, CLI runs, the worker) compiles the whole package again. Bytecode goes in __pycache__/.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-all-engines test-unit test-integration test-browser test-security test-security-large browser-deps a11y-deps calendar-deps bench bench-deps bench-suite wheel-check screenshots clean

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

## run: install, migrate the SQLite database, load the demo clinic when empty, serve it with the job
## worker beside it (its queue a SQLite file in instance/, its mail .eml files in instance/outbox/)
run: $(VENV)/.installed
	$(FLASK) init-db
	$(FLASK) demo --if-empty
	@echo "Serving the demo clinic on http://$(HOST):$(PORT), the worker beside it (Ctrl-C stops both)"
	@KI_APP_URL=$(KI_APP_URL) $(FLASK) worker --workers 1 & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	KI_APP_URL=$(KI_APP_URL) $(FLASK) run --host $(HOST) --port $(PORT)

# Tests run in parallel, one pytest-xdist worker per CPU (TEST_WORKERS=0 runs them in one process);
# a worker that runs out of tests takes some of the other's (worksteal), so neither idles at the end.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

## test: install the test extra, Chromium and the accessibility checkers when missing, then browser,
## security, integration, unit (the longest first, so the workers finish together);
## database tests whose behaviour depends on the engine run on SQLite and PostgreSQL, the rest on SQLite
test: $(VENV)/.installed-test browser-deps a11y-deps calendar-deps
	$(PYTEST) tests/browser tests/security tests/integration tests/unit

## test-all-engines: the PostgreSQL half `make test` leaves out (the engine-agnostic database tests);
## CI runs both targets, so every database test runs on both engines (KI_ALL_ENGINES=1 make test: in one go)
test-all-engines: $(VENV)/.installed-test calendar-deps
	KI_ALL_ENGINES=1 $(PYTEST) tests/integration tests/security -m "not both_engines" --engine postgresql

test-unit: $(VENV)/.installed-test calendar-deps
	$(PYTEST) tests/unit

test-integration: $(VENV)/.installed-test calendar-deps
	$(PYTEST) tests/integration

test-browser: $(VENV)/.installed-test browser-deps a11y-deps
	$(PYTEST) tests/browser

## test-security: the security and reliability suites at their default size (part of `make test`)
test-security: $(VENV)/.installed-test browser-deps
	$(PYTEST) tests/security tests/browser/test_stored_xss.py

## test-security-large: the same suites at the larger, opt-in size (longer; prints the figures)
test-security-large: $(VENV)/.installed-test browser-deps
	KI_SECURITY_SIZE=large $(PYTEST) tests/security tests/browser/test_stored_xss.py

## wheel-check: build the wheel from a clean copy, install it alone into a fresh environment in a
## temporary folder and, from another folder, run init-db, demo and run (tests/wheel_check.py)
wheel-check: $(VENV)/.installed
	$(BIN)/python tests/wheel_check.py

## screenshots: every key page of every role (tests/browser/key_pages.py) in Chromium at 1280 and 375 px,
## full page, from a fresh copy of the demo clinic, into docs/screenshots/<role>-<page>-<width>.png
## (tests/screenshots.py; not part of `make test`). SCREENSHOTS_ARGS=--curated: the README's set alone
screenshots: $(VENV)/.installed-test browser-deps
	$(BIN)/python -m tests.screenshots $(SCREENSHOTS_ARGS)

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $@

## bench: the performance issue's figures (SQLite; BENCH_DATABASE_URL=postgresql://... for PostgreSQL),
## printed and written to BENCHMARKS.md; the demo and the large clinic are kept in instance/bench/
bench: $(VENV)/.installed-bench bench-deps
	$(BIN)/python -m bench.run

## bench-suite: where a whole `make test` run's time goes on this machine (bench/suite.py): the cores' busy
## and idle time, the CPU by kind of process, each worker's tests by suite, the idle time by the files
## running then, the costliest files and tests; printed and written to instance/bench/suite-<time>/
bench-suite: $(VENV)/.installed-test
	$(BIN)/python -m bench.suite

# The load generator is Debian's wrk (nothing is downloaded outside the package manager).
bench-deps:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's wrk for the throughput benchmark"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else \
		echo "wrk is missing (sudo apt-get install wrk); run python -m bench.run --no-load to skip throughput"; \
	fi

# Browser tests drive Debian's Chromium (Playwright cannot download a browser here): its headless
# shell (chromium-headless-shell, the same Chromium; the suite falls back to the browser without it)
# and `make screenshots` the browser (chromium). WeasyPrint 70+ subsets fonts with HarfBuzz's subset
# library (Debian: libharfbuzz-subset0), and the PDF tests read documents back with poppler's
# pdftotext (Debian: poppler-utils).
SYSTEM_PACKAGES := chromium chromium-headless-shell libharfbuzz-subset0 poppler-utils
browser-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="chromium"; \
	[ -x /usr/bin/chromium-headless-shell ] || missing="$$missing chromium-headless-shell"; \
	ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || missing="$$missing libharfbuzz-subset0"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian packages for the tests:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "Missing Debian packages that need root to install:$$missing"; \
		echo "browser tests skip with neither Chromium and run slower on the browser than on its headless" \
			"shell; install with: sudo apt-get install $(SYSTEM_PACKAGES)"; \
	fi

# The accessibility checks' tools (tests/browser/test_accessibility.py), pinned, from the npm registry
# into a git-ignored folder: axe-core, which the browser tests inject into each page, and the W3C Nu
# HTML checker (vnu.jar, run with the machine's Java). --ignore-scripts: vnu-jar's install script
# would fetch a Java runtime from outside the registry when none is found.
A11Y_DIR := .cache/a11y
A11Y_PACKAGES := axe-core@4.14.1 vnu-jar@26.9.27
a11y-deps:
	@if [ "$$(cat $(A11Y_DIR)/.installed 2>/dev/null)" = "$(A11Y_PACKAGES)" ] \
		&& [ -f $(A11Y_DIR)/node_modules/axe-core/axe.min.js ] && [ -f $(A11Y_DIR)/node_modules/vnu-jar/build/dist/vnu.jar ]; then :; \
	elif ! command -v npm >/dev/null; then \
		echo "npm is missing: the accessibility checks skip (CI fails them); install Node.js and npm (sudo apt-get install npm)"; \
	else \
		echo "Installing $(A11Y_PACKAGES) from the npm registry into $(A11Y_DIR)"; \
		mkdir -p $(A11Y_DIR) && \
		npm install --prefix $(A11Y_DIR) --no-save --ignore-scripts --no-audit --no-fund --loglevel=error $(A11Y_PACKAGES) && \
		echo "$(A11Y_PACKAGES)" > $(A11Y_DIR)/.installed; \
	fi
	@command -v java >/dev/null || echo "java is missing: the Nu HTML checker skips (CI fails it); install it with: sudo apt-get install default-jre-headless"

# Mozilla's ical.js, pinned, from the npm registry into a git-ignored folder: the calendar tests read
# every .ics the app writes back with it and with vobject, two parsers other than icalendar
# (tests/calendar_readers). Without npm the ical.js half skips (CI fails it).
CALENDAR_CHECK_DIR := .cache/calendar-check
CALENDAR_CHECK_PACKAGES := ical.js@2.2.1
calendar-deps:
	@if [ "$$(cat $(CALENDAR_CHECK_DIR)/.installed 2>/dev/null)" = "$(CALENDAR_CHECK_PACKAGES)" ] \
		&& [ -f $(CALENDAR_CHECK_DIR)/node_modules/ical.js/dist/ical.js ]; then :; \
	elif ! command -v npm >/dev/null; then \
		echo "npm is missing: the ical.js calendar checks skip (CI fails them); install Node.js and npm (sudo apt-get install npm)"; \
	else \
		echo "Installing $(CALENDAR_CHECK_PACKAGES) from the npm registry into $(CALENDAR_CHECK_DIR)"; \
		mkdir -p $(CALENDAR_CHECK_DIR) && \
		npm install --prefix $(CALENDAR_CHECK_DIR) --no-save --ignore-scripts --no-audit --no-fund --loglevel=error $(CALENDAR_CHECK_PACKAGES) && \
		echo "$(CALENDAR_CHECK_PACKAGES)" > $(CALENDAR_CHECK_DIR)/.installed; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info $(A11Y_DIR) $(CALENDAR_CHECK_DIR)
