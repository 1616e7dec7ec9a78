//! The one table of command-line options. The getopt strings, the long
//! option lists, the usage and `--help` texts and the shell completions
//! ([`super::complete`]) are generated from it, and
//! `tests/repo/manpage.rs` checks the man page against it, so an option is
//! spelled once here and once in its `match` arm.
use super::getopt::{LongArg, Opt};
use crate::flavor::Flavor;

/// What a command line asks mount_md to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Attach and mount (mdmfs's only mode).
    Mount,
    /// `-u`: unmount and detach.
    Release,
    /// `-r`: grow an image.
    Grow,
    /// `--list`: what mount_md has attached.
    List,
}

impl Mode {
    const fn bit(self) -> u8 {
        1 << self as u8
    }

    /// Every mode, the default (Mount) first.
    pub const ALL: [Mode; 4] = [Mode::Mount, Mode::Release, Mode::Grow, Mode::List];
}

const MOUNT: u8 = Mode::Mount.bit();
const RELEASE: u8 = Mode::Release.bit();
const GROW: u8 = Mode::Grow.bit();
const LIST: u8 = Mode::List.bit();
const EVERY: u8 = MOUNT | RELEASE | GROW | LIST;

/// Whether an option takes an argument, and its name in the usage text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    /// `-x value`, `--name=value`.
    Required(&'static str),
    /// `--name[=value]` (long options only).
    Optional(&'static str),
}

/// One option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The letter, for a short option.
    pub short: Option<char>,
    /// The name without `--`, for a long option.
    pub long: Option<&'static str>,
    pub arg: Arg,
    /// The modes it is valid in (bits of [`Mode`]).
    modes: u8,
    /// Giving it selects this mode (`-u`, `-r`, `--list`).
    pub selects: Option<Mode>,
    /// One line for `--help`.
    pub help: &'static str,
}

impl Flag {
    pub fn valid_in(&self, mode: Mode) -> bool {
        self.modes & mode.bit() != 0
    }

    /// `-x` or `--name`, as messages show it.
    pub fn name(&self) -> String {
        self.short.map_or_else(|| format!("--{}", self.long.unwrap_or_default()), |c| format!("-{c}"))
    }

    /// Whether the option occurrence `opt` is this flag.
    fn is(&self, opt: &Opt) -> bool {
        match opt.long {
            Some(l) => self.long == Some(l),
            None => self.short == Some(opt.letter),
        }
    }
}

const fn short(c: char, arg: Arg, modes: u8, help: &'static str) -> Flag {
    Flag { short: Some(c), long: None, arg, modes, selects: None, help }
}

const fn long(name: &'static str, arg: Arg, modes: u8, help: &'static str) -> Flag {
    Flag { short: None, long: Some(name), arg, modes, selects: None, help }
}

const fn mode_flag(short_: Option<char>, long_: Option<&'static str>, mode: Mode, help: &'static str) -> Flag {
    Flag { short: short_, long: long_, arg: Arg::None, modes: mode.bit(), selects: Some(mode), help }
}

use Arg::{None as N, Optional as Opt_, Required as R};

