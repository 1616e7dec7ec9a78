#!/usr/bin/env python3
"""mount_md benchmarks (run through bench/run, as root, on Linux).

1. mount+unmount cycle of a -P ext4 image, interleaved A/B/C/D:
   A mount_md -P -F img md dir ; mount_md -u dir
   B mount -o loop img dir ; umount dir                (util-linux)
   C losetup --find --show img ; mount dev dir ; umount dir ; losetup -d dev
   D floor mount img dir ext4 ; floor umount dir       (raw syscalls, bench/floor.c)
   Two programs per cycle for A, B and D, four for C.
2. boot at scale: N images mounted by N concurrent invocations, and serially.
3. image creation (1 GiB): mount_md's reserve and sparse creation, dd, fallocate.
4. peak RSS of one mount_md invocation; size of the stripped release binary.
5. the I/O path: page-cache growth per MiB written into the mount (Cached in
   /proc/meminfo around a 64 MiB write + sync, caches dropped first; and the
   backing image's own resident pages, fincore), and fio sequential
   write/read throughput and 4 KiB random read/write IOPS through the mounted
   file system, for mount_md (direct I/O), util-linux mount -o loop
   (buffered), losetup --direct-io=on + mount, and the host file system.
6. start-up profile: instructions (callgrind) and system calls (strace -c)
   of one mount and one -u, for mount_md and, with --before BIN, an older
   build of it.
7. programs started by one -P mount (strace -f -e trace=execve): a clean
   image starts none besides mount_md itself; a dirty one adds e2fsck -p.

Wall time is perf_counter around the programs; CPU time is user+sys of the
children (getrusage). Ratios, not absolute times, are what to quote.
Everything is made in one temp dir and torn down on every exit path; only
loop devices backed by files in that dir are ever detached.
"""
import argparse
import concurrent.futures
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOUNT_MD = os.path.join(REPO, "target", "release", "mount_md")
# The same code linked statically (glibc, -C target-feature=+crt-static):
# no ld.so work at start-up. Built by bench/run into its own target dir.
STATIC_MD = os.path.join(REPO, "target", "static", "x86_64-unknown-linux-gnu", "release", "mount_md")
CREATE = os.path.join(REPO, "target", "release", "examples", "create_image")
FLOOR = None  # set in main (built into the temp dir)
WORK = None


def sh(argv, check=True, capture=True):
    p = subprocess.run(argv, stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE if capture else None)
    if check and p.returncode != 0:
        raise RuntimeError(f"{argv}: exit {p.returncode}: {p.stderr.decode(errors='replace').strip()}")
    return p


