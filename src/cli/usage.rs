//! usage() texts. mdmfs's current text, with `-T` (which mdmfs accepts but
//! forgot to list), and util-linux's documented helper synopsis for
//! `mount.md`.
use crate::flavor::Flavor;

/// The usage text for `prog`, ending in a newline.
pub fn usage_text(flavor: Flavor, prog: &str) -> String {
    match flavor {
        Flavor::LinuxHelper => format!(
            "usage: {prog} md-device mount-point [-fnsv] [-N namespace] [-o options] [-t type]\n\
             \toptions: mount options and mdmfs options, comma-separated: rw,noatime,-P,-F/path/to/image\n"
        ),
        _ => format!(
            "usage: {prog} [-DLlMNnPStUX] [-a maxcontig] [-b block-size]\n\
             \t[-c blocks-per-cylinder-group][-d max-extent-size] [-E path-mdconfig]\n\
             \t[-e maxbpg] [-F file] [-f frag-size] [-i bytes] [-k skel]\n\
             \t[-m percent-free] [-O optimization] [-o mount-options]\n\
             \t[-p permissions] [-s size] [-T fstype] [-v version] [-w user:group]\n\
             \tmd-device mount-point\n"
        ),
    }
}
