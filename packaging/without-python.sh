#!/usr/bin/env bash
# Run a command in a throwaway root where no Python, venv or pip can be reached, to show
# the bundle needs none: packaging/without-python.sh BUNDLE_DIR COMMAND [ARG...]
#
# In a private mount namespace (`unshare`; as root, or in a user namespace otherwise) a
# tmpfs becomes the new root. It gets the host's /usr and /etc read-only, /dev, /proc and
# /sys, an empty /tmp, /var and /run, and /repo holding this checkout's packaging/ and
# resources/ read-only, BUNDLE_DIR read-only as /repo/dist/deskfind and build/ writable.
# Not /root, /home, /opt or the host's /tmp, where venvs and pyenv live. Then every
# Python under /usr is covered (below), and COMMAND runs chrooted there, in /repo, with
# PATH=/usr/bin:/bin and DESKFIND_NO_PYTHON=1.
set -euo pipefail

if [ "${DESKFIND_SANDBOX_STAGE:-}" != mounts ]; then
  if [ $# -lt 2 ]; then
    echo "usage: $0 BUNDLE_DIR COMMAND [ARG...]" >&2
    exit 2
  fi
  [ -d "$1" ] || { echo "$0: no bundle folder $1 (run packaging/build.sh)" >&2; exit 1; }
  command -v unshare >/dev/null || { echo "$0: needs unshare (util-linux)" >&2; exit 1; }
  if [ "$(id -u)" = 0 ]; then
    namespace=(unshare --mount --propagation private)
  else
    namespace=(unshare --user --map-root-user --mount --propagation private)
  fi
  "${namespace[@]}" true 2>/dev/null || {
    echo "$0: cannot make a private mount namespace here (${namespace[*]} failed)" >&2
    exit 1
  }
  repo="$(cd "$(dirname "$0")/.." && pwd)"
  bundle="$(cd "$1" && pwd)"
  shift
  exec env DESKFIND_SANDBOX_STAGE=mounts DESKFIND_SANDBOX_REPO="$repo" \
    DESKFIND_SANDBOX_BUNDLE="$bundle" "${namespace[@]}" bash "$0" "$@"
fi

# -- inside the namespace: build the root, hide Python, chroot --------------------------
repo="$DESKFIND_SANDBOX_REPO"
bundle="$DESKFIND_SANDBOX_BUNDLE"
root="$(mktemp -d /tmp/deskfind-nopython.XXXXXX)"
# A process of COMMAND may still be exiting: detach the mounts lazily then.
trap 'umount -R "$root" 2>/dev/null || umount -R --lazy "$root"; rmdir "$root"' EXIT
mount -t tmpfs -o mode=0755 deskfind-root "$root"

bind_ro() {  # bind_ro SOURCE TARGET
  mkdir -p "$2"
  mount --rbind "$1" "$2"
  mount -o remount,bind,ro "$2"
}

for top in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$top" ]; then
    ln -s "$(readlink "/$top")" "$root/$top"
  elif [ -d "/$top" ]; then
    bind_ro "/$top" "$root/$top"
  fi
done
bind_ro /usr "$root/usr"
bind_ro /etc "$root/etc"
for special in dev proc sys; do
  mkdir -p "$root/$special"
  mount --rbind "/$special" "$root/$special"
done
for scratch in tmp var run; do
  mkdir -p "$root/$scratch"
  mount -t tmpfs -o mode=1777 "deskfind-$scratch" "$root/$scratch"
done
mkdir -p "$root/var/lib/xkb" "$root/var/tmp"  # Xvfb keeps compiled keymaps there

mkdir -p "$root/repo" "$repo/build"
bind_ro "$repo/packaging" "$root/repo/packaging"
bind_ro "$repo/resources" "$root/repo/resources"
bind_ro "$bundle" "$root/repo/dist/deskfind"
mkdir -p "$root/repo/build"
mount --bind "$repo/build" "$root/repo/build"

# Python, wherever it is under /usr (Debian's, /usr/local's, one bundled by another
# program): each standard library folder (the one holding os.py) under an empty tmpfs,
# each python*, pip* or pydoc* program and each libpython under /dev/null.
hidden=0
cover() {  # cover KIND: standard library folders first, then files outside them
  while IFS= read -r -d '' found; do
    [ -e "$root$found" ] || continue  # inside a folder covered already
    if [ "$1" = folders ]; then
      mount -t tmpfs -o ro,mode=0755 deskfind-nopython "$root$(dirname "$found")"
    else
      mount --bind /dev/null "$root$found"
    fi
    hidden=$((hidden + 1))
  done
}
cover folders < <(find /usr -path '*/python*/os.py' -print0 2>/dev/null)
cover files < <(find /usr \( \( -name 'libpython*' -type f \) -o \( -type f -perm -u+x \
  \( -name 'python*' -o -name pip -o -name 'pip3*' -o -name 'pydoc*' \) \) \) -print0 \
  2>/dev/null)
echo "without-python: $hidden Python programs, libraries and folders covered in $root"

status=0
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp TERM="${TERM:-dumb}" \
  LANG=C.UTF-8 DESKFIND_NO_PYTHON=1 /bin/bash -c 'cd /repo && exec "$@"' bash "$@" \
  || status=$?
exit "$status"
