//! The one linear main, as FreeBSD's sbin tools have it: name → flavor,
//! argv → request, request → plan, plan → platform; one line on failure.
#![forbid(unsafe_code)]
use crate::cli::{self, CliError, Host};
use crate::error::Error;
use crate::exec;
use crate::flavor::{progname, Failure, Flavor};
use crate::host::SystemHost;
use crate::output::Output;
use crate::plan;
use crate::platform::{self, Describe};
use crate::request::Command;
use nix::errno::Errno;
use std::ffi::OsString;
use std::io::Write;

/// Runs mount_md for `argv` on `platform`; returns the exit status.
pub fn run<P: Describe>(
    argv: &[OsString],
    platform: &mut P,
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
            let _ = write!(err, "{}", cli::flags::usage_text(flavor, &prog));
            return flavor.exit_status(Failure::Usage);
        }
        Err(CliError::Fatal(msg)) => {
            let _ = writeln!(err, "{prog}: {msg}");
            return flavor.exit_status(Failure::Usage);
        }
        Err(CliError::Help) => {
            let _ = write!(out, "{}", cli::flags::help_text(flavor, &prog));
            return 0;
        }
        Err(CliError::Version) => {
            let _ = write!(out, "{}", cli::flags::version(&prog));
            return 0;
        }
        Err(CliError::Completion(shell)) => {
            let _ = write!(out, "{}", cli::complete::script(shell));
            return 0;
        }
    };
    let mut io = Output { prog: &prog, out, err };
    // Everything but --list attaches, mounts or reads whose a unit is.
    if !matches!(cmd, Command::List(_)) {
        if let Some(who) = host.unprivileged() {
            let e = Error::plain(format!("attaching disks and mounting need root ({who}); nothing was done"));
            return report(&mut io, flavor, &e, Failure::Permission);
        }
    }
    let size_note = match &cmd {
        Command::Mount(req) => req.size_note.as_deref(),
        Command::Grow(req) => req.size_note.as_deref(),
        _ => None,
    };
    if let Some(note) = size_note {
        let _ = writeln!(io.err, "{prog}: {note}");
    }
    let result = match cmd {
        Command::Mount(req) => {
            let plan = plan::build(&req, P::DEFAULTS);
            let checked = crate::check::check(&plan, platform, req.dry_run);
            // What it noted, said before its refusal or the first step.
            exec::print_notes(platform.take_notes(), req.debug, &mut io);
            match checked {
                Ok(_) if req.dry_run => {
                    if req.show_plan {
                        show_plan(&plan, platform, req.debug, &mut io);
                    }
                    Ok(())
                }
                Ok(checked) => exec::execute(&plan, &checked, platform, req.debug, &mut io),
                Err(e) => Err(e),
            }
        }
        Command::Release(req) => exec::release(&req, platform, &mut io),
        Command::Grow(req) => crate::grow::run(platform, &req, &mut io),
        Command::Remount(req) => crate::remount::run(platform, &req, &mut io),
        Command::List(req) => crate::list::collect(platform).map(|rows| {
            let rows = crate::list::table::select(rows, req.all);
            if req.json {
                let _ = io.out.write_all(crate::list::table::json(&rows).as_bytes());
            } else {
                let _ = io.out.write_all(&crate::list::table::text(&rows, req.bytes));
            }
        }),
    };
    match result {
        Ok(()) => 0,
        Err(e) => report(&mut io, flavor, &e, classify(&e)),
    }
}

/// `-N`: the plan, one line per step as an admin names it
/// ([`plan::words`]); with `-X` the exact calls, each step that runs only
/// under a condition saying so.
fn show_plan<P: Describe>(plan: &plan::Plan, platform: &P, exact: bool, io: &mut Output<'_>) {
    if !exact {
        for line in plan::words::describe(plan, &P::WORDS) {
            let _ = writeln!(io.out, "{line}");
        }
        return;
    }
    for step in &plan.steps {
        let condition = match step {
            plan::Step::OpenImage(o) if o.create.is_some() => " (created only if it does not exist)",
            plan::Step::Format(f) if f.only_if_created => " (only if this run created the image)",
            plan::Step::OpenImage(o) if o.from.is_some() => " (made from the base only if it does not exist)",
            plan::Step::NewIdentity { .. } => " (only if this run made the image from the base)",
            _ => "",
        };
        let _ = writeln!(io.out, "{}{condition}", platform.describe(step, None, None));
    }
}

/// Prints `<prog>: <error>` (with a hint when a privilege is missing) and
/// gives the exit status.
fn report(io: &mut Output<'_>, flavor: Flavor, e: &Error, failure: Failure) -> i32 {
    let hint = match e.errno() {
        Some(Errno::EACCES | Errno::EPERM) if !nix::unistd::geteuid().is_root() => {
            " (mount_md needs root, or the privileges to attach disks and mount)"
        }
        _ => "",
    };
    let _ = writeln!(io.err, "{}: {e}{hint}", io.prog);
    flavor.exit_status(failure)
}

/// The kind of failure: what this system cannot do at all is a bad
/// invocation ([`Error::unsupported`]; under mount.md `-f` too); else by
/// its errno: no permission, the system out of a resource (mount(8)'s
/// "system error": out of memory, cannot fork, no more loop devices), or
/// else the mount failed.
pub fn classify(e: &Error) -> Failure {
    if e.unsupported {
        return Failure::Usage;
    }
    match e.errno() {
        Some(Errno::EACCES | Errno::EPERM) => Failure::Permission,
        Some(Errno::ENOMEM | Errno::EMFILE | Errno::ENFILE | Errno::EAGAIN | Errno::ENOSPC | Errno::EDQUOT) => {
            Failure::System
        }
        _ => Failure::Mount,
    }
}

/// The real thing: this process's argv, the native platform, stdio.
pub fn main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let prog = progname(argv.first().map(|a| a.as_os_str()));
    if let Some(why) = platform::posix::set_id() {
        let _ = writeln!(std::io::stderr(), "{prog}: {why}");
        return Flavor::from_name(&prog).exit_status(Failure::Permission);
    }
    platform::posix::progress::enable_on_terminal(&prog);
    let mut platform = Native::new();
    // A stop signal is noticed between steps and undoes the run.
    platform::posix::hold_stop_signals();
    run(&argv, &mut platform, &SystemHost, &mut std::io::stdout(), &mut std::io::stderr())
}

/// The platform of the machine we run on: one cfg-gated alias per
/// backend; exactly one is compiled in.
#[cfg(loop_backend)]
pub type Native = platform::linux::Linux;
#[cfg(md_backend)]
pub type Native = platform::freebsd::FreeBsd<platform::freebsd::sys::Kernel>;
