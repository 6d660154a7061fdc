# The project's commands. `make demo` and `make test` create the virtualenv and install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TEST_MONGO := .test-mongo

.PHONY: install demo test lint typecheck unit bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[inngest]' --group dev
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m examples.revops_sync

lint: install
	$(VENV)/bin/ruff check $(wildcard otel_revops tests benchmarks examples scripts collector)
	$(VENV)/bin/ruff format --check otel_revops

typecheck: install
	$(VENV)/bin/mypy --strict otel_revops

# Starts the test MongoDB server (SecantusDB), runs lint, types and the whole suite, stops the server.
test: install lint typecheck
	$(PY) scripts/test_mongo.py start --pidfile $(TEST_MONGO).pid --urifile $(TEST_MONGO).uri
	OTEL_REVOPS_TEST_MONGODB_URI="$$(cat $(TEST_MONGO).uri)" $(PY) -m pytest $(PYTEST_ARGS); \
	status=$$?; $(PY) scripts/test_mongo.py stop --pidfile $(TEST_MONGO).pid; exit $$status

bench: install
	$(PY) -m benchmarks

soak: install
	$(PY) -m pytest -m soak $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(TEST_MONGO).pid $(TEST_MONGO).uri
