//! The repository's shell scripts (every tracked file that starts with a
//! `sh` or `bash` `#!` line) pass shellcheck: no warning or error (its
//! style and info notes are not enforced). Needs shellcheck (tests/run
//! installs it).
use std::path::Path;
use std::process::Command;

fn scripts(root: &Path) -> Vec<String> {
    let out = Command::new("git").arg("-C").arg(root).args(["ls-files", "-z"]).output();
    let listed = match out {
        Ok(o) if o.status.success() => o.stdout,
        // Not a git checkout (a source tarball): the scripts we know of.
        _ => return ["tests/run", ".ci/run", "demo/run", "bench/run"].map(String::from).to_vec(),
    };
    listed
        .split(|&b| b == 0)
        .filter_map(|p| std::str::from_utf8(p).ok())
        .filter(|p| !p.is_empty())
        .filter(|p| {
            std::fs::read(root.join(p)).is_ok_and(|b| {
                let first = b.split(|&c| c == b'\n').next().unwrap_or_default();
                first.starts_with(b"#!") && (first.ends_with(b"sh") || first.ends_with(b"bash"))
            })
        })
        .map(String::from)
        .collect()
}

#[test]
fn the_shell_scripts_pass_shellcheck() {
    require_tools!("shellcheck");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scripts = scripts(root);
    assert!(scripts.iter().any(|s| s == "tests/run"), "{scripts:?}");
    let out = Command::new("shellcheck")
        .current_dir(root)
        .arg("--severity=warning")
        .args(&scripts)
        .output()
        .expect("shellcheck");
    assert!(out.status.success(), "shellcheck:\n{}", String::from_utf8_lossy(&out.stdout));
}
