//! usage() texts, generated from [`super::flags`]: mount_md's lists every
//! mode; `mount.md`'s is util-linux's documented helper synopsis.
use super::flags;
use crate::flavor::Flavor;

/// The usage text for `prog`, ending in a newline.
pub fn usage_text(flavor: Flavor, prog: &str) -> String {
    match flavor {
        Flavor::LinuxHelper => flags::helper_usage(prog),
        _ => flags::usage(prog),
    }
}

/// `--help`.
pub fn help_text(flavor: Flavor, prog: &str) -> String {
    match flavor {
        Flavor::LinuxHelper => {
            let mut out = flags::helper_usage(prog);
            out.push_str("\nhelper options:\n");
            for f in flags::HELPER_FLAGS {
                out.push_str(&flags::help_line(&flags::spelled(f), f.help));
            }
            out.push_str("\nmount_md options in the -o list:\n\n");
            out.push_str(&flags::help("mount_md"));
            out
        }
        _ => flags::help(prog),
    }
}
