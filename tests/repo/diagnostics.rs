//! The man page's DIAGNOSTICS lists every message: each text the code
//! gives an error or a warning (`Error::plain`, the why of `Error::text`
//! and `Error::explained`, `warn`, `Note::Warning`) must match one of its
//! `.It` lines, its `{…}` holes matching anything there (`%s`, `%d`). The
//! few texts that are not messages a user meets (internal errors, pieces
//! of a longer message) are listed below with the reason.
use std::path::Path;

/// Texts that are not messages of their own.
const NOT_MESSAGES: &[(&str, &str)] = &[
    ("internal error", "a plan built wrongly: a bug, never a user's doing"),
    ("a device before attaching one", "an internal error's detail"),
    ("rollback: ", "prefixes an undo failure to the message listed for it"),
    ("{e}; and then: {cut}", "joins two listed messages"),
    ("{how}:\\n", "a helper's failure: its own output follows"),
    ("openat(<", "a -N line, not a message"),
    ("empty argv", "an internal error's detail"),
    ("image not open", "an internal error's detail"),
    ("no unit", "an internal error's detail"),
    ("not opened", "an internal error's detail"),
    ("mark holds a NUL", "cannot happen: a mark is made from a path, which holds no NUL"),
    ("not a FreeBSD program", "an internal error's detail"),
    ("no loop device to resize", "an internal error's detail"),
];

/// The source files whose messages a user can meet (not the test doubles).
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs")
            && !matches!(p.file_name().and_then(|n| n.to_str()), Some("recording.rs"))
        {
            let text = std::fs::read_to_string(&p).unwrap();
            // The unit tests at the end are not the program.
            let code = match text.find("#[cfg(test)]\nmod tests") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            out.push((p.display().to_string(), code));
        }
    }
}

/// The arguments of the call whose `(` is at `open`, split at top-level
/// commas (string literals and nesting respected).
fn arguments(code: &str, open: usize) -> Vec<String> {
    let b = code.as_bytes();
    let (mut depth, mut i, mut start, mut args) = (0usize, open + 1, open + 1, Vec::new());
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2, // a char literal such as ','
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => {
                args.push(code[start..i].to_string());
                return args;
            }
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                args.push(code[start..i].to_string());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    args
}

/// The first string literal in `arg`, its escapes and line continuations
/// undone.
fn literal(arg: &str) -> Option<String> {
    let start = arg.find('"')? + 1;
    let b = arg.as_bytes();
    let mut i = start;
    let mut out = String::new();
    while i < b.len() && b[i] != b'"' {
        if b[i] == b'\\' {
            match b[i + 1] {
                b'\n' => {
                    i += 2;
                    while i < b.len() && b[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    continue;
                }
                b'n' => out.push_str("\\n"),
                c => out.push(c as char),
            }
            i += 2;
        } else {
            let c = arg[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    Some(out)
}

/// Every message text in the code, with where it is.
fn messages() -> Vec<(String, String)> {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut out = Vec::new();
    for (path, code) in files {
        for (call, which) in
            [("Error::plain(", 0), ("Error::text(", 1), ("Error::explained(", 1), (".warn(", 0), ("Note::Warning(", 0)]
        {
            for (at, _) in code.match_indices(call) {
                let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
                if code[line_start..at].trim_start().starts_with("//") || code[line_start..at].contains("fn ") {
                    continue;
                }
                let args = arguments(&code, at + call.len() - 1);
                if let Some(text) = args.get(which).and_then(|a| literal(a)) {
                    let line = code[..at].matches('\n').count() + 1;
                    out.push((format!("{path}:{line}"), text));
                }
            }
        }
    }
    out
}

/// The pieces of `text` between its `{…}` holes.
fn pieces(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut hole = 0;
    for c in text.chars() {
        match c {
            '{' => {
                hole += 1;
                out.push(String::new());
            }
            '}' if hole > 0 => hole -= 1,
            _ if hole > 0 => {}
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.retain(|p| !p.trim().is_empty());
    out
}

fn diagnostics() -> Vec<String> {
    let page = include_str!("../../man/mount_md.8");
    let start = page.find(".Sh DIAGNOSTICS").unwrap();
    let end = start + page[start..].find("\n.Sh ").unwrap_or(page.len() - start);
    page[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix(".It \""))
        .map(|l| l.trim_end_matches('"').replace("\\e", "\\").replace("\\&", ""))
        .collect()
}

/// Whether one of the `.It` lines holds `text`'s pieces in order.
fn listed(text: &str, entries: &[String]) -> bool {
    let pieces = pieces(text);
    entries.iter().any(|e| {
        let mut at = 0;
        pieces.iter().all(|p| match e[at..].find(p.as_str()) {
            Some(i) => {
                at += i + p.len();
                true
            }
            None => false,
        })
    })
}

#[test]
fn every_message_is_in_diagnostics() {
    let entries = diagnostics();
    let found = messages();
    assert!(found.len() > 100, "the scan found only {} messages", found.len());
    let missing: Vec<String> = found
        .iter()
        .filter(|(_, text)| text.chars().filter(|c| c.is_alphabetic()).count() >= 4)
        .filter(|(_, text)| !NOT_MESSAGES.iter().any(|(n, _)| text.contains(n)))
        .filter(|(_, text)| !listed(text, &entries))
        .map(|(at, text)| format!("{at}: {text}"))
        .collect();
    assert!(missing.is_empty(), "not in the man page's DIAGNOSTICS:\n{}", missing.join("\n"));
}

#[test]
fn the_scan_sees_what_it_checks() {
    let code = r#"Error::text(format!("{}: x", a), "why {n} here")"#;
    let args = arguments(code, code.find('(').unwrap());
    assert_eq!(literal(&args[1]).unwrap(), "why {n} here");
    assert_eq!(pieces("why {n} here"), ["why ", " here"]);
    assert!(listed("why {n} here", &["mount_md: %s: why %d here".to_string()]));
    assert!(!listed("why {n} here", &["mount_md: %s: here why %d".to_string()]));
    assert_eq!(literal("\"a \\\n      b\"").unwrap(), "a b");
}
