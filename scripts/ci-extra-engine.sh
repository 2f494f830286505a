#!/usr/bin/env bash
# CI's docker stage, extra engines: private Docker engines addressed only by
# DOCKER_HOST. The docker backend must not assume the engine it usually finds (a
# class can outgrow one machine), so everything here reaches its engine through
# DOCKER_HOST alone: its images are built on it (the rootfs tarball is reused from
# build/docker) and a takeover runs on it before its suites. One engine holds one
# network per subnet, so two labs at once need two engines: the docker stage runs
# the extra engines beside the failover suite on the first one. Labs here have a
# prefix (hbd<N>) and state directories of their own. The lab and the engine are
# removed at the end, whatever happened.
#
# Usage: ci-extra-engine.sh N WHAT...   (N: 2..9, the engine's number; each WHAT in turn)
#   all       the takeover, then the verbatim tutorial and fencing
#   takeover  the takeover check
#   tutorial  the verbatim tutorial, typed in a terminal on blank containers
#   fencing   fencing through each node's BMC
#   failover  the failover suite (-m failover): its tests run per HBLAB_IMPLS spec
#   whole     the whole failover suite, as on the first engine
#   nemesis   the first 60 s of the nemesis's schedule from its fixed seed (make test
#             plays all 180 s on netns)
# With HBLAB_SHARD=K/N set, fencing, failover and whole run only that share of their
# tests (tests/schedule.py): the docker stage splits them over engines.
set -uo pipefail
cd "$(dirname "$0")/.."
N=${1:?usage: ci-extra-engine.sh N all|takeover|tutorial|fencing|failover|whole|nemesis...}
shift
WHATS=("${@:-all}")
case "$N" in [2-9]) ;; *) echo "ci-extra-engine.sh: N must be 2..9, not $N"; exit 2 ;; esac
for what in "${WHATS[@]}"; do
  case "$what" in all|takeover|tutorial|fencing|failover|whole|nemesis) ;;
    *) echo "ci-extra-engine.sh: no such suite: $what"; exit 2 ;; esac
done
SHARD=${HBLAB_SHARD:-}
unset HBLAB_SHARD  # only for the suites that are split
RUN=/run/hblab-d$N
READY=build/docker-engine-$N.ready  # its images are built: the docker stage waits for it
ENGINE=(env HBLAB_D_RUN=$RUN HBLAB_D_DATA=/var/lib/hblab-d$N/engine HBLAB_D_NETNS=hblab-d$N-engine)
# After the takeover, the suites run as on the first engine: told where this engine's
# namespace is, the lab pulls a cable at its far end (the carrier goes, as on a real
# machine). Reached by DOCKER_HOST alone it can only set the node's interface down,
# and the real Heartbeat then logs an ERROR at every send (lab.badnews.CABLE_PULLED).
KNOWN=("${ENGINE[@]}")
export DOCKER_HOST="unix://$RUN/docker.sock" LAB=docker
export HBLAB_PREFIX=hbd$N HBLAB_STATE_DIR=/var/lib/hbd$N HBLAB_D_STATE_DIR=/var/lib/hbd$N-d
TUTORIAL_IMPLS="${HBLAB_CI_DOCKER_TUTORIAL_IMPLS:-hbnode heartbeat}"
FENCING_IMPLS="${HBLAB_CI_DOCKER_FENCING_IMPLS:-master=heartbeat,slave=hbnode}"
PYTEST=(python3 -m pytest tests/integration --lab -ra -p no:cacheprovider)
status=0
started=$(date +%s)

cleanup() {
  python3 -m lab --backend docker down >/dev/null 2>&1
  "${ENGINE[@]}" python3 -m lab.docker_engine stop --purge || true
  rm -rf "$HBLAB_STATE_DIR" "$HBLAB_D_STATE_DIR"
  rm -f "$READY"
}
trap cleanup EXIT
trap 'exit 143' TERM  # the docker stage ends us: still clean up (the EXIT trap)

step() {  # step NAME JUNIT CMD...: run, time, check that nothing was skipped
  local t0=$(date +%s)
  "${@:3}" --junitxml="$2" || { echo "engine $N: $1 failed"; status=1; }
  python3 scripts/check_no_skips.py "$2" || status=1
  echo "engine $N: $1 took $(( $(date +%s) - t0 )) s"
}

rm -f "$READY"
"${ENGINE[@]}" python3 -m lab.docker_engine start || exit 1
python3 -m lab.docker_images || exit 1
touch "$READY"
for what in "${WHATS[@]}"; do
  case "$what" in
    all|takeover)
      step takeover "build/junit-docker-takeover-$N.xml" env HBLAB_IMPLS=hbnode \
        "${PYTEST[@]}" -m failover -k test_takeover_on_poweroff
      ;;&
    all|tutorial)
      step tutorial "build/junit-docker-tutorial-$N.xml" "${KNOWN[@]}" \
        HBLAB_IMPLS="$TUTORIAL_IMPLS" "${PYTEST[@]}" -m tutorial
      ;;&
    all|fencing)
      # Fencing on containers: a BMC (ipmi_sim) per node on the lab's management
      # network, each implementation resetting the other through cluster-glue's
      # external/ipmi. The mixed pair has both fence, so one pairing covers both.
      step fencing "build/junit-docker-fencing-$N.xml" "${KNOWN[@]}" \
        HBLAB_IMPLS="$FENCING_IMPLS" HBLAB_SHARD="$SHARD" "${PYTEST[@]}" -k test_fencing
      ;;
    failover)
      # Only the tests run once per implementation: the others ran on the first engine.
      # (The suite has its own takeovers: no takeover check before it.)
      step failover "build/junit-docker-failover-$N.xml" "${KNOWN[@]}" HBLAB_ONLY_PER_IMPL=1 \
        HBLAB_SHARD="$SHARD" "${PYTEST[@]}" -m failover
      ;;
    whole)
      step failover "build/junit-docker-failover-$N.xml" "${KNOWN[@]}" \
        HBLAB_SHARD="$SHARD" "${PYTEST[@]}" -m failover
      ;;
    nemesis)
      # Its leak check reads each container's namespace through /proc/PID/ns/net.
      step nemesis "build/junit-docker-nemesis.xml" "${KNOWN[@]}" HBLAB_NEMESIS_SECONDS=60 \
        "${PYTEST[@]}" -k test_a_random_schedule_keeps_every_invariant
      ;;
  esac
done
echo "engine $N: exit $status in $(( $(date +%s) - started )) s"
exit "$status"
