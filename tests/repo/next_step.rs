//! Every message an admin can meet says what to do next, in its own line
//! or in its DIAGNOSTICS paragraph, unless it is one that needs nothing
//! done (listed below with the reason). "What to do" is checkable: each
//! message, or the paragraph of its entry, has a clause that begins with a
//! verb an admin acts on or a command (`unmount it first`, `run fsck_ufs
//! -y`, `give a larger -s`, `mdconfig -d -u 3 detaches it`), or a
//! parenthesis that names an option and what it does (`(-f forces)`). A
//! message is checked on its own: a sibling's step in the same entry does
//! not count for it.

/// DIAGNOSTICS entries that need no step, by the start of one of their
/// messages (after `mount_md: `).
const NO_STEP: &[(&str, &str)] = &[
    ("%s: %s: checked with %s", "the check repaired it; the mount went on"),
    ("%s: already mounted from %s, but an earlier run's", "this run finishes the copy itself"),
    ("stopped by %s; the skeleton copy", "the next run of the line finishes it"),
    ("stopped by %s; what this run did is undone", "the admin stopped it; nothing is left to clean"),
    ("%s: %s after the file system grew", "the grow was finished; nothing is left to do"),
    ("%s: stopped by %s while making it", "the admin stopped it; nothing was left behind"),
    ("%s: %s while waiting for its lock", "the admin stopped it; nothing changed"),
    ("stopped by %s before: %s", "the admin stopped it; the rollback rules ran"),
    ("still waiting for %s (pid %d)", "progress of a helper that is still running"),
    ("%s: waiting up to %d s for its lock", "says what it waits for, and who holds it; the wait ends by itself"),
    ("unmount of %s: busy; waiting up to %d s", "a wait that ends by itself"),
    ("%s is busy; detaching it lazily", "what -u -f asked for"),
    ("%s: still in use; detached when its last user closes it", "it goes away by itself"),
    ("sloppy: %s refused options %s", "what mount -s asked for"),
    ("-s %s counts 512-byte sectors", "says what a bare number means; the run went on"),
    ("WARNING: opening backing store", "the run went on, read-only, as mdmfs does"),
    ("%s: not writable; attaching it read-only", "the run went on, read-only"),
    ("%s is %s: -o suid", "what the fstab line asked for"),
    ("Not changing mode/owner of %s", "as mdmfs(8) says; the mount is read-only, as asked"),
    ("%s: %s; attached read-only, so not checked", "the mount went on, read-only, as asked"),
    ("%s: %s; no checker for %s on this system", "the mount went on, as --fsck=auto asks"),
    ("pre-detach: %s was not attached by mount_md", "a DEBUG note: the pre-detach is skipped, the run goes on"),
    ("mount namespaces (mount.md -N) exist only on Linux", "a feature this system does not have"),
];

/// Verbs an admin acts on, and commands, as a clause's first word.
const VERBS: &[&str] = &[
    "add", "chmod", "close", "detach", "drop", "fix", "free", "give", "grow", "install", "load", "make", "mount",
    "name", "remove", "repair", "replace", "report", "run", "try", "unmount", "update", "upgrade", "use", "blockdev",
    "e2fsck", "fsck_ufs", "losetup", "mdconfig", "modprobe", "mount_md", "truncate",
];

/// Each DIAGNOSTICS entry: its messages, and its paragraph with the mdoc
/// macros dropped.
fn entries() -> Vec<(Vec<String>, String)> {
    let page = include_str!("../../man/mount_md.8");
    let start = page.find(".Sh DIAGNOSTICS").unwrap();
    let end = start + page[start..].find("\n.Sh COMPATIBILITY").unwrap();
    let list = &page[page[start..end].find(".Bl -diag").unwrap() + start..end];
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    let mut in_body = true;
    for line in list.lines().skip(1) {
        if let Some(m) = line.strip_prefix(".It \"mount_md: ") {
            if in_body {
                out.push((Vec::new(), String::new()));
            }
            in_body = false;
            out.last_mut().unwrap().0.push(m.trim_end_matches('"').replace("\\e", "\\").replace("\\&", ""));
        } else if line.starts_with(".El") {
            break;
        } else if let Some(e) = out.last_mut() {
            in_body = true;
            // mdoc starts each sentence on a line of its own.
            e.1.push('\n');
            e.1.push_str(&words(line));
        }
    }
    out
}

