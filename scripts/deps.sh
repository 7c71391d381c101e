#!/bin/sh
# Installs the Debian packages MyChat Lab needs, when any is missing.
# Usage: scripts/deps.sh [extra-package ...]
# Runs apt-get as root (directly, or through sudo when available); prints what
# it installs and fails with a clear message when it cannot.
set -eu

pkgs="gcc make pkg-config protobuf-c-compiler libprotobuf-c-dev libcunit1-dev \
libpcap-dev libsqlite3-dev libsodium-dev libedit-dev libjansson-dev tmux tshark \
help2man man-db $*"

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
  run=""
elif command -v sudo >/dev/null 2>&1; then
  run="sudo"
else
  echo "deps: missing packages:$missing" >&2
  echo "deps: run as root, or install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
$run apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
  { echo "deps: apt-get install$missing failed" >&2; exit 1; }
echo "deps: done"