/// Every option of mount_md/mdmfs/mount_mfs, in mdmfs's getopt order for
/// the mount mode (`a:b:Cc:Dd:E:e:F:f:hi:k:LlMm:NnO:o:Pp:Ss:tT:Uv:w:X`).
/// A letter may appear twice when it means different things in different
/// modes (`-f frag-size` when mounting, `-f` force with `-u`).
pub const FLAGS: &[Flag] = &[
    short('a', R("maxcontig"), MOUNT, "newfs -a"),
    short('b', R("block-size"), MOUNT, "file system block size (newfs/mkfs -b)"),
    short('C', N, MOUNT, "ignored, as in mdmfs"),
    short('c', R("blocks-per-cylinder-group"), MOUNT, "newfs -c"),
    short('D', N, MOUNT, "do not detach a fixed unit first"),
    short('d', R("max-extent-size"), MOUNT, "newfs -d"),
    short('E', R("path-mdconfig"), MOUNT, "ignored: mdconfig is never run"),
    short('e', R("maxbpg"), MOUNT, "newfs -e"),
    short('F', R("file"), MOUNT, "back the disk with this image file"),
    short('f', R("frag-size"), MOUNT, "newfs -f"),
    short('f', N, RELEASE, "with -u: unmount even if busy, detach even if open"),
    short('h', N, EVERY, "print the usage on standard error and exit 1 (as mdmfs)"),
    short('i', R("bytes"), MOUNT, "bytes per inode (newfs/mkfs -i)"),
    short('k', R("skel"), MOUNT, "copy this tree into the new file system"),
    short('L', N, MOUNT, "show the formatter's normal output"),
    short('l', N, MOUNT, "multilabel (newfs -l); keeps auto off tmpfs"),
    short('M', N, MOUNT, "back the disk with memory (default: swap)"),
    short('m', R("percent-free"), MOUNT, "reserved space (newfs/mkfs -m)"),
    short('N', N, MOUNT | RELEASE | GROW, "check everything, print the plan, change nothing"),
    short('n', N, MOUNT, "no .snap directory (newfs -n)"),
    short('O', R("optimization"), MOUNT, "newfs -o"),
    short('o', R("mount-options"), MOUNT, "mount options, comma-separated"),
    short('P', N, MOUNT, "keep the image's file system (do not format)"),
    short('p', R("permissions"), MOUNT, "mode of the mounted root"),
    mode_flag(Some('r'), None, Mode::Grow, "grow an image and its file system to -s size"),
    short('S', N, MOUNT, "no soft updates"),
    short('s', R("size"), MOUNT | GROW, "size of the disk"),
    short('t', N, MOUNT, "TRIM (newfs -t)"),
    short('T', R("fstype"), MOUNT, "file system type to make and mount"),
    short('U', N, MOUNT, "soft updates (the default)"),
    mode_flag(Some('u'), None, Mode::Release, "unmount and detach"),
    short('v', R("version"), MOUNT, "UFS version (newfs -O)"),
    short('w', R("user:group"), MOUNT, "owner of the mounted root"),
    short('X', N, MOUNT | RELEASE | GROW, "print a DEBUG: line per step"),
    long("create", Opt_("reserve|sparse"), MOUNT, "create a missing -F image of -s size"),
    long("from", R("base-image"), MOUNT, "with --create: make a missing image from this one, not by formatting"),
    long("clone", R("auto|require"), MOUNT, "with --from: clone or copy (auto), or clone only (require)"),
    long(
        "fsck",
        R("auto|always|never"),
        MOUNT,
        "check a file system marked not clean first (auto), every time, or never",
    ),
    long("reformat", N, MOUNT, "format even an image that holds a file system"),
    long("no-direct-io", N, MOUNT, "attach without direct I/O"),
    long("encrypt", R("luks2|geli"), MOUNT, "open the image through a crypt layer (LUKS2 on Linux, geli on FreeBSD)"),
    long("key-file", R("path"), MOUNT, "the crypt layer's key: a regular file of root's that no one else can access"),
    long(
        "kdf",
        R("argon2id:MEM:MS|argon2i:MEM:MS|pbkdf2:MS"),
        MOUNT,
        "with --create --encrypt=luks2: key derivation of the new header",
    ),
    mode_flag(None, Some("list"), Mode::List, "list what mount_md has attached"),
    long("json", N, LIST, "with --list: a JSON object, every size in bytes"),
    long("all", N, LIST, "with --list: units other tools attached too"),
    long("bytes", N, LIST, "with --list: sizes in bytes, not 1.5G"),
    long("help", N, EVERY, "print this help on standard output and exit 0"),
    long("version", N, EVERY, "print the version on standard output and exit 0"),
    long("completion", R("bash|zsh"), EVERY, "print the shell's completion script on standard output and exit 0"),
];

pub fn flags_for(mode: Mode) -> impl Iterator<Item = &'static Flag> {
    FLAGS.iter().filter(move |f| f.valid_in(mode))
}

pub(super) fn spec_of<'a>(flags: impl Iterator<Item = &'a Flag>) -> String {
    let mut s = String::new();
    for f in flags {
        let Some(c) = f.short.filter(|c| !s.contains(*c)) else { continue };
        s.push(c);
        if matches!(f.arg, Arg::Required(_)) {
            s.push(':');
        }
    }
    s
}

pub(super) fn longs_of<'a>(flags: impl Iterator<Item = &'a Flag>) -> Vec<(&'static str, LongArg)> {
    flags
        .filter_map(|f| {
            let kind = match f.arg {
                Arg::None => LongArg::No,
                Arg::Required(_) => LongArg::Required,
                Arg::Optional(_) => LongArg::Optional,
            };
            Some((f.long?, kind))
        })
        .collect()
}

pub fn spec(mode: Mode) -> String {
    spec_of(flags_for(mode))
}

pub fn longs(mode: Mode) -> Vec<(&'static str, LongArg)> {
    longs_of(flags_for(mode))
}

