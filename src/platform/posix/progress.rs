//! The progress line of long work on a terminal ([`crate::progress`]
//! draws it): on only when standard error is a terminal, so fstab and
//! scripted runs print nothing extra. One piece of work at a time
//! (mount_md is one linear run): [`begin`], [`add`] as bytes get done,
//! [`end`]; or [`Ticker`] for a helper program, whose line shows the time.
use crate::progress::Meter;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ON: AtomicBool = AtomicBool::new(false);
/// `MOUNT_MD_PROGRESS_AFTER`: milliseconds before a line first appears
/// (default [`crate::progress::FIRST`]).
static FIRST_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

fn meter(what: String, total: Option<u64>) -> Meter {
    let m = Meter::new(what, total);
    match FIRST_MS.load(Ordering::Relaxed) {
        u64::MAX => m,
        ms => m.first_after(Duration::from_millis(ms)),
    }
}
/// The program's name the line starts with, and the work under way.
static STATE: Mutex<(String, Option<Work>)> = Mutex::new((String::new(), None));

struct Work {
    meter: Meter,
    started: Instant,
    done: u64,
}

/// Turns the line on when standard error is a terminal; `prog` starts it.
pub fn enable_on_terminal(prog: &str) {
    let tty = nix::unistd::isatty(std::io::stderr()).unwrap_or(false);
    ON.store(tty, Ordering::Relaxed);
    if let Some(ms) = std::env::var("MOUNT_MD_PROGRESS_AFTER").ok().and_then(|v| v.parse().ok()) {
        FIRST_MS.store(ms, Ordering::Relaxed);
    }
    if let Ok(mut s) = STATE.lock() {
        s.0 = prog.to_string();
    }
}

fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Work of `total` bytes (when known) begins: `what` names it
/// (`zero-filling /srv/j1.img`).
pub fn begin(what: &str, total: Option<u64>) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    if let Ok(mut s) = STATE.lock() {
        let meter = meter(format!("{}: {what}", s.0), total);
        s.1 = Some(Work { meter, started: Instant::now(), done: 0 });
    }
}

/// `n` more bytes are done: the line is redrawn when it is due.
pub fn add(n: u64) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    let Ok(mut s) = STATE.lock() else { return };
    let Some(w) = s.1.as_mut() else { return };
    w.done += n;
    if let Some(text) = w.meter.tick(Some(w.done), w.started.elapsed()) {
        say(&text);
    }
}

/// The work is over: its line, if one was drawn, gets its final numbers
/// and a newline.
pub fn end() {
    let Ok(mut s) = STATE.lock() else { return };
    let Some(mut w) = s.1.take() else { return };
    if let Some(text) = w.meter.finish(Some(w.done), w.started.elapsed()) {
        say(&text);
    }
}

/// The line of a helper program that counts no bytes (a check, a grow):
/// the time it has run, from a thread of its own while it runs.
pub struct Ticker(Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>);

impl Ticker {
    /// Starts the line for `what` (`e2fsck -p /dev/loop3`); a no-op when
    /// the line is off.
    pub fn start(what: &str) -> Ticker {
        if !ON.load(Ordering::Relaxed) {
            return Ticker(None);
        }
        let prog = STATE.lock().map(|s| s.0.clone()).unwrap_or_default();
        let mut meter = meter(format!("{prog}: {what}"), None);
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_millis(100))
            {
                if let Some(text) = meter.tick(None, started.elapsed()) {
                    say(&text);
                }
            }
            if let Some(text) = meter.finish(None, started.elapsed()) {
                say(&text);
            }
        });
        Ticker(Some((stop, thread)))
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.0.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}