def timed(fn):
    """Runs fn(); returns (wall seconds, child CPU seconds)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    fn()
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return t1 - t0, cpu


def our_loops():
    """Loop devices whose backing file lies in our work dir."""
    out = []
    for name in os.listdir("/sys/block"):
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as f:
                backing = f.read().strip()
        except OSError:
            continue
        if WORK and backing.startswith(WORK + "/"):
            out.append("/dev/" + name)
    return out


def our_mounts():
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            target = line.split()[1].replace("\\040", " ")
            if WORK and target.startswith(WORK + "/"):
                out.append(target)
    return out


def settle_loops(timeout=5.0):
    """Autoclear detaches asynchronously: wait (bounded) until ours are gone."""
    end = time.monotonic() + timeout
    while our_loops() and time.monotonic() < end:
        time.sleep(0.01)
    return our_loops()


def cleanup():
    for m in reversed(our_mounts()):
        subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL)
    for d in our_loops():
        subprocess.run(["losetup", "-d", d], stderr=subprocess.DEVNULL)
    if WORK:
        shutil.rmtree(WORK, ignore_errors=True)


def make_image(path, size_mib):
    with open(path, "wb") as f:
        f.truncate(size_mib << 20)
    sh(["mkfs.ext4", "-q", "-F", path])


# --- 1. mount+unmount cycle -------------------------------------------------

def cycle_mount_md(img, mnt):
    sh([MOUNT_MD, "-P", "-F", img, "md", mnt])
    sh([MOUNT_MD, "-u", mnt])


def cycle_mount_md_static(img, mnt):
    sh([STATIC_MD, "-P", "-F", img, "md", mnt])
    sh([STATIC_MD, "-u", mnt])


def cycle_util_linux(img, mnt):
    sh(["mount", "-o", "loop", img, mnt])
    sh(["umount", mnt])


def cycle_chain(img, mnt):
    dev = sh(["losetup", "--find", "--show", img]).stdout.decode().strip()
    sh(["mount", dev, mnt])
    sh(["umount", mnt])
    sh(["losetup", "-d", dev])


def cycle_floor(img, mnt):
    sh([FLOOR, "mount", img, mnt, "ext4"])
    sh([FLOOR, "umount", mnt])


def cycle_floor_dio(img, mnt):
    sh([FLOOR, "mount", img, mnt, "ext4", "dio"])
    sh([FLOOR, "umount", mnt])


def cycle_mount_md_buffered(img, mnt):
    sh([MOUNT_MD, "--no-direct-io", "-P", "-F", img, "md", mnt])
    sh([MOUNT_MD, "-u", mnt])


BEFORE = None  # --before: an older build, cycled alongside


def cycle_before(img, mnt):
    sh([BEFORE, "-P", "-F", img, "md", mnt])
    sh([BEFORE, "-u", mnt])


CYCLES = [
    ("mount_md", cycle_mount_md),
    ("mount_md --no-direct-io", cycle_mount_md_buffered),
    ("mount_md (static build)", cycle_mount_md_static),
    ("mount_md before (--before)", cycle_before),
    ("util-linux mount -o loop", cycle_util_linux),
    ("losetup+mount chain", cycle_chain),
    ("floor (raw syscalls)", cycle_floor),
    ("floor, direct I/O", cycle_floor_dio),
]
# Which floor a row is compared with: the one doing the same kind of I/O.
FLOOR_OF = {"mount_md": "floor, direct I/O", "mount_md (static build)": "floor, direct I/O",
            "floor, direct I/O": "floor, direct I/O"}


def bench_cycles(n, size_mib):
    img = os.path.join(WORK, "cycle.img")
    mnt = os.path.join(WORK, "cycle.mnt")
    make_image(img, size_mib)
    os.mkdir(mnt)
    for _, fn in CYCLES:  # warm-up: page cache, module state
        fn(img, mnt)
    samples = {name: ([], []) for name, _ in CYCLES}
    order = list(CYCLES)
    for i in range(n):
        random.shuffle(order)  # interleaved: drift hits every variant alike
        for name, fn in order:
            wall, cpu = timed(lambda: fn(img, mnt))
            samples[name][0].append(wall)
            samples[name][1].append(cpu)
            # Untimed: the next variant starts once autoclear has torn this
            # one's device down (umount2 returns before it has; a run that
            # comes too early finds the image still attached and in use).
            settle_loops()
    leaks = settle_loops()
    return samples, leaks


# --- 2. boot at scale -------------------------------------------------------

def bench_scale(count, size_mib):
    base = os.path.join(WORK, "scale")
    os.mkdir(base)
    imgs, mnts = [], []
    for i in range(count):
        img, mnt = os.path.join(base, f"j{i}.img"), os.path.join(base, f"j{i}")
        make_image(img, size_mib)
        os.mkdir(mnt)
        imgs.append(img)
        mnts.append(mnt)

    def mount_md(i):
        return subprocess.run([MOUNT_MD, "-X", "-P", "-F", imgs[i], "md", mnts[i]], capture_output=True)

    def util_linux(i):
        return subprocess.run(["mount", "-o", "loop", imgs[i], mnts[i]], capture_output=True)

    def floor(i):
        return subprocess.run([FLOOR, "mount", imgs[i], mnts[i], "ext4"], capture_output=True)

    results = []
    for name, fn in [("mount_md", mount_md), ("util-linux", util_linux), ("floor", floor)]:
        for mode in ["serial", "concurrent"]:
            t0 = time.perf_counter()
            if mode == "serial":
                procs = [fn(i) for i in range(count)]
            else:
                with concurrent.futures.ThreadPoolExecutor(max_workers=count) as ex:
                    procs = list(ex.map(fn, range(count)))
            wall = time.perf_counter() - t0
            failures = sum(1 for p in procs if p.returncode != 0)
            # mount_md -X says "attached after N lost race(s)" when it retried.
            retries = sum(
                int(line.split("attached after ")[1].split()[0])
                for p in procs
                for line in p.stderr.decode(errors="replace").splitlines()
                if "attached after " in line
            )
            mounted = len(our_mounts())
            for m in mnts:
                subprocess.run(["umount", m], stderr=subprocess.DEVNULL)
            leaks = settle_loops()
            for d in leaks:
                subprocess.run(["losetup", "-d", d], stderr=subprocess.DEVNULL)
            errors = [p.stderr.decode(errors="replace").strip().splitlines()[-1] for p in procs if p.returncode][:3]
            results.append((name, mode, wall, failures, retries, mounted, len(leaks), errors))
    return results


# --- 3. image creation ------------------------------------------------------

def bench_create(size_gib, runs):
    path = os.path.join(WORK, "create.img")
    size = f"{size_gib}g"
    variants = [
        ("mount_md --create=reserve", [CREATE, path, size, "reserve"]),
        ("mount_md --create=sparse", [CREATE, path, size, "sparse"]),
        ("dd if=/dev/zero bs=1M", ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_gib * 1024}", "status=none"]),
        ("fallocate -l", ["fallocate", "-l", f"{size_gib}G", path]),
    ]
    samples = {name: [] for name, _ in variants}
    for _ in range(runs):
        order = list(variants)
        random.shuffle(order)
        for name, argv in order:
            if os.path.exists(path):
                os.unlink(path)
            sh(["sync"])
            wall, _ = timed(lambda: sh(argv))
            st = os.stat(path)
            assert st.st_size == size_gib << 30, (name, st.st_size)
            samples[name].append((wall, st.st_blocks * 512))
    os.unlink(path)
    return samples


# --- 4. RSS and size ----------------------------------------------------------

def bench_rss(size_mib):
    img = os.path.join(WORK, "rss.img")
    mnt = os.path.join(WORK, "rss.mnt")
    make_image(img, size_mib)
    os.mkdir(mnt)
    out = {}
    for name, mount_argv in [("mount_md", [MOUNT_MD, "-P", "-F", img, "md", mnt]),
                             ("mount -o loop", ["mount", "-o", "loop", img, mnt])]:
        p = sh(["/usr/bin/time", "-f", "%M", *mount_argv])
        out[name] = int(p.stderr.decode().strip().splitlines()[-1])
        sh(["umount", mnt])
        settle_loops()
    return out


# --- 5. the I/O path -----------------------------------------------------------

def drop_caches():
    sh(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def meminfo_cached():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Cached:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Cached: in /proc/meminfo")


def resident(path):
    """Bytes of `path` in the page cache (util-linux fincore)."""
    out = sh(["fincore", "-b", "-n", "-o", "RES", path]).stdout.decode().split()
    return int(out[0]) if out else 0


def sys_dio(dev):
    try:
        with open(f"/sys/block/{os.path.basename(dev)}/loop/dio") as f:
            return f.read().strip()
    except OSError:
        return "-"


def source_of(mnt):
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == mnt:
                return fields[0]
    return None


class Loop:
    """One way of putting an image's file system at `mnt`."""

    def __init__(self, name, mount, unmount):
        self.name, self.mount, self.unmount = name, mount, unmount


