//! The shell completions `mount_md --completion=bash|zsh` prints: bash's
//! run for real (the script sourced, `COMP_WORDS`/`COMP_CWORD` set as bash
//! sets them, the completion function called, `COMPREPLY` read back), and
//! both offer exactly the options of the flag table. Needs bash and zsh
//! (tests/run installs zsh).
use mount_md::cli::flags::{self, Arg, Flag, Mode, FLAGS, HELPER_FLAGS};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::support::{bin, TempDir};

fn script(shell: &str) -> String {
    let out = Command::new(bin()).arg(format!("--completion={shell}")).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "--completion={shell}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `COMPREPLY` after completing the last of `words` (bash's own split:
/// `--fsck=a` arrives as `--fsck`, `=`, `a`), from `dir`.
fn bash_complete(file: &Path, dir: &Path, words: &[&str]) -> BTreeSet<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let code = format!(
        "source '{}' || exit 9\n\
         COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         complete -p {} >/dev/null || exit 8\n\
         COMPREPLY=(); _mount_md; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.len() - 1,
        words[0],
    );
    let out = Command::new("bash").arg("--norc").arg("-c").arg(code).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "bash {words:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The word completing to `f`: `--name=` when the value must follow.
fn word(f: &Flag) -> String {
    match (f.short, f.long, f.arg) {
        (None, Some(l), Arg::Required(_)) => format!("--{l}="),
        _ => f.name(),
    }
}

/// What `-` offers in `mode`, from the table: its options, and before any
/// mode option the options that select the others.
fn table(mode: Mode, prefix: &str) -> BTreeSet<String> {
    let mut want: BTreeSet<String> = flags::flags_for(mode).map(word).collect();
    if mode == Mode::Mount {
        want.extend(FLAGS.iter().filter(|f| f.selects.is_some()).map(word));
    }
    want.retain(|w| w.starts_with(prefix));
    want
}

#[test]
fn bash_offers_every_option_of_the_table_by_mode() {
    let tmp = TempDir::new("bash-completion");
    let file = tmp.join("mount_md.bash");
    std::fs::write(&file, script("bash")).unwrap();
    let c = |words: &[&str]| bash_complete(&file, tmp.path(), words);
    assert_eq!(c(&["mount_md", "-"]), table(Mode::Mount, "-"));
    assert_eq!(c(&["mount_md", "-X", "-u", "-"]), table(Mode::Release, "-"));
    assert_eq!(c(&["mount_md", "-fu", "-"]), table(Mode::Release, "-"), "-u in a bundle");
    assert_eq!(c(&["mount_md", "-r", "-s", "2g", "-"]), table(Mode::Grow, "-"));
    assert_eq!(c(&["mount_md", "--list", "--"]), table(Mode::List, "--"));
    let helper: BTreeSet<String> = HELPER_FLAGS.iter().map(word).collect();
    assert_eq!(c(&["mount.md", "md", "/mnt", "-"]), helper);
}

#[test]
fn bash_completes_partial_options_and_their_values() {
    let tmp = TempDir::new("bash-completion");
    let file = tmp.join("mount_md.bash");
    std::fs::write(&file, script("bash")).unwrap();
    std::fs::write(tmp.join("j1.img"), b"").unwrap();
    tmp.dir("jails");
    let c = |words: &[&str]| bash_complete(&file, tmp.path(), words);
    assert_eq!(c(&["mount_md", "--fs"]), set(&["--fsck="]));
    assert_eq!(c(&["mount_md", "--re"]), set(&["--reformat"]));
    assert_eq!(c(&["mount_md", "--list", "--j"]), set(&["--json"]));
    // bash splits at `=` (COMP_WORDBREAKS): the value alone is completed
    assert_eq!(c(&["mount_md", "--fsck", "=", "a"]), set(&["auto", "always"]));
    assert_eq!(c(&["mount_md", "--fsck", "="]), set(&["auto", "always", "never"]));
    assert_eq!(c(&["mount_md", "--create", "=", ""]), set(&["reserve", "sparse"]));
    // ... unless `=` is not a word break: the whole word
    assert_eq!(c(&["mount_md", "--fsck=n"]), set(&["--fsck=never"]));
    assert_eq!(c(&["mount_md", "--completion", "=", "z"]), set(&["zsh"]));
    // paths: -F a file, the mount point a directory, -u any of them
    assert_eq!(c(&["mount_md", "-P", "-F", "j"]), set(&["j1.img", "jails"]));
    assert_eq!(c(&["mount_md", "-Fj1"]), set(&["-Fj1.img"]));
    assert_eq!(c(&["mount_md", "-P", "-F", "j1.img", "md", "j"]), set(&["jails"]));
    assert_eq!(c(&["mount_md", "-P", "-F", "j1.img", ""]), set(&["md"]));
    assert_eq!(c(&["mount_md", "-u", "j"]), set(&["j1.img", "jails"]));
    // -T: ufs and what mkfs.TYPE exists for
    let types = c(&["mount_md", "-T", ""]);
    assert!(types.contains("ufs"), "{types:?}");
    if crate::support::mkfs_ext4().is_some() {
        assert!(types.contains("ext4"), "{types:?}");
    }
    // mount.md: the -o list's last item is a mount_md option
    assert_eq!(c(&["mount.md", "md", "/mnt", "-o", "rw,-P,--fs"]), set(&["rw,-P,--fsck="]));
    assert_eq!(c(&["mount.md", "md", "/mnt", "-o", "rw,--fsck=n"]), set(&["rw,--fsck=never"]));
    assert_eq!(c(&["mount.md", "md", "/mnt", "-o", "rw,-F=j1"]), set(&["rw,-F=j1.img"]));
    assert_eq!(c(&["mount.md", "md", "j"]), set(&["jails"]));
}

#[test]
fn zsh_script_parses_and_names_every_option() {
    let tmp = TempDir::new("zsh-completion");
    let z = script("zsh");
    assert!(z.starts_with("#compdef mount_md mount.md\n"), "autoloaded by compinit for both names");
    let file = tmp.join("_mount_md");
    std::fs::write(&file, &z).unwrap();
    let out = Command::new("zsh")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("zsh: {e} (install zsh; tests/run does)"));
    assert!(out.status.success(), "zsh -n: {}", String::from_utf8_lossy(&out.stderr));
    for f in FLAGS.iter().chain(HELPER_FLAGS) {
        let name = f.name();
        let spec = [format!("'{name}["), format!("'{name}+["), format!("'{name}=-[")];
        assert!(spec.iter().any(|s| z.contains(s.as_str())), "{name} is not completed by zsh");
    }
    // compinit finds it for both names.
    let out = Command::new("zsh")
        .arg("-f")
        .arg("-c")
        .arg(format!(
            "fpath=({} $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[mount_md] $_comps[mount.md]",
            tmp.path().display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "_mount_md _mount_md", "{out:?}");
}

#[test]
fn unknown_shell_is_one_line() {
    let out = Command::new(bin()).arg("--completion=fish").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "mount_md: --completion: unknown shell 'fish' (bash or zsh)\n");
    assert!(out.stdout.is_empty());
}
