//! The crypt layer (`--encrypt`): what sits between the attached unit and
//! the file system, as pure functions — the names mount_md gives it, the
//! rules a key file must meet, how a LUKS header is recognised, and the
//! argument vectors of the two tools that do the work:
//!
//! * Linux: cryptsetup(8) with a LUKS2 header, a device-mapper target named
//!   [`dm_name`] (`mount_md-` and the hash of the mount point);
//! * FreeBSD: geli(8) (sbin/geom/class/eli/geom_eli.c), whose provider is
//!   the unit's name and `.eli` (`md3.eli`).
//!
//! The key never appears in an argument vector: both tools read it from
//! their standard input (`--key-file -` for cryptsetup; `-k -` and `-j -`
//! for geli, geom_eli.c `eli_genkey_files`: a file named `-` is
//! `STDIN_FILENO`), and mount_md hands them either the key file it opened
//! and checked or a pipe holding the typed passphrase.
#![forbid(unsafe_code)]
use crate::grow_ops::words;
use std::ffi::OsString;
use std::path::Path;

/// Which header a `--encrypt` image carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// LUKS2, opened by cryptsetup as a dm-crypt target (Linux).
    Luks2,
    /// geli metadata in the unit's last sector (FreeBSD).
    Geli,
}

impl Scheme {
    /// `--encrypt=` values.
    pub fn parse(s: &str) -> Result<Scheme, String> {
        match s {
            "luks2" => Ok(Scheme::Luks2),
            "geli" => Ok(Scheme::Geli),
            _ => Err(format!("--encrypt={s}: expected luks2 (Linux) or geli (FreeBSD)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scheme::Luks2 => "luks2",
            Scheme::Geli => "geli",
        }
    }
}

/// `--encrypt=SCHEME`, `--key-file=PATH`, `--kdf=KDF` of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypt {
    pub scheme: Scheme,
    /// Where the key is; `None`: ask for a passphrase on the terminal.
    pub key_file: Option<std::path::PathBuf>,
    /// For a header `--create` writes; `None`: the tool's default.
    pub kdf: Option<Kdf>,
}

/// The key derivation `--create` asks cryptsetup for (`--kdf=`). Left out,
/// cryptsetup chooses: argon2id, benchmarked to 2 s of unlock time and up
/// to 1 GiB of memory (libcryptsetup's `DEFAULT_LUKS2_ITER_TIME`,
/// `DEFAULT_LUKS2_MEMORY_KB`), which every mount pays again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// `argon2id:MEMORY:MS` or `argon2i:MEMORY:MS`: memory in KiB, and the
    /// unlock time in milliseconds cryptsetup benchmarks the iterations to.
    Argon2 { id: bool, memory_kib: u32, time_ms: u32 },
    /// `pbkdf2:MS`: PBKDF2-SHA256, iterations benchmarked to that time.
    Pbkdf2 { time_ms: u32 },
}

/// Argon2 memory bounds cryptsetup accepts (lib/utils_pbkdf.c
/// `verify_pbkdf_params`: 32 KiB to 4 GiB).
pub const ARGON2_MEMORY_KIB: (u32, u32) = (32, 4 * 1024 * 1024);
/// Unlock time bounds mount_md accepts, in milliseconds: a KDF that takes
/// more than a minute per mount is a mistake at boot.
pub const KDF_TIME_MS: (u32, u32) = (1, 60_000);

fn number(what: &str, s: &str, (lo, hi): (u32, u32)) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|_| format!("{what} {s:?} is not a number"))?;
    if n < lo || n > hi {
        return Err(format!("{what} {n} is out of range ({lo} to {hi})"));
    }
    Ok(n)
}

/// A memory size for argon2: KiB, or with a `k`, `m` or `g` suffix.
fn memory(s: &str) -> Result<u32, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 0),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 10),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 20),
        _ => (s, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("memory {s:?} is not a size"))?;
    let kib = n.checked_shl(shift).filter(|k| *k >> shift == n).unwrap_or(u64::MAX);
    let (lo, hi) = ARGON2_MEMORY_KIB;
    if kib < u64::from(lo) || kib > u64::from(hi) {
        return Err(format!("memory {s} is out of range (32k to 4g)"));
    }
    Ok(kib as u32)
}