def _losetup_dio_mount(img, mnt):
    dev = sh(["losetup", "--find", "--show", "--direct-io=on", img]).stdout.decode().strip()
    sh(["mount", dev, mnt])


def _losetup_dio_unmount(img, mnt):
    dev = source_of(mnt)
    sh(["umount", mnt])
    sh(["losetup", "-d", dev])


IO_WAYS = [
    Loop("mount_md (direct I/O)", lambda i, m: sh([MOUNT_MD, "-P", "-F", i, "md", m]),
         lambda i, m: sh([MOUNT_MD, "-u", m])),
    Loop("mount_md --no-direct-io", lambda i, m: sh([MOUNT_MD, "--no-direct-io", "-P", "-F", i, "md", m]),
         lambda i, m: sh([MOUNT_MD, "-u", m])),
    Loop("util-linux mount -o loop", lambda i, m: sh(["mount", "-o", "loop", i, m]),
         lambda i, m: sh(["umount", m])),
    Loop("losetup --direct-io=on", _losetup_dio_mount, _losetup_dio_unmount),
    # The host file system itself: the directory is used as it is.
    Loop("host file system", lambda i, m: None, lambda i, m: None),
]
HOST = "host file system"


def syncfs(path):
    """syncfs(2) on the file system holding `path`: pushes its dirty pages
    through the loop device (and a buffered loop device's into the image),
    without waiting for everyone else's writes as sync(1) would."""
    import ctypes
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if ctypes.CDLL(None, use_errno=True).syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")
    finally:
        os.close(fd)