/// A line of mdoc as words: a macro line without its macro names.
fn words(line: &str) -> String {
    if !line.starts_with('.') {
        return line.replace("\\&", "");
    }
    line.split_whitespace()
        .skip(1)
        .filter(|w| !(w.len() == 2 && w.chars().all(|c| c.is_ascii_alphabetic()) && w.starts_with(char::is_uppercase)))
        .collect::<Vec<_>>()
        .join(" ")
        .replace("\\&", "")
}

/// Whether `text` has a clause that begins with an action verb or a
/// command, or a parenthesis that begins with an option and what it does
/// (`(-f forces)`, not `(-r)`). A clause begins the text, a line that
/// begins with a capital (a sentence, in mdoc), or follows `; `, `: `,
/// `. `, `(`, `, or `, `, then `, ` or `, ` then `, `on Linux `, `on
/// FreeBSD `, or ends a line with `:` or `;`.
fn has_step(text: &str) -> bool {
    let mut starts = vec![0];
    for sep in
        ["; ", ": ", ". ", ", or ", ", then ", " or ", "(", " then ", "on Linux ", "on FreeBSD ", ":\n", ";\n", "\n"]
    {
        starts.extend(
            text.match_indices(sep)
                .map(|(i, s)| i + s.len())
                .filter(|&i| sep != "\n" || text[i..].starts_with(char::is_uppercase)),
        );
    }
    starts.iter().any(|&i| {
        let rest = text[i..].trim_start();
        let first: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let option_does = text[..i].ends_with('(')
            && rest.starts_with('-')
            && rest.split([' ', ')']).nth(1).is_some_and(|w| w.starts_with(char::is_lowercase));
        VERBS.contains(&first.to_lowercase().as_str()) || option_does
    })
}

#[test]
fn every_refusal_says_what_to_do() {
    let all = entries();
    assert!(all.len() > 100, "found {} entries", all.len());
    let missing: Vec<String> = all
        .iter()
        .flat_map(|(msgs, body)| msgs.iter().map(move |m| (m, body)))
        .filter(|(m, _)| !NO_STEP.iter().any(|(n, _)| m.starts_with(n)))
        .filter(|(m, body)| !has_step(m) && !has_step(body))
        .map(|(m, body)| format!("{m}\n    {}", body.trim()))
        .collect();
    assert!(missing.is_empty(), "{} DIAGNOSTICS entries say no next step:\n{}", missing.len(), missing.join("\n"));
}

/// Every NO_STEP entry names a message DIAGNOSTICS lists.
#[test]
fn no_step_entries_are_messages() {
    let all = entries();
    for (n, _) in NO_STEP {
        assert!(all.iter().any(|(msgs, _)| msgs.iter().any(|m| m.starts_with(n))), "{n:?} is not in DIAGNOSTICS");
    }
}

#[test]
fn the_rule_sees_steps() {
    assert!(has_step("%s: in use, nothing detached (-f forces): %s"));
    assert!(has_step("%s: is mounted; unmount it first"));
    assert!(has_step("The formatter would refuse; give a larger -s."));
    assert!(!has_step("%s: already attached as %s"));
    assert!(!has_step("The image is attached and in use elsewhere."));
    assert!(has_step("%s: was not attached; left alone (another tool: when unused, %s detaches it). losetup -d it"));
    assert!(!has_step("%s: the md disk is not shrunk back; see GROWING"));
    assert!(has_step("A usage error.\nRun again."));
    assert!(!has_step("A usage error of the\nrun that failed."));
}
