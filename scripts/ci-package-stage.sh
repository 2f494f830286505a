#!/usr/bin/env bash
# CI's package stage: hbnode as installed from its Debian package (tests/package).
#
# make test-package builds the .deb (this version and a newer one, lintian must
# pass), the package-test node images from the lab's Debian rootfs, and runs the
# reference cluster from the installed package on containers (LSB path: takeover,
# failback, an upgrade of the standby, the roll-back to Heartbeat) and
# hbnode.service under systemd as PID 1 in a systemd-nspawn machine.
#
# The gateway and client images are the lab's (make images). As the docker stage
# does: a private engine is started if none answers, and stopped and purged after.
#
# HBLAB_CI_PACKAGE_ENGINE=N (2..9): a private engine of its own, number N, reached by
# DOCKER_HOST alone, as the docker stage's extra engines are (scripts/ci-extra-engine.sh).
# CI runs this stage so, beside the docker stage: each stage then starts, uses and
# purges only its own engine, and the package lab (prefix <prefix>-pkg, a state
# directory of its own) meets none of the docker stage's labs.
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
own_engine=""
status=0
N=${HBLAB_CI_PACKAGE_ENGINE:-}
if [ -n "$N" ]; then
  case "$N" in [2-9]) ;; *) echo "package stage: HBLAB_CI_PACKAGE_ENGINE must be 2..9"; exit 2 ;; esac
  export HBLAB_D_RUN=/run/hblab-d$N HBLAB_D_DATA=/var/lib/hblab-d$N/engine \
    HBLAB_D_NETNS=hblab-d$N-engine
  export DOCKER_HOST="unix://$HBLAB_D_RUN/docker.sock"
fi

cleanup() {
  if [ -n "$own_engine" ]; then python3 -m lab.docker_engine stop --purge || true; fi
  own_engine=""
}
trap cleanup EXIT

step() {  # step NAME CMD...: run, time, and remember a failure
  local t0=$(date +%s)
  "${@:2}" || { echo "package stage: $1 failed"; status=1; }
  echo "package stage: $1 took $(( $(date +%s) - t0 )) s"
}

step deps bash scripts/install-deps.sh --docker
step deps-package bash scripts/install-deps.sh --package
if [ -n "$N" ] || ! python3 -m lab.docker_engine reachable; then
  own_engine=yes
  step engine python3 -m lab.docker_engine start
fi
[ "$status" = 0 ] && step images python3 -m lab.docker_images
if [ "$status" = 0 ]; then
  step test-package make --no-print-directory test-package \
    PYTEST_ARGS="--junitxml=build/junit-package.xml"
  python3 scripts/check_no_skips.py build/junit-package.xml package || status=1
fi
cleanup
echo "package stage: exit $status in $(( $(date +%s) - started )) s"
exit "$status"
