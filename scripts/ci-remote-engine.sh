#!/usr/bin/env bash
# A second private Docker engine, addressed only by DOCKER_HOST: the docker backend must
# not assume the engine it usually finds. Images are built on it (the rootfs tarball is
# reused from build/docker), a lab comes up on it, its holder is powered off and the
# peer takes over; then the lab and the engine are removed, whatever happened.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN=/run/hblab-d2
ENGINE=(env HBLAB_D_RUN=$RUN HBLAB_D_DATA=/var/lib/hblab-d2/engine HBLAB_D_NETNS=hblab-d2-engine)
REMOTE="unix://$RUN/docker.sock"
status=0
cleanup() {
  DOCKER_HOST=$REMOTE python3 -m lab --backend docker down >/dev/null 2>&1
  "${ENGINE[@]}" python3 -m lab.docker_engine stop --purge || true
}
trap cleanup EXIT
"${ENGINE[@]}" python3 -m lab.docker_engine start || exit 1
# From here on, DOCKER_HOST alone says where the engine is.
DOCKER_HOST=$REMOTE python3 -m lab.docker_images || exit 1
DOCKER_HOST=$REMOTE make --no-print-directory test-failover LAB=docker HBLAB_WORKERS=1 \
  HBLAB_IMPLS=hbnode PYTEST_ARGS="-k test_takeover_on_poweroff --junitxml=build/junit-remote.xml" \
  || status=1
python3 scripts/check_no_skips.py build/junit-remote.xml || status=1
exit "$status"
