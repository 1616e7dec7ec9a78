//! Running helper programs (mkfs, fsck, growers): absolute path, argument
//! vector, cleared environment, output captured, dying with mount_md.
#![forbid(unsafe_code)]
use super::*;
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

/// Where helper programs (mkfs, newfs, fsck) look for the programs they
/// run themselves: the system directories, never the caller's `$PATH`.
pub const HELPER_PATH: &str = "/sbin:/usr/sbin:/bin:/usr/bin";

/// The program `name` (`mkfs.ext4`, `e2fsck`, `cryptsetup`), looked for in
/// [`HELPER_PATH`] in order, never in the caller's `$PATH`: what runs as
/// root must not depend on the caller's environment.
pub fn program(name: &str) -> Result<std::path::PathBuf> {
    HELPER_PATH
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::text(name, format!("not found in {HELPER_PATH}")))
}

/// At most this many lines of a helper's output go into a message.
pub const OUTPUT_LINES: usize = 40;
/// And at most this many bytes are kept while reading it.
const OUTPUT_BYTES: usize = 64 * 1024;

/// What a helper printed and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub status: std::process::ExitStatus,
    /// Its standard output and standard error, interleaved as written
    /// (one pipe for both), at most 64 KiB of it.
    pub output: String,
}

/// A helper still running after this long is named on standard error,
/// once, so that a boot that seems to hang says what it waits for. The
/// helper is not stopped: a formatter or checker of a large image may need
/// minutes, and killing it half-way would leave the file system worse.
pub const HELPER_NOTICE: Duration = Duration::from_secs(10);

/// Runs `program` with `args` as an argument vector (no shell), with a
/// cleared environment (only `PATH`=[`HELPER_PATH`]), standard input from
/// /dev/null and its output captured (bounded). `loud` lets its output
/// through to ours instead. Still running after [`HELPER_NOTICE`], it is
/// named on standard error (pid, how long), once.
pub fn run_captured(program: &Path, args: &[OsString], loud: bool) -> Result<Captured> {
    spawn_captured(program, args, loud, HELPER_NOTICE, |text| say_now(&text), std::process::Stdio::null(), None)
}

/// [`run_captured`] with `stdin` as the helper's standard input (a key
/// for cryptsetup or geli, [`crate::platform::keyed`]); answers its
/// output, or fails as [`succeeded`] says.
pub fn run_fed(program: &Path, args: &[OsString], stdin: std::process::Stdio, what: String) -> Result<String> {
    let done = spawn_captured(program, args, false, HELPER_NOTICE, |text| say_now(&text), stdin, None)?;
    let name = program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    succeeded(done, &name, what)
}

/// The output of a helper that exited 0; else one error naming `what`
/// ([`helper_failed`]), with the helper's own lines, `name: ` taken off
/// their start (mke2fs and newfs begin theirs with their own name; ours
/// already says it).
pub fn succeeded(done: Captured, name: &str, what: String) -> Result<String> {
    if !done.status.success() {
        let lines = output_lines(&done.output, &format!("{name}: "));
        return Err(helper_failed(what, done.status, &lines));
    }
    Ok(done.output)
}

/// [`run_captured`] for a helper that must not be cut short because
/// mount_md is (an offline `resize2fs`, which is not atomic, and the
/// `e2fsck` before it): it does not die with mount_md, runs in a session
/// of its own (a terminal's signals do not reach it), ignores SIGPIPE (its
/// output pipe loses its reader if mount_md dies) and inherits the
/// descriptors `keep` (the loop device, so that autoclear cannot free the
/// unit under it; the image's lock, so that the next run waits for it to
/// end). Killed, mount_md leaves it to finish.
pub fn run_to_its_end(program: &Path, args: &[OsString], keep: &[std::os::fd::RawFd]) -> Result<Captured> {
    spawn_captured(program, args, false, HELPER_NOTICE, |text| say_now(&text), std::process::Stdio::null(), Some(keep))
}

