//! The watchdog: one small process per runner (`pipe run`, `pipe-shim`) that ends every command
//! the runner started, should the runner die first — so no command outlives it.
//!
//! Takes `<runner's executable> __pipe-guard` with a pipe from the runner on its standard input,
//! on which the runner writes `+PGID` when it starts a command (in a process group of its own)
//! and `-PGID` once that group is gone. Gives: at end of file — the runner closed the pipe, or
//! died, even by `SIGKILL`, since the kernel closes a dead process's files — `SIGKILL` to every
//! group still registered. The watchdog runs in a process group of its own, so the signal a
//! terminal sends the runner's group (Ctrl-C) does not end it before it has done its job.
//!
//! The runner itself kills a command's group when the command exits or times out
//! ([`kill_group`]): a datum's work is over when its command is. Does not: follow a descendant
//! that leaves the group on purpose (`setsid`), or limit memory or CPU. No signal handlers, no
//! `unsafe`: end of file is the only message.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;

/// The first argument that makes a runner's executable act as its watchdog.
pub const GUARD_ARG: &str = "__pipe-guard";

/// If this process was started as a watchdog (`argv[1]` is [`GUARD_ARG`]), watches and exits;
/// otherwise returns. Call it first thing in `main` of every binary that runs commands.
pub fn serve_if_asked() {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(GUARD_ARG)) {
        return;
    }
    let mut groups: HashSet<u32> = HashSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match (line.get(..1), line.get(1..).and_then(|n| n.trim().parse::<u32>().ok())) {
            (Some("+"), Some(pgid)) => {
                groups.insert(pgid);
            }
            (Some("-"), Some(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in groups {
        kill_group(pgid);
    }
    std::process::exit(0);
}

/// A watchdog run by this process's own executable, when it can be started (it cannot when the
/// executable was replaced or removed while running: then commands run unwatched).
pub fn start_for_this_process() -> Option<std::sync::Arc<Watchdog>> {
    let exe = std::env::current_exe().ok().filter(|exe| exe.is_file())?;
    Watchdog::start(&exe).ok().map(std::sync::Arc::new)
}

/// SIGKILL to every process of group `pgid` (nothing if it is already empty).
pub fn kill_group(pgid: u32) {
    if let Some(pid) = i32::try_from(pgid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// The runner's end: the watchdog process and the pipe to it.
pub struct Watchdog {
    child: Mutex<Child>,
    pipe: Mutex<Option<ChildStdin>>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog").finish_non_exhaustive()
    }
}

impl Watchdog {
    /// Starts `program` (the runner's own executable, whose `main` calls [`serve_if_asked`]) as
    /// the watchdog.
    pub fn start(program: &Path) -> std::io::Result<Watchdog> {
        let mut child = Command::new(program)
            .arg(GUARD_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take();
        Ok(Watchdog { child: Mutex::new(child), pipe: Mutex::new(pipe) })
    }

    /// Registers the process group of a command just started.
    pub fn watch(&self, pgid: u32) {
        self.say(&format!("+{pgid}\n"));
    }

    /// Forgets a group the runner has ended itself.
    pub fn release(&self, pgid: u32) {
        self.say(&format!("-{pgid}\n"));
    }

    fn say(&self, line: &str) {
        if let Some(pipe) = self.pipe.lock().expect("the watchdog pipe lock").as_mut() {
            // A watchdog that died cannot be helped here; commands are still ended one by one.
            let _ = pipe.write_all(line.as_bytes());
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // End of file: the watchdog ends whatever is still registered and exits.
        drop(self.pipe.lock().expect("the watchdog pipe lock").take());
        let _ = self.child.lock().expect("the watchdog lock").wait();
    }
}
