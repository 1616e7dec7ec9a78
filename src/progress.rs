//! A progress line for long work (zero-filling a new image or a grown
//! one's tail, the `-k` copy, a file system check, a grow), the way `dd status=progress` shows
//! one: on standard error, rewritten in place with `\r`, at most
//! [`EVERY`] apart, saying the bytes done, the total when known and the
//! rate. Nothing is drawn before [`FIRST`] has passed, so quick work
//! prints nothing; the caller makes a [`Meter`] only when standard error
//! is a terminal, so fstab and scripted runs print nothing extra.
//!
//! Pure: the caller gives the time elapsed and writes what it gets back.
#![forbid(unsafe_code)]
use crate::size::human;
use std::time::Duration;

/// How long work runs before its line first appears.
pub const FIRST: Duration = Duration::from_secs(1);
/// The least time between two updates of the line.
pub const EVERY: Duration = Duration::from_millis(250);

/// One piece of long work's progress line.
#[derive(Debug, Clone)]
pub struct Meter {
    /// `mount_md: zero-filling /srv/j1.img`.
    what: String,
    /// Bytes the work will have done at the end, when known.
    total: Option<u64>,
    /// When the line was last drawn.
    last: Option<Duration>,
    /// Characters of the last line drawn, to blank what a shorter one
    /// leaves.
    width: usize,
    /// How long work runs before its line first appears ([`FIRST`]).
    first: Duration,
}

impl Meter {
    /// `what` starts the line (`mount_md: zero-filling /srv/j1.img`).
    pub fn new(what: impl Into<String>, total: Option<u64>) -> Meter {
        Meter { what: what.into(), total, last: None, width: 0, first: FIRST }
    }

    /// The line first appears after `first` instead of [`FIRST`].
    pub fn first_after(mut self, first: Duration) -> Meter {
        self.first = first;
        self
    }

    /// `done` bytes (`None`: work that counts no bytes, such as a check
    /// run by another program) after `elapsed`: what to write now, if
    /// anything.
    pub fn tick(&mut self, done: Option<u64>, elapsed: Duration) -> Option<String> {
        let due = self.last.map_or(elapsed >= self.first, |t| elapsed.saturating_sub(t) >= EVERY);
        if !due {
            return None;
        }
        self.last = Some(elapsed);
        Some(self.draw(done, elapsed))
    }

    /// The work is over: the line with the final numbers and a newline if
    /// a line was drawn, else nothing (quick work stays silent).
    pub fn finish(&mut self, done: Option<u64>, elapsed: Duration) -> Option<String> {
        self.last?;
        let mut s = self.draw(done, elapsed);
        s.push('\n');
        self.last = None;
        self.width = 0;
        Some(s)
    }

    fn draw(&mut self, done: Option<u64>, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        let body = match done {
            Some(done) => {
                let rate = if secs > 0.0 { (done as f64 / secs) as u64 } else { 0 };
                let of = match self.total {
                    Some(t) if t > 0 => format!(" of {} ({}%)", human(t), done.min(t) * 100 / t),
                    _ => String::new(),
                };
                format!("{}{of}, {}/s, {} s", human(done), human(rate), elapsed.as_secs())
            }
            None => format!("{} s", elapsed.as_secs()),
        };
        let line = format!("{}: {body}", self.what);
        let n = line.chars().count();
        let pad = self.width.saturating_sub(n);
        self.width = n;
        format!("\r{line}{}", " ".repeat(pad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn quick_work_prints_nothing() {
        let mut m = Meter::new("mount_md: zero-filling /i", Some(1 << 30));
        assert_eq!(m.tick(Some(1 << 29), ms(900)), None);
        assert_eq!(m.finish(Some(1 << 30), ms(990)), None);
    }

    #[test]
    fn at_most_a_few_times_a_second() {
        let mut m = Meter::new("mount_md: zero-filling /i", Some(2 << 30));
        let drawn: Vec<u64> = (0..=3000).step_by(10).filter(|&t| m.tick(Some(t << 20), ms(t)).is_some()).collect();
        assert_eq!(drawn.first(), Some(&1000));
        assert!(drawn.windows(2).all(|w| w[1] - w[0] >= 250), "{drawn:?}");
        assert_eq!(drawn.len(), 9, "{drawn:?}");
    }

    #[test]
    fn bytes_total_and_rate_like_dd() {
        let mut m = Meter::new("mount_md: zero-filling /srv/j1.img", Some(2 << 30));
        assert_eq!(
            m.tick(Some(512 << 20), ms(2000)).unwrap(),
            "\rmount_md: zero-filling /srv/j1.img: 512M of 2.0G (25%), 256M/s, 2 s"
        );
        assert_eq!(
            m.finish(Some(2 << 30), ms(8000)).unwrap(),
            "\rmount_md: zero-filling /srv/j1.img: 2.0G of 2.0G (100%), 256M/s, 8 s\n"
        );
    }

    #[test]
    fn a_shorter_line_blanks_the_longer_one_before_it() {
        let mut m = Meter::new("mount_md: copying /skel", None);
        let a = m.tick(Some(1023), ms(1000)).unwrap();
        let b = m.tick(Some(1300), ms(1250)).unwrap();
        assert_eq!(a, "\rmount_md: copying /skel: 1023B, 1023B/s, 1 s");
        assert_eq!(b, "\rmount_md: copying /skel: 1.3K, 1.0K/s, 1 s  ");
    }

    #[test]
    fn the_first_line_can_come_sooner() {
        let mut m = Meter::new("x", None).first_after(Duration::ZERO);
        assert!(m.tick(Some(1), ms(0)).is_some());
    }

    #[test]
    fn work_that_counts_no_bytes_shows_the_time() {
        let mut m = Meter::new("mount_md: e2fsck -p /dev/loop3", None);
        assert_eq!(m.tick(None, ms(3000)).unwrap(), "\rmount_md: e2fsck -p /dev/loop3: 3 s");
        assert_eq!(m.finish(None, ms(4200)).unwrap(), "\rmount_md: e2fsck -p /dev/loop3: 4 s\n");
    }
}
