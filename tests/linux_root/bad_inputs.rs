//! Runs every row of doc/bad-inputs.md against the real binary: exact
//! message, exit status, and nothing changed on the system.
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{bin, missing_tools, shared_turn, skip, skip_reason, TempDir};

fn scratch() -> TempDir {
    let tmp = TempDir::new("bad");
    let t = tmp.path();
    fs::create_dir_all(t.join("mnt")).unwrap();
    fs::create_dir_all(t.join("dir")).unwrap();
    fs::write(t.join("plain.img"), vec![0u8; 1 << 20]).unwrap();
    symlink(t.join("plain.img"), t.join("link.img")).unwrap();
    symlink(t.join("dir"), t.join("linkdir")).unwrap();
    // Group-writable without the sticky bit: its symlinks are not followed.
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(t, fs::Permissions::from_mode(0o775)).unwrap();
    tmp
}

/// What must not change: mounts on and loop devices backed by the scratch
/// directory, and its files. (Only those: other tests on this machine
/// mount and attach at the same time.)
fn snapshot(t: &Path) -> (Vec<String>, Vec<String>, Vec<(PathBuf, u64)>) {
    let tag = t.display().to_string();
    let mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&tag))
        .map(str::to_string)
        .collect();
    let mut loops = Vec::new();
    if let Ok(rd) = fs::read_dir("/sys/block") {
        for e in rd.flatten() {
            if let Ok(b) = fs::read_to_string(e.path().join("loop/backing_file")).map(|b| b.trim().to_string()) {
                if !b.starts_with(&tag) {
                    continue;
                }
                loops.push(format!("{}={}", e.file_name().to_string_lossy(), b.trim()));
            }
        }
    }
    loops.sort();
    let mut files = Vec::new();
    let mut stack = vec![t.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            }
            files.push((e.path(), m.len()));
        }
    }
    files.sort();
    (mounts, loops, files)
}

/// `\xNN` → byte; `$T` → the scratch dir.
fn word(w: &str, t: &Path) -> OsString {
    let w = w.replace("$T", &t.display().to_string());
    let mut out = Vec::new();
    let b = w.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            out.push(u8::from_str_radix(&w[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    OsString::from_vec(out)
}

/// (number, needs root, command, exit status, message, usage follows)
fn rows() -> Vec<(String, bool, String, i32, String, bool)> {
    let doc = include_str!("../../doc/bad-inputs.md");
    doc.lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let strip = |s: &str| s.trim_end_matches(" + usage").trim_matches('`').to_string();
            let n = cells[0].split_whitespace().next().unwrap().to_string();
            let usage = cells[3].ends_with(" + usage");
            (n, cells[0].contains("(root)"), strip(cells[1]), cells[2].parse().unwrap(), strip(cells[3]), usage)
        })
        .collect()
}

#[test]
fn every_documented_bad_input() {
    let rows = rows();
    assert!(rows.len() >= 30, "doc/bad-inputs.md lists {} rows", rows.len());
    let t = scratch();
    let bin = bin();
    let links = t.0.join("bin");
    fs::create_dir_all(&links).unwrap();
    for name in ["mount.md", "mount_mfs"] {
        symlink(&bin, links.join(name)).unwrap();
    }
    // The rows marked (root) need root and loop devices: without them they
    // are skipped through the shared skip (a failure under
    // MOUNT_MD_REQUIRE_ROOT=1), the others still run.
    let cannot = skip_reason();
    // Its root rows attach loop devices and every run looks at the bound
    // ones: it takes its turn like any `require_loop!()` test, so that an
    // `alone` test (one that names a unit) has the loop devices to itself.
    let _turn = cannot.is_none().then(shared_turn);
    if let Some(why) = &cannot {
        let root_rows: Vec<&str> = rows.iter().filter(|r| r.1).map(|r| r.0.as_str()).collect();
        skip(&format!("rows {} of doc/bad-inputs.md: {why}", root_rows.join(", ")));
    }
    for (n, needs_root, cmd, status, message, usage) in rows {
        if needs_root && cannot.is_some() {
            continue;
        }
        // A row that formats as xfs or btrfs needs that file system's mkfs
        // (tests/run installs it): skipped through the shared skip too.
        let mkfs = ["xfs", "btrfs"].iter().find(|fs| cmd.contains(&format!("-T {fs} "))).map(|fs| format!("mkfs.{fs}"));
        if let Some(why) = mkfs.and_then(|m| missing_tools(&[&m])) {
            skip(&format!("row {n} of doc/bad-inputs.md: {why}"));
            continue;
        }
        let mut words = cmd.split(' ').map(|w| word(w, &t.0));
        let prog = words.next().unwrap();
        let exe = if prog == "mount_md" { bin.clone() } else { links.join(&prog) };
        let before = snapshot(&t.0);
        let out = Command::new(&exe).args(words).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("");
        assert_eq!(out.status.code(), Some(status), "row {n}: {cmd}: {stderr}");
        let message = message.replace("$T", &t.0.display().to_string());
        assert_eq!(first, message, "row {n}: {cmd}");
        let second = stderr.lines().nth(1).unwrap_or("");
        assert_eq!(
            second.starts_with(&format!("usage: {} ", prog.to_string_lossy())),
            usage,
            "row {n}: {cmd}: usage text expected: {usage}: {stderr}"
        );
        assert_eq!(snapshot(&t.0), before, "row {n}: {cmd} changed the system");
    }
}
