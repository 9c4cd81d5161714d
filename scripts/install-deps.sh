#!/usr/bin/env bash
# Installs the build and test dependencies from Debian's packages, only what
# is missing (so a second run costs nothing).
set -euo pipefail
PKGS=(meson ninja-build pkg-config gcc libc6-dev python3 curl jq
      libcurl4-openssl-dev libssl-dev libxml2-dev libjansson-dev librados-dev
      libsqlite3-dev libmicrohttpd-dev valgrind
      ceph-mon ceph-osd radosgw ceph-common)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
