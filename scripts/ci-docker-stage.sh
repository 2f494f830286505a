#!/usr/bin/env bash
# CI's docker stage: the failover suite and the verbatim tutorial on containers (LAB=docker).
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
TUTORIAL_IMPLS="${HBLAB_CI_DOCKER_TUTORIAL_IMPLS:-hbnode heartbeat}"
FENCING_IMPLS="${HBLAB_CI_DOCKER_FENCING_IMPLS:-master=heartbeat,slave=hbnode}"
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
  # One worker: the containers' networks have the reference subnets, and one engine
  # holds one network per subnet (two labs at once: "Pool overlaps").
  step tutorial env HBLAB_IMPLS="$TUTORIAL_IMPLS" make --no-print-directory test-integration \
    LAB=docker HBLAB_WORKERS=1 PYTEST_ARGS="-m tutorial --junitxml=build/junit-docker-tutorial.xml"
  python3 scripts/check_no_skips.py build/junit-docker-tutorial.xml || status=1
  # Fencing on containers: a BMC (ipmi_sim) per node on the lab's management network,
  # each implementation resetting the other through cluster-glue's external/ipmi.
  # The mixed pair has both fence, so one pairing covers both implementations.
  step fencing env HBLAB_IMPLS="$FENCING_IMPLS" make --no-print-directory test-integration \
    LAB=docker HBLAB_WORKERS=1 PYTEST_ARGS="-k test_fencing --junitxml=build/junit-docker-fencing.xml"
  python3 scripts/check_no_skips.py build/junit-docker-fencing.xml || status=1
  # The nemesis on containers (its leak check reads each container's namespace
  # through /proc/PID/ns/net): a 60 s schedule from the fixed seed, as on netns.
  step nemesis make --no-print-directory test-integration LAB=docker HBLAB_WORKERS=1 \
    PYTEST_ARGS="-k test_a_random_schedule_keeps_every_invariant --junitxml=build/junit-docker-nemesis.xml"
  python3 scripts/check_no_skips.py build/junit-docker-nemesis.xml || status=1
fi
# A second engine reached only through DOCKER_HOST (as a class's remote one would be):
# its own images (the rootfs tarball is cached), a takeover on it, then it is gone.
if [ "$status" = 0 ]; then
  step remote-engine bash scripts/ci-remote-engine.sh
fi
cleanup
echo "docker stage: exit $status in $(( $(date +%s) - started )) s"
exit "$status"
