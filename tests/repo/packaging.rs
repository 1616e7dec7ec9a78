//! The FreeBSD port (packaging/freebsd/sysutils/mount_md) stays in step
//! with the crate: Makefile.crates and distinfo equal Cargo.lock (names,
//! versions, checksums, and the sizes of the .crate files in cargo's
//! cache), the plist is what post-install installs, the architectures are
//! the ones whose md(4) layout is pinned and type-checked, the version
//! floor is the one README and man page state, the placeholders are the
//! ones the submitter's checklist names, and pkg-message shows the recipe.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const PORT: &str = include_str!("../../packaging/freebsd/sysutils/mount_md/Makefile");
const CRATES: &str = include_str!("../../packaging/freebsd/sysutils/mount_md/Makefile.crates");
const DISTINFO: &str = include_str!("../../packaging/freebsd/sysutils/mount_md/distinfo");
const MESSAGE: &str = include_str!("../../packaging/freebsd/sysutils/mount_md/files/pkg-message.in");
const CHECKLIST: &str = include_str!("../../packaging/freebsd/README.md");
const LOCK: &str = include_str!("../../Cargo.lock");

/// (name, version, checksum) of every registry package, in Cargo.lock order.
fn lock_crates() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for pkg in LOCK.split("[[package]]").skip(1) {
        let field = |k: &str| {
            pkg.lines().find_map(|l| l.strip_prefix(&format!("{k} = \""))).map(|v| v.trim_end_matches('"').to_string())
        };
        if field("source").is_some_and(|s| s.starts_with("registry+")) {
            let checksum = field("checksum").expect("registry package without checksum");
            out.push((field("name").unwrap(), field("version").unwrap(), checksum));
        }
    }
    assert!(!out.is_empty());
    out
}

/// The words of a make variable assignment, following `\` continuations.
fn make_var(text: &str, name: &str) -> Vec<String> {
    let key = format!("{name}=");
    let start = text.lines().position(|l| l.starts_with(&key)).unwrap_or_else(|| panic!("no {name}="));
    let mut words = Vec::new();
    for (i, line) in text.lines().skip(start).enumerate() {
        let line = if i == 0 { &line[key.len()..] } else { line };
        let (body, more) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        words.extend(body.split_whitespace().map(str::to_string));
        if !more {
            break;
        }
    }
    words
}

#[test]
fn version_matches_cargo_toml() {
    assert_eq!(make_var(PORT, "DISTVERSION"), [env!("CARGO_PKG_VERSION")]);
}

#[test]
fn makefile_crates_equal_the_lock_file() {
    let want: Vec<String> = lock_crates().iter().map(|(n, v, _)| format!("{n}-{v}")).collect();
    assert_eq!(make_var(CRATES, "CARGO_CRATES"), want, "run packaging/freebsd/update-port");
    assert!(!PORT.contains("CARGO_CRATES"), "the crate list lives in Makefile.crates only");
}

#[test]
fn distinfo_has_lock_checksums_and_a_size_for_every_crate() {
    for line in DISTINFO.lines() {
        if let Some(ts) = line.strip_prefix("TIMESTAMP = ") {
            assert!(ts.parse::<u64>().is_ok(), "{line}");
            continue;
        }
        let (key, _) = line.split_once(" = ").unwrap_or_else(|| panic!("distinfo line {line:?}"));
        assert!(key.starts_with("SHA256 (") || key.starts_with("SIZE ("), "{line}");
    }
    let lines: Vec<&str> = DISTINFO.lines().filter(|l| l.contains("(rust/crates/")).collect();
    let crates = lock_crates();
    assert_eq!(lines.len(), 2 * crates.len(), "one SHA256 and one SIZE line per crate, nothing else");
    for (name, version, checksum) in &crates {
        let file = format!("rust/crates/{name}-{version}.crate");
        assert!(
            lines.contains(&format!("SHA256 ({file}) = {checksum}").as_str()),
            "distinfo: SHA256 of {file} must be Cargo.lock's {checksum} (run packaging/freebsd/update-port)"
        );
        let size = size_of(&file).unwrap_or_else(|| panic!("distinfo: no SIZE ({file})"));
        assert!(size > 0, "{file}");
    }
}

fn size_of(file: &str) -> Option<u64> {
    let prefix = format!("SIZE ({file}) = ");
    DISTINFO.lines().find_map(|l| l.strip_prefix(&prefix)).map(|s| s.parse().expect("SIZE is a number"))
}

/// The .crate files cargo downloaded for this build: their sizes are the
/// distinfo SIZEs and their SHA-256 the lock's (for at least the crates
/// every build needs: mount_md's own runtime dependencies).
#[test]
fn distinfo_sizes_are_the_crate_files_sizes() {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let caches: Vec<PathBuf> = std::fs::read_dir(home.join("registry/cache"))
        .expect("cargo's registry cache (a build fills it)")
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut checked = BTreeSet::new();
    for (name, version, checksum) in lock_crates() {
        let crate_file = format!("{name}-{version}.crate");
        let Some(path) = caches.iter().map(|c| c.join(&crate_file)).find(|p| p.exists()) else { continue };
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(size_of(&format!("rust/crates/{crate_file}")), Some(len), "SIZE of {crate_file}");
        let out = Command::new("sha256sum").arg(&path).output().expect("sha256sum (coreutils)");
        let got = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_string();
        assert_eq!(got, checksum, "{} does not match Cargo.lock", path.display());
        checked.insert(name);
    }
    for needed in ["libc", "nix", "thiserror"] {
        assert!(checked.contains(needed), "{needed}'s .crate file not found in {caches:?}");
    }
}

