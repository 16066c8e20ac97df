# The two set-up commands of the README:
#   make run    install, load the demo data set and run the service (SQLite, development
#               mode: unsigned requests accepted, for the curl examples)
#   make test   install and run the whole test suite (what CI runs), with node-soap
#               installed in tests/node for its interop test
# Everything is installed from requirements.lock (pinned, with hashes) into .venv.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

NODE_DIR = tests/node
NODE_STAMP = $(NODE_DIR)/node_modules/.package-lock.json

.PHONY: run test install browser node lint lock bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/udb demo
	$(BIN)/udb serve --insecure-dev-mode

# The dashboard's browser test drives the system Chromium (Debian's package).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# node-soap, the second real client of the end-to-end tests (tests/e2e/test_node_soap.py),
# pinned by tests/node/package-lock.json; Debian's nodejs and npm when node or npm is missing.
# npm ci runs again whenever the lock file is newer than what it installed.
$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null)
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

test: install browser node
	$(BIN)/python -m pytest -n 2 --dist loadfile --doctest-modules src tests
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

# Re-resolve the lock file after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

bench: install
	$(BIN)/python -m bench.service

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(NODE_DIR)/node_modules
