//! The guard: a small process between a runner (`pipe run`, `pipe-shim`) and each command it
//! starts, so that no command outlives the runner that started it.
//!
//! Takes `<guard program> __pipe-guard -- PROGRAM ARGS…` (the runner's own executable, so nothing
//! extra is installed); gives the command's exit status as its own (a command killed by signal N
//! exits 128 + N). The guard starts the command in a process group of its own and holds a pipe
//! from the runner on its standard input. When that pipe reaches end of file — the runner closed
//! it (a timeout) or died, even by `SIGKILL`, since the kernel closes a dead process's files —
//! the guard kills the command's whole group. When the command exits, the guard kills what it
//! left running in its group too: a datum's work is over when its command is.
//!
//! Does not: follow a descendant that leaves the group on purpose (`setsid`), or limit memory or
//! CPU. It uses no signal handlers and no `unsafe`: end of file is the only message.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};

/// The first argument that makes a runner's executable act as a guard.
pub const GUARD_ARG: &str = "__pipe-guard";

/// If this process was started as a guard (`argv[1]` is [`GUARD_ARG`]), runs the guard and exits;
/// otherwise returns. Call it first thing in `main` of every binary that runs commands.
pub fn serve_if_asked() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(GUARD_ARG)) {
        return;
    }
    let rest: Vec<_> = args.skip_while(|a| a != "--").skip(1).collect();
    std::process::exit(guard(&rest));
}

fn guard(argv: &[std::ffi::OsString]) -> i32 {
    let Some((program, args)) = argv.split_first() else {
        eprintln!("pipe guard: no command given");
        return 2;
    };
    let mut child = match Command::new(program).args(args).stdin(Stdio::null()).process_group(0).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start `{}`: {e}", program.to_string_lossy());
            return 127;
        }
    };
    let group = child.id();
    // The runner's end of our stdin: end of file means "stop now" (timeout, or the runner died).
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        kill_group(group);
        std::process::exit(137);
    });
    let status = child.wait();
    kill_group(group);
    match status {
        Ok(s) => code_of(s),
        Err(e) => {
            eprintln!("waiting for the command failed: {e}");
            1
        }
    }
}

/// SIGKILL to every process of group `pgid` (nothing if it is already empty).
pub(crate) fn kill_group(pgid: u32) {
    if let Some(pid) = i32::try_from(pgid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    }
}
