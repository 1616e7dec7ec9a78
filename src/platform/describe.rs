//! The parts of `-N` and `-X` lines both systems write alike.
use super::Device;
use crate::plan::Examine;
use crate::request::FsckPolicy;

/// A flag set as the C headers spell one: the names of the flags set,
/// joined by `|`; `0` when none is.
pub fn flag_set<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        "0".to_string()
    } else {
        names.join("|")
    }
}

/// `/dev/md3`, or `<prefix>?` when the unit is not known yet.
pub fn device_name(prefix: &str, dev: Option<&Device>) -> String {
    dev.map_or_else(|| format!("{prefix}?"), |d| d.path.display().to_string())
}

/// The checker's flags: preen (`-p`), and with `force` (`--fsck=always`)
/// `-f`, without which e2fsck and fsck_ufs skip a file system marked clean.
/// Shared by e2fsck and fsck_ufs, which spell both alike.
pub fn checker_flags(force: bool) -> &'static [&'static str] {
    if force {
        &["-f", "-p"]
    } else {
        &["-p"]
    }
}

/// What an [`Examine`] step does, with the checker's program filled in.
pub fn examine(e: &Examine, name: &str, checker: &str) -> String {
    let run = |force| format!("{checker} {} {name}", checker_flags(force).join(" "));
    match e {
        Examine::BeforeFormat => format!("pread({name}, 4096, 0): refuse to format over a file system"),
        Examine::BeforeMount(FsckPolicy::Auto) => {
            format!("pread({name}, 4096, 0); {} only if it is not clean", run(false))
        }
        Examine::BeforeMount(FsckPolicy::Always) => run(true),
        Examine::BeforeMount(FsckPolicy::Never) => {
            format!("pread({name}, 4096, 0): warn if it is not clean (--fsck=never)")
        }
    }
}
