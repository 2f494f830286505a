#!/usr/bin/env bash
# CI's docker stage: the failover suite on containers (LAB=docker).
#
# With no engine on the machine (the usual case) a private one is started for the
# stage (lab/docker_engine.py: its own network namespace, iptables off) and is
# stopped and purged, images included, at the end: the machine is left as found.
# An engine that already answers is used and left alone.
set -uo pipefail
cd "$(dirname "$0")/.."
# The backend is what this stage tests, and every implementation already ran on
# netns: one cluster (the real Heartbeat) keeps the stage near six minutes, cold
# images included. HBLAB_CI_DOCKER_IMPLS=hbnode,heartbeat took 7.6 min more here.
export HBLAB_IMPLS="${HBLAB_CI_DOCKER_IMPLS:-heartbeat}"
started=$(date +%s)
own_engine=""
status=0

cleanup() {
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
  step failover make --no-print-directory test-failover LAB=docker \
    HBLAB_WORKERS=1 PYTEST_ARGS="--junitxml=build/junit-docker.xml"
  python3 scripts/check_no_skips.py build/junit-docker.xml || status=1
fi
# A second engine reached only through DOCKER_HOST (as a class's remote one would be):
# its own images (the rootfs tarball is cached), a takeover on it, then it is gone.
if [ "$status" = 0 ]; then
  step remote-engine bash scripts/ci-remote-engine.sh
fi
cleanup
echo "docker stage: exit $status in $(( $(date +%s) - started )) s"
exit "$status"
