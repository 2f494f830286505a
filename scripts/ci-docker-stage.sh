#!/usr/bin/env bash
# CI's docker stage: the failover suite, the verbatim tutorial, fencing and the nemesis on
# containers (LAB=docker), on two engines at once.
#
# With no engine on the machine (the usual case) a private one is started for the
# stage (lab/docker_engine.py: its own network namespace, iptables off) and is
# stopped and purged, images included, at the end: the machine is left as found.
# An engine that already answers is used and left alone.
set -uo pipefail
cd "$(dirname "$0")/.."
# The backend is what this stage tests, and every implementation already ran on
# netns. The containers run hbnode by default (compose.yaml, hblab): the failover
# suite runs on hbnode and on one mixed pairing (27 tests, about 6 min here; the
# real Heartbeat's own cluster would add about 3 min more), and the tutorial, typed
# in a terminal on blank containers, for hbnode and the real Heartbeat (about 1 min).
export HBLAB_IMPLS="${HBLAB_CI_DOCKER_IMPLS:-hbnode master=heartbeat,slave=hbnode}"
started=$(date +%s)
own_engine=""
status=0
second_pid=""

cleanup() {
  if [ -n "$second_pid" ]; then kill "$second_pid" 2>/dev/null; wait "$second_pid"; fi
  second_pid=""
  LAB=docker python3 -m lab down >/dev/null 2>&1 || true
  if [ -n "$own_engine" ]; then python3 -m lab.docker_engine stop --purge || true; fi
  own_engine=""
}
trap cleanup EXIT

step() {  # step NAME CMD...: run, time, and remember a failure
  local t0=$(date +%s)
  "${@:2}" || { echo "docker stage: $1 failed"; status=1; }
  echo "docker stage: $1 took $(( $(date +%s) - t0 )) s"
}

step deps bash scripts/install-deps.sh --docker
if ! python3 -m lab.docker_engine reachable; then
  own_engine=yes
  step engine python3 -m lab.docker_engine start
fi
[ "$status" = 0 ] && step images python3 -m lab.docker_images
if [ "$status" = 0 ]; then
  # The tutorial, fencing and the nemesis run meanwhile on a second engine, reached
  # through DOCKER_HOST alone (scripts/ci-second-engine.sh): one engine holds one
  # network per subnet, and the labs use the reference subnets ("Pool overlaps").
  second_log=build/docker-second-engine.log
  bash scripts/ci-second-engine.sh all > "$second_log" 2>&1 &
  second_pid=$!
  step failover make --no-print-directory test-failover LAB=docker \
    HBLAB_WORKERS=1 PYTEST_ARGS="--junitxml=build/junit-docker.xml"
  python3 scripts/check_no_skips.py build/junit-docker.xml || status=1
  t0=$(date +%s)
  wait "$second_pid" || { echo "docker stage: second engine failed"; status=1; }
  second_pid=""
  echo "docker stage: waited $(( $(date +%s) - t0 )) s for the second engine; its output:"
  cat "$second_log"
fi
cleanup
echo "docker stage: exit $status in $(( $(date +%s) - started )) s"
exit "$status"
