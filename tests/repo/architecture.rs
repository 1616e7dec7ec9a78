//! doc/architecture.md's claims about the shape of the code: how many
//! methods `Platform` has, where the `unsafe` is, and that no source file
//! is longer than it says.
use std::path::{Path, PathBuf};

const DOC: &str = include_str!("../../doc/architecture.md");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The number in the doc's "(N methods)", "(N lines at most)".
fn stated(what: &str) -> usize {
    let doc = DOC.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = doc.find(what).unwrap_or_else(|| panic!("doc/architecture.md says nothing of {what}"));
    let start = doc[..end].rfind('(').unwrap() + 1;
    doc[start..end].trim().parse().unwrap()
}

#[test]
fn platform_has_the_methods_the_doc_counts() {
    let text = std::fs::read_to_string(root().join("src/platform/mod.rs")).unwrap();
    let start = text.find("pub trait Platform").unwrap();
    let end = start + text[start..].find("\n}\n").unwrap();
    let methods = text[start..end].lines().filter(|l| l.starts_with("    fn ")).count();
    assert_eq!(methods, stated(" methods)"), "Platform's methods against doc/architecture.md");
}

#[test]
fn unsafe_is_only_where_the_doc_says() {
    let allowed =
        ["platform/linux/sys.rs", "platform/freebsd/sys.rs", "platform/posix/sys.rs", "platform/linux/start.rs"];
    for name in allowed {
        assert!(DOC.contains(name.trim_start_matches("platform/")) || DOC.contains(name), "{name} not in the doc");
    }
    for path in sources(&root().join("src")) {
        let text = std::fs::read_to_string(&path).unwrap();
        // In-file tests may raise a signal; the rule is about the program.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let uses = code.lines().filter(|l| !l.trim_start().starts_with("//") && l.contains("unsafe ")).count();
        let shown = path.strip_prefix(root().join("src")).unwrap().to_string_lossy().into_owned();
        if !allowed.contains(&shown.as_str()) {
            assert_eq!(uses, 0, "unsafe in {shown}");
        }
    }
}

#[test]
fn no_source_file_is_longer_than_the_doc_says() {
    let most = stated(" lines at most)");
    for dir in ["src", "tests"] {
        for path in sources(&root().join(dir)) {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            assert!(lines <= most, "{}: {lines} lines", path.display());
        }
    }
}
