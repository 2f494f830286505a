#!/usr/bin/env bash
# Records the sha1 and crc golden captures of tests/fixtures (run as root, ~2 min):
# two real Heartbeat 3.0.6 nodes (--impl heartbeat) in a lab of their own, captured
# on slave's eth1. Each run pulls master's eth1 cable three times for 0.8 s, less
# than deadtime, so that packets are lost and NS_rexmit requests and
# retransmissions appear, then restarts master's daemon (a new generation). tests/unit/test_wireshark_agreement.py checks the dissector
# against the scapy layer on every packet of them.
#
#   scripts/make-auth-captures.sh [OUTDIR]      (default: tests/fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-tests/fixtures}
export HBLAB_PREFIX=${HBLAB_PREFIX:-hbcap} HBLAB_STATE_DIR=${HBLAB_STATE_DIR:-/var/lib/hbcap}
hblab() { python3 -m lab "$@"; }
work=$(mktemp -d)
trap 'hblab down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

record() {  # record NAME AUTHKEYS-TEXT
  local name=$1
  mkdir -p "$work/$name"
  printf '%b' "$2" > "$work/$name/authkeys"
  chmod 600 "$work/$name/authkeys"
  hblab up --impl heartbeat --config "$work/$name" >/dev/null
  hblab capture slave eth1 -w "$work/$name.pcap" --seconds 40 --filter 'udp port 694' \
    2>/dev/null &
  local capture=$!
  sleep 6
  for _ in 1 2 3; do
    hblab link master eth1 down
    sleep 0.8
    hblab link master eth1 up
    sleep 2
  done
  hblab exec master -- service heartbeat restart >/dev/null
  wait "$capture" || true
  hblab down >/dev/null
  cp "$work/$name.pcap" "$out/hb306-$name.pcap"
  cp "$work/$name/authkeys" "$out/hb306-$name.authkeys"
  echo "$out/hb306-$name.pcap: $(python3 -m lab dump --read "$out/hb306-$name.pcap" | wc -l) packets"
}

record sha1-SecretKey 'auth 1\n1 sha1 SecretKey\n'
record crc 'auth 2\n2 crc\n'