impl Kdf {
    /// Parses `--kdf=`: `argon2id:MEMORY:MS`, `argon2i:MEMORY:MS` or
    /// `pbkdf2:MS` (colons, since fstab options are split at commas).
    pub fn parse(s: &str) -> Result<Kdf, String> {
        let bad = |why: String| format!("--kdf={s}: {why}");
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            [kind @ ("argon2id" | "argon2i"), mem, ms] => Ok(Kdf::Argon2 {
                id: *kind == "argon2id",
                memory_kib: memory(mem).map_err(bad)?,
                time_ms: number("time", ms, KDF_TIME_MS).map_err(bad)?,
            }),
            ["pbkdf2", ms] => Ok(Kdf::Pbkdf2 { time_ms: number("time", ms, KDF_TIME_MS).map_err(bad)? }),
            _ => Err(bad("expected argon2id:MEMORY:MS, argon2i:MEMORY:MS or pbkdf2:MS".to_string())),
        }
    }

    /// cryptsetup's options for it.
    pub fn cryptsetup_args(&self) -> Vec<String> {
        match *self {
            Kdf::Argon2 { id, memory_kib, time_ms } => vec![
                "--pbkdf".into(),
                if id { "argon2id" } else { "argon2i" }.into(),
                "--pbkdf-memory".into(),
                memory_kib.to_string(),
                "--iter-time".into(),
                time_ms.to_string(),
            ],
            Kdf::Pbkdf2 { time_ms } => {
                vec!["--pbkdf".into(), "pbkdf2".into(), "--iter-time".into(), time_ms.to_string()]
            }
        }
    }
}

/// What every device-mapper name mount_md gives begins with.
pub const DM_PREFIX: &str = "mount_md-";

/// The device-mapper name of the crypt layer for `mount_point`:
/// `mount_md-` and the 16 hex digits of the mount point's 64-bit FNV-1a
/// hash ([`crate::mark::hash`], the hash cut marks carry). A mount point
/// can be longer than a dm name may be (128 bytes, linux/dm-ioctl.h
/// `DM_NAME_LEN`) and hold any byte but NUL; the hash is always 25 ASCII
/// characters. The name ties the layer to its mount point; ownership is
/// proven by what lies under it: a loop unit carrying mount_md's mark for
/// that same mount point ([`names`]).
pub fn dm_name(mount_point: &[u8]) -> String {
    format!("{DM_PREFIX}{:016x}", crate::mark::hash(mount_point))
}

/// Whether `name` has the shape of a name [`dm_name`] makes.
pub fn is_ours_name(name: &[u8]) -> bool {
    name.strip_prefix(DM_PREFIX.as_bytes())
        .is_some_and(|hex| hex.len() == 16 && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// Whether the dm name `name` is the one mount_md gives `mount_point`.
pub fn names(name: &[u8], mount_point: &[u8]) -> bool {
    name == dm_name(mount_point).as_bytes()
}

/// The geli provider on a unit (`md3` → `md3.eli`; geom_eli's
/// `G_ELI_SUFFIX`).
pub fn geli_provider(unit_name: &str) -> String {
    format!("{unit_name}.eli")
}

/// A key file as fstat(2) saw it, through the descriptor mount_md opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFileStat {
    pub regular: bool,
    pub uid: u32,
    /// `st_mode & 07777`.
    pub mode: u32,
    pub size: u64,
}

/// The largest key file cryptsetup reads whole (lib/setup.c
/// `DEFAULT_KEYFILE_SIZE_MAXKB`, 8 MiB).
pub const KEY_FILE_MAX: u64 = 8 * 1024 * 1024;

/// Why a key file is refused, or `None`: it must be a regular file, owned
/// by root, give group and others no access at all, and hold 1 byte to
/// 8 MiB.
pub fn key_file_problem(st: &KeyFileStat) -> Option<String> {
    if !st.regular {
        return Some("is not a regular file".to_string());
    }
    if st.uid != 0 {
        return Some(format!("is owned by uid {}, not root", st.uid));
    }
    if st.mode & 0o077 != 0 {
        return Some(format!("has mode {:04o}: group and others must have no access (chmod 600)", st.mode & 0o7777));
    }
    if st.size == 0 {
        return Some("is empty".to_string());
    }
    if st.size > KEY_FILE_MAX {
        return Some(format!("is larger than 8 MiB ({} bytes)", st.size));
    }
    None
}

/// The LUKS magic (cryptsetup lib/luks2/luks2.h `LUKS2_MAGIC_1ST`).
pub const LUKS_MAGIC: &[u8; 6] = b"LUKS\xba\xbe";

/// The LUKS version of the header at the start of `buf`, if it holds one
/// (the 16-bit big-endian version follows the 6-byte magic).
pub fn luks_version(buf: &[u8]) -> Option<u16> {
    (buf.len() >= 8 && buf.starts_with(LUKS_MAGIC)).then(|| u16::from_be_bytes([buf[6], buf[7]]))
}

/// `cryptsetup luksFormat`: a LUKS2 header on `device`, the key read from
/// standard input. `--batch-mode`: no question on a terminal (mount_md
/// only formats what it created, or what `--reformat` names).
pub fn luks_format_argv(device: &Path, kdf: Option<&Kdf>) -> Vec<OsString> {
    let mut v = words(&["luksFormat", "--batch-mode", "--type", "luks2", "--key-file", "-"]);
    v.extend(kdf.into_iter().flat_map(Kdf::cryptsetup_args).map(OsString::from));
    v.push(device.into());
    v
}

/// `cryptsetup open`: the LUKS2 header on `device` opened as the dm target
/// `name`, the key read from standard input.
pub fn luks_open_argv(device: &Path, name: &str, read_only: bool) -> Vec<OsString> {
    let mut v = words(&["open", "--type", "luks2", "--key-file", "-"]);
    if read_only {
        v.push("--readonly".into());
    }
    v.extend([device.into(), name.into()]);
    v
}

pub fn luks_close_argv(name: &str) -> Vec<OsString> {
    words(&["close", name])
}

/// How geli gets the key: a key file on standard input and no passphrase
/// (`-P`/`-p`), or a passphrase on standard input and no key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeliKey {
    File,
    Passphrase,
}

