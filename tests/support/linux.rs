//! For the real (root, loop device) tests: cleanup guards that only ever
//! touch what the test itself made, and readers for /proc/self/mountinfo
//! and /sys/block/loop*/loop/backing_file.
use super::{bin, mkfs_ext4, text, TempDir};

use nix::mount::{umount2, MntFlags};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Lazily unmounts everything mounted at or below `dir`, deepest first;
/// whether nothing is mounted there any more.
pub fn unmount_below(dir: &Path) -> bool {
    let mut below: Vec<PathBuf> = mount_points().into_iter().filter(|m| m.starts_with(dir)).collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    for m in &below {
        let _ = umount2(m, MntFlags::MNT_DETACH);
    }
    !mount_points().iter().any(|m| m.starts_with(dir))
}

/// A child process, killed and reaped on drop (a test's helper process
/// must not outlive a failed assertion).
pub struct Holder(pub std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Holder {
    /// A process in a private mount namespace of its own that has run
    /// `setup` (a shell command; `$0`, `$1`… are `args`) and then sleeps;
    /// returns once `setup` has succeeded. Its namespace is
    /// `/proc/PID/ns/mnt`, and it goes with the process.
    pub fn in_namespace(setup: &str, args: &[&OsStr]) -> Holder {
        use std::io::BufRead;
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!("{setup} && echo ready && exec sleep 600"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut holder = Holder(child);
        let mut line = String::new();
        std::io::BufReader::new(holder.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "namespace set-up: {setup}");
        holder
    }

    /// Its mount namespace, as mount.md `-N` takes it.
    pub fn namespace(&self) -> String {
        format!("/proc/{}/ns/mnt", self.0.id())
    }
}

/// Unmounts its mount point on drop if it is still mounted (lazily if busy).
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        while mount_points().contains(&self.0) {
            if umount2(&self.0, MntFlags::empty()).is_err() && umount2(&self.0, MntFlags::MNT_DETACH).is_err() {
                break;
            }
        }
    }
}

/// Loop devices this test saw attached to its own images; on drop, each one
/// still bound to that same image is detached. Nothing else is touched.
#[derive(Default)]
pub struct LoopGuard(pub Vec<(String, PathBuf)>);

impl LoopGuard {
    pub fn record(&mut self, device: &str, image: &Path) {
        self.0.push((device.to_string(), image.to_path_buf()));
    }
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        for (dev, image) in &self.0 {
            let name = dev.trim_start_matches("/dev/");
            if backing_file(name).as_deref() == Some(image.as_path()) {
                let _ = Command::new("losetup").arg("-d").arg(dev).status();
            }
        }
    }
}

/// Decodes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(OsStr::from_bytes(&out))
}

/// One mount: (mount point, fs type, source, per-mount options).
#[derive(Debug, Clone)]
pub struct MountInfo {
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
    pub options: String,
}

pub fn mounts() -> Vec<MountInfo> {
    // Bytes: one mount point elsewhere that is not UTF-8 must not hide the
    // rest (a lossy line only misnames that one).
    let bytes = std::fs::read("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountInfo {
                mount_point: unescape(f.get(4)?),
                options: f.get(5)?.to_string(),
                fstype: r.first()?.to_string(),
                source: unescape(r.get(1)?).display().to_string(),
            })
        })
        .collect()
}

pub fn mount_points() -> Vec<PathBuf> {
    mounts().into_iter().map(|m| m.mount_point).collect()
}

/// The newest mount at `dir`, if any.
pub fn mount_at(dir: &Path) -> Option<MountInfo> {
    mounts().into_iter().rev().find(|m| m.mount_point == dir)
}

/// `/sys/block/<name>/loop/backing_file`, without the newline.
pub fn backing_file(name: &str) -> Option<PathBuf> {
    let s = std::fs::read(format!("/sys/block/{name}/loop/backing_file")).ok()?;
    let s = s.strip_suffix(b"\n").unwrap_or(&s);
    Some(PathBuf::from(OsStr::from_bytes(s)))
}