/// The mount mode's getopt string plus the letters that select another
/// mode: what a command line is read with to find out which mode it asks
/// for, so that a `u` inside `-F/usr/x.img` is an argument, not `-u`.
pub fn union_spec() -> String {
    spec_of(flags_for(Mode::Mount).chain(FLAGS.iter().filter(|f| f.selects.is_some())))
}

/// The flag an option occurrence is, in `mode`.
pub fn lookup(mode: Mode, opt: &Opt) -> Option<&'static Flag> {
    flags_for(mode).find(|f| f.is(opt))
}

/// The mode an option occurrence selects, if it is `-u`, `-r` or `--list`.
pub fn selected_mode(opt: &Opt) -> Option<(Mode, &'static Flag)> {
    FLAGS.iter().find_map(|f| f.selects.filter(|_| f.is(opt)).map(|m| (m, f)))
}

/// The flag that selects `mode` (`None` for Mount).
pub fn selector(mode: Mode) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.selects == Some(mode))
}

/// `-x arg` / `--name=value` / `--name[=value]`, as the usage (in
/// brackets) and `--help` show it.
fn spelled(f: &Flag) -> String {
    match (f.short, f.long, f.arg) {
        (Some(c), _, Arg::Required(a)) => format!("-{c} {a}"),
        (None, Some(l), Arg::Required(a)) => format!("--{l}={a}"),
        (None, Some(l), Arg::Optional(a)) => format!("--{l}[={a}]"),
        _ => f.name(),
    }
}

/// Words of one synopsis line for `mode`: the selecting flag, required
/// flags, the bundle of flags without argument, then the rest.
fn synopsis(mode: Mode) -> Vec<String> {
    let mut words: Vec<String> = selector(mode).map(Flag::name).into_iter().collect();
    let shown = |f: &&Flag| {
        f.selects.is_none() && !matches!(f.long, Some("help" | "version" | "completion")) && f.short != Some('h')
    };
    let mut bundle: Vec<char> =
        flags_for(mode).filter(shown).filter(|f| f.arg == Arg::None).filter_map(|f| f.short).collect();
    // BSD usage order: alphabetical, upper case before lower case.
    bundle.sort_by_key(|c| (c.to_ascii_lowercase(), c.is_ascii_lowercase()));
    if mode == Mode::Grow {
        words.push("-s size".into());
    }
    if !bundle.is_empty() {
        words.push(format!("[-{}]", bundle.iter().collect::<String>()));
    }
    // The rest: a letter with an argument (but -r's -s, required above) or a long option.
    let rest = |f: &&Flag| !(mode == Mode::Grow && f.short == Some('s')) && (f.arg != Arg::None || f.short.is_none());
    words.extend(flags_for(mode).filter(shown).filter(rest).map(|f| format!("[{}]", spelled(f))));
    match mode {
        Mode::Mount => words.extend(["md-device".to_string(), "mount-point".to_string()]),
        Mode::Release | Mode::Grow => words.push("mount-point|image|unit".into()),
        Mode::List => {}
    }
    words
}

/// `words` after `first`, a space apart, in lines of at most `width`
/// columns: a word that would pass it starts a new line (never the first
/// word), which begins with `indent`, `indent_cols` columns wide.
fn wrap<'a>(
    first: &str,
    words: impl IntoIterator<Item = &'a str>,
    width: usize,
    indent: &str,
    indent_cols: usize,
) -> String {
    let mut out = String::from(first);
    let mut col = first.len() - first.rfind('\n').map_or(0, |i| i + 1);
    for (i, w) in words.into_iter().enumerate() {
        if i > 0 && col + 1 + w.len() > width {
            out.push('\n');
            out.push_str(indent);
            col = indent_cols;
        } else {
            out.push(' ');
            col += 1;
        }
        out.push_str(w);
        col += w.len();
    }
    out.push('\n');
    out
}

/// The usage text of mount_md/mdmfs/mount_mfs: one synopsis per mode, then
/// `--help | --version`.
pub fn usage(prog: &str) -> String {
    let mut out = String::new();
    for (i, mode) in Mode::ALL.into_iter().enumerate() {
        let lead = if i == 0 { format!("usage: {prog}") } else { format!("       {prog}") };
        // BSD style: at most 76 columns, continuation lines start with a tab.
        out.push_str(&wrap(&lead, synopsis(mode).iter().map(String::as_str), 76, "\t", 8));
    }
    out.push_str(&format!("       {prog} --help | --version\n"));
    out.push_str(&format!("       {prog} --completion=bash|zsh\n"));
    out
}

/// `--help`: the usage, then one line per option.
pub fn help(prog: &str) -> String {
    let mut out = usage(prog);
    out.push_str("\noptions:\n");
    out.extend(FLAGS.iter().map(help_line));
    out.push_str("\nSee mount_md(8).\n");
    out
}

