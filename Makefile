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

.PHONY: deps lab up down status shell test test-unit test-integration test-failover lint bench report

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

## make bench: hbnode and the real Heartbeat side by side, N runs of every scenario;
## prints the table, writes build/bench.json and BENCHMARKS.md. It brings up labs of
## its own (BENCH_PREFIX), so it neither collides with `make up` nor takes it down.
BENCH_IMPLS     ?= heartbeat,hbnode
BENCH_RUNS      ?= 5
BENCH_ARGS      ?=
BENCH_PREFIX    ?= hbb
BENCH_STATE_DIR ?= /var/lib/hbbench
BENCH_ENV       := HBLAB_PREFIX=$(BENCH_PREFIX) HBLAB_STATE_DIR=$(BENCH_STATE_DIR)
SCENARIO        ?= poweroff

bench: deps
	$(BENCH_ENV) $(HBLAB) bench --impls '$(BENCH_IMPLS)' --runs $(BENCH_RUNS) \
	  --profile $(PROFILE) --json build/bench.json $(BENCH_ARGS)

## make report [SCENARIO=heal] [IMPL=hbnode]: one run drawn as a timeline, and the
## topology, into build/report/ (SVG + HTML).
report: deps
	$(BENCH_ENV) $(HBLAB) report $(SCENARIO) --impl '$(or $(IMPL),heartbeat)' \
	  --profile $(PROFILE) -o build/report/$(or $(IMPL),heartbeat)-$(SCENARIO).svg
	$(BENCH_ENV) $(HBLAB) topology -o build/report/topology.svg
