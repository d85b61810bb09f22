//! Progress of `put` and `get` on stderr, unless the output is JSON: a byte bar when stderr is a
//! terminal (its ETA shown only after 3 s, before which it is a guess from a handful of chunks:
//! "11 h" for an 8.7 s put), else a plain line every 10 s, so a log in CI or a pod shows life.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain line is written when stderr is not a terminal.
pub(crate) const LINE_EVERY: Duration = Duration::from_secs(10);
const ETA_AFTER: Duration = Duration::from_secs(3);
const TEMPLATE: &str = "{msg:>4} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}";

#[derive(Debug)]
pub(super) struct Bar {
    bar: ProgressBar,
    /// Plain lines instead of a bar: what, total, done, when the last line was written.
    lines: Option<Mutex<(String, u64, u64, Instant)>>,
    started: Instant,
    eta_shown: std::sync::atomic::AtomicBool,
}

impl Bar {
    pub(super) fn new(quiet: bool) -> Bar {
        let terminal = std::io::stderr().is_terminal();
        let target = if quiet || !terminal { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(ProgressStyle::with_template(TEMPLATE).expect("the template is valid").progress_chars("=> "));
        let lines = (!quiet && !terminal).then(|| Mutex::new((String::new(), 0, 0, Instant::now())));
        Bar { bar, lines, started: Instant::now(), eta_shown: Default::default() }
    }
}

impl pipe_store::Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        self.bar.set_message(what.to_owned());
        self.bar.set_length(total);
        if let Some(lines) = &self.lines {
            *lines.lock().unwrap_or_else(|p| p.into_inner()) = (what.to_owned(), total, 0, Instant::now());
        }
    }
    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if self.started.elapsed() > ETA_AFTER && !self.eta_shown.swap(true, std::sync::atomic::Ordering::Relaxed) {
            let with_eta = format!("{TEMPLATE} eta {{eta}}");
            self.bar.set_style(
                ProgressStyle::with_template(&with_eta).expect("the template is valid").progress_chars("=> "),
            );
        }
        if let Some(lines) = &self.lines {
            let mut l = lines.lock().unwrap_or_else(|p| p.into_inner());
            l.2 += bytes;
            if l.3.elapsed() >= LINE_EVERY {
                l.3 = Instant::now();
                eprintln!("{}: {} of {}", l.0, super::print::bytes(l.2), super::print::bytes(l.1));
            }
        }
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