/// `  name   text` for `f` ([`spelled`], its help), the text wrapped at
/// 79 columns under itself.
fn help_line(f: &Flag) -> String {
    let name = format!("  {:<28}", spelled(f));
    // A name too long for its column has the line to itself.
    let first = if name.len() > 30 { format!("{name} \n{}", " ".repeat(30)) } else { name };
    wrap(&first, f.help.split(' '), 79, &" ".repeat(31), 31)
}

/// The options util-linux mount(8) gives a `mount.md` helper
/// (`mount.md spec dir [-sfnv] [-N namespace] [-o options] [-t type.subtype]`).
pub const HELPER_FLAGS: &[Flag] = &[
    short('f', N, MOUNT, "fake: check everything, change nothing"),
    short('h', N, MOUNT, "print the usage and exit 1"),
    short('n', N, MOUNT, "ignored (no mtab is written)"),
    short('N', R("namespace"), MOUNT, "mount in this mount namespace"),
    short('o', R("options"), MOUNT, "mount options and mount_md options, comma-separated"),
    short('s', N, MOUNT, "sloppy: retry without options the file system refuses"),
    short('t', R("type.subtype"), MOUNT, "md.TYPE: the file system type"),
    short('v', N, MOUNT, "verbose: DEBUG: lines"),
    long("help", N, MOUNT, "print this help on standard output and exit 0"),
    long("version", N, MOUNT, "print the version on standard output and exit 0"),
];

pub fn helper_usage(prog: &str) -> String {
    format!(
        "usage: {prog} md-device mount-point [-fnsv] [-N namespace] [-o options]\n\
         \t[-t type]\n\
         \t{prog} --help | --version\n\
         options: mount options and mount_md options, comma-separated\n\
         \t(rw,noatime,-P,-F/path/to/image); a comma inside a value in\n\
         \tdouble quotes (-F=\"/srv/a,b.img\")\n"
    )
}

pub fn version(prog: &str) -> String {
    format!("{prog} (mount_md) {}\n", env!("CARGO_PKG_VERSION"))
}

/// The usage text for `prog` (`mount.md`'s is util-linux's documented
/// helper synopsis), ending in a newline.
pub fn usage_text(flavor: Flavor, prog: &str) -> String {
    match flavor {
        Flavor::LinuxHelper => helper_usage(prog),
        _ => usage(prog),
    }
}

/// `--help`.
pub fn help_text(flavor: Flavor, prog: &str) -> String {
    match flavor {
        Flavor::LinuxHelper => {
            let mut out = helper_usage(prog);
            out.push_str("\nhelper options:\n");
            out.extend(HELPER_FLAGS.iter().map(help_line));
            out.push_str("\nmount_md options in the -o list:\n\n");
            out.push_str(&help("mount_md"));
            out
        }
        _ => help(prog),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_spec_is_mdmfs_letter_for_letter() {
        assert_eq!(spec(Mode::Mount), "a:b:Cc:Dd:E:e:F:f:hi:k:LlMm:NnO:o:Pp:Ss:tT:Uv:w:X");
        assert_eq!(spec(Mode::Release), "fhNuX");
        assert_eq!(spec(Mode::Grow), "hNrs:X");
        assert_eq!(spec(Mode::List), "h");
        assert_eq!(union_spec(), "a:b:Cc:Dd:E:e:F:f:hi:k:LlMm:NnO:o:Pp:Ss:tT:Uv:w:Xru");
        assert_eq!(spec_of(HELPER_FLAGS.iter()), "fhnN:o:st:v");
        assert!(helper_usage("mount.md").lines().all(|l| l.len() <= 79));
    }

    #[test]
    fn usage_lists_every_mode() {
        let u = usage("mount_md");
        // tests/core/cli.rs (usage_texts_by_name) looks for the -u, -r,
        // --list and --help lines and --create.
        for needle in
            ["mount_md --completion=bash|zsh\n", "[--fsck=auto|always|never]", "[--reformat]", "[--no-direct-io]"]
        {
            assert!(u.contains(needle), "{needle} missing from\n{u}");
        }
        assert!(u.lines().all(|l| l.len() <= 80), "{u}");
        let h = help("mount_md");
        assert!(h.lines().all(|l| l.len() <= 79), "{h}");
        let flat = h.split_whitespace().collect::<Vec<_>>().join(" ");
        for f in FLAGS {
            assert!(flat.contains(f.help), "{:?} missing from --help", f.name());
        }
    }
}