/// `geli init`: metadata on `provider` (`md3`). `-B none`: no metadata
/// backup in /var/backups (geom_eli.c `eli_init` names it after the
/// provider, and md unit numbers are reused); AES-XTS, 256-bit keys,
/// 4096-byte sectors. With a key file `-P -K -` (no passphrase, no
/// PKCS#5v2: `eli_init` refuses `-i` with `-P`); with a passphrase `-J -`.
pub fn geli_init_argv(provider: &str, key: GeliKey) -> Vec<OsString> {
    let key: &[&str] = match key {
        GeliKey::File => &["-P", "-K", "-"],
        GeliKey::Passphrase => &["-J", "-"],
    };
    words(&[&["init", "-B", "none", "-e", "AES-XTS", "-l", "256", "-s", "4096"], key, &[provider]].concat())
}

/// `geli attach`: `provider.eli` appears. `-p -k -` with a key file
/// (geom_eli.c `eli_genkey_passphrase`: "Missing -p flag." otherwise for
/// metadata made with `-P`); `-j -` with a passphrase; `-r` read-only.
pub fn geli_attach_argv(provider: &str, key: GeliKey, read_only: bool) -> Vec<OsString> {
    let key: &[&str] = match key {
        GeliKey::File => &["-p", "-k", "-"],
        GeliKey::Passphrase => &["-j", "-"],
    };
    let ro: &[&str] = if read_only { &["-r"] } else { &[] };
    words(&[&["attach"], key, ro, &[provider]].concat())
}

pub fn geli_detach_argv(eli: &str) -> Vec<OsString> {
    words(&["detach", eli])
}

