//! geli(8) and the GEOM ELI class, as mount_md meets them: `init`,
//! `attach`, `detach` and `resize` run with the argument vectors of
//! `mount_md::crypt`, the key on standard input. A model, not a cipher:
//! the metadata keeps the key bytes it was made with and compares them.
//!
//! Sources (FreeBSD, sbin/geom/class/eli/geom_eli.c for the userland,
//! sys/geom/eli/g_eli.c and g_eli_ctl.c for the kernel):
//! * a key file named `-` is standard input (`eli_genkey_files`); a key
//!   file is hashed whole, a passphrase file is read up to its first
//!   newline;
//! * `init -P` with no key file: "No key components given." (`eli_genkey`);
//!   neither `-P` nor `-J`: the passphrase is asked with
//!   `readpassphrase(RPP_REQUIRE_TTY)`, which fails without a terminal
//!   (`eli_genkey_passphrase_prompt`); `-i` with `-P` is refused
//!   (`eli_init`); the metadata goes to the provider's last sector and
//!   records its size (`md_provsize`, `eli_init`);
//! * `attach`: metadata read from the last sector ("Cannot read metadata
//!   from …", `eli_metadata_read`), the provider size must equal
//!   `md_provsize` ("Provider size mismatch.", `eli_attach`), a key made
//!   without a passphrase needs `-p` ("Missing -p flag.",
//!   `eli_genkey_passphrase`), a wrong key is refused in the kernel
//!   ("Wrong key for …", g_eli_ctl.c `g_eli_ctl_attach`); the new
//!   provider `NAME.eli` is the unit less its last sector, rounded down to
//!   the geli sector size, and the unit is held open exclusively
//!   (g_eli.c `g_eli_create`: `g_access(cp, 1, 1, 1)`), so a second
//!   attach fails "Cannot access …";
//! * `detach`: "No such device: …" for one not attached, and a provider
//!   still open (mounted) is not destroyed: "Cannot destroy device …
//!   (error=16)" (g_eli_ctl.c `g_eli_ctl_detach`, g_eli.c
//!   `g_eli_destroy`: EBUSY);
//! * `resize -s OLDSIZE`: opens the provider for writing (so not while
//!   attached: the exclusive hold above), reads the metadata at the old
//!   last sector, which must record OLDSIZE ("Provider size mismatch at
//!   oldsize."), writes it at the new last sector (`eli_resize`).
//!
//! geom(8) prints a failure as `geli: MESSAGE` and exits 1.
//!
//! Not modelled: the kernel resizing an attached provider by itself (newer
//! FreeBSD's automatic resize), which the sources read here do not have;
//! so a geli layer is grown offline only, through `geli resize`.
#![allow(dead_code)]
use std::collections::BTreeMap;
use std::ffi::OsString;

/// geli metadata on a disk: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDisk {
    /// Byte offset of the sector holding it.
    pub at: u64,
    /// `md_provsize`.
    pub provsize: u64,
    /// `md_sectorsize`.
    pub sectorsize: u64,
    /// Made with `-P` (`md_iterations == -1`): no passphrase part.
    pub no_passphrase: bool,
    /// The key bytes (key file, or passphrase) it opens with.
    pub key: Vec<u8>,
}

/// The disks under geli: their size (the unit's mediasize) and their
/// metadata, which lives in the image and so outlives the unit.
pub trait Disks {
    /// The provider's mediasize, `None` when there is no such provider.
    fn mediasize(&self, provider: &str) -> Option<u64>;
    /// The metadata the provider's image holds.
    fn metadata(&self, provider: &str) -> Option<OnDisk>;
    /// Writes metadata: `fresh` for `init` (what was on the disk is no
    /// longer reachable), else an update in place (`resize`).
    fn store(&mut self, provider: &str, md: OnDisk, fresh: bool);
}

/// An attached `.eli` provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eli {
    pub mediasize: u64,
    pub read_only: bool,
    /// Open count of the `.eli` provider (a mount holds it).
    pub open: u32,
}

/// The ELI class: attached providers by the unit they sit on (`md3`).
#[derive(Debug, Clone, Default)]
pub struct Geli {
    pub attached: BTreeMap<String, Eli>,
    /// Every command run, as `geli ARGS` (never the key: it came on stdin).
    pub calls: Vec<String>,
}

