//! Many at once, on real loop devices, as root: 512 mount_md processes
//! mount 512 images (each its own) all at once, then 512 `mount_md -u`
//! release them all at once. The soak's rules: every image has exactly one
//! winner (its one mount, on a device of its own, backed by it), nothing
//! fails, no unit and no mount is left. No timing is asserted; the test
//! prints how long each half took.
use crate::support::*;
use nix::unistd::{lseek, Whence};
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

const N: usize = 512;
const SIZE: u64 = 16 * MIB;

/// A copy of `src` that keeps its holes: only the data extents are
/// written (SEEK_DATA/SEEK_HOLE), so N images cost one mkfs.
fn copy_sparse(src: &Path, dst: &Path) {
    let s = File::open(src).expect("open template");
    let d = File::create(dst).expect("create image");
    let len = s.metadata().unwrap().len();
    let mut buf = Vec::new();
    let mut off = 0i64;
    while (off as u64) < len {
        let Ok(data) = lseek(&s, off, Whence::SeekData) else { break };
        let hole = lseek(&s, data, Whence::SeekHole).expect("SEEK_HOLE");
        buf.resize((hole - data) as usize, 0);
        s.read_exact_at(&mut buf, data as u64).expect("read template");
        d.write_all_at(&buf, data as u64).expect("write image");
        off = hole;
    }
    d.set_len(len).expect("size image");
}

/// On drop (also when an assertion failed): everything mounted below the
/// test's directory is unmounted (lazily) and every loop device backed by
/// one of its files is detached. Nothing else is looked at.
struct Leftovers(PathBuf);

impl Drop for Leftovers {
    fn drop(&mut self) {
        unmount_below(&self.0);
        for name in loops_backed_by(&self.0) {
            let _ = Command::new("losetup").arg("-d").arg(format!("/dev/{name}")).status();
        }
    }
}

/// Starts every command before waiting for any.
fn all_at_once(cmds: Vec<Command>) -> Vec<Output> {
    let children: Vec<Child> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn mount_md")
        })
        .collect();
    children.into_iter().map(|c| c.wait_with_output().expect("wait for mount_md")).collect()
}

/// Failures, as "#i: exit code: stderr", the first few.
fn failed(outs: &[Output]) -> Vec<String> {
    outs.iter()
        .enumerate()
        .filter(|(_, o)| !o.status.success())
        .map(|(i, o)| format!("#{i}: exit {:?}: {}", o.status.code(), text(&o.stderr).trim()))
        .collect()
}

#[test]
#[ignore = "scale: cargo test --test linux_root scale:: -- --ignored"]
fn five_hundred_twelve_mounts_and_releases_at_once() {
    require_loop!(alone);
    let tmp = TempDir::new("scale");
    let left = Leftovers(tmp.path().to_path_buf());
    let template = tmp.join("template.img");
    make_image(&template, SIZE, true);
    let jobs: Vec<(PathBuf, PathBuf)> = (0..N)
        .map(|i| {
            let img = tmp.join(format!("j{i}.img"));
            copy_sparse(&template, &img);
            (img, tmp.dir(&format!("j{i}")))
        })
        .collect();

    let start = Instant::now();
    let outs = all_at_once(
        jobs.iter()
            .map(|(img, dir)| {
                let mut c = Command::new(bin());
                c.arg("-P").arg("-F").arg(img).arg("md").arg(dir);
                c
            })
            .collect(),
    );
    let mounting = start.elapsed();
    let failures = failed(&outs);
    assert!(failures.is_empty(), "{} of {N} mounts failed: {:#?}", failures.len(), &failures[..failures.len().min(5)]);

    // One winner per image: its mount, on a device no other image has,
    // backed by that image as the kernel reports it.
    let table = mounts();
    let mut devices: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (img, dir)) in jobs.iter().enumerate() {
        let here: Vec<&MountInfo> = table.iter().filter(|m| m.mount_point == *dir).collect();
        assert_eq!(here.len(), 1, "#{i}: mounts on {}: {here:?}", dir.display());
        let dev = here[0].source.clone();
        assert_eq!(backing_file(dev.trim_start_matches("/dev/")).as_deref(), Some(img.as_path()), "#{i}: {dev}");
        if let Some(j) = devices.insert(dev.clone(), i) {
            panic!("#{i} and #{j} both on {dev}");
        }
    }
    assert_eq!(loops_backed_by(tmp.path()).len(), N, "one unit per image");

    let start = Instant::now();
    let outs = all_at_once(
        jobs.iter()
            .map(|(_, dir)| {
                let mut c = Command::new(bin());
                c.arg("-u").arg(dir);
                c
            })
            .collect(),
    );
    let releasing = start.elapsed();
    let failures = failed(&outs);
    let leaked = wait_no_loops(tmp.path(), SETTLE);
    let stacked: Vec<PathBuf> = mount_points().into_iter().filter(|m| m.starts_with(tmp.path())).collect();
    eprintln!(
        "scale: {N} mounts at once in {:.2} s, {N} releases at once in {:.2} s: {} failed releases, {} leaked loop \
         devices, {} mounts left",
        mounting.as_secs_f64(),
        releasing.as_secs_f64(),
        failures.len(),
        leaked.len(),
        stacked.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {N} releases failed: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(leaked, Vec::<String>::new(), "leaked loop devices");
    assert!(stacked.is_empty(), "mounts left: {stacked:?}");
    drop(left);
}
