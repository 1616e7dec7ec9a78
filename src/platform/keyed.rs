//! The key of an encrypted image, and running cryptsetup(8) or geli(8)
//! with it: by absolute path, argument vector, cleared environment,
//! output captured, dying with mount_md — as mkfs is run
//! ([`posix::run_captured`]) — with one difference: the key goes to the
//! helper's standard input, never into its arguments.
//!
//! A key file is opened once, with `O_NOFOLLOW` on a walked path (the
//! symlink rule), and checked by fstat(2) of that descriptor
//! ([`crypt::key_file_problem`]); each helper then reads it from the
//! start through a duplicate of the descriptor, so the file checked is the
//! file read. A passphrase is asked for only on a terminal, read with echo
//! off, and given to the helper through a pipe; its bytes are wiped when
//! dropped.
use crate::crypt::{self, KeyFileStat};
use crate::error::{Error, Result};
use crate::platform::posix;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode};
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

/// A passphrase, wiped when dropped.
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(wipe);
    }
}

/// Zeroes a byte through `black_box`, so the store is not optimised away.
#[inline(never)]
fn wipe(b: &mut u8) {
    *std::hint::black_box(b) = 0;
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where a helper reads the key from.
#[derive(Debug)]
pub enum Key {
    /// A key file, opened and checked.
    File { fd: OwnedFd, shown: String },
    /// A passphrase typed at the terminal.
    Passphrase(Secret),
}

impl Key {
    pub fn geli(&self) -> crypt::GeliKey {
        match self {
            Key::File { .. } => crypt::GeliKey::File,
            Key::Passphrase(_) => crypt::GeliKey::Passphrase,
        }
    }

    /// A standard input for one helper: the key file from its first byte
    /// (a duplicate of the descriptor, rewound), or a pipe holding the
    /// passphrase (written whole before the helper starts: at most 512
    /// bytes, far below a pipe's capacity; the write end is closed so the
    /// helper reads to end of file).
    pub fn stdin(&self) -> Result<Stdio> {
        match self {
            Key::File { fd, shown } => {
                let dup = fd.try_clone().map_err(|e| crate::error::from_io(shown.clone(), &e))?;
                nix::unistd::lseek(&dup, 0, nix::unistd::Whence::SeekSet).map_err(|e| Error::sys(shown.clone(), e))?;
                Ok(Stdio::from(dup))
            }
            Key::Passphrase(secret) => {
                let (r, w) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
                std::fs::File::from(w).write_all(secret.bytes()).map_err(|e| crate::error::from_io("pipe", &e))?;
                Ok(Stdio::from(r))
            }
        }
    }
}

/// Opens and checks `--key-file=path`: the path walked under the symlink
/// rule, the file opened `O_NOFOLLOW | O_NONBLOCK` (a FIFO put there
/// cannot make the open wait), then judged by fstat of what was opened.
pub fn open_key_file(path: &Path) -> Result<Key> {
    let shown = crate::error::quoted(path);
    let walked = posix::walk_path(path)?;
    let fd = nix::fcntl::openat(
        &walked.parent,
        walked.name.as_os_str(),
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("key file {shown}"), e))?;
    let st = fstat(&fd).map_err(|e| Error::sys(format!("key file {shown}"), e))?;
    #[allow(clippy::unnecessary_cast)]
    let judged = KeyFileStat {
        regular: st.st_mode as u32 & libc::S_IFMT as u32 == libc::S_IFREG as u32,
        uid: st.st_uid,
        mode: st.st_mode as u32 & 0o7777,
        size: st.st_size as u64,
    };
    if let Some(why) = crypt::key_file_problem(&judged) {
        return Err(Error::plain(format!("key file {shown} {why}")));
    }
    Ok(Key::File { fd, shown })
}

/// What is said where no key file is given and no terminal can be asked.
pub const NO_KEY: &str =
    "no --key-file given, and standard input is not a terminal to ask for a passphrase (add --key-file=PATH, or run it at a terminal)";

/// Whether standard input is a terminal a passphrase can be asked on.
pub fn stdin_is_terminal() -> bool {
    nix::unistd::isatty(std::io::stdin().as_fd()).unwrap_or(false)
}

/// Asks for the passphrase on the terminal that is standard input, echo
/// off, as cryptsetup and geli do; `confirm` asks twice (for a new
/// header). Refuses at once, with [`NO_KEY`], when standard input is not a
/// terminal: at boot nothing waits for a key nobody can type.
pub fn ask_passphrase(what: &str, confirm: bool) -> Result<Secret> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    if !stdin_is_terminal() {
        return Err(Error::plain(NO_KEY));
    }
    let saved = tcgetattr(stdin.as_fd()).map_err(|e| Error::sys("terminal", e))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    let ask = |prompt: &str| -> Result<Secret> {
        eprint!("{prompt}");
        tcsetattr(stdin.as_fd(), SetArg::TCSAFLUSH, &quiet).map_err(|e| Error::sys("terminal", e))?;
        let mut line = String::new();
        let read = stdin.read_line(&mut line);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSAFLUSH, &saved);
        let secret = Secret(line.trim_end_matches(['\n', '\r']).as_bytes().to_vec());
        let mut line = line.into_bytes();
        line.iter_mut().for_each(wipe);
        read.map_err(|e| crate::error::from_io("terminal", &e))?;
        Ok(secret)
    };
    let first = ask(&format!("Enter passphrase for {what}: "))?;
    if first.bytes().is_empty() {
        return Err(Error::plain("empty passphrase"));
    }
    if confirm {
        let again = ask(&format!("Verify passphrase for {what}: "))?;
        if again.bytes() != first.bytes() {
            return Err(Error::plain("passphrases do not match"));
        }
    }
    Ok(first)
}

