//! `-P` with `-s` smaller than the file system the image holds (a line
//! written before the image was grown): mounted at the file system's size,
//! with one warning naming what to update in the fstab line (issue 23).
use crate::support::*;

#[test]
fn a_p_line_with_a_smaller_s_mounts_at_the_file_systems_size() {
    require_loop!();
    let tmp = TempDir::new("larger-fs");
    let img = tmp.join("j.img");
    let mnt = tmp.dir("mnt");
    make_image(&img, 96 * MIB, true);
    let mut loops = LoopGuard::default();
    let out = run(&bin(), args!["-P", "-s", "64m", "-F", img, "md", mnt]);
    ok(&out);
    let (guard, m) = mounted(&mnt, &img, &mut loops);
    assert_eq!(
        text(&out.stderr),
        format!(
            "mount_md: {}: its file system is 100663296 bytes, more than -s 67108864: mounted at its size; \
             update -s to 96m in the options (fourth field) of its fstab line\n",
            img.display()
        )
    );
    let dev = m.source.trim_start_matches("/dev/");
    let sectors: u64 = std::fs::read_to_string(format!("/sys/block/{dev}/size")).unwrap().trim().parse().unwrap();
    assert_eq!(sectors * 512, 96 * MIB);
    ok(&run(&bin(), args!["-u", mnt]));
    drop(guard);
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 96 * MIB, "the image is not cut");
    assert_nothing_left(&tmp);
}
