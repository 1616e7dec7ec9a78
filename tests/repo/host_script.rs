//! `tests/freebsd-host/run`, the acceptance script a porter runs on a
//! FreeBSD host, checked here where it cannot run: `shellcheck -s sh`
//! finds nothing in it (shellcheck is installed by tests/run), it is
//! executable, its `--recipe` mode still finds the jail.conf block and the
//! fstab line in doc/recipes.md, anywhere else than FreeBSD it refuses in
//! one line before building anything, and the README and doc/freebsd.md
//! point to it.
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = "tests/freebsd-host/run";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT)
}

#[test]
fn shellcheck_finds_nothing() {
    let out = match Command::new("shellcheck").args(["-s", "sh"]).arg(script()).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::support::skip("shellcheck not found (tests/run installs it)");
            return;
        }
        Err(e) => panic!("shellcheck: {e}"),
    };
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "shellcheck -s sh {SCRIPT}:\n{said}");
}

#[test]
fn is_executable_posix_sh() {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(script()).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "{SCRIPT} is not executable: {mode:o}");
    let text = std::fs::read_to_string(script()).unwrap();
    assert!(text.starts_with("#!/bin/sh\n"), "{SCRIPT} must be a POSIX sh script");
}

/// The jail.conf and fstab line the checks run come from doc/recipes.md:
/// its example paths replaced, `persist` added, what needs a userland or
/// a network dropped.
#[test]
fn recipe_is_read_from_the_doc() {
    let out = Command::new("sh").arg(script()).arg("--recipe").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{SCRIPT} --recipe: {}{text}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    let fstab = lines.last().unwrap();
    assert_eq!(
        *fstab, "md /SCRATCH/root ufs rw,-P,-F/SCRATCH/j.img,mountprog=/REPO/target/release/mount_md 0 0",
        "the fstab line"
    );
    let jail = lines[..lines.len() - 1].join("\n");
    for need in [
        "mount_md_acc {",
        "path = \"/SCRATCH/root\";",
        "mount.fstab = \"/SCRATCH/fstab\";",
        "exec.release = \"/REPO/target/release/mount_md -u /SCRATCH/root\";",
        "persist;",
        "exec.start = \"false\";",
    ] {
        assert!(jail.contains(need), "jail.conf lacks {need}:\n{jail}");
    }
    for gone in ["ip4.addr", "/etc/rc", "/var/jails", "/usr/local/sbin"] {
        assert!(!jail.contains(gone), "jail.conf still has {gone}:\n{jail}");
    }
}

#[cfg(not(target_os = "freebsd"))]
#[test]
fn refuses_off_freebsd_in_one_line() {
    let dir = crate::support::TempDir::new("host-script");
    let out = Command::new("sh").arg(script()).arg(&dir.0).arg(&dir.0).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tests/freebsd-host/run: not FreeBSD"), "{err}");
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0, "the script made something before refusing");
}

#[test]
fn readme_and_freebsd_notes_point_to_it() {
    let readme = include_str!("../../README.md");
    let status = &readme[readme.find("\n## Status\n").unwrap()..readme.find("\n## Requirements\n").unwrap()];
    let status = status.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(status.contains(SCRIPT) && status.contains("not yet been run on a FreeBSD host"), "{status}");
    assert!(include_str!("../../doc/freebsd.md").contains(SCRIPT), "doc/freebsd.md does not name {SCRIPT}");
}
