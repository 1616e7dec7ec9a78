//! The Linux recipes of doc/recipes.md, run as written (with the paths
//! moved into a scratch directory): the fstab line through util-linux
//! `mount -a -T`, twice, and the systemd unit through `systemd-analyze
//! verify` and the very mount command systemd runs for a `.mount` unit.
#![cfg(target_os = "linux")]

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

const RECIPES: &str = include_str!("../doc/recipes.md");
const DOC_DIR: &str = "/srv/ct/web1";
const DOC_IMG: &str = "/srv/images/web1.img";

/// The indented block that follows `heading` in doc/recipes.md.
fn block_after(heading: &str) -> String {
    let start = RECIPES.find(heading).unwrap_or_else(|| panic!("doc/recipes.md has no {heading:?}"));
    RECIPES[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with("    "))
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn moved(text: &str, dir: &Path, img: &Path) -> String {
    text.replace(DOC_DIR, &dir.display().to_string()).replace(DOC_IMG, &img.display().to_string())
}

struct Setup {
    tmp: TempDir,
    _helper: HelperTurn,
    dir: std::path::PathBuf,
    img: std::path::PathBuf,
}

fn setup(tag: &str) -> Option<Setup> {
    if let Some(why) = skip_reason() {
        skip(&why);
        return None;
    }
    let helper = match helper_turn() {
        Ok(h) => h,
        Err(why) => {
            skip(&why);
            return None;
        }
    };
    let tmp = TempDir::new(tag);
    let img = tmp.join("web1.img");
    make_image(&img, 32 << 20, true);
    let dir = tmp.dir("ct/web1");
    Some(Setup { tmp, _helper: helper, dir, img })
}

#[test]
fn fstab_recipe_with_mount_a_twice() {
    let Some(s) = setup("recipe-fstab") else { return };
    let line = block_after("## Linux: a container root from /etc/fstab");
    assert_eq!(line, format!("md {DOC_DIR} md rw,noatime,-P,-F{DOC_IMG} 0 0"));
    let fstab = s.tmp.join("fstab");
    std::fs::write(&fstab, moved(&line, &s.dir, &s.img) + "\n").unwrap();
    let mut loops = LoopGuard::default();
    let guard = MountGuard(s.dir.clone());
    for round in 0..2 {
        let out = Command::new("mount").arg("-a").arg("-T").arg(&fstab).output().unwrap();
        assert!(out.status.success(), "mount -a (round {round}): {}", text(&out.stderr));
    }
    let m = mount_at(&s.dir).expect("mounted by mount -a");
    loops.record(&m.source, &s.img);
    assert!(m.options.split(',').any(|o| o == "noatime"), "{}", m.options);
    assert_eq!(loops_backed_by(&s.img).len(), 1, "mount -a twice attached the image once");
    let stacked = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(&s.dir.display().to_string()))
        .count();
    assert_eq!(stacked, 1, "no second mount on top");
    unmount_and_check_no_leak(guard, &s.tmp);
}

#[test]
fn systemd_unit_recipe() {
    let Some(s) = setup("recipe-systemd") else { return };
    let unit = moved(&block_after("## Linux: a systemd mount unit"), &s.dir, &s.img);
    let field = |k: &str| {
        unit.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or_else(|| panic!("no {k}=")).to_string()
    };
    let (what, wher, kind, options) = (field("What"), field("Where"), field("Type"), field("Options"));
    assert_eq!(Path::new(&wher), s.dir.as_path());
    // The unit file must be named after its mount point, as the doc says.
    if let Ok(out) = Command::new("systemd-escape").args(["--path", "--suffix=mount"]).arg(&s.dir).output() {
        let name = text(&out.stdout).trim().to_string();
        let unit_file = s.tmp.join(&name);
        std::fs::write(&unit_file, &unit).unwrap();
        match Command::new("systemd-analyze").arg("verify").arg(&unit_file).output() {
            Ok(v) => assert!(v.status.success(), "systemd-analyze verify: {}{}", text(&v.stdout), text(&v.stderr)),
            Err(_) => eprintln!("note: systemd-analyze not found; unit syntax not verified"),
        }
    }
    // What systemd runs to start a .mount unit, and to stop it.
    let mut loops = LoopGuard::default();
    let guard = MountGuard(s.dir.clone());
    let out = Command::new("mount").arg(&what).arg(&wher).args(["-t", &kind, "-o", &options]).output().unwrap();
    assert!(out.status.success(), "mount: {}", text(&out.stderr));
    let m = mount_at(&s.dir).expect("mounted");
    loops.record(&m.source, &s.img);
    assert_eq!(m.fstype, "ext4");
    unmount_and_check_no_leak(guard, &s.tmp);
}
