//! The one linear main, as FreeBSD's sbin tools have it: name → flavor,
//! argv → request, request → plan, plan → platform; one line on failure.
use crate::cli::{self, usage::usage_text, CliError, Host};
use crate::exec::{self, Options, Output};
use crate::flavor::{progname, Flavor};
use crate::plan;
use crate::platform::{self, host::SystemHost, Platform};
use crate::request::Command;
use std::ffi::OsString;
use std::io::Write;

/// Runs mount_md for `argv` on `platform`; returns the exit status.
pub fn run(
    argv: &[OsString],
    platform: &mut dyn Platform,
    host: &dyn Host,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let prog = progname(argv.first().map(|a| a.as_os_str()));
    let flavor = Flavor::from_name(&prog);
    let cmd = match cli::parse(flavor, argv, host) {
        Ok(r) => r,
        Err(CliError::Usage(line)) => {
            if let Some(line) = line {
                let _ = writeln!(err, "{prog}: {line}");
            }
            let _ = write!(err, "{}", usage_text(flavor, &prog));
            return 1;
        }
        Err(CliError::Fatal(msg)) => {
            let _ = writeln!(err, "{prog}: {msg}");
            return 1;
        }
    };
    let mut io = Output { prog: &prog, out, err };
    let result = match cmd {
        Command::Mount(req) => {
            let plan = plan::build(&req, platform.defaults());
            let opts = Options { dry_run: req.dry_run, show_plan: req.show_plan, debug: req.debug };
            exec::execute(&plan, platform, opts, &mut io)
        }
        Command::Release(req) => exec::release(&req, platform, &mut io),
        Command::Grow(req) => platform.grow(&req, &mut io),
        Command::List(req) => platform.list().map(|units| {
            let units = crate::list::select(units, req.all);
            if req.json {
                let _ = io.out.write_all(crate::list::json(&units).as_bytes());
            } else {
                for u in &units {
                    let _ = io.out.write_all(&crate::list::line(u));
                    let _ = io.out.write_all(b"\n");
                }
            }
        }),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(io.err, "{prog}: {e}");
            flavor.failure_status()
        }
    }
}

/// The real thing: this process's argv, the native platform, stdio.
pub fn main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mut platform = platform::native();
    run(&argv, platform.as_mut(), &SystemHost, &mut std::io::stdout(), &mut std::io::stderr())
}
