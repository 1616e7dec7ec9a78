//! What admins look at (issue 24), for real on Linux: messages that name
//! the next step (an empty image with -P, a file system larger than its
//! disk).
use crate::support::*;

/// `-P` on an image that holds only zeros: it is empty, and the message
/// says to drop -P (or use --create), for the run and for -N alike;
/// nothing is attached.
#[test]
fn an_all_zero_image_with_p_is_called_empty() {
    require_loop!();
    let tmp = TempDir::new("admin-empty");
    let img = tmp.join("zero.img");
    make_image(&img, 16 * MIB, false);
    let mnt = tmp.dir("mnt");
    for extra in [None, Some("-N")] {
        let mut args: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
        args.extend(args!["-P", "-F", img, "md", mnt]);
        let out = run(&bin(), &args);
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert_eq!(
            err.trim(),
            format!(
                "mount_md: {}: is empty (all zeros where a file system begins): there is nothing to mount; \
                 drop -P to format it, or use --create to make and format a missing image",
                img.display()
            )
        );
        assert_nothing_left(&tmp);
    }
}

/// A file system larger than the disk `-s` makes: refused before the
/// mount, naming both sizes and the fix.
#[test]
fn a_file_system_larger_than_its_disk_names_both_sizes() {
    require_loop!();
    let tmp = TempDir::new("admin-larger");
    let img = tmp.join("big.img");
    make_image(&img, 64 * MIB, true);
    let mnt = tmp.dir("mnt");
    for extra in [None, Some("-N")] {
        let mut args: Vec<&std::ffi::OsStr> = extra.iter().map(std::ffi::OsStr::new).collect();
        args.extend(args!["-P", "-s", "32m", "-F", img, "md", mnt]);
        let out = run(&bin(), &args);
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert_eq!(
            err.trim(),
            format!(
                "mount_md: {}: its ext4 file system spans 64M (67108864 bytes), more than the 32M (33554432 bytes) \
                 disk -s makes; give -s 67108864 or more (drop -s to use the image's size, mount_md -r grows it)",
                img.display()
            )
        );
        assert_nothing_left(&tmp);
    }
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 64 * MIB, "the image is as it was");
}
