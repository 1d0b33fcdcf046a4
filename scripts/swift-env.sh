#!/usr/bin/env bash
# A Swift toolchain for the binding tests: Debian 12 has no `swiftlang`, Debian 13 (trixie) has
# 6.0.3 but needs trixie's libc, so it lives in a trixie chroot under .cache/swift-trixie/.
#
#   scripts/swift-env.sh setup            create the chroot (idempotent; seconds once done)
#   scripts/swift-env.sh run CMD ARGS...  run CMD inside it, the repository mounted at /repo
#
# `run` works in a private mount namespace (`unshare -m`): it mounts /proc (Swift finds its
# runtime through /proc/self/exe), /dev, a tmpfs on /tmp and binds the repository to /repo, so
# nothing stays mounted when the command ends, however it ends (this replaces an unmount trap,
# which a SIGKILL would skip). Needs root (CI is root), as
# debootstrap and chroot do. The working directory inside is /repo plus the caller's path
# relative to the repository when the caller stands inside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHROOT="$ROOT/.cache/swift-trixie"
MARKER="$CHROOT/.noaber-swift-ready"
PACKAGES="swiftlang libc6-dev"

# The Debian mirror this machine already uses (deb822 sources), else the public one.
mirror() {
  local uri
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Runs "$@" inside the chroot in a private mount namespace. No cleanup is needed afterwards:
# the namespace, and every mount in it, goes away with the process.
in_chroot() {
  local rel=""
  case "$PWD/" in "$ROOT"/*) rel=${PWD#"$ROOT"} ;; esac
  unshare -m --propagation private -- /bin/bash -euo pipefail -c '
    chroot_dir=$1 root=$2 rel=$3
    shift 3
    mount -t proc proc "$chroot_dir/proc"
    mount --rbind /dev "$chroot_dir/dev"
    mount -t tmpfs -o size=2g tmpfs "$chroot_dir/tmp"
    mkdir -p "$chroot_dir/repo"
    mount --bind "$root" "$chroot_dir/repo"
    cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$chroot_dir" /usr/bin/env -i \
      HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 \
      TERM="${TERM:-dumb}" ${NOABER_CHROOT_ENV:-} \
      /bin/bash -c "cd \"/repo$rel\" && exec \"\$@\"" bash "$@"
  ' bash "$CHROOT" "$ROOT" "$rel" "$@"
}

setup() {
  [ -f "$MARKER" ] && return 0
  [ "$(id -u)" = 0 ] || { echo "swift-env: needs root (debootstrap, chroot, mounts)" >&2; exit 1; }
  local started=$SECONDS
  if ! command -v debootstrap >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q debootstrap >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null; }
  fi
  # A half-made chroot (interrupted run) is started again from scratch.
  if [ ! -x "$CHROOT/usr/bin/apt-get" ] || [ ! -f "$CHROOT/.noaber-debootstrap-done" ]; then
    rm -rf "$CHROOT"
    mkdir -p "$CHROOT"
    echo "swift-env: debootstrap trixie into .cache/swift-trixie/ ($(mirror))" >&2
    debootstrap --variant=minbase --include=ca-certificates trixie "$CHROOT" "$(mirror)" >/dev/null
    touch "$CHROOT/.noaber-debootstrap-done"
  fi
  echo "swift-env: apt-get install $PACKAGES (inside the chroot)" >&2
  NOABER_CHROOT_ENV="DEBIAN_FRONTEND=noninteractive" in_chroot /bin/sh -c \
    "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null && apt-get clean"
  in_chroot swift --version >/dev/null
  touch "$MARKER"
  echo "swift-env: ready in $((SECONDS - started)) s" >&2
}

case "${1:-}" in
  setup) setup ;;
  run)
    shift
    [ $# -gt 0 ] || { echo "usage: $0 run CMD [ARGS...]" >&2; exit 2; }
    setup
    in_chroot "$@"
    ;;
  *) echo "usage: $0 setup | run CMD [ARGS...]" >&2; exit 2 ;;
esac
