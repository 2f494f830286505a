#!/usr/bin/env bash
# Make the lab's Debian rootfs offline-friendly: debootstrap from the machine's apt
# mirror into DIR, then pack it as a tarball that `docker import` turns into the
# base image every lab image starts FROM (no registry is needed anywhere).
#
#   mkrootfs.sh OUT.tar SUITE MIRROR PKG[,PKG...] [EXCLUDE[,EXCLUDE...]]
#
# The second stage runs in its own network and PID namespaces behind a deny-all
# policy-rc.d: no package's postinst can start nginx or heartbeat on this machine,
# and anything that tried dies with the stage.
set -euo pipefail
out=$1 suite=$2 mirror=$3 include=$4 exclude=${5:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/hblab-d-rootfs.XXXXXX")
root=$work/root
cleanup() {
  # debootstrap mounts proc/sys in the target during the second stage.
  for m in proc sys dev/pts dev; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

debootstrap --variant=minbase --foreign --include="$include" ${exclude:+--exclude="$exclude"} "$suite" "$root" "$mirror" \
  > "$work/stage1.log" 2>&1 || { tail -20 "$work/stage1.log" >&2; exit 1; }
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
unshare --net --pid --fork --mount-proc \
  chroot "$root" /debootstrap/debootstrap --second-stage > "$work/stage2.log" 2>&1 \
  || { tail -20 "$work/stage2.log" >&2; tail -20 "$root/debootstrap/debootstrap.log" >&2 || true; exit 1; }
for m in proc sys dev/pts dev; do
  mountpoint -q "$root/$m" && umount -l "$root/$m" || true
done
rm -f "$root/usr/sbin/policy-rc.d"
# What an image does not need: package lists, caches, docs (about 40 MB).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/debootstrap
# The mirror the machine builds from, so apt inside works where a network does.
echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
tar --numeric-owner -C "$root" -cf "$out.part" .
mv "$out.part" "$out"
