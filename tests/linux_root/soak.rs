//! Soak tests on real loop devices, as root; all `#[ignore]`, run with
//!
//!     cargo test --test linux_root soak:: -- --ignored --nocapture
//!
//! Each runs for `MOUNT_MD_SOAK_SECS` seconds (default 20) plus set-up and
//! a bounded wait for autoclear, and prints one summary line. No timing is
//! asserted: only that nothing fails, nothing is doubled, nothing leaks.
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long each soak runs (`MOUNT_MD_SOAK_SECS`, default 20).
fn soak_time() -> Duration {
    let secs = std::env::var("MOUNT_MD_SOAK_SECS").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(20);
    Duration::from_secs(secs)
}

/// While one thread has a file open inside a mount, a child another
/// thread is spawning holds a copy of that descriptor until it execs, and
/// an unmount then is EBUSY. So files inside mounts are only open under
/// the write lock, and children are only spawned under the read lock.
static FORK: RwLock<()> = RwLock::new(());

fn spawn(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = {
        let _turn = FORK.read().unwrap_or_else(|e| e.into_inner());
        cmd.spawn().expect("spawn mount_md")
    };
    child.wait_with_output().expect("wait for mount_md")
}

fn mount_md(args: &[&std::ffi::OsStr]) -> Output {
    spawn(Command::new(bin()).args(args))
}

/// A file inside a mount, read and rewritten with no child being spawned.
fn read_and_write(file: &Path, new: &str) -> std::io::Result<String> {
    let _turn = FORK.write().unwrap_or_else(|e| e.into_inner());
    let old = std::fs::read_to_string(file).or_else(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Ok(String::new()),
        _ => Err(e),
    })?;
    std::fs::write(file, new)?;
    Ok(old)
}

/// Mounts of the test's own (others may come and go on the host).
fn mounts_under(dir: &Path) -> Vec<MountInfo> {
    mounts().into_iter().filter(|m| m.mount_point.starts_with(dir)).collect()
}

