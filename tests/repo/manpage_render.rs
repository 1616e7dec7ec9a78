//! The man page as a reader sees it: `mandoc -Tlint -Wwarning` is clean,
//! and the page rendered with `mandoc -Tascii` has none of the defects it
//! once had (macro names printed as words, `-mkfs`, fstab lines wrapped in
//! two), has the conventional sections in order, says what the code does
//! where the two systems differ, and every DIAGNOSTICS message is one the
//! code can print. Needs mandoc (tests/run installs it).
use std::path::Path;
use std::process::Command;

const PAGE: &str = "man/mount_md.8";

fn mandoc(args: &[&str]) -> std::process::Output {
    Command::new("mandoc")
        .args(args)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE))
        .output()
        .unwrap_or_else(|e| panic!("mandoc: {e} (install mandoc; tests/run does)"))
}

/// The page as `man` shows it, 80 columns, overstrike removed.
fn rendered() -> String {
    let out = mandoc(&["-Tascii", "-Owidth=80"]);
    assert!(out.status.success(), "mandoc -Tascii: {}", String::from_utf8_lossy(&out.stderr));
    let raw = String::from_utf8(out.stdout).unwrap();
    // "c\bc" (bold) and "_\bc" (underline): keep the last character.
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        text.push(c);
    }
    text
}

/// The body of one section: from its heading to the next heading.
fn section(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        let heading = !line.is_empty() && !line.starts_with(' ') && line.chars().all(|c| !c.is_lowercase());
        if heading {
            inside = line.trim() == name;
            continue;
        }
        if inside {
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    assert!(!out.is_empty(), "no section {name}");
    out
}

/// The rendered text of option `flag`'s entry, joined into one line.
fn option(text: &str, flag: &str) -> String {
    let body = section(text, "DESCRIPTION");
    let lines: Vec<&str> = body.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.split_whitespace().next() == Some(flag))
        .unwrap_or_else(|| panic!("no entry for {flag}"));
    let mut entry = vec![lines[start]];
    for l in &lines[start + 1..] {
        if l.is_empty() {
            break;
        }
        entry.push(l);
    }
    entry.join(" ")
}

#[test]
fn lint_is_clean() {
    let out = mandoc(&["-Tlint", "-Wwarning"]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "mandoc -Tlint -Wwarning:\n{said}");
}

#[test]
fn no_macro_leaks_or_garbled_flags() {
    let text = rendered();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        assert!(
            !["Ql", "Fl", "Ar", "Pq", "Xr", "Cm", "Nm", "Ns", "Dl", "Op", "Pa"].contains(&word),
            "macro name {word:?} printed as text"
        );
    }
    assert!(!text.contains("-mkfs"), "a flag macro swallowed the word mkfs");
    assert!(!text.contains("an mount"), "article before mount.fstab");
    assert!(!text.contains("``") && !text.contains("''"), "nested quotes");
}

#[test]
fn fstab_lines_are_one_line_each() {
    let text = rendered();
    let fstab: Vec<&str> = text.lines().map(str::trim).filter(|l| l.starts_with("md /")).collect();
    assert!(fstab.len() >= 3, "the FreeBSD and Linux fstab examples: {fstab:?}");
    for line in fstab {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 6, "a copied fstab line must have its six fields: {line}");
        assert_eq!(&fields[4..], ["0", "0"], "{line}");
    }
    let linux = text.lines().find(|l| l.contains("-F/srv/images/web1.img")).expect("the Linux fstab example");
    assert!(linux.contains("x-systemd.requires-mounts-for="), "boot ordering for systemd: {linux}");
}

#[test]
fn sections_are_there_in_conventional_order() {
    let text = rendered();
    let order = [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "ENVIRONMENT",
        "FILES",
        "EXIT STATUS",
        "EXAMPLES",
        "DIAGNOSTICS",
        "COMPATIBILITY",
        "SEE ALSO",
        "HISTORY",
        "AUTHORS",
        "CAVEATS",
    ];
    let headings: Vec<&str> = text.lines().filter(|l| order.contains(&l.trim()) && !l.starts_with(' ')).collect();
    assert_eq!(headings, order, "sections missing or out of mdoc(7)'s order");
}

#[test]
fn options_say_what_they_do() {
    let text = rendered();
    for flag in ["-a", "-b", "-c", "-d", "-e", "-f", "-i", "-l", "-m", "-n", "-O", "-t", "-v", "-S"] {
        let entry = option(&text, flag);
        // What follows the flag and its argument word, if any.
        let mut words = entry.split_whitespace().skip(1).peekable();
        if words.peek().is_some_and(|w| w.starts_with(char::is_lowercase)) {
            words.next();
        }
        let said: Vec<&str> = words.collect();
        assert!(said.len() > 4 && said[..2] != ["Passed", "to"], "{flag} only says where it goes: {entry}");
    }
    let t = option(&text, "-T");
    assert!(t.contains("needs -P"), "-T: FreeBSD makes only UFS: {t}");
    let s = option(&text, "-s");
    assert!(s.contains("FreeBSD") && s.contains("Linux") && s.contains("extends the file"), "-s with -F: {s}");
    assert!(s.contains("strtoumax(3)") && s.contains("base 0"), "{s}");
    let p = option(&text, "-p");
    assert!(p.contains("a=rwx"), "-p: symbolic modes start from a=rwx: {p}");
    let w = option(&text, "-w");
    assert!(w.contains("Both must be given"), "-w: {w}");
    let desc = section(&text, "DESCRIPTION");
    assert!(desc.contains("mds1a"), "partition suffixes");
}