def bench_cache(size_mib, write_mib, runs):
    """Page-cache growth per MiB written, interleaved, `runs` samples each:
    Cached from /proc/meminfo (the machine's whole cache: others' reads add
    noise, so the growth of an equally long quiet interval right after is
    subtracted) and, exactly, the pages of the written file plus those of the
    image that are resident afterwards (fincore)."""
    base = os.path.join(WORK, "cache")
    os.mkdir(base)
    chunk = os.urandom(1 << 20)
    samples = {w.name: [] for w in IO_WAYS}
    samples["control (nothing written)"] = []
    dio = {}
    for _ in range(runs):
        order = list(IO_WAYS) + [None]
        random.shuffle(order)
        for w in order:
            img = os.path.join(base, "io.img")
            mnt = os.path.join(base, "mnt")
            name = w.name if w else "control (nothing written)"
            if w and w.name != HOST:
                make_image(img, size_mib)
            os.mkdir(mnt)
            if w:
                w.mount(img, mnt)
                dev = source_of(mnt)
                dio[name] = sys_dio(dev) if dev and dev.startswith("/dev/loop") else "-"
            data = os.path.join(mnt, "data")
            drop_caches()
            time.sleep(1.0)  # let the other processes fault their working sets back in
            t0, before = time.monotonic(), meminfo_cached()
            if w:
                with open(data, "wb") as f:
                    for _ in range(write_mib):
                        f.write(chunk)
            syncfs(mnt)
            t1, after = time.monotonic(), meminfo_cached()
            # What everyone else added meanwhile, estimated over an equally
            # long interval right after, in which we write nothing.
            time.sleep(t1 - t0)
            drift = meminfo_cached() - after
            after -= drift
            exact = (resident(data) if w else 0) + (resident(img) if w and w.name != HOST else 0)
            image = resident(img) if w and w.name != HOST else 0
            samples[name].append(((after - before) / (write_mib << 20), exact / (write_mib << 20), image / (1 << 20)))
            if w:
                w.unmount(img, mnt)
            settle_loops()
            if os.path.exists(data):
                os.unlink(data)
            os.rmdir(mnt)
            if os.path.exists(img):
                os.unlink(img)
    return samples, dio


FIO_JOBS = [
    # name, fio arguments, which result, what to report
    # One pass over the file for the sequential jobs; the random ones run
    # for --fio-runtime seconds.
    ("seq write 1 MiB", ["--rw=write", "--bs=1M", "--end_fsync=1"], "write", "bw"),
    ("seq read 1 MiB", ["--rw=read", "--bs=1M"], "read", "bw"),
    ("rand read 4 KiB", ["--rw=randread", "--bs=4k", "--time_based"], "read", "iops"),
    ("rand write 4 KiB", ["--rw=randwrite", "--bs=4k", "--time_based", "--end_fsync=1"], "write", "iops"),
]


