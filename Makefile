# hbnode and its lab. Every target is idempotent: `make lab up` works.
PYTHON  ?= python3
HBLAB   := $(PYTHON) -m lab
IMPL    ?=
PROFILE ?= fast
NODE    ?= master
LAB     ?= netns
# Which implementations the integration tests cover (see tests/integration/conftest.py).
HBLAB_IMPLS ?= heartbeat
PYTEST_ARGS ?=

export HBLAB_IMPLS LAB

.PHONY: deps lab up down status shell test test-unit test-integration test-failover lint

deps:
	@bash scripts/install-deps.sh

## make lab: install what is missing, bring the lab up, print its status.
lab: deps up

up:
	@if $(HBLAB) status >/dev/null 2>&1; then $(HBLAB) status; \
	else $(HBLAB) up --profile $(PROFILE) $(if $(IMPL),--impl $(IMPL)); fi

down:
	@$(HBLAB) down

status:
	@$(HBLAB) status

shell:
	@$(HBLAB) shell $(NODE)

## make test: install test dependencies, run the unit and the integration tests.
test: deps
	$(PYTHON) -m pytest tests/unit tests/integration -ra -p no:cacheprovider \
	  --junitxml=build/junit.xml $(PYTEST_ARGS)

test-unit: deps
	$(PYTHON) -m pytest tests/unit -q -p no:cacheprovider $(PYTEST_ARGS)

test-integration: deps
	$(PYTHON) -m pytest tests/integration -ra -p no:cacheprovider $(PYTEST_ARGS)

## make test-failover: only the failover scenarios.
test-failover: deps
	$(PYTHON) -m pytest tests/integration -m failover -ra -p no:cacheprovider $(PYTEST_ARGS)

lint: deps
	ruff check hbnode lab tests
	ruff format --check hbnode lab tests
	$(PYTHON) -m mypy --strict hbnode
