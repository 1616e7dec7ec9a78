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
5. programs started by one -P mount (strace -f -e trace=execve): a clean
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


CYCLES = [
    ("mount_md", cycle_mount_md),
    ("mount_md (static build)", cycle_mount_md_static),
    ("util-linux mount -o loop", cycle_util_linux),
    ("losetup+mount chain", cycle_chain),
    ("floor (raw syscalls)", cycle_floor),
]


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


# --- 5. processes per mount -----------------------------------------------

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


def med(xs):
    return statistics.median(xs)


def main():
    global WORK, FLOOR, CYCLES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=25)
    ap.add_argument("--scale", type=int, default=64)
    ap.add_argument("--create-gib", type=int, default=1)
    ap.add_argument("--create-runs", type=int, default=5)
    ap.add_argument("--image-mib", type=int, default=256)
    args = ap.parse_args()

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
        samples, leaks = bench_cycles(args.cycles, args.image_mib)
        fw, fc = med(samples["floor (raw syscalls)"][0]), med(samples["floor (raw syscalls)"][1])
        uw, uc = med(samples["util-linux mount -o loop"][0]), med(samples["util-linux mount -o loop"][1])
        print(f"\n1. mount+unmount cycle, {args.image_mib} MiB -P ext4 image, {args.cycles} interleaved cycles each (medians)")
        print(f"{'variant':28} {'wall ms':>9} {'cpu ms':>8} {'wall/floor':>11} {'cpu/floor':>10} {'wall/util':>10} {'cpu/util':>9}")
        for name, _ in CYCLES:
            w, c = med(samples[name][0]), med(samples[name][1])
            print(f"{name:28} {w*1e3:9.2f} {c*1e3:8.2f} {w/fw:11.2f} {c/fc:10.2f} {w/uw:10.2f} {c/uc:9.2f}")
        print(f"leaked loop devices after the cycles: {len(leaks)}")

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

        print(f"\n3. image creation, {args.create_gib} GiB, {args.create_runs} runs each (medians)")
        created = bench_create(args.create_gib, args.create_runs)
        dd = med([w for w, _ in created["dd if=/dev/zero bs=1M"]])
        print(f"{'variant':28} {'wall ms':>10} {'of dd':>8} {'allocated MiB':>14}")
        for name, runs in created.items():
            w = med([w for w, _ in runs])
            alloc = med([a for _, a in runs]) / (1 << 20)
            print(f"{name:28} {w*1e3:10.2f} {w/dd:8.4f} {alloc:14.1f}")

        print("\n4. peak RSS of one mount invocation (KiB)")
        for name, kib in bench_rss(args.image_mib).items():
            print(f"{name:28} {kib:10d}")
        print(f"stripped release binary: {os.path.getsize(MOUNT_MD)} bytes")

        if shutil.which("strace"):
            print("\n5. programs started by one mount (strace -f -e trace=execve)")
            for name, progs in bench_processes(max(args.image_mib // 4, 16)):
                print(f"{name:28} {len(progs):3d}  {' '.join(os.path.basename(p) for p in progs)}")
        else:
            print("\n5. skipped: strace not found")
    finally:
        cleanup()
    left = our_loops() + our_mounts()
    if left:
        print(f"LEFT BEHIND: {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
