#!/usr/bin/env bash
# make deb: the Debian package of the daemon (hbnode), built with debhelper,
# dh-python and pybuild from a copy of this checkout's files in build/deb/ (the
# checkout stays clean), then checked by lintian; any lintian error fails.
#
#   scripts/build-deb.sh [--version V] [--out DIR]
#
# --version V builds the same tree as version V (a changelog entry is added to the
# copy): how the package tests get a newer package to upgrade to.
set -euo pipefail
cd "$(dirname "$0")/.."
version="" out=build/deb
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--version V] [--out DIR]" >&2; exit 2 ;;
  esac
done
base=$(dpkg-parsechangelog -S Version -l debian/changelog)
version=${version:-$base}
src="$out/src/hbnode-$version"
rm -rf "$src"
mkdir -p "$src"
# Every file git knows of or would add (untracked but not ignored), as it is now.
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$src"
if [ "$version" != "$base" ]; then
  { printf 'hbnode (%s) unstable; urgency=medium\n\n  * Rebuilt as %s by scripts/build-deb.sh.\n\n' "$version" "$version"
    printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -S Maintainer -l debian/changelog)" "$(date -R)"
    cat debian/changelog; } > "$src/debian/changelog"
fi
dpkg-checkbuilddeps "$src/debian/control"
# Debian's own Python and tools only: a pyenv or virtualenv first on PATH must not
# be what pybuild builds with.
(cd "$src" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b >../build.log 2>&1) || { tail -40 "$out/src/build.log" >&2; exit 1; }
deb="$out/src/hbnode_${version}_all.deb"
cp "$deb" "$out/"
echo "built $out/$(basename "$deb")"
# lintian: every tag it has shown (info included); an error fails the build.
lintian --display-info --fail-on error "$out/$(basename "$deb")"
echo "lintian: no errors"
