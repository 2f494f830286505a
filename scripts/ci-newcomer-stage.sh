#!/usr/bin/env bash
# CI's newcomer stage: what a new user meets, before anything else ran on the machine.
#
# 1. A clone under $HOME, in a fresh directory with nothing beside it (no folder beside
#    it, no earlier install): `make lab` must install everything, return only once
#    master holds the VIP and serves the page, and the nodes must run this clone's code.
# 2. A second clone under /tmp, one after the other: `make lab` there must replace the
#    first clone's install and run the second clone's code (a node's private /tmp hides
#    the host's). `make test-unit` must pass there, and `git status` must stay clean.
# The lab is taken down and both clones are removed, whatever happened.
#
# --keep FILE: the /tmp clone is kept and its path written to FILE, and its unit tests
# are left to the caller: CI (.ci/run) runs its lint, `make test` (unit tests included)
# and the container stages in that clone, instead of running the unit tests twice.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd -P)
started=$(date +%s)
status=0
keep=""
if [ "${1:-}" = --keep ]; then keep=${2:?--keep FILE}; fi
work_tmp=$(mktemp -d /tmp/hbnode-newcomer.XXXXXX)
work_home=$(mktemp -d "${HOME:-/root}/hbnode-newcomer.XXXXXX")

fail() { echo "newcomer stage: FAILED: $*"; status=1; }

cleanup() {
  for clone in "$work_tmp/hbnode" "$work_home/hbnode"; do
    [ -d "$clone" ] && (cd "$clone" && LAB=netns python3 -m lab down >/dev/null 2>&1)
  done
  rm -rf "$work_home"
  if [ -n "$keep" ] && [ "$status" = 0 ] && [ -d "$work_tmp/hbnode" ]; then
    echo "$work_tmp/hbnode" > "$keep"
  else
    rm -rf "$work_tmp"
  fi
}
trap cleanup EXIT

newcomer() {  # newcomer DIR [unit]: clone into DIR, make lab, check, optionally unit tests
  local clone="$1/hbnode" t0
  git clone -q "$src" "$clone" || { fail "git clone into $1"; return; }
  cd "$clone" || return
  t0=$(date +%s)
  LAB=netns make --no-print-directory lab || fail "make lab in $clone"
  echo "newcomer stage: make lab in $clone took $(( $(date +%s) - t0 )) s"
  python3 scripts/check_lab_ready.py "$(pwd -P)" || fail "the lab after make lab in $clone"
  python3 -m lab exec master -- sh -c 'ifconfig eth0:0 | grep -q 192.168.0.38' \
    || fail "ifconfig in master shows no eth0:0 with the VIP"
  if [ "${2:-}" = unit ]; then
    make --no-print-directory test-unit || fail "make test-unit in $clone"
  fi
  local dirty
  dirty=$(git status --porcelain)
  [ -z "$dirty" ] || fail "git status is not clean in $clone: $dirty"
  python3 -m lab down || fail "hblab down in $clone"
  cd / || return
}

newcomer "$work_home"
if [ -n "$keep" ]; then newcomer "$work_tmp"; else newcomer "$work_tmp" unit; fi
echo "newcomer stage: exit $status in $(( $(date +%s) - started )) s"
exit "$status"