/// What `-N` and `-X` say the crypt step runs on `device` (`/dev/loop?`,
/// `/dev/md3`) for `mount_point`: the argument vectors, and where the key
/// comes from (never the key).
pub fn describe(e: &Encrypt, read_only: bool, device: &Path, mount_point: &[u8]) -> String {
    let line = |v: Vec<OsString>| crate::grow_ops::show_argv(&v);
    let key = match &e.key_file {
        Some(k) => format!("the key from {} on standard input", crate::error::quoted(k)),
        None => "the passphrase asked on the terminal, through a pipe".to_string(),
    };
    match e.scheme {
        Scheme::Luks2 => format!(
            "if this run created the image: cryptsetup {}; then cryptsetup {} ({key})",
            line(luks_format_argv(device, e.kdf.as_ref())),
            line(luks_open_argv(device, &dm_name(mount_point), read_only))
        ),
        Scheme::Geli => {
            let unit = device.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let k = if e.key_file.is_some() { GeliKey::File } else { GeliKey::Passphrase };
            format!(
                "if this run created the image: geli {}; then geli {} ({key})",
                line(geli_init_argv(&unit, k)),
                line(geli_attach_argv(&unit, k, read_only))
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[OsString]) -> Vec<&str> {
        v.iter().map(|s| s.to_str().unwrap()).collect()
    }

    #[test]
    fn kdf_forms() {
        assert_eq!(Kdf::parse("argon2id:65536:200"), Ok(Kdf::Argon2 { id: true, memory_kib: 65536, time_ms: 200 }));
        assert_eq!(Kdf::parse("argon2i:64m:50"), Ok(Kdf::Argon2 { id: false, memory_kib: 65536, time_ms: 50 }));
        assert_eq!(Kdf::parse("argon2id:1g:1000"), Ok(Kdf::Argon2 { id: true, memory_kib: 1 << 20, time_ms: 1000 }));
        assert_eq!(Kdf::parse("pbkdf2:100"), Ok(Kdf::Pbkdf2 { time_ms: 100 }));
        for bad in ["", "argon2id", "argon2id:64m", "argon2id:16:100", "argon2id:5g:100", "argon2id:64m:0"] {
            assert!(Kdf::parse(bad).is_err(), "{bad}");
        }
        assert!(Kdf::parse("pbkdf2:999999").unwrap_err().contains("out of range"));
        assert!(Kdf::parse("argon2id:x:1").unwrap_err().starts_with("--kdf=argon2id:x:1: "));
        assert!(Kdf::parse("argon2id:99999999999999999999g:1").is_err());
        assert_eq!(
            Kdf::parse("argon2id:64m:200").unwrap().cryptsetup_args(),
            ["--pbkdf", "argon2id", "--pbkdf-memory", "65536", "--iter-time", "200"]
        );
        assert_eq!(Kdf::parse("pbkdf2:5").unwrap().cryptsetup_args(), ["--pbkdf", "pbkdf2", "--iter-time", "5"]);
    }

    #[test]
    fn dm_names_are_ours_and_tied_to_the_mount_point() {
        let a = dm_name(b"/srv/ct/web1");
        assert!(a.starts_with("mount_md-") && a.len() == 25, "{a}");
        assert!(is_ours_name(a.as_bytes()));
        assert!(names(a.as_bytes(), b"/srv/ct/web1"));
        assert!(!names(a.as_bytes(), b"/srv/ct/web2"));
        assert_ne!(a, dm_name(b"/srv/ct/web1/"));
        let long = [b'/'; 4000];
        assert_eq!(dm_name(&long).len(), 25);
        for other in [&b"luks-1234"[..], b"mount_md-", b"mount_md-0123456789abcdeg", b"mount_md-0123456789ABCDEF"] {
            assert!(!is_ours_name(other));
        }
    }

    #[test]
    fn key_file_rules() {
        let ok = KeyFileStat { regular: true, uid: 0, mode: 0o600, size: 64 };
        assert_eq!(key_file_problem(&ok), None);
        assert_eq!(key_file_problem(&KeyFileStat { mode: 0o400, ..ok }), None);
        let cases = [
            (KeyFileStat { regular: false, ..ok }, "is not a regular file"),
            (KeyFileStat { uid: 1000, ..ok }, "is owned by uid 1000, not root"),
            (KeyFileStat { mode: 0o644, ..ok }, "has mode 0644: group and others must have no access (chmod 600)"),
            (KeyFileStat { mode: 0o640, ..ok }, "has mode 0640"),
            (KeyFileStat { mode: 0o602, ..ok }, "has mode 0602"),
            (KeyFileStat { size: 0, ..ok }, "is empty"),
            (KeyFileStat { size: KEY_FILE_MAX + 1, ..ok }, "is larger than 8 MiB"),
        ];
        for (st, why) in cases {
            let got = key_file_problem(&st).unwrap();
            assert!(got.starts_with(why), "{got}");
        }
    }

    #[test]
    fn headers() {
        let mut luks2 = b"LUKS\xba\xbe\x00\x02".to_vec();
        luks2.resize(4096, 0);
        assert_eq!(luks_version(&luks2), Some(2));
        assert_eq!(luks_version(b"LUKS\xba\xbe\x00\x01"), Some(1));
        assert_eq!(luks_version(b"LUKS\xba"), None);
    }

    #[test]
    fn cryptsetup_argvs_read_the_key_from_stdin() {
        let dev = Path::new("/dev/loop7");
        let kdf = Kdf::parse("pbkdf2:10").unwrap();
        for (argv, want) in [
            (
                luks_format_argv(dev, Some(&kdf)),
                "luksFormat --batch-mode --type luks2 --key-file - --pbkdf pbkdf2 --iter-time 10 /dev/loop7",
            ),
            (luks_format_argv(dev, None), "luksFormat --batch-mode --type luks2 --key-file - /dev/loop7"),
            (
                luks_open_argv(dev, "mount_md-00", true),
                "open --type luks2 --key-file - --readonly /dev/loop7 mount_md-00",
            ),
            (luks_close_argv("mount_md-00"), "close mount_md-00"),
        ] {
            assert_eq!(strs(&argv), want.split(' ').collect::<Vec<_>>());
        }
    }
}