/// The one spawn: `stdin` as its standard input; the notice after `after`
/// given to `notice`; dying with mount_md, or with `to_its_end` the
/// descriptors it inherits ([`run_to_its_end`]).
fn spawn_captured(
    program: &Path,
    args: &[OsString],
    loud: bool,
    after: Duration,
    notice: impl FnOnce(String) + Send + 'static,
    stdin: std::process::Stdio,
    to_its_end: Option<&[std::os::fd::RawFd]>,
) -> Result<Captured> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear().env("PATH", HELPER_PATH).stdin(stdin);
    match to_its_end {
        None => super::sys::die_with_parent(&mut cmd),
        Some(keep) => super::sys::outlive_parent(&mut cmd, keep.to_vec()),
    }
    let shown = || program.display().to_string();
    let mut reader = None;
    if !loud {
        let (r, w) = nix::unistd::pipe().map_err(|e| Error::sys("pipe", e))?;
        let w2 = w.try_clone().map_err(|e| crate::error::from_io("pipe", &e))?;
        cmd.stdout(Stdio::from(w)).stderr(Stdio::from(w2));
        reader = Some(r);
    }
    let mut child = cmd.spawn().map_err(|e| crate::error::from_io(shown(), &e))?;
    // On a terminal, a line with the time it has run (not when its own
    // output goes to ours).
    let name = program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(shown);
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let _ticker = (!loud).then(|| super::progress::Ticker::start(&format!("{name} {}", words.join(" "))));
    // The write ends now live only in the child (Command dropped ours).
    drop(cmd);
    let (finished, until) = std::sync::mpsc::channel::<()>();
    let text = format!("still waiting for {} (pid {}) after {} s", shown(), child.id(), after.as_secs());
    let watch = std::thread::spawn(move || {
        if until.recv_timeout(after) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            notice(text);
        }
    });
    let mut kept = Vec::new();
    if let Some(r) = reader {
        // The first OUTPUT_BYTES are kept; the rest is read to the end all
        // the same (a helper never blocks on a full pipe) and dropped.
        let mut pipe = std::fs::File::from(r);
        let _ = (&mut pipe).take(OUTPUT_BYTES as u64).read_to_end(&mut kept);
        let _ = std::io::copy(&mut pipe, &mut std::io::sink());
    }
    let status = child.wait().map_err(|e| crate::error::from_io(shown(), &e));
    drop(finished);
    let _ = watch.join();
    Ok(Captured { status: status?, output: String::from_utf8_lossy(&kept).into_owned() })
}

/// The non-empty lines of a helper's output, trimmed, with a `prefix` of
/// its own name dropped, at most [`OUTPUT_LINES`] of them (the first and
/// last halves, saying how many were left out between).
pub fn output_lines(output: &str, prefix: &str) -> Vec<String> {
    let lines: Vec<String> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.strip_prefix(prefix).unwrap_or(l).to_string())
        .collect();
    if lines.len() <= OUTPUT_LINES {
        return lines;
    }
    let half = OUTPUT_LINES / 2;
    let mut out = lines[..half].to_vec();
    out.push(format!("… ({} lines left out)", lines.len() - 2 * half));
    out.extend_from_slice(&lines[lines.len() - half..]);
    out
}

/// How a helper that failed ended, on one line (for messages that go on
/// after it, as a grow's do): its output lines joined by `; `, or, if it
/// printed nothing, its exit status or signal.
pub fn failure_line(c: &Captured) -> String {
    let why = output_lines(&c.output, "").join("; ");
    if why.is_empty() {
        ended(c.status)
    } else {
        why
    }
}

fn ended(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with error code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".to_string(),
    }
}

/// The error for a helper that failed: `<what>: <how it ended>`, then its
/// output — on the same line if it is one line, else indented below.
pub fn helper_failed(what: String, status: std::process::ExitStatus, lines: &[String]) -> Error {
    match lines {
        [] => Error::text(what, ended(status)),
        [one] => Error::text(what, one.clone()),
        many => Error::text(what, format!("{}:\n    {}", ended(status), many.join("\n    "))),
    }
}

#[cfg(test)]
mod tests {
    use super::{failure_line, Captured};

    /// A helper that runs long is named once, and waited for to the end;
    /// one that ends in time is not named.
    #[test]
    fn a_long_helper_is_named_while_it_runs() {
        use std::time::Duration;
        let (tx, rx) = std::sync::mpsc::channel();
        let sleep = |secs: &str, after: Duration| {
            let tx = tx.clone();
            let notice = move |t| {
                let _ = tx.send(t);
            };
            let args = [std::ffi::OsString::from(secs)];
            let null = std::process::Stdio::null();
            super::spawn_captured(std::path::Path::new("/bin/sleep"), &args, false, after, notice, null, None).unwrap()
        };
        assert!(sleep("0.3", Duration::from_millis(50)).status.success());
        let said: Vec<String> = rx.try_iter().collect();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].starts_with("still waiting for /bin/sleep (pid "), "{}", said[0]);
        sleep("0", Duration::from_secs(5));
        assert_eq!(rx.try_iter().count(), 0);
    }

    #[test]
    fn a_failed_helper_on_one_line() {
        use std::os::unix::process::ExitStatusExt;
        let ended = |raw: i32, output: &str| Captured {
            status: std::process::ExitStatus::from_raw(raw),
            output: output.to_string(),
        };
        assert_eq!(failure_line(&ended(1 << 8, "resize2fs 1.47\n\n  Bad magic  \n")), "resize2fs 1.47; Bad magic");
        assert_eq!(failure_line(&ended(3 << 8, "")), "exited with error code 3");
        assert_eq!(failure_line(&ended(9, "")), "killed by signal 9");
    }
}