/// The unit's sector size (md(4) vnode disks: 512).
pub const UNIT_SECTOR: u64 = 512;

struct Args {
    flags: Vec<char>,
    values: BTreeMap<char, String>,
    operands: Vec<String>,
}

/// geom(8)'s getopt over the command's option table (geom_eli.c
/// `class_commands`): `takes` lists the options with a value.
fn parse(args: &[String], takes: &str, bools: &str) -> Result<Args, String> {
    let mut a = Args { flags: Vec::new(), values: BTreeMap::new(), operands: Vec::new() };
    let mut i = 0;
    while i < args.len() {
        let s = &args[i];
        if !s.starts_with('-') || s == "-" {
            a.operands.extend(args[i..].iter().cloned());
            break;
        }
        let mut chars = s[1..].chars();
        while let Some(c) = chars.next() {
            if bools.contains(c) {
                a.flags.push(c);
            } else if takes.contains(c) {
                let rest: String = chars.by_ref().collect();
                let v = if rest.is_empty() {
                    i += 1;
                    args.get(i).cloned().ok_or_else(|| format!("option requires an argument -- {c}"))?
                } else {
                    rest
                };
                a.values.insert(c, v);
            } else {
                return Err(format!("illegal option -- {c}"));
            }
        }
        i += 1;
    }
    Ok(a)
}

impl Args {
    fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }
}

/// Reads a key part named `file` (`-` is standard input); other names are
/// not files the model has.
fn key_part(file: &str, stdin: &[u8], passphrase: bool) -> Result<Vec<u8>, String> {
    if file != "-" {
        return Err(format!(
            "Cannot open {} {file}: No such file or directory.",
            if passphrase { "passfile" } else { "keyfile" }
        ));
    }
    Ok(if passphrase { stdin.split(|b| *b == b'\n').next().unwrap_or_default().to_vec() } else { stdin.to_vec() })
}

/// The key `init`/`attach` derive from their options (`eli_genkey`).
fn genkey(a: &Args, stdin: &[u8], new: bool, on_disk_no_pass: Option<bool>) -> Result<(Vec<u8>, bool), String> {
    let (kf, pf, nopass) = if new { ('K', 'J', 'P') } else { ('k', 'j', 'p') };
    let nopass = a.has(nopass);
    let mut key = Vec::new();
    let files = match a.values.get(&kf) {
        Some(f) => {
            key.extend(key_part(f, stdin, false)?);
            1
        }
        None => 0,
    };
    if nopass {
        if a.values.contains_key(&pf) {
            return Err(format!("Options -{pf} and -{} are mutually exclusive.", if new { 'P' } else { 'p' }));
        }
        if files == 0 {
            return Err("No key components given.".to_string());
        }
        return Ok((key, true));
    }
    if on_disk_no_pass == Some(true) {
        return Err("Missing -p flag.".to_string());
    }
    match a.values.get(&pf) {
        Some(f) => key.extend(key_part(f, stdin, true)?),
        None => return Err("Cannot read passphrase: Inappropriate ioctl for device.".to_string()),
    }
    Ok((key, false))
}

impl Geli {
    /// Runs `geli ARGV` with `stdin`; `Ok(stdout)` or `Err(what geom(8)
    /// prints on stderr)`, exit status 1.
    pub fn run(&mut self, argv: &[OsString], stdin: &[u8], disks: &mut dyn Disks) -> Result<String, String> {
        let args: Vec<String> = argv.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        self.calls.push(format!("geli {}", args.join(" ")));
        let (verb, rest) = args.split_first().ok_or("geli: Command required.")?;
        let r = match verb.as_str() {
            "init" | "label" => self.init(rest, stdin, disks),
            "attach" => self.attach(rest, stdin, disks),
            "detach" | "stop" => self.detach(rest),
            "resize" => self.resize(rest, disks),
            other => Err(format!("Unknown command: {other}.")),
        };
        r.map_err(|e| format!("geli: {e}"))
    }

    fn one(a: &Args) -> Result<String, String> {
        match a.operands.as_slice() {
            [p] => Ok(p.strip_prefix("/dev/").unwrap_or(p).to_string()),
            _ => Err("Invalid number of arguments.".to_string()),
        }
    }

