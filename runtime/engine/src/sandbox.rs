//! Where a datum's command may write, when it runs on this machine.
//!
//! Takes the folders no command may change (the project, a local store with its state and work
//! folders); gives the command line that runs a command under bubblewrap with those folders
//! read-only and only its own datum's folder writable inside them, so a write through
//! `$PIPE_OUT/../..` or an absolute path into the store fails at once instead of becoming a side
//! effect the cache never sees. Everything else (the home folder's caches, `/tmp`, devices such as
//! GPUs, the network) stays as it is. Where bubblewrap is missing or cannot make a mount namespace
//! (macOS, some containers), commands run unwrapped and `exec` can only look for entries left next
//! to the datum's folder; [`Sandbox::off_reason`] says why. Costs one `bwrap` start per attempt
//! (about 5 ms). Does not hide files from reading, limit resources or isolate processes: the
//! cluster's pods do that.

use std::path::{Path, PathBuf};

/// How datums' commands are run here.
#[derive(Debug, Clone)]
pub enum Sandbox {
    /// Under `bwrap`, with `protected` read-only.
    Bubblewrap { bwrap: PathBuf, protected: Vec<PathBuf> },
    /// As they are; the reason, for the run's summary.
    Off { reason: String },
}

impl Sandbox {
    /// Bubblewrap protecting `protected` when it works here, unless `PIPE_SANDBOX=off`;
    /// `PIPE_SANDBOX=on` makes its absence an error.
    pub fn detect(protected: &[PathBuf]) -> Result<Sandbox, String> {
        let wanted = std::env::var("PIPE_SANDBOX").unwrap_or_default();
        if wanted == "off" {
            return Ok(Sandbox::Off { reason: "PIPE_SANDBOX=off".into() });
        }
        match probe() {
            Ok(bwrap) => {
                let protected = protected.iter().filter_map(|p| p.canonicalize().ok()).collect();
                Ok(Sandbox::Bubblewrap { bwrap, protected })
            }
            Err(reason) if wanted == "on" => {
                Err(format!("PIPE_SANDBOX=on, but {reason}: install bubblewrap (Debian: `apt-get install bubblewrap`)"))
            }
            Err(reason) => Ok(Sandbox::Off { reason }),
        }
    }

    /// Why commands run unwrapped, if they do.
    pub fn off_reason(&self) -> Option<&str> {
        match self {
            Sandbox::Off { reason } => Some(reason),
            Sandbox::Bubblewrap { .. } => None,
        }
    }

    /// The program and arguments that run `program args` with `work` (the datum's folder) as
    /// the only writable folder among the protected ones.
    pub fn wrap(&self, program: &str, args: &[String], work: &Path) -> (String, Vec<String>) {
        let Sandbox::Bubblewrap { bwrap, protected } = self else {
            return (program.to_owned(), args.to_vec());
        };
        let work = work.canonicalize().unwrap_or_else(|_| work.to_owned());
        let path = |p: &Path| p.display().to_string();
        let mut line: Vec<String> = ["--dev-bind", "/", "/", "--die-with-parent"].map(String::from).to_vec();
        for p in protected {
            line.extend(["--ro-bind".into(), path(p), path(p)]);
        }
        line.extend(["--bind".into(), path(&work), path(&work), "--chdir".into(), path(&work), "--".into()]);
        line.push(program.to_owned());
        line.extend(args.iter().cloned());
        (path(bwrap), line)
    }
}

/// The `bwrap` on PATH, if it can make the mounts [`Sandbox::wrap`] asks for.
fn probe() -> Result<PathBuf, String> {
    let bwrap = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("bwrap")).find(|p| p.is_file()))
        .ok_or_else(|| "bubblewrap (`bwrap`) is not installed".to_string())?;
    let out = std::process::Command::new(&bwrap)
        .args(["--dev-bind", "/", "/", "--ro-bind", "/", "/", "--", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("`{}` cannot start: {e}", bwrap.display()))?;
    if out.status.success() {
        Ok(bwrap)
    } else {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(format!("bubblewrap cannot make a mount namespace here ({why})"))
    }
}
