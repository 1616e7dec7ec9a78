//! The FreeBSD port skeleton stays in step with the crate.
use std::collections::BTreeSet;

const PORT: &str = include_str!("../packaging/freebsd/sysutils/mount_md/Makefile");
const PLIST: &str = include_str!("../packaging/freebsd/sysutils/mount_md/pkg-plist");

fn lock_crates() -> BTreeSet<String> {
    let lock = include_str!("../Cargo.lock");
    let mut out = BTreeSet::new();
    for pkg in lock.split("[[package]]").skip(1) {
        let field = |k: &str| {
            pkg.lines().find_map(|l| l.strip_prefix(&format!("{k} = \""))).map(|v| v.trim_end_matches('"').to_string())
        };
        if field("source").is_some() {
            out.insert(format!("{}-{}", field("name").unwrap(), field("version").unwrap()));
        }
    }
    out
}

#[test]
fn version_matches_cargo_toml() {
    let line = PORT.lines().find(|l| l.starts_with("DISTVERSION=")).unwrap();
    assert_eq!(line.split_whitespace().nth(1), Some(env!("CARGO_PKG_VERSION")));
}

#[test]
fn cargo_crates_match_the_lock_file() {
    let start = PORT.find("CARGO_CRATES=").unwrap() + "CARGO_CRATES=".len();
    let mut listed = BTreeSet::new();
    for line in PORT[start..].lines() {
        let item = line.trim().trim_end_matches('\\').trim();
        if !item.is_empty() {
            listed.insert(item.to_string());
        }
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    assert_eq!(listed, lock_crates(), "regenerate CARGO_CRATES (make cargo-crates)");
}

#[test]
fn plist_is_what_do_install_installs_and_never_base_names() {
    let plist: BTreeSet<&str> = PLIST.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(plist, BTreeSet::from(["sbin/mount_md", "share/man/man8/mount_md.8.gz"]));
    for entry in &plist {
        let installed = entry.trim_end_matches(".gz");
        assert!(PORT.contains(&format!("${{STAGEDIR}}${{PREFIX}}/{installed}")), "do-install lacks {installed}");
    }
    for base in ["mdmfs", "mount_mfs", "mfs"] {
        assert!(!plist.iter().any(|e| e.ends_with(&format!("/{base}"))), "{base} would shadow base");
    }
}
