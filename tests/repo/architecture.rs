//! doc/architecture.md's claims about the shape of the code: how many
//! methods `Platform` has, where the `unsafe` is, that no source file is
//! longer than it says, that no import cycle runs through src/ and that
//! nothing under platform/ imports the core that drives it.
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

/// The module a file under src/ is (`platform::linux::grow`; `lib.rs` and
/// `main.rs` are the root, `mod.rs` its folder).
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root().join("src")).unwrap().with_extension("");
    let mut m: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        m.pop();
    }
    m
}

/// The files under src/ each file's production code (what comes before
/// its `#[cfg(test)]` module) names through `crate::` or `super::` paths,
/// in `use` lines and in code, comments left out.
fn imports() -> std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>> {
    let files = sources(&root().join("src"));
    let modules: std::collections::BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f)).collect();
    let mut graph = std::collections::BTreeMap::new();
    for f in &files {
        let me = module_of(f);
        // `super` of `a::b` (a/b.rs, or a/b/mod.rs) is `a`.
        let up = me[..me.len().saturating_sub(1)].to_vec();
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let mut to = std::collections::BTreeSet::new();
        for line in code.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
            for (anchor, base) in [("crate::", Vec::new()), ("super::", up.clone())] {
                for (at, _) in line.match_indices(anchor) {
                    // `super::` seen inside `crate::…::super::` or a longer word is not an anchor.
                    if at > 0 && line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                        continue;
                    }
                    let mut path = base.clone();
                    let mut best = None;
                    for seg in line[at + anchor.len()..].split("::") {
                        let seg: String = seg.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if seg.is_empty() {
                            break;
                        }
                        path.push(seg);
                        if modules.contains(&path) {
                            best = Some(path.clone());
                        }
                    }
                    if let Some(b) = best.filter(|b| *b != me) {
                        to.insert(b);
                    }
                }
            }
        }
        graph.insert(me, to);
    }
    graph
}

#[test]
fn no_import_cycle_in_src() {
    let graph = imports();
    // Depth-first search; a grey module met again closes a cycle.
    fn visit<'a>(
        m: &'a Vec<String>,
        graph: &'a std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>>,
        state: &mut std::collections::BTreeMap<&'a Vec<String>, bool>,
        stack: &mut Vec<&'a Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(true) => return None,
            Some(false) => {
                let from = stack.iter().position(|s| *s == m).unwrap();
                return Some(stack[from..].iter().map(|s| s.join("::")).collect());
            }
            None => {}
        }
        state.insert(m, false);
        stack.push(m);
        for n in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(n, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m, true);
        None
    }
    let mut state = std::collections::BTreeMap::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut state, &mut Vec::new()) {
            panic!("import cycle in src/: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_backends_import_nothing_of_the_core_that_drives_them() {
    const CORE: [&str; 7] = ["exec", "grow", "lifecycle", "list", "remount", "run", "cli"];
    for (m, to) in imports() {
        if m.first().map(String::as_str) == Some("platform") {
            for t in to {
                assert!(!CORE.contains(&t[0].as_str()), "{} imports {}", m.join("::"), t.join("::"));
            }
        }
    }
}
