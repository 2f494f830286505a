#!/usr/bin/env bash
# CI's docker stage: the failover suite, the verbatim tutorial, fencing and the nemesis on
# containers (LAB=docker), on four engines at once.
#
# With no engine on the machine (the usual case) a private one is started for the
# stage (lab/docker_engine.py: its own network namespace, iptables off) and is
# stopped and purged, images included, at the end: the machine is left as found.
# An engine that already answers is used and left alone.
set -uo pipefail
cd "$(dirname "$0")/.."
# The backend is what this stage tests, and every implementation already ran on
# netns. The containers run hbnode by default (compose.yaml, hblab): the failover
# suite runs on hbnode and on one mixed pairing (35 tests), and the tutorial, typed
# in a terminal on blank containers, for hbnode and the real Heartbeat. One engine
# holds one lab (one network per subnet), so the stage runs seven labs on seven
# engines at once (scripts/ci-extra-engine.sh; the others reached through DOCKER_HOST
# alone; engine 4 is the package stage's, .ci/run), each suite split in shares of
# about equal measured time (HBLAB_SHARD):
#   1 (here) and 6   the failover suite on the first pairing, half each;
#   3 and 5          the failover suite's other pairings, half each;
#   2                the takeover, the tutorial and half of fencing;
#   7                the other half of fencing;
#   8                the nemesis.
# Measured on 4 Dec with four engines (CI of a245438), the stage took 399 s: the
# images 86 s (69 of them debootstrap, now made during the lint: .ci/run), the other
# engines' images one after the other (about 50 s), then about 250 s in each lane.
# The engines now build their images at once (about 50 s for all six, CI of c8411d2):
# only the rootfs tarball and the wheels are made one at a time (lab.docker_images).
# There, the nemesis beside half of fencing took 246 s, the longest of the lanes.
export HBLAB_IMPLS="${HBLAB_CI_DOCKER_IMPLS:-hbnode master=heartbeat,slave=hbnode}"
read -r first_impls other_impls <<< "$HBLAB_IMPLS"
started=$(date +%s)
own_engine=""
status=0
extra_pids=()
extra_engines=()  # each extra lane's engine number, beside its pid
mkdir -p build
rm -f build/docker-stage.lanes-ready

cleanup() {
  local pid
  for pid in "${extra_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid"; done
  extra_pids=()
  touch build/docker-stage.lanes-ready  # whatever happened: the package stage need not wait
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
lane() {  # lane N WHAT...: an extra engine's lane, in the background, logged
  bash scripts/ci-extra-engine.sh "$@" > "build/docker-engine-$1.log" 2>&1 &
  extra_pids+=($!) extra_engines+=("$1")
}
if [ "$status" = 0 ]; then
  # The lanes start now: their engines build their images while this one does.
  if [ -n "$other_impls" ]; then
    HBLAB_SHARD=1/2 lane 2 takeover tutorial fencing
    HBLAB_SHARD=2/2 lane 7 fencing
    lane 8 nemesis
    HBLAB_IMPLS="$first_impls" HBLAB_SHARD=2/2 lane 6 whole
    HBLAB_IMPLS="$other_impls" HBLAB_SHARD=1/2 lane 3 failover
    HBLAB_IMPLS="$other_impls" HBLAB_SHARD=2/2 lane 5 failover
  else
    lane 2 all
    lane 3 nemesis
  fi
  step images python3 -m lab.docker_images
fi
if [ "$status" = 0 ]; then
  # The lanes' tests start together, once every engine's images are built: those
  # builds (and the package stage's, beside this stage: .ci/run) kept both cores
  # saturated for a minute and a half in CI of ea96b4f, where the lanes' first tests
  # ran. A lane that ended early (it failed to start) is not waited for; the wait is
  # bounded.
  for _ in $(seq 1 600); do
    waiting=0
    for n in "${!extra_pids[@]}"; do
      kill -0 "${extra_pids[$n]}" 2>/dev/null || continue
      [ -e "build/docker-engine-${extra_engines[$n]}.ready" ] || waiting=1
    done
    [ "$waiting" = 0 ] && break
    sleep 0.5
  done
  touch build/docker-stage.lanes-ready  # the package stage (.ci/run) waits for it too
  first_share=""
  [ -n "$other_impls" ] && first_share=1/2  # lane 6 has the other half
  step failover env HBLAB_IMPLS="$first_impls" HBLAB_SHARD="$first_share" \
    make --no-print-directory test-failover \
    LAB=docker HBLAB_WORKERS=1 PYTEST_ARGS="--junitxml=build/junit-docker.xml"
  python3 scripts/check_no_skips.py build/junit-docker.xml || status=1
fi
if [ "${#extra_pids[@]}" != 0 ]; then
  t0=$(date +%s)
  for pid in "${extra_pids[@]}"; do
    wait "$pid" || { echo "docker stage: an extra engine failed (its log is below)"; status=1; }
  done
  extra_pids=()
  echo "docker stage: waited $(( $(date +%s) - t0 )) s for the other engines; their output:"
  for log in build/docker-engine-[2-9].log; do [ -e "$log" ] && cat "$log"; done
fi
cleanup
echo "docker stage: exit $status in $(( $(date +%s) - started )) s"
exit "$status"