/// 32 workers, each with its own 16 MiB ext4 image: mount, check the file
/// the last cycle wrote, write the next one, `mount_md -u`; until the time
/// is up. Zero failures, zero loop devices left.
#[test]
#[ignore = "soak: cargo test --test linux_root soak:: -- --ignored"]
fn cycles_on_32_images() {
    require_loop!();
    const WORKERS: usize = 32;
    let tmp = TempDir::new("soak-cycles");
    let jobs: Vec<(PathBuf, PathBuf)> = (0..WORKERS)
        .map(|i| {
            let img = tmp.join(format!("w{i}.img"));
            make_image(&img, 16 * MIB, true);
            (img, tmp.dir(&format!("w{i}")))
        })
        .collect();
    let _guards: Vec<MountGuard> = jobs.iter().map(|(_, d)| MountGuard(d.clone())).collect();
    let loops = Mutex::new(LoopGuard::default());
    let failures = Mutex::new(Vec::<String>::new());
    let cycles = AtomicUsize::new(0);
    let start = Instant::now();
    let deadline = start + soak_time();
    std::thread::scope(|s| {
        for (i, (img, dir)) in jobs.iter().enumerate() {
            let (loops, failures, cycles) = (&loops, &failures, &cycles);
            s.spawn(move || {
                let fail = |what: String| failures.lock().unwrap().push(format!("worker {i}: {what}"));
                let mut n: u64 = 0;
                while Instant::now() < deadline {
                    let out = mount_md(args!["-P", "-F", img, "md", dir]);
                    if !out.status.success() {
                        return fail(format!("mount #{n}: {}", text(&out.stderr)));
                    }
                    match mount_at(dir) {
                        Some(m) => loops.lock().unwrap().record(&m.source, img),
                        None => return fail(format!("mount #{n}: exit 0 but not mounted")),
                    }
                    let expected = if n == 0 { String::new() } else { format!("{}", n - 1) };
                    match read_and_write(&dir.join("cycle"), &format!("{n}")) {
                        Ok(last) if last == expected => {}
                        Ok(last) => fail(format!("cycle #{n}: found {last:?}, expected {expected:?}")),
                        Err(e) => fail(format!("cycle #{n}: {e}")),
                    }
                    let out = mount_md(args!["-u", dir]);
                    if !out.status.success() || !out.stderr.is_empty() {
                        return fail(format!("-u #{n}: exit {:?}: {}", out.status.code(), text(&out.stderr)));
                    }
                    if mount_at(dir).is_some() {
                        return fail(format!("-u #{n}: still mounted"));
                    }
                    n += 1;
                    cycles.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let leaked = wait_no_loops(tmp.path(), SETTLE);
    let stacked = mounts_under(tmp.path());
    let failures = failures.into_inner().unwrap();
    let cycles = cycles.into_inner();
    eprintln!(
        "soak cycles_on_32_images: {WORKERS} workers, {cycles} cycles in {:.1} s, {} failures, {} leaked loop devices, \
         {} mounts left",
        elapsed.as_secs_f64(),
        failures.len(),
        leaked.len(),
        stacked.len()
    );
    assert!(failures.is_empty(), "failures: {failures:#?}");
    assert_eq!(leaked, Vec::<String>::new(), "leaked loop devices");
    assert!(stacked.is_empty(), "mounts left: {stacked:?}");
    assert!(cycles >= WORKERS, "every worker did at least one cycle ({cycles})");
}

/// Runs `WORKERS` mount_md processes at once (released together by a
/// barrier), the i-th with `argv(i)`.
fn race(workers: usize, argv: impl Fn(usize) -> Vec<std::ffi::OsString> + Sync) -> Vec<Output> {
    let barrier = Barrier::new(workers);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|i| {
                let (barrier, args) = (&barrier, argv(i));
                s.spawn(move || {
                    let mut cmd = Command::new(bin());
                    cmd.args(&args);
                    barrier.wait();
                    spawn(&mut cmd)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// 8 workers race to mount one image: on one mount point, all succeed and
/// exactly one mount exists (the others found it `already mounted`); on 8
/// mount points, exactly one succeeds and 7 are refused `already attached
/// as`. Rounds repeat (with `mount_md -u` between) until the time is up.
#[test]
#[ignore = "soak: cargo test --test linux_root soak:: -- --ignored"]
fn eight_race_for_one_image() {
    require_loop!();
    const WORKERS: usize = 8;
    let tmp = TempDir::new("soak-race");
    let img = tmp.join("shared.img");
    make_image(&img, 16 * MIB, true);
    let same = tmp.dir("same");
    let dirs: Vec<PathBuf> = (0..WORKERS).map(|i| tmp.dir(&format!("d{i}"))).collect();
    let _g = MountGuard(same.clone());
    let _gs: Vec<MountGuard> = dirs.iter().map(|d| MountGuard(d.clone())).collect();
    let mut loops = LoopGuard::default();
    let mut failures: Vec<String> = Vec::new();
    let (mut same_rounds, mut spread_rounds, mut invocations) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    let deadline = start + soak_time();
    let mut round = 0usize;
    while round < 3 || Instant::now() < deadline {
        round += 1;
        // One image, one mount point: every invocation exits 0, one mount.
        let outs = race(WORKERS, |_| {
            vec!["-X".into(), "-P".into(), "-F".into(), img.clone().into(), "md".into(), same.clone().into()]
        });
        invocations += outs.len();
        let failed: Vec<String> = outs.iter().filter(|o| !o.status.success()).map(|o| text(&o.stderr)).collect();
        if !failed.is_empty() {
            failures.push(format!("round {round}, same mount point: {failed:?}"));
        }
        let already = outs.iter().filter(|o| text(&o.stderr).contains("DEBUG: already mounted: ")).count();
        let here: Vec<MountInfo> = mounts_under(tmp.path());
        if let Some(m) = here.first() {
            loops.record(&m.source, &img);
        }
        let backing = loops_backed_by(&img);
        if here.len() != 1 || here[0].mount_point != same || backing.len() != 1 || already != WORKERS - 1 {
            failures.push(format!(
                "round {round}, same mount point: mounts {here:?}, devices {backing:?}, {already} already mounted"
            ));
        }
        release(&same, &tmp, &mut failures, round);
        same_rounds += 1;

        // One image, eight mount points: one wins, seven are refused.
        let outs =
            race(WORKERS, |i| vec!["-P".into(), "-F".into(), img.clone().into(), "md".into(), dirs[i].clone().into()]);
        invocations += outs.len();
        let won: Vec<usize> = (0..WORKERS).filter(|i| outs[*i].status.success()).collect();
        let refused = outs
            .iter()
            .filter(|o| o.status.code() == Some(1) && text(&o.stderr).contains(": already attached as /dev/loop"))
            .count();
        let here: Vec<MountInfo> = mounts_under(tmp.path());
        if let Some(m) = here.first() {
            loops.record(&m.source, &img);
        }
        let backing = loops_backed_by(&img);
        let winner_mounted = won.len() == 1 && here.len() == 1 && here[0].mount_point == dirs[won[0]];
        if !winner_mounted || refused != WORKERS - 1 || backing.len() != 1 {
            let errs: Vec<String> = outs.iter().map(|o| text(&o.stderr)).collect();
            failures.push(format!(
                "round {round}, eight mount points: won {won:?}, {refused} refused, mounts {here:?}, \
                 devices {backing:?}, stderr {errs:?}"
            ));
        }
        for i in won {
            release(&dirs[i], &tmp, &mut failures, round);
        }
        spread_rounds += 1;
        if failures.len() > 10 {
            break;
        }
    }
    let elapsed = start.elapsed();
    drop(loops);
    let leaked = wait_no_loops(tmp.path(), SETTLE);
    let left = mounts_under(tmp.path());
    eprintln!(
        "soak eight_race_for_one_image: {same_rounds} same-mount-point rounds and {spread_rounds} eight-mount-point \
         rounds ({invocations} invocations) in {:.1} s, {} failures, {} leaked loop devices, {} mounts left",
        elapsed.as_secs_f64(),
        failures.len(),
        leaked.len(),
        left.len()
    );
    assert!(failures.is_empty(), "failures: {failures:#?}");
    assert_eq!(leaked, Vec::<String>::new(), "leaked loop devices");
    assert!(left.is_empty(), "mounts left: {left:?}");
}

/// `mount_md -u dir`, then: nothing of the test's mounted, no device left.
fn release(dir: &Path, tmp: &TempDir, failures: &mut Vec<String>, round: usize) {
    let out = mount_md(args!["-u", dir]);
    if !out.status.success() {
        failures.push(format!("round {round}: -u {}: {}", dir.display(), text(&out.stderr)));
    }
    let leaked = wait_no_loops(tmp.path(), SETTLE);
    let left = mounts_under(tmp.path());
    if !leaked.is_empty() || !left.is_empty() {
        failures.push(format!("round {round}: after -u {}: devices {leaked:?}, mounts {left:?}", dir.display()));
    }
}

/// kill -9 at 50 random points of `-P -k` runs, each followed by a rerun
/// that must finish the copy (issue 23).
#[test]
#[ignore = "soak: cargo test --test linux_root soak:: -- --ignored"]
fn fifty_kills_during_a_skeleton_copy() {
    require_loop!();
    crate::second_boot::killed_skeleton_copies(50);
}

/// kill -9 at 50 random points of an offline ext4 grow and of an online
/// XFS grow, each followed by a check and a rerun (issue 23).
#[test]
#[ignore = "soak: cargo test --test linux_root soak:: -- --ignored"]
fn fifty_kills_during_grows() {
    require_loop!();
    crate::grow_again::killed_grows("ext4", 50);
    if std::path::Path::new("/usr/sbin/mkfs.xfs").exists() || std::path::Path::new("/sbin/mkfs.xfs").exists() {
        crate::grow_again::killed_grows("xfs", 50);
    }
}
