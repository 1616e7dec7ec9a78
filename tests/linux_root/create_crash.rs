//! `--create` survives being killed: many runs of one fstab line are
//! killed with SIGKILL at random points (before, during and after the
//! image is allocated, formatted, renamed into place and mounted); the next
//! run of the very same line always succeeds and no temporary is left.
//! Bounded for CI: a fixed number of rounds of a 16 MiB image.
use crate::support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: u32 = 100;

/// A small xorshift generator: no dependency, and the seed is printed so a
/// failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[test]
fn killed_create_always_recovers() {
    // Alone: the kill points spread over a run's duration as measured at
    // the start; other tests of this harness starting and stopping meanwhile
    // would make that measure wrong.
    require_loop!(alone);
    let tmp = TempDir::new("crash");
    let mnt = tmp.dir("mnt");
    let img = tmp.join("a.img");
    let temp = tmp.join(".a.img.mount_md-new");
    let line = |mode: &str| {
        vec![
            "-P".to_string(),
            format!("--create={mode}"),
            "-s".into(),
            "16m".into(),
            "-F".into(),
            img.display().to_string(),
            "md".into(),
            mnt.display().to_string(),
        ]
    };
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    // How long a whole run takes here (the median of three creations):
    // the kill points spread over it.
    let mut loops = LoopGuard::default();
    let mut took = Vec::new();
    for _ in 0..3 {
        let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::empty());
        assert_eq!(wait_no_loops(tmp.path(), SETTLE), Vec::<String>::new());
        let _ = std::fs::remove_file(&img);
        let start = Instant::now();
        let out = Command::new(bin()).args(line("reserve")).stdin(Stdio::null()).output().unwrap();
        took.push(start.elapsed().as_micros() as u64);
        ok(&out);
        std::mem::forget(mounted(&mnt, &img, &mut loops).0);
    }
    took.sort();
    let full = took[1];
    let mut killed_before_done = 0;
    for round in 0..ROUNDS {
        // Start from no image (or, every fourth round, a mounted-then-
        // unmounted one) so that creation itself is what gets killed.
        let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::empty());
        assert_eq!(wait_no_loops(tmp.path(), SETTLE), Vec::<String>::new(), "round {round}: loop left");
        if round % 4 != 3 {
            let _ = std::fs::remove_file(&img);
        }
        let mode = if round % 2 == 0 { "reserve" } else { "sparse" };
        let mut child = Command::new(bin())
            .args(line(mode))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(full * 3 / 4)));
        if child.try_wait().unwrap().is_none() {
            killed_before_done += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The very same line again: it must work.
        let out = Command::new(bin()).args(line(mode)).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "round {round} (seed {seed}): exit {:?}: {}",
            out.status.code(),
            text(&out.stderr)
        );
        let (guard, m) = mounted(&mnt, &img, &mut loops);
        assert_eq!(m.fstype, "ext4", "round {round}");
        assert!(temp.symlink_metadata().is_err(), "round {round} (seed {seed}): temporary left");
        assert_eq!(std::fs::metadata(&img).unwrap().len(), 16 << 20, "round {round}");
        std::mem::forget(guard); // unmounted at the top of the next round
    }
    let _ = nix::mount::umount2(&mnt, nix::mount::MntFlags::empty());
    assert_nothing_left(&tmp);
    // The sweep is only worth something if kills land mid-run (load on the
    // machine can make some runs finish first; most should not).
    eprintln!("{killed_before_done} of {ROUNDS} runs killed mid-way (a whole run: {full} µs)");
    assert!(killed_before_done >= ROUNDS / 4, "only {killed_before_done} of {ROUNDS} runs were killed mid-way");
}
