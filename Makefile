# hbnode and its lab. Every target is idempotent: `make lab up` works.
PYTHON  ?= python3
HBLAB   := $(PYTHON) -m lab
IMPL    ?=
PROFILE ?= fast
NODE    ?= master
# The lab's backend: netns (namespaces) or docker (containers). Empty: `make lab`
# uses docker when an engine answers, else netns; other targets use the backend
# whose lab is up (hblab's own choice), and the tests use netns.
LAB     ?=
# The private engine (make engine-start): hblab finds it by itself; for the docker CLI
# and docker-compose, `export DOCKER_HOST=unix:///run/hblab-d/docker.sock`.
ENGINE  := $(PYTHON) -m lab.docker_engine
# Which implementations the integration tests cover (see tests/integration/conftest.py).
HBLAB_IMPLS ?= hbnode heartbeat master=heartbeat,slave=hbnode master=hbnode,slave=heartbeat
PYTEST_ARGS ?=

export HBLAB_IMPLS LAB
# Python's bytecode cache stays on for what make runs, even where the environment turns
# it off (PYTHONDONTWRITEBYTECODE=1, as some CI images do): every lab starts Python
# processes on this tree (daemons, their tools, hblab), and without the cache each
# compiles its modules again; each pytest worker rewrites every test module's asserts
# again too (its collection: 7.6 s of CPU instead of 4.4 s). __pycache__ is in .gitignore.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: deps lab up down status shell test test-unit test-integration test-failover lint bench report soak fuzz flood wireshark-screenshot classroom web watch web-screenshots live-recordings deb test-package promtool-test lessons

deps:
	@bash scripts/install-deps.sh

## make lab: install what is missing, bring the lab up, print its status.
## With a Docker engine (or LAB=docker) the lab is containers: images first.
lab: deps
	@backend="$(LAB)"; \
	if [ -z "$$backend" ]; then \
	  if $(ENGINE) reachable; then backend=docker; \
	  else echo "lab: no Docker engine reachable (make engine-start starts a private one): using the netns backend"; backend=netns; fi; \
	fi; \
	if [ "$$backend" = docker ]; then $(MAKE) --no-print-directory deps-docker images; fi; \
	$(MAKE) --no-print-directory up LAB=$$backend

up:
	@if $(HBLAB) $(if $(LAB),--backend $(LAB)) status >/dev/null 2>&1; then \
	  $(HBLAB) $(if $(LAB),--backend $(LAB)) status; \
	else $(HBLAB) $(if $(LAB),--backend $(LAB)) up --profile $(PROFILE) $(if $(IMPL),--impl $(IMPL)); fi

down:
	@$(HBLAB) $(if $(LAB),--backend $(LAB)) down

status:
	@$(HBLAB) $(if $(LAB),--backend $(LAB)) status

shell:
	@$(HBLAB) $(if $(LAB),--backend $(LAB)) shell $(NODE)

## The containerized lab: docker.io, docker-compose and debootstrap from apt.
deps-docker:
	@bash scripts/install-deps.sh --docker

## make images: the lab's images, built offline (the rootfs is cached by content hash).
images: deps-docker
	@$(PYTHON) -m lab.docker_images

## A private Docker engine for machines without one (CI): its own data root, socket
## and network namespace, no iptables. engine-stop removes what engine-start made;
## PURGE=1 removes its images too.
engine-start: deps-docker
	@$(ENGINE) start

engine-stop:
	@$(ENGINE) stop $(if $(PURGE),--purge)

engine-status:
	@$(ENGINE) status

