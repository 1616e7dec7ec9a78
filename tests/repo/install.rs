//! `make install` / `make uninstall` into a staging root: what install
//! puts there is what the FreeBSD port's plist lists, plus the shell
//! completions and on Linux the helper link and the man page under the
//! helper's name; uninstall takes away those files and links, leaving the
//! directories, as the README says.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::TempDir;

fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path().strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}

#[test]
fn install_and_uninstall_exactly() {
    require_tools!("make");
    let stage = TempDir::new("install");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_mount_md"));
    let make = |target: &str| {
        let out = Command::new("make")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .arg(target)
            .arg(format!("DESTDIR={}", stage.0.display()))
            .arg("PREFIX=/usr/local")
            .arg("HELPERDIR=/sbin")
            .arg(format!("BIN={}", bin.display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "make {target}: {}", String::from_utf8_lossy(&out.stderr));
    };
    make("install");
    let mut want = BTreeSet::from(
        [
            "usr/local/sbin/mount_md",
            "usr/local/share/man/man8/mount_md.8",
            "usr/local/share/bash-completion/completions/mount_md",
            "usr/local/share/bash-completion/completions/mount.md",
            "usr/local/share/zsh/site-functions/_mount_md",
        ]
        .map(String::from),
    );
    let link = |path: &str| std::fs::read_link(stage.0.join(path)).unwrap();
    if cfg!(target_os = "linux") {
        want.insert("sbin/mount.md".to_string());
        assert_eq!(
            link("sbin/mount.md"),
            Path::new("/usr/local/sbin/mount_md"),
            "the link points at the installed path"
        );
        // `man mount.md` finds the page under the helper's name.
        want.insert("usr/local/share/man/man8/mount.md.8".to_string());
        assert_eq!(link("usr/local/share/man/man8/mount.md.8"), Path::new("mount_md.8"));
    }
    assert_eq!(files_under(&stage.0), want);
    // The completions are what the binary prints; bash-completion loads a
    // command's file by its name, so mount.md is a link to mount_md.
    assert_eq!(link("usr/local/share/bash-completion/completions/mount.md"), Path::new("mount_md"));
    for (file, shell) in [
        ("usr/local/share/bash-completion/completions/mount_md", "bash"),
        ("usr/local/share/zsh/site-functions/_mount_md", "zsh"),
    ] {
        let printed = Command::new(&bin).arg(format!("--completion={shell}")).output().unwrap().stdout;
        assert_eq!(std::fs::read(stage.0.join(file)).unwrap(), printed, "{file}");
    }
    // bash-completion's loader finds both names where install put them
    // (it looks under every $XDG_DATA_DIRS, /usr/local/share by default).
    if cfg!(target_os = "linux") {
        let loader = "/usr/share/bash-completion/bash_completion";
        assert!(Path::new(loader).exists(), "{loader} missing (install bash-completion; tests/run does)");
        let out = Command::new("bash")
            .arg("--norc")
            .arg("-c")
            .arg(format!(
                "source {loader}; for c in mount_md mount.md; do __load_completion $c && complete -p $c; done"
            ))
            .env("XDG_DATA_DIRS", stage.0.join("usr/local/share"))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "complete -F _mount_md mount_md\ncomplete -F _mount_md mount.md\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The port installs the same two files under PREFIX (PLIST_FILES names
    // the man page compressed, as the ports framework stores it).
    let port = include_str!("../../packaging/freebsd/sysutils/mount_md/Makefile");
    let start = port.find("PLIST_FILES=").expect("PLIST_FILES in the port");
    let mut plist = BTreeSet::new();
    for line in port[start + "PLIST_FILES=".len()..].lines() {
        plist.extend(
            line.trim_end_matches('\\').split_whitespace().map(|f| format!("usr/local/{}", f.trim_end_matches(".gz"))),
        );
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    assert_eq!(plist.len(), 2, "PLIST_FILES: {plist:?}");
    assert!(plist.is_subset(&want), "PLIST_FILES {plist:?} vs installed {want:?}");
    assert!(files_under(&stage.0).iter().all(|f| !f.ends_with("/mdmfs") && !f.ends_with("/mount_mfs")));
    make("uninstall");
    assert_eq!(files_under(&stage.0), BTreeSet::new(), "uninstall removed every file and link install made");
    // As the README and Makefile say, the directories install created stay
    // (others' files may live there): uninstall removes files, not dirs.
    for dir in [
        "usr/local/sbin",
        "usr/local/share/man/man8",
        "usr/local/share/bash-completion/completions",
        "usr/local/share/zsh/site-functions",
    ] {
        assert!(stage.0.join(dir).is_dir(), "{dir} was removed, yet the README says directories stay");
    }
}
