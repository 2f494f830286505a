#!/usr/bin/env bash
# Installs what the lab and the tests need on a fresh Debian machine (run as root).
# Idempotent: a second run installs nothing and takes about a second.
# --docker: what the containerized lab needs (make images, make engine-start) instead.
# --wireshark-gui: Wireshark itself under Xvfb (make wireshark-screenshot) instead.
# --package: what `make deb` and `make test-package` need (debhelper, lintian, nspawn).
# --rootfs: debootstrap alone (CI makes the containers' rootfs during its lint).
set -euo pipefail
cd "$(dirname "$0")/.."

# tshark and lua5.4: the Heartbeat dissector's tests run it (lab/wireshark/heartbeat.lua)
# in tshark's Lua and in a Lua 5.4 like the one of newer Wireshark releases.
# chromium and tmux: the live views' tests (hblab web in a headless browser, hblab watch
# read through tmux capture-pane).
# openipmi, ipmitool, cluster-glue: hblab up --fencing (ipmi_sim BMCs; nodes fence through
# cluster-glue's stonith and its external/ipmi plugin, which runs ipmitool).
# rsyslog: each lab node runs its own (lab.nodeinit), writing /var/log/messages.
# libfuse3-3: the lab's watchdog devices (lab.watchdog_fuse, through mfusepy).
# openssh-server, iptables, vim, selinux-utils: what blank nodes (hblab up --blank) run
# for the tutorial's steps, inside the nodes only (see the sshd note below).
# prometheus: promtool tests the alert rules, and its server scrapes the lab's nodes.
APT_PACKAGES=(iproute2 heartbeat nginx-light tcpdump net-tools procps iputils-ping
              iputils-arping curl util-linux psmisc nftables tshark lua5.4 chromium tmux
              openipmi ipmitool cluster-glue rsyslog libfuse3-3
              openssh-server iptables vim selinux-utils prometheus)
# A node's boot makes what the packages put in /run with systemd-tmpfiles (lab.pkgfiles):
# systemd has it; a machine without systemd gets the standalone one (they conflict).
if ! command -v systemd-tmpfiles >/dev/null; then APT_PACKAGES+=(systemd-standalone-tmpfiles); fi
if [ "${1:-}" = --docker ]; then
  # The policy-rc.d below also keeps the package from starting a system dockerd
  # (with its iptables rules) on machines that have an init system.
  APT_PACKAGES=(docker.io docker-compose debootstrap)
elif [ "${1:-}" = --rootfs ]; then
  # Only what the containerized lab's rootfs is made with (lab.docker_images --prepare).
  APT_PACKAGES=(debootstrap)
elif [ "${1:-}" = --wireshark-gui ]; then
  APT_PACKAGES=(wireshark xvfb xdotool imagemagick)
elif [ "${1:-}" = --package ]; then
  # The package's Build-Depends, lintian, and systemd-nspawn (hbnode.service under a
  # real systemd as PID 1: tests/package/test_systemd.py).
  APT_PACKAGES=(debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools
                lintian systemd-container)
fi
need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done

if ((${#need_apt[@]})); then
  echo "== apt-get install ${need_apt[*]}"
  # Packages must not start heartbeat or nginx in the machine's own namespaces:
  # the lab starts them inside its nodes. Add a deny-all policy-rc.d only if there
  # is none, and remove exactly that one afterwards.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=yes
  fi
  trap '[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
  # wireshark-common asks whether non-root users may capture: answer no, without asking
  # (the lab captures as root, and a setuid dumpcap is not ours to add).
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The lab runs sshd inside its nodes only. Debian's own init script and systemd unit
  # honour this file: an sshd we installed never starts on the machine itself.
  if [[ " ${need_apt[*]} " == *" openssh-server "* ]]; then touch /etc/ssh/sshd_not_to_be_run; fi
fi

# The GUI packages are all --wireshark-gui needs; the build tools all --package needs;
# debootstrap all --rootfs needs.
case "${1:-}" in --wireshark-gui|--package|--rootfs) exit 0 ;; esac

PY=${PYTHON:-python3}
here=$(pwd -P)
# What is installed, asked from / so that this checkout (the current directory) cannot
# answer for it: a stale `pip install -e` of another clone must be replaced.
installed=$(cd / && "$PY" -c 'import hbnode, lab, os.path as p
print(p.dirname(p.dirname(p.realpath(hbnode.__file__))), p.dirname(p.dirname(p.realpath(lab.__file__))))' 2>/dev/null || true)
if [ "$installed" != "$here $here" ] \
   || ! (cd / && "$PY" -c "import pyroute2, scapy, pytest, xdist, hypothesis, matplotlib, docker, yaml, jsonschema, starlette, uvicorn, rich, playwright, mfusepy, pexpect, prometheus_client") 2>/dev/null \
   || ! "$PY" -c "import importlib.metadata as m; m.version('types-PyYAML'); m.version('types-jsonschema')" 2>/dev/null \
   || ! command -v ruff >/dev/null || ! "$PY" -m mypy --version >/dev/null 2>&1; then
  # Two distributions (pyproject.toml): the daemon hbnode, and the lab, hbnode-lab,
  # in packaging/hblab (its `lab` is a symlink to this tree's lab/).
  echo "== pip install -e .[metrics] -e packaging/hblab[test] (${installed:-nothing installed} -> $here)"
  "$PY" -m pip install -q --disable-pip-version-check -e '.[metrics]' -e 'packaging/hblab[test]'
fi