## make test: install test dependencies, run the unit and the integration tests.
## The lab tests run in HBLAB_WORKERS parallel workers (pytest-xdist), each with
## labs of its own prefix: most of a lab test is waiting on timers, not CPU. Until
## 2 Dec the tests' own polling took nearly half the CPU (pyroute2's NetNS forked a
## helper for every look at who holds the VIP): 3 workers kept 2 cores 55 % busy,
## and 4 ran into timing faults under that load (fixed since). With the forks gone
## (lab.wiring.in_netns), 5 workers ran the 238 lab tests in 14.1 min with the CPU
## 53 % busy, where 3 had taken 22.8 min (BENCHMARKS.md, "Lab tests in 14 minutes").
## On 4 Dec, with hbnode under SCHED_RR and the VIP poll by SIOCGIFCONF, make test took
## 14 min 44 s on 5 workers (CI), 11 min 44 s on 7 (the lab tests' 2 cores 60 % busy)
## and 10 min 4 s on 9, where the real Heartbeat's own FIFO race failed one test
## (tests/integration/own_races.py now reruns that once). The unit tests now run
## between the lab tests (tests/conftest.py): 10 min 56 s on 7 workers, 9 min 34 s
## on 8 (the CPU 71 % busy, the slowest tests as long as on 5). Then a lab cost less
## CPU (bytecode cache, the node init without site, dpkg asked once): on a clean clone
## 10 min 8 s on 8 workers, 8 min 49 s on 10 (the CPU 86 % busy, every test passed)
## and 8 min 9 s on 12, where the cores sat at 100 % for minutes and the slowest tests
## took a fifth longer: 10 was the default (BENCHMARKS.md, "A lab for less CPU").
## On 5 Dec CI's nemesis went back to three minutes (issue 25), 120 s more on one worker,
## while 10 workers left the cores 67 % busy on average (8 of 51 samples saturated):
## on 11, a clean clone took 7 min 44 s with it, as 10 had without it, 75 % busy
## (BENCHMARKS.md, "Where make test's time goes").
## Under xdist the longest lab tests start first (tests/schedule.py, their measured
## seconds in tests/lab-durations.json: refresh with scripts/lab_durations.py).
HBLAB_WORKERS ?= 11
XDIST := $(if $(filter-out 0 1,$(HBLAB_WORKERS)),-n $(HBLAB_WORKERS) --dist loadgroup)
test: deps
	$(PYTHON) -m pytest tests/unit tests/integration --lab -ra -p no:cacheprovider $(XDIST) \
	  --durations=25 --junitxml=build/junit.xml $(PYTEST_ARGS)

## The unit tests step virtual time and sleep nowhere: they are CPU alone, one worker
## per core (UNIT_WORKERS=0: in this process, for a debugger).
UNIT_WORKERS ?= auto
UNIT_XDIST := $(if $(filter-out 0 1,$(UNIT_WORKERS)),-n $(UNIT_WORKERS) --dist loadgroup)
test-unit: deps
	$(PYTHON) -m pytest tests/unit -q -p no:cacheprovider $(UNIT_XDIST) $(PYTEST_ARGS)

test-integration: deps
	$(PYTHON) -m pytest tests/integration --lab -ra -p no:cacheprovider $(XDIST) $(PYTEST_ARGS)