#[test]
fn files_see_also_history_caveats() {
    let text = rendered();
    let files = section(&text, "FILES");
    for f in ["/dev/mdctl", "/dev/loop-control", "/sbin/newfs", "/sbin/mkfs.", "/sbin/mount.md"] {
        assert!(files.contains(f), "FILES lacks {f}");
    }
    let see = section(&text, "SEE ALSO").replace('\n', " ");
    for x in [
        "tmpfs(5)",
        "geom_uzip(4)",
        "umount(8)",
        "growfs(8)",
        "fsck_ffs(8)",
        "resize2fs(8)",
        "systemd.mount(5)",
        "rc.conf(5)",
        "mdmfs(8)",
    ] {
        assert!(see.contains(x), "SEE ALSO lacks {x}");
    }
    let history = section(&text, "HISTORY").replace('\n', " ");
    for x in ["Implementing Filesystem Allocation Limits On FreeBSD Jails", "phaq", "June 2006"] {
        assert!(history.contains(x), "HISTORY lacks {x}");
    }
    let caveats = section(&text, "CAVEATS").replace('\n', " ");
    assert!(caveats.contains("not yet been run on a FreeBSD kernel"), "{caveats}");
    assert!(caveats.contains("FreeBSD 12.0 or later"), "the version floor: {caveats}");
    let compat = section(&text, "COMPATIBILITY");
    assert!(compat.matches('o').count() > 0 && compat.contains("mdmfs(8)"));
}

/// Rust source with string literals continued over lines (`\` at the
/// end of a line, then indentation) joined back into one line.
fn join_continued_strings(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut lines = src.split('\n');
    let mut continued = false;
    while let Some(line) = lines.next().map(|l| if continued { l.trim_start() } else { l }) {
        continued = line.ends_with('\\');
        if continued {
            out.push_str(&line[..line.len() - 1]);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Every message in DIAGNOSTICS is text the code prints: each literal piece
/// between `%s`/`%c` is found in the sources.
#[test]
fn diagnostics_are_messages_the_code_prints() {
    let page = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(PAGE)).unwrap();
    let diag = &page[page.find(".Sh DIAGNOSTICS").unwrap()..page.find(".Sh COMPATIBILITY").unwrap()];
    let mut sources = String::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.path().extension().is_some_and(|x| x == "rs") {
                sources.push_str(&join_continued_strings(&std::fs::read_to_string(e.path()).unwrap()));
            }
        }
    }
    let mut n = 0;
    for line in diag.lines().filter_map(|l| l.strip_prefix(".It \"mount_md: ")) {
        n += 1;
        let msg = line.trim_end_matches('"');
        for piece in msg.split("%s").flat_map(|p| p.split("%c")).flat_map(|p| p.split("%d")) {
            let piece = piece.trim_matches(|c: char| c == ' ' || c == ':' || c == '\'');
            if piece.len() > 2 {
                assert!(sources.contains(piece), "DIAGNOSTICS {msg:?}: {piece:?} is not in src/");
            }
        }
    }
    assert!(n >= 10, "DIAGNOSTICS lists {n} messages");
}

/// Each SYNOPSIS entry as rendered (continuation lines joined) starts with
/// the command's name, and the mount_md entries are the modes the usage
/// text lists, one each: a missing `.Nm` once ran two of them together
/// (`mount_md --list [--json] [--all] --help | --version`).
#[test]
fn synopsis_entries_each_start_with_the_command() {
    let text = rendered();
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim() != "SYNOPSIS")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let first = lines.iter().map(|l| indent(l)).min().expect("a SYNOPSIS");
    let mut entries: Vec<String> = Vec::new();
    for l in &lines {
        match entries.last_mut() {
            Some(e) if indent(l) > first => {
                e.push(' ');
                e.push_str(l.trim());
            }
            _ => entries.push(l.trim().to_string()),
        }
    }
    // What selects each entry's mode: its first option if that is not
    // bracketed (`-u`, `--list`, `--completion`), else the mount mode.
    let head = |entry: &str| {
        let mut words = entry.split_whitespace();
        let prog = words.next().unwrap_or_default().to_string();
        let mode = match words.next() {
            Some(w) if w.starts_with('-') => w.split('=').next().unwrap().to_string(),
            _ => "mount".to_string(),
        };
        (prog, mode)
    };
    for e in &entries {
        let (prog, _) = head(e);
        assert!(prog == "mount_md" || prog == "mount.md", "SYNOPSIS entry not starting with the command: {e}");
        let modes = e.split_whitespace().filter(|w| ["-u", "-r", "--list", "--help", "--completion"].contains(w));
        assert!(modes.count() <= 1, "two modes run together in one SYNOPSIS entry: {e}");
    }
    let page: Vec<(String, String)> = entries.iter().map(|e| head(e)).filter(|(p, _)| p == "mount_md").collect();
    let usage = mount_md::cli::flags::usage("mount_md");
    let want: Vec<(String, String)> =
        usage.lines().filter(|l| !l.starts_with('\t')).map(|l| head(l.trim_start_matches("usage:").trim())).collect();
    assert_eq!(page, want, "SYNOPSIS modes vs the usage text");
    assert_eq!(entries.iter().filter(|e| e.starts_with("mount.md ")).count(), 1, "{entries:#?}");
}
