//! The one error type every runtime step returns.
//!
//! It prints the err(3) way: `<what>: <why>`, where `why` is `strerror` of an
//! errno, a helper's own message, or nothing. The program name is added by
//! the caller, once, when the error reaches the user.
use nix::errno::Errno;
use std::fmt;

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// A system call failed with this errno.
    Errno(Errno),
    /// The kernel or a helper explained itself (nmount's errmsg, mkfs's
    /// stderr), and also gave an errno.
    Explained(String, Errno),
    /// Free text (a helper's stderr, a validation failure).
    Text(String),
    /// Nothing more to say than `what`.
    Nothing,
}

/// A failed step: `what` names the object or operation, `why` the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    pub what: String,
    pub why: Why,
    /// What this system cannot do at all, whatever it holds, known from
    /// the plan alone ([`Error::as_unsupported`]): a bad invocation, which
    /// exits as one (1, under mount.md too), not as a failed mount.
    pub unsupported: bool,
}

impl Error {
    /// `what: strerror(errno)`.
    pub fn sys(what: impl Into<String>, errno: Errno) -> Self {
        Error { what: what.into(), why: Why::Errno(errno), unsupported: false }
    }
    /// `what: text`.
    pub fn text(what: impl Into<String>, text: impl Into<String>) -> Self {
        Error { what: what.into(), why: Why::Text(text.into()), unsupported: false }
    }
    /// Just `what` (errx(3) style).
    pub fn plain(what: impl Into<String>) -> Self {
        Error { what: what.into(), why: Why::Nothing, unsupported: false }
    }
    /// `what: explanation: strerror(errno)` (how mount(8) reports nmount).
    pub fn explained(what: impl Into<String>, text: impl Into<String>, errno: Errno) -> Self {
        Error { what: what.into(), why: Why::Explained(text.into(), errno), unsupported: false }
    }
    /// This error, when no errno says the system refused it, as a refusal
    /// of what this system cannot do at all ([`Error::unsupported`]).
    pub fn as_unsupported(self) -> Self {
        Error { unsupported: self.errno().is_none(), ..self }
    }
    /// The errno behind this error, if there is one: retry and rollback
    /// decisions look at this, never at message text.
    pub fn errno(&self) -> Option<Errno> {
        match self.why {
            Why::Errno(e) | Why::Explained(_, e) => Some(e),
            _ => None,
        }
    }
}

/// The C library's strerror(3) text for `errno` (nix's own table words some
/// differently; users expect what every other tool on the system prints).
pub fn strerror(errno: Errno) -> String {
    let mut text = std::io::Error::from_raw_os_error(errno as i32).to_string();
    text.truncate(text.rfind(" (os error ").unwrap_or(text.len()));
    text
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Why::Errno(e) => write!(f, "{}: {}", self.what, strerror(*e)),
            Why::Explained(t, e) => write!(f, "{}: {}: {}", self.what, t, strerror(*e)),
            Why::Text(t) => write!(f, "{}: {}", self.what, t),
            Why::Nothing => f.write_str(&self.what),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A path as messages show it: whole, as given, in single quotes when it
/// has a space or a control character (so where it ends is plain), or is
/// empty.
pub fn quoted(p: &std::path::Path) -> String {
    let text = p.display().to_string();
    if text.is_empty() || text.chars().any(|c| c == ' ' || c.is_control()) {
        let shown: String =
            text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect();
        format!("'{shown}'")
    } else {
        text
    }
}

/// Turns `std::io::Error` into ours, keeping the errno when there is one.
pub fn from_io(what: impl Into<String>, e: &std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(n) => Error::sys(what, Errno::from_raw(n)),
        None => Error::text(what, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(quoted(std::path::Path::new("/srv/g.img")), "/srv/g.img");
        assert_eq!(quoted(std::path::Path::new("/srv/a b.img")), "'/srv/a b.img'");
        assert_eq!(quoted(std::path::Path::new("")), "''");
        assert_eq!(quoted(std::path::Path::new("/a\nb é")), "'/a\\nb é'");
    }
}