/// Loop devices (`loop3`) bound to a file at or below `path`.
pub fn loops_backed_by(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/block")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("loop"))
                .filter(|n| backing_file(n).is_some_and(|b| b.starts_with(path)))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits (autoclear is asynchronous) until no loop device is backed by a
/// file under `path`; returns those still there after `timeout`.
pub fn wait_no_loops(path: &Path, timeout: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let left = loops_backed_by(path);
        if left.is_empty() || start.elapsed() > timeout {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A sparse file of `size` bytes; with `format`, an ext4 file system in it.
pub fn make_image(path: &Path, size: u64, format: bool) {
    let f = std::fs::File::create(path).expect("create image");
    f.set_len(size).expect("size image");
    drop(f);
    if format {
        let st = Command::new(mkfs_ext4().unwrap()).args(["-q", "-F"]).arg(path).status().expect("mkfs.ext4");
        assert!(st.success(), "mkfs.ext4 {} failed", path.display());
    }
}

/// A link to the binary named `name` (`mount.md`, `mount_mfs`) in `dir`.
pub fn flavor(dir: &TempDir, name: &str) -> PathBuf {
    let p = dir.join(name);
    if !p.exists() {
        std::os::unix::fs::symlink(bin(), &p).expect("symlink");
    }
    p
}

pub fn run(program: &Path, args: &[&OsStr]) -> Output {
    Command::new(program).args(args).stdin(Stdio::null()).output().expect("run mount_md")
}

/// How long autoclear (asynchronous) may take to free a loop device.
pub const SETTLE: Duration = Duration::from_secs(10);

/// Mounted by the test: records the loop device and unmounts on drop.
pub fn mounted(dir: &Path, image: &Path, loops: &mut LoopGuard) -> (MountGuard, MountInfo) {
    let guard = MountGuard(dir.to_path_buf());
    let m = mount_at(dir).unwrap_or_else(|| panic!("{} is not mounted", dir.display()));
    assert!(m.source.starts_with("/dev/loop"), "source {}", m.source);
    loops.record(&m.source, image);
    assert_eq!(
        backing_file(m.source.trim_start_matches("/dev/")).as_deref(),
        Some(image),
        "{} is not backed by the image",
        m.source
    );
    (guard, m)
}

pub fn ok(out: &Output) {
    assert!(out.status.success(), "exit {:?}, stderr: {}", out.status.code(), text(&out.stderr));
}

/// umount(8) the guarded mount point, then checks that no loop device is
/// left bound to anything under `tmp`.
pub fn unmount_and_check_no_leak(guard: MountGuard, tmp: &TempDir) {
    let st = Command::new("umount").arg(&guard.0).status().unwrap();
    assert!(st.success());
    drop(guard);
    assert_eq!(wait_no_loops(tmp.path(), SETTLE), Vec::<String>::new(), "loop device left after umount");
}

/// Nothing of the test's is mounted or attached any more (bounded wait for
/// autoclear).
pub fn assert_nothing_left(tmp: &TempDir) {
    assert_eq!(wait_no_loops(tmp.path(), SETTLE), Vec::<String>::new(), "loop device left");
    let left: Vec<PathBuf> = mount_points().into_iter().filter(|m| m.starts_with(tmp.path())).collect();
    assert!(left.is_empty(), "mounts left: {left:?}");
}

/// `losetup -f --show <image>`: a leftover attachment without autoclear,
/// recorded in `loops` so that it is detached if the test fails.
pub fn losetup(image: &Path, loops: &mut LoopGuard) -> String {
    let out = Command::new("losetup").args(["-f", "--show"]).arg(image).output().expect("losetup");
    assert!(out.status.success(), "losetup: {}", text(&out.stderr));
    let dev = text(&out.stdout).trim().to_string();
    loops.record(&dev, image);
    dev
}

pub fn have_mount() -> bool {
    Command::new("mount").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// A scratch directory for the tests of util-linux mount(8) running
/// `/sbin/mount.md`, and the way to run that mount(8) ([`Self::mount`]).
///
/// mount(8) finds its helper only in the fixed path /sbin:/sbin/fs.d:/sbin/fs
/// (libmount, `mnt_context_prepare_helper`), so the test runs it in a mount
/// namespace of its own in which an overlay puts a `mount.md` of the test's
/// over whatever the host has in /sbin (an installed one or none): the
/// host's /sbin is never changed and tests do not wait for each other. That
/// `mount.md` runs this build's binary, under that name, back in the test's
/// own mount namespace (nsenter), so the image is opened and mounted where
/// the test checks and unmounts it. The test runs alone
/// (`require_loop!(alone)`). Derefs to the scratch directory.
pub struct HelperDir {
    // Dropped first: the scratch directory, with whatever is mounted in it.
    tmp: TempDir,
    outer: TempDir,
}

impl HelperDir {
    /// `Err` (why, for [`skip`]) when util-linux mount(8) is missing.
    ///
    /// [`skip`]: super::skip
    pub fn new(tag: &str) -> Result<HelperDir, String> {
        if !have_mount() {
            return Err("util-linux mount(8) not found (apt-get install -y mount)".into());
        }
        let outer = TempDir::new(tag);
        let named = outer.dir("bin").join("mount.md");
        std::os::unix::fs::symlink(bin(), &named).expect("symlink mount.md");
        let wrapper = outer.dir("sbin").join("mount.md");
        let ns = format!("/proc/{}/ns/mnt", std::process::id());
        let script = format!("#!/bin/sh\nexec nsenter --mount='{ns}' -- '{}' \"$@\"\n", named.display());
        std::fs::write(&wrapper, script).expect("write mount.md");
        std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let tmp = TempDir(outer.join("t"));
        std::fs::create_dir(tmp.path()).expect("create temp dir");
        Ok(HelperDir { tmp, outer })
    }

    /// util-linux mount(8) with `args`, run where `/sbin/mount.md` runs
    /// this build's binary. A failure to set that up exits 125.
    pub fn mount(&self, args: &[&OsStr]) -> Output {
        // The overlay goes on a slave copy of the mount holding /sbin, so
        // that it does not propagate to the host.
        const SCRIPT: &str = r#"
            sbin=$(readlink -f /sbin) && under=$(findmnt -n -o TARGET -T "$sbin") &&
            mount --make-slave "$under" &&
            mount -t overlay -o "lowerdir=$1:$sbin" mount_md-test "$sbin" ||
            { echo "test setup: no overlay with mount.md on $sbin" >&2; exit 125; }
            shift
            exec mount "$@"
        "#;
        let out = Command::new("unshare")
            .args(["-m", "--propagation", "unchanged", "sh", "-c", SCRIPT, "sh"])
            .arg(self.outer.join("sbin"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("unshare");
        let leaked: Vec<PathBuf> =
            mounts().into_iter().filter(|m| m.source == "mount_md-test").map(|m| m.mount_point).collect();
        assert!(leaked.is_empty(), "the test's /sbin overlay shows outside its namespace: {leaked:?}");
        out
    }
}

impl std::ops::Deref for HelperDir {
    type Target = TempDir;
    fn deref(&self) -> &TempDir {
        &self.tmp
    }
}

/// Runs the sh `script` with `args` ($1, $2…) in a mount namespace of its
/// own (private propagation): mounts it makes go when it exits, whatever
/// the test asserts. The test runs alone (`require_loop!(alone)`).
pub fn in_own_namespace(script: &str, args: &[&std::ffi::OsStr]) -> Output {
    std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .args(args)
        .output()
        .expect("unshare")
}

/// The file mount_md locks for `image` ([`mount_md::platform::posix::lock_path`]),
/// made as a run makes it, for a test to hold the image's lock as another
/// run would.
pub fn lock_of(image: &Path) -> PathBuf {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let st = std::fs::metadata(image).unwrap();
    let path = mount_md::platform::posix::lock_path(mount_md::platform::FileId { dev: st.dev(), ino: st.ino() });
    let _ = std::fs::DirBuilder::new().mode(0o700).create(mount_md::platform::posix::LOCK_DIR);
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).unwrap();
    path
}