#[test]
fn plist_is_what_post_install_installs_and_never_base_names() {
    let plist: BTreeSet<String> = make_var(PORT, "PLIST_FILES").into_iter().collect();
    assert_eq!(plist, BTreeSet::from(["sbin/mount_md".to_string(), "share/man/man8/mount_md.8.gz".to_string()]));
    for entry in &plist {
        let installed = entry.trim_end_matches(".gz");
        assert!(PORT.contains(&format!("${{STAGEDIR}}${{PREFIX}}/{installed}\n")), "post-install lacks {installed}");
    }
    for base in ["mdmfs", "mount_mfs", "mfs"] {
        assert!(!plist.iter().any(|e| e.ends_with(&format!("/{base}"))), "{base} would shadow base");
    }
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/freebsd/sysutils/mount_md/pkg-plist").exists());
}

/// cargo.mk chooses the profile (release, or debug under WITH_DEBUG) and
/// runs the install; the port only moves the result, so no path names a
/// profile directory.
#[test]
fn install_works_under_with_debug() {
    assert!(make_var(PORT, "USES").contains(&"cargo".to_string()));
    assert!(!PORT.contains("do-install:"), "let cargo.mk's do-install pick the profile");
    assert!(!PORT.contains("release/") && !PORT.contains("debug/"), "no hard-coded profile directory");
    assert!(PORT.contains("${MV} ${STAGEDIR}${PREFIX}/bin/mount_md ${STAGEDIR}${PREFIX}/sbin/mount_md"));
}

/// ONLY_FOR_ARCHS: exactly the FreeBSD targets CI type-checks (.ci/run),
/// whose md_ioctl layouts src/platform/freebsd/abi.rs pins.
#[test]
fn architectures_are_the_checked_ones() {
    let ci = include_str!("../../.ci/run");
    let mut checked = BTreeSet::new();
    for (triple, arch) in
        [("x86_64-unknown-freebsd", "amd64"), ("aarch64-unknown-freebsd", "aarch64"), ("i686-unknown-freebsd", "i386")]
    {
        if ci.contains(triple) {
            checked.insert(arch.to_string());
        }
    }
    let archs: BTreeSet<String> = make_var(PORT, "ONLY_FOR_ARCHS").into_iter().collect();
    assert_eq!(archs, checked);
    assert!(PORT.contains("ONLY_FOR_ARCHS_REASON="));
}

/// The OSVERSION guard, README and man page state one floor.
#[test]
fn version_floor_is_stated_consistently() {
    let guard = PORT.lines().find(|l| l.starts_with(".if ${OSVERSION} < ")).expect("an OSVERSION guard");
    assert_eq!(guard, ".if ${OSVERSION} < 1200000");
    assert!(PORT.contains("IGNORE=\t\tneeds FreeBSD 12.0 or later"));
    let readme = include_str!("../../README.md");
    assert!(readme.contains("**FreeBSD 12.0 or later**"), "README Requirements");
    let page = include_str!("../../man/mount_md.8");
    assert!(page.contains(".Fx 12.0\nor later"), "man page CAVEATS");
    assert!(!readme.contains("FreeBSD 14 and later") && !readme.contains("FreeBSD 14+"), "another floor in README");
}

#[test]
fn placeholders_are_marked_and_in_the_checklist() {
    let marked: Vec<&str> = PORT
        .lines()
        .filter(|l| l.contains("PLACEHOLDER") && !l.starts_with('#'))
        .map(|l| l.split('=').next().unwrap())
        .collect();
    assert_eq!(marked, ["MAINTAINER", "GH_ACCOUNT"]);
    for var in marked {
        assert!(CHECKLIST.contains(&format!("`{var}`")), "the checklist does not name {var}");
    }
    assert_eq!(make_var(PORT, "USE_GITHUB"), ["yes"]);
    assert!(CHECKLIST.contains("## Checklist for whoever submits it"));
}

/// pkg-message shows the man page's fstab line, exec.prepare and
/// exec.release lines.
#[test]
fn pkg_message_shows_the_recipe() {
    let page = include_str!("../../man/mount_md.8");
    let shown = MESSAGE.replace("%%PREFIX%%", "/usr/local");
    let fstab = page.lines().find(|l| l.starts_with("md /var/jails/j1 ufs ")).unwrap();
    assert!(shown.lines().any(|l| l.trim() == fstab), "pkg-message lacks {fstab}");
    for param in ["exec.prepare =", "exec.release ="] {
        let line = page.lines().find(|l| l.trim_start().starts_with(param)).unwrap().trim();
        assert!(shown.lines().any(|l| l.trim() == line), "pkg-message lacks {line}");
    }
    assert!(make_var(PORT, "SUB_FILES").contains(&"pkg-message".to_string()));
    assert!(MESSAGE.trim_start().starts_with('[') && MESSAGE.contains("type: install"));
}
