#!/usr/bin/env bash
# Takes docs/wireshark-heartbeat.png: a real Wireshark window, under Xvfb, showing
# a heartbeat of the golden capture decoded by lab/wireshark/heartbeat.lua with
# its signature checked (md5, key Hello!). Run as root or not; ~15 s.
#
#   scripts/wireshark-screenshot.sh [OUT.png] [FRAME]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/wireshark-heartbeat.png}
frame=${2:-123}  # master's first status after a restart: fields, signature, [restart]
filter='heartbeat.t == "status" && heartbeat.auth_ok' 
bash scripts/install-deps.sh --wireshark-gui

work=$(mktemp -d)
xvfb="" shark=""
cleanup() {
  [ -n "$shark" ] && kill "$shark" 2>/dev/null || true
  [ -n "$xvfb" ] && kill "$xvfb" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

display=:$((90 + RANDOM % 100))  # a display of our own
Xvfb "$display" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
for _ in $(seq 50); do xdpyinfo -display "$display" >/dev/null 2>&1 && break; sleep 0.1; done

# A HOME and a Wireshark configuration of our own: no plugin or setting of the
# user's changes the picture, and the main window fills the screen (Xvfb has no
# window manager to maximize it).
mkdir -p "$work/home" "$work/config"
printf 'gui.geometry_main_x: 0\ngui.geometry_main_y: 0\ngui.geometry_main_width: 1280\ngui.geometry_main_height: 900\ngui.geometry_main_upper_pane: 330\n' \
  > "$work/config/recent_common"
# The tree gets the room of the bytes pane; the columns fit their contents.
printf 'gui.byte_view_show: FALSE\ncolumn.width: "%%m", "60", "%%t", "95", "%%s", "120", "%%d", "120", "%%p", "85", "%%L", "60", "%%i", "700"\n' \
  > "$work/config/recent"
printf 'auth 3\n3 md5 Hello!\n' > "$work/authkeys"
DISPLAY=$display HOME=$work/home WIRESHARK_CONFIG_DIR=$work/config \
  wireshark -n -r tests/fixtures/hb306-md5-Hello.pcap -g "$frame" -Y "$filter" \
  -X "lua_script:$PWD/lab/wireshark/heartbeat.lua" -o "heartbeat.authkeys:$work/authkeys" \
  >/dev/null 2>&1 &
shark=$!

window=""
for _ in $(seq 100); do
  window=$(DISPLAY=$display xdotool search --name "hb306-md5-Hello" 2>/dev/null | head -1) || true
  [ -n "$window" ] && break
  sleep 0.2
done
[ -n "$window" ] || { echo "wireshark-screenshot: no Wireshark window" >&2; exit 1; }
sleep 2  # the first paint
# Click the fifth line of the packet details (Frame, Ethernet, IP, UDP, then
# Heartbeat; the geometry above fixes where it is) and open it one level
# (Right): one line per Heartbeat field, the signature and the analysis.
DISPLAY=$display xdotool mousemove 300 563 click 1
sleep 0.5
DISPLAY=$display xdotool key Right
sleep 0.3
DISPLAY=$display xdotool mousemove 1270 890  # no hover highlight in the picture
sleep 1
DISPLAY=$display import -window root "$out"
echo "wrote $out ($(identify -format '%wx%h' "$out"))"