    fn init(&mut self, rest: &[String], stdin: &[u8], disks: &mut dyn Disks) -> Result<String, String> {
        let a = parse(rest, "aBeiJKlsV", "bPv")?;
        let prov = Self::one(&a)?;
        let Some(size) = disks.mediasize(&prov) else {
            return Err(format!("Cannot get informations about {prov}: No such file or directory."));
        };
        if a.values.contains_key(&'i') && a.has('P') {
            return Err("Options -i and -P are mutually exclusive.".to_string());
        }
        let sectorsize: u64 = a.values.get(&'s').map(|s| s.parse().unwrap_or(0)).unwrap_or(UNIT_SECTOR);
        if sectorsize == 0 || sectorsize % UNIT_SECTOR != 0 {
            return Err("Invalid sector size.".to_string());
        }
        let (key, no_passphrase) = genkey(&a, stdin, true, None)?;
        if self.attached.contains_key(&prov) {
            return Err(format!("Cannot store metadata on {prov}: Operation not permitted."));
        }
        disks.store(&prov, OnDisk { at: size - UNIT_SECTOR, provsize: size, sectorsize, no_passphrase, key }, true);
        let backup = a.values.get(&'B').map(String::as_str) != Some("none");
        Ok(if backup {
            format!("\nMetadata backup can be found in /var/backups/{prov}.eli and\n")
        } else {
            String::new()
        })
    }

    fn attach(&mut self, rest: &[String], stdin: &[u8], disks: &mut dyn Disks) -> Result<String, String> {
        let a = parse(rest, "jk", "dprv")?;
        let prov = Self::one(&a)?;
        let Some(size) = disks.mediasize(&prov) else {
            return Err(format!("Cannot get informations about {prov}: No such file or directory."));
        };
        // Read from the unit's last sector: after the unit grew, the
        // metadata is no longer there.
        let md = match disks.metadata(&prov) {
            Some(md) if md.at + UNIT_SECTOR == size => md,
            _ => return Err(format!("Cannot read metadata from {prov}: Invalid argument.")),
        };
        if md.provsize != size {
            return Err("Provider size mismatch.".to_string());
        }
        let (key, _) = genkey(&a, stdin, false, Some(md.no_passphrase))?;
        if key != md.key {
            return Err(format!("Wrong key for {prov}."));
        }
        if self.attached.contains_key(&prov) {
            return Err(format!("Cannot access {prov} (error=1)."));
        }
        let usable = size - UNIT_SECTOR;
        let eli = Eli { mediasize: usable - usable % md.sectorsize, read_only: a.has('r'), open: 0 };
        self.attached.insert(prov, eli);
        Ok(String::new())
    }

    fn detach(&mut self, rest: &[String]) -> Result<String, String> {
        let a = parse(rest, "", "fl")?;
        if a.operands.is_empty() {
            return Err("Missing device(s).".to_string());
        }
        for name in &a.operands {
            let name = name.strip_prefix("/dev/").unwrap_or(name);
            let unit = name.strip_suffix(".eli").unwrap_or(name);
            let Some(eli) = self.attached.get(unit) else {
                return Err(format!("No such device: {name}."));
            };
            if eli.open > 0 {
                return Err(format!("Cannot destroy device {unit}.eli (error=16)."));
            }
            self.attached.remove(unit);
        }
        Ok(String::new())
    }

    fn resize(&mut self, rest: &[String], disks: &mut dyn Disks) -> Result<String, String> {
        let a = parse(rest, "s", "v")?;
        let prov = Self::one(&a)?;
        let Some(size) = disks.mediasize(&prov) else {
            return Err(format!("Cannot open {prov}: No such file or directory."));
        };
        if self.attached.contains_key(&prov) {
            return Err(format!("Cannot open {prov}: Operation not permitted."));
        }
        let old: u64 = a.values.get(&'s').and_then(|s| s.parse().ok()).unwrap_or(0);
        if old > size {
            return Err("Invalid oldsize: Out of range.".to_string());
        }
        if old == size {
            return Err("Size hasn't changed.".to_string());
        }
        match disks.metadata(&prov) {
            Some(mut m) if m.at + UNIT_SECTOR == old => {
                if m.provsize != old {
                    return Err("Provider size mismatch at oldsize.".to_string());
                }
                m.provsize = size;
                m.at = size - UNIT_SECTOR;
                disks.store(&prov, m, false);
                Ok(String::new())
            }
            _ => Err(format!("Inconsistent provider's {prov} metadata.")),
        }
    }
}
