//! `-u` and `-r` on one image exclude each other (issue 23): `-u` takes
//! the image's lock that a mount and `-r` take, and `-r` takes it before
//! it opens the unit and reads the mounts again under it. Raced many
//! times, each round ends with the file system clean and either grown
//! (and released) or released as it was, never an image larger than its
//! file system, and no message blaming another mount namespace.
use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The size of the file system in an image, as its superblock says
/// (ext4: `s_blocks_count` × block size; XFS: `sb_dblocks` × `sb_blocksize`).
fn fs_size(image: &Path, fstype: &str) -> u64 {
    let b = std::fs::read(image).map(|b| b[..4096].to_vec()).unwrap();
    let le = |at: usize| u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()));
    match fstype {
        "ext4" => le(1024 + 4) * (1024 << le(1024 + 0x18)),
        _ => {
            let block = u64::from(u32::from_be_bytes(b[4..8].try_into().unwrap()));
            u64::from_be_bytes(b[8..16].try_into().unwrap()) * block
        }
    }
}

fn clean(image: &Path, fstype: &str) -> Result<(), String> {
    let out = match fstype {
        "ext4" => Command::new(tool("e2fsck").unwrap()).args(["-f", "-n"]).arg(image).output(),
        _ => Command::new(tool("xfs_repair").unwrap()).args(["-n", "-f"]).arg(image).output(),
    }
    .unwrap();
    match out.status.success() {
        true => Ok(()),
        false => Err(format!("{}{}", text(&out.stdout), text(&out.stderr))),
    }
}

fn spawn(args: &[&std::ffi::OsStr]) -> std::process::Child {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mount_md")
}

/// XFS grows online with CAP_SYS_ADMIN alone; a mounted ext4 needs
/// CAP_SYS_RESOURCE too, which some hosts drop even for root: there the
/// ext4 rounds grow only offline, once `-u` went first.
#[test]
fn u_and_r_raced_never_leave_an_xfs_grow_half_done() {
    require_loop!();
    require_tools!("mkfs.xfs", "xfs_growfs", "xfs_repair");
    require_kernel_fs!("xfs");
    race("xfs", 320 * MIB, &[]);
}

#[test]
fn u_and_r_raced_never_leave_an_ext4_grow_half_done() {
    require_loop!();
    require_tools!("mkfs.ext4", "e2fsck", "resize2fs");
    // 4 KiB blocks: one block group up to 128 MiB, so every size below
    // is one the grower fills exactly.
    race("ext4", 40 * MIB, &["-b", "4096"]);
}

fn race(fstype: &str, start: u64, mkfs: &[&str]) {
    let tmp = TempDir::new(&format!("u-r-race-{fstype}"));
    let image = tmp.join("img");
    let dir = tmp.dir("mnt");
    let f = std::fs::File::create(&image).unwrap();
    f.set_len(start).unwrap();
    drop(f);
    let flag = if fstype == "ext4" { "-F" } else { "-f" };
    let mkfs_prog = tool(&format!("mkfs.{fstype}")).unwrap();
    let st = Command::new(mkfs_prog).args(["-q", flag]).args(mkfs).arg(&image).status().unwrap();
    assert!(st.success());
    let mut loops = LoopGuard::default();
    let mut outcomes = [0usize; 2];
    for round in 0..24u64 {
        let before = std::fs::metadata(&image).unwrap().len();
        ok(&run(&bin(), args!["-P", "-F", &image, "md", &dir]));
        let (guard, _) = mounted(&dir, &image, &mut loops);
        let target = before + 2 * MIB;
        let size = format!("{}k", target / 1024);
        // -r by the mount point and by the image in turn, and each of
        // the two started first in turn, a few milliseconds apart.
        let r_target: &std::ffi::OsStr = if round % 2 == 0 { dir.as_os_str() } else { image.as_os_str() };
        let gap = Duration::from_millis(round % 7);
        let (r, u) = if round % 3 == 0 {
            let u = spawn(args!["-u", &dir]);
            std::thread::sleep(gap);
            (spawn(args!["-r", "-s", &size, r_target]), u)
        } else {
            let r = spawn(args!["-r", "-s", &size, r_target]);
            std::thread::sleep(gap);
            (r, spawn(args!["-u", &dir]))
        };
        let (r, u) = (r.wait_with_output().unwrap(), u.wait_with_output().unwrap());
        let said = format!("round {round}: -r said: {} -u said: {}", text(&r.stderr), text(&u.stderr));
        assert!(u.status.success(), "{said}");
        assert!(!text(&r.stderr).contains("namespace"), "{said}");
        assert!(mount_at(&dir).is_none(), "{said}");
        assert_eq!(wait_no_loops(tmp.path(), SETTLE), Vec::<String>::new(), "{said}");
        drop(guard);
        let (len, fs) = (std::fs::metadata(&image).unwrap().len(), fs_size(&image, fstype));
        // Grown, or as it was: never an image larger than its file system.
        assert_eq!(len, fs, "{said}");
        if r.status.success() {
            assert_eq!(fs, target, "{said}");
            outcomes[0] += 1;
        } else {
            assert_eq!(fs, before, "{said}");
            assert!(text(&r.stderr).contains("nothing changed"), "{said}");
            outcomes[1] += 1;
        }
        if let Err(e) = clean(&image, fstype) {
            panic!("{said}; the checker says: {e}");
        }
    }
    eprintln!("u_and_r_raced ({fstype}): {} grown, {} refused with nothing changed", outcomes[0], outcomes[1]);
    assert_nothing_left(&tmp);
}
