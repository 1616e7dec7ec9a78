//! The Linux recipes of doc/recipes.md, run as written (with the paths
//! moved into a scratch directory): the fstab line through util-linux
//! `mount -a -T`, twice, and through systemd-fstab-generator (its unit must
//! pass `systemd-analyze verify` and be ordered after the image's
//! directory); the systemd unit through `systemd-analyze verify` and the
//! very mount command systemd runs for a `.mount` unit. Needs systemd's
//! tools (tests/run installs them).
use crate::support::*;
use std::path::Path;
use std::process::Command;

const RECIPES: &str = include_str!("../../doc/recipes.md");
const DOC_DIR: &str = "/srv/ct/web1";
const DOC_IMG: &str = "/srv/images/web1.img";
const DOC_IMG_DIR: &str = "/srv/images";
const FSTAB_LINE: &str =
    "md /srv/ct/web1 md rw,noatime,-P,-F/srv/images/web1.img,x-systemd.requires-mounts-for=/srv/images 0 0";

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
    text.replace(DOC_DIR, &dir.display().to_string())
        .replace(DOC_IMG, &img.display().to_string())
        .replace(DOC_IMG_DIR, &img.parent().unwrap().display().to_string())
}

/// `systemd-analyze verify` on a unit file; its absence is a failure.
fn verify(unit_file: &Path) {
    let v = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit_file)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze: {e} (install systemd; tests/run does)"));
    assert!(
        v.status.success(),
        "systemd-analyze verify {}: {}{}",
        unit_file.display(),
        text(&v.stdout),
        text(&v.stderr)
    );
}

/// The boot-ordering option of the fstab recipe does what the doc says:
/// systemd-fstab-generator turns the doc's line into a unit that passes
/// `systemd-analyze verify` and carries `RequiresMountsFor=` the image's
/// directory. Needs no root: the generator only writes files.
#[test]
fn fstab_recipe_orders_after_the_image_directory() {
    let line = block_after("## Linux: a container root from /etc/fstab");
    assert_eq!(line, FSTAB_LINE);
    let generator = ["/usr/lib/systemd/system-generators", "/lib/systemd/system-generators"]
        .iter()
        .map(|d| Path::new(d).join("systemd-fstab-generator"))
        .find(|p| p.exists())
        .expect("systemd-fstab-generator (install systemd; tests/run does)");
    let tmp = TempDir::new("recipe-generator");
    let fstab = tmp.join("fstab");
    std::fs::write(&fstab, format!("{line}\n")).unwrap();
    let out_dirs: Vec<_> = ["normal", "early", "late"].iter().map(|d| tmp.dir(d)).collect();
    let out = Command::new(&generator)
        .args(&out_dirs)
        .env("SYSTEMD_FSTAB", &fstab)
        .env("SYSTEMD_PROC_CMDLINE", "")
        .env("SYSTEMD_LOG_LEVEL", "err")
        .output()
        .unwrap();
    assert!(out.status.success(), "systemd-fstab-generator: {}", text(&out.stderr));
    let unit_file = out_dirs[0].join("srv-ct-web1.mount");
    let unit = std::fs::read_to_string(&unit_file).expect("the generator wrote srv-ct-web1.mount");
    assert!(unit.lines().any(|l| l == format!("RequiresMountsFor={DOC_IMG_DIR}")), "{unit}");
    assert!(unit.lines().any(|l| l == "Type=md"), "{unit}");
    verify(&unit_file);
}

struct Setup {
    // Dropped last: the test runs alone (it makes mount namespaces).
    tmp: HelperDir,
    dir: std::path::PathBuf,
    img: std::path::PathBuf,
    _turn: std::sync::RwLockWriteGuard<'static, ()>,
}

fn setup(tag: &str) -> Option<Setup> {
    if let Some(why) = skip_reason() {
        skip(&why);
        return None;
    }
    let turn = alone_turn();
    let tmp = match HelperDir::new(tag) {
        Ok(h) => h,
        Err(why) => {
            skip(&why);
            return None;
        }
    };
    let img = tmp.join("web1.img");
    make_image(&img, 32 << 20, true);
    let dir = tmp.dir("ct/web1");
    Some(Setup { tmp, dir, img, _turn: turn })
}

#[test]
fn fstab_recipe_with_mount_a_twice() {
    let Some(s) = setup("recipe-fstab") else { return };
    let line = block_after("## Linux: a container root from /etc/fstab");
    assert_eq!(line, FSTAB_LINE);
    let fstab = s.tmp.join("fstab");
    std::fs::write(&fstab, moved(&line, &s.dir, &s.img) + "\n").unwrap();
    let mut loops = LoopGuard::default();
    let guard = MountGuard(s.dir.clone());
    for round in 0..2 {
        let out = s.tmp.mount(args!["-a", "-T", fstab]);
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
    let doc_unit = block_after("## Linux: a systemd mount unit");
    assert!(
        doc_unit.lines().any(|l| l == format!("RequiresMountsFor={DOC_IMG_DIR}")),
        "the unit must be ordered after the image's directory:\n{doc_unit}"
    );
    let unit = moved(&doc_unit, &s.dir, &s.img);
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
        verify(&unit_file);
    } else {
        panic!("systemd-escape not found (install systemd; tests/run does)");
    }
    // What systemd runs to start a .mount unit, and to stop it.
    let mut loops = LoopGuard::default();
    let guard = MountGuard(s.dir.clone());
    let out = s.tmp.mount(args![what, wher, "-t", kind, "-o", options]);
    assert!(out.status.success(), "mount: {}", text(&out.stderr));
    let m = mount_at(&s.dir).expect("mounted");
    loops.record(&m.source, &s.img);
    assert_eq!(m.fstype, "ext4");
    unmount_and_check_no_leak(guard, &s.tmp);
}