/// Runs `program` as [`posix::run_fed`] does, with `key` as its standard
/// input (`/dev/null` without one); `what` names it in a failure
/// (`cryptsetup open /dev/loop7`).
pub fn run_checked(program: &Path, args: &[OsString], key: Option<&Key>, what: String) -> Result<String> {
    let stdin = key.map_or_else(|| Ok(Stdio::null()), Key::stdin)?;
    posix::run_fed(program, args, stdin, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mount_md-keyed-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The helper reads the key file from its first byte on each run, and
    /// the passphrase through a pipe; neither is in its arguments.
    #[test]
    fn helpers_read_the_key_on_stdin() {
        let d = scratch("stdin");
        let kf = d.join("key");
        std::fs::File::create(&kf).unwrap().write_all(b"sekrit\0bytes").unwrap();
        std::fs::set_permissions(&kf, std::fs::Permissions::from_mode(0o600)).unwrap();
        let euid = nix::unistd::geteuid().as_raw();
        let key = match open_key_file(&kf) {
            Ok(k) => k,
            Err(e) => {
                assert_ne!(euid, 0, "{e}");
                assert!(e.to_string().contains("not root"), "{e}");
                return;
            }
        };
        let cat = |key| run_checked(Path::new("/bin/cat"), &[], key, "cat".into()).unwrap();
        for _ in 0..2 {
            assert_eq!(cat(Some(&key)).as_bytes(), b"sekrit\0bytes");
        }
        let pass = Key::Passphrase(Secret(b"correct horse".to_vec()));
        assert_eq!(cat(Some(&pass)), "correct horse");
        assert_eq!(cat(None), "");
        let env = run_checked(Path::new("/usr/bin/env"), &[], Some(&pass), "env".into()).unwrap();
        assert_eq!(env.trim(), format!("PATH={}", posix::HELPER_PATH));
        assert!(format!("{pass:?}").contains("Secret(..)") && !format!("{pass:?}").contains("horse"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Only root may run this for real; others see the ownership refusal.
    #[test]
    fn key_files_others_can_read_are_refused() {
        let d = scratch("modes");
        let kf = d.join("key");
        std::fs::write(&kf, b"k").unwrap();
        std::fs::set_permissions(&kf, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = open_key_file(&kf).unwrap_err().to_string();
        assert!(e.contains("has mode 0644") || e.contains("not root"), "{e}");
        std::os::unix::fs::symlink(&kf, d.join("link")).unwrap();
        assert!(open_key_file(&d.join("link")).is_err());
        nix::unistd::mkfifo(&d.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let e = open_key_file(&d.join("fifo")).unwrap_err().to_string();
        assert!(e.contains("is not a regular file") || e.contains("not root"), "{e}");
        let e = open_key_file(&d.join("missing")).unwrap_err().to_string();
        assert!(e.starts_with("key file "), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// cryptsetup itself, on a file (no device-mapper needed): a LUKS2
    /// header written with the key from a key file on standard input; the
    /// same key opens it, another does not, and neither key is in any
    /// argument. Root only (the key file must be root's).
    #[cfg(loop_backend)]
    #[test]
    fn cryptsetup_formats_and_checks_keys_from_stdin() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: a key file must be owned by root, and this is not root");
            return;
        }
        let Ok(cs) = crate::platform::posix::program("cryptsetup") else {
            panic!("cryptsetup is not installed (tests/run installs cryptsetup-bin)");
        };
        let d = scratch("luks");
        let img = d.join("img");
        std::fs::File::create(&img).unwrap().set_len(32 << 20).unwrap();
        for (name, bytes) in [("good", &b"0123456789abcdef0123456789abcdef"[..]), ("bad", b"not the key")] {
            std::fs::write(d.join(name), bytes).unwrap();
            std::fs::set_permissions(d.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let good = open_key_file(&d.join("good")).unwrap();
        let bad = open_key_file(&d.join("bad")).unwrap();
        let kdf = crypt::Kdf::parse("pbkdf2:1").unwrap();
        run_checked(&cs, &crypt::luks_format_argv(&img, Some(&kdf)), Some(&good), "luksFormat".into()).unwrap();
        let head = std::fs::read(&img).unwrap();
        assert_eq!(crypt::luks_version(&head), Some(2));
        // `cryptsetup open --test-passphrase`: the whole key derivation
        // against the header, no device-mapper target made.
        let test = ["open", "--test-passphrase", "--type", "luks2", "--key-file", "-", img.to_str().unwrap()];
        let test: Vec<OsString> = test.iter().map(Into::into).collect();
        run_checked(&cs, &test, Some(&good), "test".into()).unwrap();
        let e = run_checked(&cs, &test, Some(&bad), "cryptsetup open".into()).unwrap_err().to_string();
        assert_eq!(e, "cryptsetup open: No key available with this passphrase.");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A failing helper's lines come back in one error naming what failed.
    #[test]
    fn failures_carry_the_helper_lines() {
        let e = run_checked(
            Path::new("/bin/sh"),
            &["-c".into(), "echo 'No key available' >&2; exit 2".into()],
            None,
            "cryptsetup open /dev/loop9".into(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "cryptsetup open /dev/loop9: No key available");
    }
}
