# Cuore: `make demo` serves the CRM with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
PG_AVAILABLE := $(shell ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && echo yes || (command -v initdb >/dev/null 2>&1 && echo yes))

.PHONY: demo test lint test-sqlite test-postgresql bench serve clean messages

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# The web application's CSS framework, HTMX, charts and drag-and-drop, exactly as package-lock.json says.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

messages: $(STAMP)
	$(BIN)/python -m cuore.core.i18n

demo: $(STAMP) $(NODE_STAMP) messages
	$(BIN)/cuore demo

serve: $(STAMP) $(NODE_STAMP) messages
	$(BIN)/cuore serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy cuore/*/services.py cuore/*/selectors.py

test-sqlite: $(STAMP) $(NODE_STAMP) messages
	CUORE_TEST_DB=sqlite $(BIN)/pytest -q

test-postgresql: $(STAMP) $(NODE_STAMP) messages
	CUORE_TEST_DB=postgresql $(BIN)/pytest -q

# PostgreSQL runs whenever its binaries (or CUORE_TEST_DATABASE_URL) are there; in CI it is required.
test: lint test-sqlite
ifneq ($(or $(PG_AVAILABLE),$(CUORE_TEST_DATABASE_URL),$(CI)),)
	$(MAKE) test-postgresql
else
	@echo "PostgreSQL binaries not found: the suite ran on SQLite only (apt-get install postgresql to run both)."
endif

bench: $(STAMP)
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.analytics
	$(BIN)/python -m bench.identity
	$(BIN)/python -m bench.imports

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .ruff_cache .mypy_cache
