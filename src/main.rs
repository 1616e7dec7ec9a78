//! mount_md, mdmfs, mount_mfs, mfs, mount.md: one binary, chosen by name.
fn main() {
    std::process::exit(mount_md::run::main());
}
