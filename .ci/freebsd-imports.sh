#!/bin/sh
# .ci/freebsd-imports.sh [BINARY] — checks a linked FreeBSD mount_md (from
# `freebsd-build --build`) does its work through the kernel:
#   * it imports nmount, ioctl, unmount (and kldload/modfind for geom_md),
#     getfsstat and sysctlbyname (finding units and mounts), flock (the image lock);
#   * it names /sbin/newfs (run without -P, or for an image -P --create
#     made) and /sbin/fsck_ufs (run with -P on a file system that is not
#     clean, or always under --fsck=always); no mdconfig, mount, pax or
#     shell path is in it. (-r also names /sbin/growfs; not checked here.)
# The clean -P path starting no process is argued from the code (newfs is
# exec'd only by Platform::format, planned only without -P or for a created
# image; fsck_ufs only when the superblock says not clean, unless
# --fsck=always) and tested with the recording syscall layer
# (tests/freebsd_double/run.rs, tests/freebsd_double/fsck.rs).
set -eu
B=${1:-target/freebsd/x86_64-unknown-freebsd/release/mount_md}
[ -f "$B" ] || { echo "freebsd-imports: $B: no such file (run freebsd-build --build first)" >&2; exit 1; }
READELF=$(command -v readelf || command -v llvm-readelf) || { echo "freebsd-imports: no readelf" >&2; exit 1; }
syms=$("$READELF" --dyn-syms -W "$B" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }' | sort -u)
fail=0
for s in nmount ioctl unmount kldload modfind getfsstat sysctlbyname flock; do
  if printf '%s\n' "$syms" | grep -qx "$s"; then echo "ok: imports $s"
  else echo "FAIL: does not import $s" >&2; fail=1; fi
done
grep -qaF /sbin/newfs "$B" || { echo "FAIL: /sbin/newfs not named" >&2; fail=1; }
grep -qaF /sbin/fsck_ufs "$B" || { echo "FAIL: /sbin/fsck_ufs not named" >&2; fail=1; }
for p in /sbin/mdconfig /sbin/mount /bin/pax /bin/sh; do
  if grep -qaF "$p" "$B"; then echo "FAIL: names $p" >&2; fail=1; else echo "ok: does not name $p"; fi
done
exit $fail