## make lessons: every lesson's automatic run (docs/lessons) on its own lab, on hbnode and
## on the real Heartbeat (IMPL=hbnode: one of them). make test runs each lesson once, on
## one of the two in turn (tests/integration/test_scenarios.py).
lessons: deps
	for impl in $(or $(IMPL),hbnode heartbeat); do \
	  $(HBLAB) $(if $(LAB),--backend $(LAB)) run docs/lessons/*.yaml --impl $$impl \
	    --junit build/lessons-$$impl.xml || exit 1; \
	done

## make test-failover: only the failover scenarios. They wait on timers more than make
## test's mix does (the CPU about 57 % busy with 8 workers), so on netns they run on
## FAILOVER_WORKERS unless HBLAB_WORKERS is given: the 65 tests of the four pairings
## took 4 min 14 s on 5 workers, 2 min 57 s and 3 min 1 s on 8, and with a lab's CPU
## cut, 2 min 23 s on 10 (the CPU 63 % busy; BENCHMARKS.md). A docker engine holds
## one lab, so LAB=docker keeps HBLAB_WORKERS.
FAILOVER_WORKERS ?= 10
FAILOVER_XDIST := $(if $(and $(filter file,$(origin HBLAB_WORKERS)),$(filter-out docker,$(or $(LAB),netns))),-n $(FAILOVER_WORKERS) --dist loadgroup,$(XDIST))
test-failover: deps
	$(PYTHON) -m pytest tests/integration --lab -m failover -ra -p no:cacheprovider \
	  $(FAILOVER_XDIST) $(PYTEST_ARGS)

lint: deps
	ruff check hbnode lab tests
	ruff format --check hbnode lab tests
	$(PYTHON) -m mypy --strict hbnode lab

## make bench: hbnode and the real Heartbeat side by side, N runs of every scenario;
## prints the table, writes build/bench.json and build/BENCHMARKS.md (copy it over
## BENCHMARKS.md to publish). It brings up labs of
## its own (BENCH_PREFIX), so it neither collides with `make up` nor takes it down.
BENCH_IMPLS     ?= heartbeat hbnode
# The default run takes two runs of each scenario in BENCH_JOBS labs side by side
# (each scenario's implementations at the same moment) and a 30 s idle window alone;
# the figures' min-max shows their spread. FULL=1 is the full run (five runs, one
# lab, a 60 s idle window).
FULL            ?=
BENCH_RUNS      ?= $(if $(FULL),5,2)
BENCH_IDLE      ?= $(if $(FULL),60,30)
BENCH_JOBS      ?= $(if $(FULL),1,3)
BENCH_ARGS      ?=
BENCH_PREFIX    ?= hbb
BENCH_STATE_DIR ?= /var/lib/hbbench
BENCH_ENV       := HBLAB_PREFIX=$(BENCH_PREFIX) HBLAB_STATE_DIR=$(BENCH_STATE_DIR)
SCENARIO        ?= poweroff

bench: deps
	$(BENCH_ENV) $(HBLAB) bench --impls '$(BENCH_IMPLS)' --runs $(BENCH_RUNS) \
	  --jobs $(BENCH_JOBS) --idle-seconds $(BENCH_IDLE) --profile $(PROFILE) \
	  --json build/bench.json $(BENCH_ARGS)

## make soak: SOAK_CYCLES poweroff/poweron cycles of the VIP holder in one lab (both
## nodes hbnode by default), the outage distribution, then leaks (addresses, processes,
## fds, namespaces, mounts) and what `down` left. Its own lab (SOAK_PREFIX), like bench.
SOAK_CYCLES     ?= 200
SOAK_IMPL       ?= hbnode
SOAK_ARGS       ?=
SOAK_PREFIX     ?= hbs
SOAK_STATE_DIR  ?= /var/lib/hbs

soak: deps
	HBLAB_PREFIX=$(SOAK_PREFIX) HBLAB_STATE_DIR=$(SOAK_STATE_DIR) $(HBLAB) --backend netns soak \
	  --cycles $(SOAK_CYCLES) --impl '$(SOAK_IMPL)' --profile $(PROFILE) \
	  --json build/soak-$(SOAK_IMPL).json $(SOAK_ARGS)

## make fuzz: FUZZ_COUNT generated bad datagrams (random, mutated, wrong types, huge,
## bad signatures, replays) at a running hbnode; make flood: FLOOD_RATE junk and
## wrong-key packets/s for FLOOD_SECONDS with keepalive 200ms / deadtime 1s. Each
## accounts for every datagram and checks the cluster; its own lab (FUZZ_PREFIX).
FUZZ_COUNT      ?= 1000000
FUZZ_RATE       ?= 10000
FUZZ_IMPL       ?= hbnode
FUZZ_ARGS       ?=
FLOOD_RATE      ?= 20000
FLOOD_SECONDS   ?= 60
FLOOD_MIX       ?= mixed
FLOOD_ARGS      ?=
FUZZ_PREFIX     ?= hbf
FUZZ_STATE_DIR  ?= /var/lib/hbf
FUZZ_ENV        := HBLAB_PREFIX=$(FUZZ_PREFIX) HBLAB_STATE_DIR=$(FUZZ_STATE_DIR)

fuzz: deps
	$(FUZZ_ENV) $(HBLAB) --backend netns fuzz --count $(FUZZ_COUNT) --rate $(FUZZ_RATE) \
	  --impl '$(FUZZ_IMPL)' --profile $(PROFILE) --json build/fuzz-$(FUZZ_IMPL).json $(FUZZ_ARGS)

flood: deps
	$(FUZZ_ENV) $(HBLAB) --backend netns flood --rate $(FLOOD_RATE) --seconds $(FLOOD_SECONDS) \
	  --mix $(FLOOD_MIX) --impl '$(FUZZ_IMPL)' --profile $(PROFILE) \
	  --json build/flood-$(FUZZ_IMPL)-$(FLOOD_MIX).json $(FLOOD_ARGS)

.PHONY: cts nemesis
## make cts: Heartbeat's Cluster Test Suite (its R1 tests, docs/cts.md) against a lab of
## its own (CTS_PREFIX), CTS_ITERATIONS tests in a random order from CTS_SEED.
CTS_IMPL        ?= hbnode
CTS_ITERATIONS  ?= 20
CTS_SEED        ?= $(shell date +%s)
CTS_ARGS        ?=
CTS_PREFIX      ?= hbc
CTS_STATE_DIR   ?= /var/lib/hbc

cts: deps
	HBLAB_PREFIX=$(CTS_PREFIX) HBLAB_STATE_DIR=$(CTS_STATE_DIR) $(HBLAB) cts --impl '$(CTS_IMPL)' \
	  --iterations $(CTS_ITERATIONS) --seed $(CTS_SEED) --profile $(PROFILE) \
	  --json build/cts-$(CTS_IMPL).json $(CTS_ARGS)

## make nemesis: random fault schedules from NEMESIS_SEED (NEMESIS_RUNS runs of
## NEMESIS_SECONDS each), the invariant checker, a minimal schedule for each failure
## (docs/nemesis.md). Its own lab (NEMESIS_PREFIX).
NEMESIS_IMPL    ?= hbnode
NEMESIS_SEED    ?= $(shell date +%s)
NEMESIS_SECONDS ?= 180
NEMESIS_RUNS    ?= 1
NEMESIS_ARGS    ?=
NEMESIS_PREFIX  ?= hbn
NEMESIS_STATE_DIR ?= /var/lib/hbn

nemesis: deps
	HBLAB_PREFIX=$(NEMESIS_PREFIX) HBLAB_STATE_DIR=$(NEMESIS_STATE_DIR) $(HBLAB) nemesis \
	  --impl '$(NEMESIS_IMPL)' --seed $(NEMESIS_SEED) --duration $(NEMESIS_SECONDS) \
	  --runs $(NEMESIS_RUNS) --profile $(PROFILE) --out build/nemesis $(NEMESIS_ARGS)

## make report [SCENARIO=heal] [IMPL=hbnode]: one run drawn as a timeline, and the
## topology, into build/report/ (SVG + HTML).
report: deps
	$(BENCH_ENV) $(HBLAB) report $(SCENARIO) --impl '$(or $(IMPL),heartbeat)' \
	  --profile $(PROFILE) -o build/report/$(or $(IMPL),heartbeat)-$(SCENARIO).svg
	$(BENCH_ENV) $(HBLAB) topology -o build/report/topology.svg

## make wireshark-screenshot: docs/wireshark-heartbeat.png from a real Wireshark under
## Xvfb (installs wireshark, xvfb, xdotool and imagemagick first).
wireshark-screenshot:
	bash scripts/wireshark-screenshot.sh

## make bench-codec: how many datagrams per second hbnode decodes and verifies.
bench-codec:
	PYTHONPATH=. $(PYTHON) scripts/bench_codec.py

## make classroom [LABS=12 MINUTES=10]: many labs side by side (prefixes cls01…), what
## each costs as the class grows, a watch for false failovers, then a takeover in every
## lab; everything down at the end (python -m lab.classroom).
LABS    ?= 12
MINUTES ?= 10
classroom: deps
	$(PYTHON) -m lab.classroom --labs $(LABS) --minutes $(MINUTES) --json build/classroom.json

## make web / make watch: the lab live in a browser (http://127.0.0.1:$(PORT)/) or in
## this terminal. REPLAY=docs/live-heartbeat-poweroff.jsonl.gz plays a recording
## instead (no root, no lab needed).
PORT   ?= 8080
REPLAY ?=
web:
	$(HBLAB) web --port $(PORT) $(if $(REPLAY),--replay $(REPLAY) --loop)

watch:
	$(HBLAB) watch $(if $(REPLAY),--replay $(REPLAY) --loop)

## make web-screenshots: the README's pictures of the page, taken by the browser test
## mid-failover (a lab of its own prefix, hbweb); make live-recordings: the two
## recordings in docs/ (a real Heartbeat poweroff, hbnode's split-brain handling).
web-screenshots: deps
	HBLAB_PREFIX=hbweb HBLAB_STATE_DIR=/var/lib/hbweb HBLAB_SCREENSHOTS=docs \
	  $(PYTHON) -m pytest tests/integration/test_live_web.py --lab -q -p no:cacheprovider

live-recordings: deps
	HBLAB_PREFIX=hbrec HBLAB_STATE_DIR=/var/lib/hbrec $(PYTHON) scripts/make_live_recordings.py
## make deb: the Debian package of the daemon (debhelper + dh-python/pybuild, from a
## copy of the tree in build/deb/), checked by lintian: build/deb/hbnode_VERSION_all.deb.
deb:
	@bash scripts/install-deps.sh --package
	bash scripts/build-deb.sh

## make test-package: the installed package, not the checkout (tests/package): the
## reference cluster on containers from the .deb, and hbnode.service under systemd.
## Needs a Docker engine (make engine-start) and the lab's images (make images).
test-package: deps
	@bash scripts/install-deps.sh --package
	$(PYTHON) -m pytest tests/package --lab -ra -p no:cacheprovider $(PYTEST_ARGS)

## make promtool-test: the alert rules against recorded series (Debian's promtool).
promtool-test: deps
	cd monitoring/prometheus && promtool check rules hbnode-alerts.yml && promtool test rules hbnode-alerts.test.yml
