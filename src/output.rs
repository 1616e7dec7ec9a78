//! Where a run writes: what it reports to standard output, warnings and
//! debug lines to standard error.
#![forbid(unsafe_code)]
use std::io::Write;

/// Where a mode writes: the plan to `out`; warnings and debug lines,
/// prefixed as err(3) would, to `err`.
pub struct Output<'a> {
    pub prog: &'a str,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}
