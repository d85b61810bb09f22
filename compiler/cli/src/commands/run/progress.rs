//! Progress of `pipe run` on stderr, unless the output is JSON: one bar per stage when stderr is a
//! terminal, else a plain line when a stage starts, every 10 s while it runs and when it ends, so
//! a log in CI or a pod shows life.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub(super) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// Plain lines instead of bars, per stage.
    lines: Option<Mutex<HashMap<String, StageLine>>>,
}

/// A stage's count for plain lines.
#[derive(Debug)]
struct StageLine {
    done: usize,
    reused: usize,
    all: usize,
    /// When the last line was written.
    last: Instant,
}

impl Bars {
    pub(super) fn new(quiet: bool) -> Bars {
        let terminal = std::io::stderr().is_terminal();
        let target = if quiet || !terminal { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let lines = (!quiet && !terminal).then(|| Mutex::new(HashMap::new()));
        Bars { multi: MultiProgress::with_draw_target(target), bars: Mutex::new(HashMap::new()), lines }
    }

    /// Counts `n` datums of `stage` done, and writes a plain line when one is due.
    fn line(&self, stage: &str, n: usize, reused: bool) {
        let Some(lines) = &self.lines else { return };
        let mut all = lines.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = all.get_mut(stage) else { return };
        s.done += n;
        if reused {
            s.reused += n;
        }
        if s.last.elapsed() >= crate::commands::data::LINE_EVERY {
            s.last = Instant::now();
            eprintln!("stage `{stage}`: {}/{} datums ({} reused)", s.done, s.all, s.reused);
        }
    }
}

impl pipe_runtime::run::RunProgress for Bars {
    fn stage_started(&self, stage: &str, datums: usize) {
        let bar = self.multi.add(ProgressBar::new(datums as u64));
        let style = ProgressStyle::with_template("{prefix:<20} [{bar:30}] {pos}/{len} datums {msg}")
            .expect("the template is valid")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(stage.to_owned());
        self.bars.lock().expect("bars lock").insert(stage.to_owned(), bar);
        if let Some(lines) = &self.lines {
            eprintln!("stage `{stage}`: {datums} datums");
            lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(stage.to_owned(), StageLine { done: 0, reused: 0, all: datums, last: Instant::now() });
        }
    }
    fn datum_done(&self, stage: &str, reused: bool) {
        if let Some(bar) = self.bars.lock().expect("bars lock").get(stage) {
            bar.inc(1);
            if reused {
                bar.set_message("(cached)");
            }
        }
        self.line(stage, 1, reused);
    }
    fn datums_reused(&self, stage: &str, count: usize) {
        // Nothing cached is not "(cached)".
        if count == 0 {
            return;
        }
        if let Some(bar) = self.bars.lock().expect("bars lock").get(stage) {
            bar.inc(count as u64);
            bar.set_message(format!("({count} cached)"));
        }
        self.line(stage, count, true);
    }
    fn stage_finished(&self, stage: &str) {
        if let Some(bar) = self.bars.lock().expect("bars lock").get(stage) {
            bar.finish();
        }
        if let Some(lines) = &self.lines
            && let Some(s) = lines.lock().unwrap_or_else(|p| p.into_inner()).get(stage)
        {
            eprintln!("stage `{stage}`: finished, {}/{} datums ({} reused)", s.done, s.all, s.reused);
        }
    }
}
