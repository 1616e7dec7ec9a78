//! The README's claims against the repository: the Rust version it
//! requires is Cargo.toml's, the Quick start's commands exist, the
//! uninstall sentence matches `make uninstall`, and no reference to
//! anything outside the repository (nor sudo: FreeBSD's base system has
//! none) in README, doc/, the man page or the port.
use std::path::Path;

const README: &str = include_str!("../../README.md");

#[test]
fn required_rust_is_cargo_toml_s() {
    let req = flat(section("Requirements"));
    let rust_version = include_str!("../../Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .map(|v| v.trim_end_matches('"'))
        .unwrap();
    assert!(req.contains(&format!("Rust {rust_version} or later")), "Requirements vs Cargo.toml rust-version");
}

/// Text with every run of white space made one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn section(name: &str) -> &'static str {
    let start = README.find(&format!("\n## {name}\n")).unwrap_or_else(|| panic!("no section {name}")) + 1;
    let end = README[start + 3..].find("\n## ").map_or(README.len(), |e| start + 3 + e);
    &README[start..end]
}

#[test]
fn quick_start_commands_exist() {
    let quick = section("Quick start");
    let commands: Vec<&str> =
        quick.lines().filter_map(|l| l.strip_prefix("    ")).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert!(!commands.is_empty(), "{quick}");
    for cmd in commands {
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(cmd).is_file(), "{cmd} does not exist");
    }
}

#[test]
fn uninstall_sentence_matches_the_makefile() {
    let install = section("Install");
    assert!(install.contains("keeps directories"), "{install}");
    assert!(!install.contains("exactly what install put there"), "uninstall leaves directories: {install}");
    let makefile = include_str!("../../Makefile");
    let uninstall = &makefile[makefile.find("\nuninstall:").unwrap()..makefile.find("\nclean:").unwrap()];
    assert!(!uninstall.contains("rmdir") && !uninstall.contains("rm -r"), "uninstall removes directories now");
}

/// Files an administrator or porter reads.
fn admin_docs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![("README.md".to_string(), README.to_string())];
    for dir in ["doc", "man", "packaging"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if let Ok(text) = std::fs::read_to_string(e.path()) {
                    out.push((e.path().strip_prefix(root).unwrap().display().to_string(), text));
                }
            }
        }
    }
    for f in ["Makefile", "demo/run"] {
        out.push((f.to_string(), std::fs::read_to_string(root.join(f)).unwrap()));
    }
    out
}

#[test]
fn no_references_outside_the_repository_and_no_sudo() {
    for (name, text) in admin_docs() {
        // The names are built from pieces so that this file does not hold
        // the references it forbids: the outside tree of working notes, its
        // specification's section signs, the notes' file names, and sudo
        // (FreeBSD's base system has none: the docs say "as root").
        let outside = ["..", "/shared"].concat();
        let notes = ["shared", "/reference"].concat();
        let section = ["spec", " §"].concat();
        let peers = ["peers", ".md"].concat();
        let article = ["seed", "-article"].concat();
        for bad in [outside.as_str(), &notes, &section, &peers, &article, "sudo "] {
            assert!(!text.contains(bad), "{name} contains {bad:?}");
        }
    }
}

/// The README says where the build leaves the binary (the Makefile's
/// `BIN`), and before the first fstab line that the recipes need
/// `make install`, which creates the `/sbin/mount.md` link mount(8) runs.
#[test]
fn install_says_where_the_binary_is_and_fstab_needs_it_installed() {
    let makefile = include_str!("../../Makefile");
    let bin = makefile.lines().find_map(|l| l.strip_prefix("BIN = ")).expect("BIN in the Makefile");
    let install = flat(section("Install"));
    assert!(install.contains(&format!("`{bin}`")), "Install does not say the build leaves {bin}: {install}");
    let recipes = section("fstab recipes");
    let first = recipes.find("\n    md ").expect("an fstab line");
    let before = flat(&recipes[..first]);
    assert!(before.contains("`make install` first") && before.contains("`/sbin/mount.md`"), "{before}");
    assert!(makefile.contains("HELPERDIR ?= /sbin") && makefile.contains("link=$(DESTDIR)$(HELPERDIR)/mount.md"));
}