def evict(path):
    """Drops one file's pages from the page cache (POSIX_FADV_DONTNEED) —
    not the whole machine's, which would make every other process on a
    shared host re-read its files from the same disk during our jobs."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def fio(path, size_mib, runtime, args):
    import json
    argv = ["fio", "--name=bench", f"--filename={path}", f"--size={size_mib}M", "--ioengine=psync",
            f"--runtime={runtime}", "--output-format=json", *args]
    j = json.loads(sh(argv).stdout.decode())["jobs"][0]
    return j


def bench_fio(size_mib, file_mib, runtime, rounds):
    """Each way, each job, `rounds` interleaved rounds; medians."""
    base = os.path.join(WORK, "fio")
    os.mkdir(base)
    samples = {(w.name, job[0]): [] for w in IO_WAYS if w.name != "mount_md --no-direct-io" for job in FIO_JOBS}
    ways = [w for w in IO_WAYS if w.name != "mount_md --no-direct-io"]
    for _ in range(rounds):
        random.shuffle(ways)
        for w in ways:
            img = os.path.join(base, "io.img")
            mnt = os.path.join(base, "mnt")
            if w.name != HOST:
                make_image(img, size_mib)
            os.mkdir(mnt)
            w.mount(img, mnt)
            try:
                for name, args, side, what in FIO_JOBS:
                    # Every job starts cold, whichever caches the way has:
                    # the image's pages (a buffered loop device caches the
                    # file system's blocks there) and the test file's.
                    target = os.path.join(mnt, "fio.dat")
                    if os.path.exists(target):
                        syncfs(mnt)
                        evict(target)
                    if os.path.exists(img):
                        evict(img)
                    j = fio(os.path.join(mnt, "fio.dat"), file_mib, runtime, args)
                    value = j[side]["bw"] * 1024 / (1 << 20) if what == "bw" else j[side]["iops"]
                    samples[(w.name, name)].append(value)
            finally:
                if w.name == HOST:
                    os.unlink(os.path.join(mnt, "fio.dat"))
                w.unmount(img, mnt)
                settle_loops()
                os.rmdir(mnt)
                if os.path.exists(img):
                    os.unlink(img)
    return samples


# --- 6. start-up profile ----------------------------------------------------------

def callgrind_instructions(argv):
    out = os.path.join(WORK, "callgrind.out")
    sh(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv])
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                n = int(line.split()[1])
    os.unlink(out)
    return n


def strace_calls(argv):
    out = os.path.join(WORK, "strace.out")
    sh(["strace", "-f", "-c", "-o", out, *argv])
    total = None
    with open(out) as f:
        for line in f:
            fields = line.split()
            if fields and fields[-1] == "total":
                total = int(fields[3])
    os.unlink(out)
    return total


def bench_profile(binaries, size_mib):
    img = os.path.join(WORK, "prof.img")
    mnt = os.path.join(WORK, "prof.mnt")
    make_image(img, size_mib)
    os.mkdir(mnt)
    rows = []
    for label, binary in binaries:
        mount = [binary, "-P", "-F", img, "md", mnt]
        release = [binary, "-u", mnt]
        ins_m = callgrind_instructions(mount)
        ins_u = callgrind_instructions(release)
        settle_loops()
        sys_m = strace_calls(mount)
        sys_u = strace_calls(release)
        settle_loops()
        rows.append((label, ins_m, ins_u, sys_m, sys_u))
    return rows


# --- 7. processes per mount -----------------------------------------------

def execs(argv):
    """The programs argv starts, itself included: execve lines of strace -f."""
    log = os.path.join(WORK, "strace.log")
    sh(["strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", log, *argv])
    with open(log, "rb") as f:
        lines = [l for l in f.read().decode(errors="replace").splitlines() if "execve(" in l and "= 0" in l]
    return [l.split('execve("', 1)[1].split('"', 1)[0] for l in lines]


def bench_processes(size_mib):
    img = os.path.join(WORK, "proc.img")
    mnt = os.path.join(WORK, "proc.mnt")
    make_image(img, size_mib)
    os.mkdir(mnt)
    out = []
    for state in ("clean", "dirty"):
        if state == "dirty":
            sh(["tune2fs", "-E", "force_fsck", img])
        for name, argv in [("mount_md -P", [MOUNT_MD, "-P", "-F", img, "md", mnt]),
                           ("mount -o loop", ["mount", "-o", "loop", img, mnt])]:
            if state == "dirty" and name != "mount_md -P":
                continue
            progs = execs(argv)
            out.append((f"{name} ({state} image)", progs))
            sh(["umount", mnt])
            settle_loops()
    return out


def section_processes(args):
    if not shutil.which("strace"):
        print("\n7. skipped: strace not found")
        return
    print("\n7. programs started by one mount (strace -f -e trace=execve)")
    for name, progs in bench_processes(max(args.image_mib // 4, 16)):
        print(f"{name:28} {len(progs):3d}  {' '.join(os.path.basename(p) for p in progs)}")


def med(xs):
    return statistics.median(xs)


def main():
    global WORK, FLOOR, CYCLES, BEFORE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=25)
    ap.add_argument("--scale", type=int, default=64)
    ap.add_argument("--create-gib", type=int, default=1)
    ap.add_argument("--create-runs", type=int, default=5)
    ap.add_argument("--image-mib", type=int, default=256)
    ap.add_argument("--cache-runs", type=int, default=5, help="page-cache samples per way")
    ap.add_argument("--fio-rounds", type=int, default=4)
    ap.add_argument("--fio-file-mib", type=int, default=256)
    ap.add_argument("--fio-runtime", type=int, default=2, help="seconds per fio job")
    ap.add_argument("--before", help="an older mount_md binary to profile alongside (section 6)")
    ap.add_argument("--only", help="comma list of sections to run (1-7); default all")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else set("1234567")

    WORK = tempfile.mkdtemp(prefix="mount_md-bench-")
    FLOOR = os.path.join(WORK, "floor")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: (cleanup(), sys.exit(128 + s)))
    try:
        sh(["cc", "-O2", "-o", FLOOR, os.path.join(REPO, "bench", "floor.c")])
        print(f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} cores")
        print(f"mount_md: {MOUNT_MD} ({os.path.getsize(MOUNT_MD)} bytes, stripped release)")

        if not os.path.exists(STATIC_MD):
            CYCLES = [c for c in CYCLES if c[1] is not cycle_mount_md_static]
        BEFORE = args.before
        if not BEFORE:
            CYCLES = [c for c in CYCLES if c[1] is not cycle_before]
        if "1" in only:
            section_cycles(args)
        if "2" in only:
            section_scale(args)
        if "3" in only:
            section_create(args)
        if "4" in only:
            section_rss(args)
        if "5" in only:
            section_io(args)
        if "6" in only:
            section_profile(args)
        if "7" in only:
            section_processes(args)
    finally:
        cleanup()
    left = our_loops() + our_mounts()
    if left:
        print(f"LEFT BEHIND: {left}", file=sys.stderr)
        return 1
    return 0


def section_cycles(args):
    samples, leaks = bench_cycles(args.cycles, args.image_mib)
    fw, fc = med(samples["floor (raw syscalls)"][0]), med(samples["floor (raw syscalls)"][1])
    uw, uc = med(samples["util-linux mount -o loop"][0]), med(samples["util-linux mount -o loop"][1])
    print(f"\n1. mount+unmount cycle, {args.image_mib} MiB -P ext4 image, {args.cycles} interleaved cycles each (medians)")
    print("   ratios against the floor (buffered, as util-linux) and, for the direct-I/O rows, the floor with direct I/O")
    print(f"{'variant':30} {'wall ms':>9} {'cpu ms':>8} {'wall/floor':>11} {'cpu/floor':>10} {'wall/util':>10} {'cpu/util':>9}")
    for name, _ in CYCLES:
        w, c = med(samples[name][0]), med(samples[name][1])
        f = FLOOR_OF.get(name, "floor (raw syscalls)")
        fw, fc = med(samples[f][0]), med(samples[f][1])
        print(f"{name:30} {w*1e3:9.2f} {c*1e3:8.2f} {w/fw:11.2f} {c/fc:10.2f} {w/uw:10.2f} {c/uc:9.2f}")
    print(f"leaked loop devices after the cycles: {len(leaks)}")


def section_scale(args):
    print(f"\n2. boot at scale: {args.scale} images ({args.image_mib // 4} MiB each)")
    print(f"{'who':12} {'mode':11} {'wall s':>8} {'failures':>9} {'retries':>8} {'mounted':>8} {'leaks':>6}")
    scale = bench_scale(args.scale, max(args.image_mib // 4, 16))
    floor_serial = next(r[2] for r in scale if r[0] == "floor" and r[1] == "serial")
    for name, mode, wall, fails, retries, mounted, leaked, errors in scale:
        print(f"{name:12} {mode:11} {wall:8.3f} {fails:9d} {retries:8d} {mounted:8d} {leaked:6d}")
        for e in errors:
            print(f"    e.g. {e}")
    md_conc = next(r[2] for r in scale if r[0] == "mount_md" and r[1] == "concurrent")
    budget = 2 * floor_serial / os.cpu_count()
    print(f"mount_md concurrent {md_conc:.3f}s vs budget 2 x floor serial / cores = {budget:.3f}s")


def section_create(args):
    print(f"\n3. image creation, {args.create_gib} GiB, {args.create_runs} runs each (medians)")
    created = bench_create(args.create_gib, args.create_runs)
    dd = med([w for w, _ in created["dd if=/dev/zero bs=1M"]])
    print(f"{'variant':28} {'wall ms':>10} {'of dd':>8} {'allocated MiB':>14}")
    for name, runs in created.items():
        w = med([w for w, _ in runs])
        alloc = med([a for _, a in runs]) / (1 << 20)
        print(f"{name:28} {w*1e3:10.2f} {w/dd:8.4f} {alloc:14.1f}")


def section_rss(args):
    print("\n4. peak RSS of one mount invocation (KiB)")
    for name, kib in bench_rss(args.image_mib).items():
        print(f"{name:28} {kib:10d}")
    print(f"stripped release binary: {os.path.getsize(MOUNT_MD)} bytes")


def section_io(args):
    write_mib = 64
    print(f"\n5a. page cache per MiB written: {write_mib} MiB written + syncfs into a fresh {args.image_mib} MiB ext4 image,")
    print(f"    caches dropped first; medians of {args.cache_runs} interleaved runs (target <= 1.1 for mount_md)")
    samples, dio = bench_cache(args.image_mib, write_mib, args.cache_runs)
    print(f"{'way':28} {'dio':>4} {'Cached MiB/MiB':>15} {'min':>6} {'max':>6} {'exact MiB/MiB':>14} {'image resident MiB':>19}")
    for name in [w.name for w in IO_WAYS] + ["control (nothing written)"]:
        xs = [g for g, _, _ in samples[name]]
        exact = med([e for _, e, _ in samples[name]])
        res = med([r for _, _, r in samples[name]])
        print(f"{name:28} {dio.get(name, '-'):>4} {med(xs):15.3f} {min(xs):6.2f} {max(xs):6.2f} {exact:14.3f} {res:19.1f}")
    md = med([g for g, _, _ in samples["mount_md (direct I/O)"]])
    ex = med([e for _, e, _ in samples["mount_md (direct I/O)"]])
    print(f"mount_md: {md:.3f} MiB of cache (Cached) and {ex:.3f} (exact) per MiB written: "
          f"target <= 1.1 {'met' if md <= 1.1 else 'MISSED'} by Cached, {'met' if ex <= 1.1 else 'MISSED'} exactly")

    file_mib = args.fio_file_mib
    print(f"\n5b. fio through the mounted file system (psync, buffered as applications do, {file_mib} MiB file")
    print(f"    in a {file_mib + 128} MiB image, one pass for the sequential jobs,")
    print(f"    {args.fio_runtime} s for the random ones, file and image evicted from the cache before each job),")
    print(f"    medians of {args.fio_rounds} interleaved rounds")
    fs = bench_fio(file_mib + 128, file_mib, args.fio_runtime, args.fio_rounds)
    ways = [w.name for w in IO_WAYS if w.name != "mount_md --no-direct-io"]
    print(f"{'job':18} " + " ".join(f"{w[:24]:>24}" for w in ways) + f" {'md / best loop':>15}")
    verdict = []
    for job, _, _, what in FIO_JOBS:
        vals = {w: med(fs[(w, job)]) for w in ways}
        best = max(vals["util-linux mount -o loop"], vals["losetup --direct-io=on"])
        ratio = vals["mount_md (direct I/O)"] / best if best else 0
        unit = "MiB/s" if what == "bw" else "IOPS"
        print(f"{job + ' ' + unit:18} " + " ".join(f"{vals[w]:24.1f}" for w in ways) + f" {ratio:15.2f}")
        verdict.append((job, ratio))
    missed = [j for j, r in verdict if r < 0.9]
    print("fio target (each job >= 0.9x the better loop mode): " + ("met" if not missed else "MISSED on " + ", ".join(missed)))


def section_profile(args):
    binaries = [("mount_md", MOUNT_MD)]
    if args.before:
        binaries.insert(0, ("before", args.before))
    print("\n6. start-up profile: one -P mount and one -u of a 16 MiB ext4 image")
    print(f"{'binary':12} {'instr mount':>12} {'instr -u':>10} {'syscalls mount':>15} {'syscalls -u':>12}")
    for label, im, iu, sm, su in bench_profile(binaries, 16):
        print(f"{label:12} {im:12d} {iu:10d} {sm:15d} {su:12d}")


if __name__ == "__main__":
    sys.exit(main())
