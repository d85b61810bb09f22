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
    /// Plain lines instead of bars: per stage, datums done, reused, all, and the last line's time.
    lines: Option<Mutex<HashMap<String, (usize, usize, usize, Instant)>>>,
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
        s.0 += n;
        if reused {
            s.1 += n;
        }
        if s.3.elapsed() >= crate::commands::data::LINE_EVERY {
            s.3 = Instant::now();
            eprintln!("stage `{stage}`: {}/{} datums ({} reused)", s.0, s.2, s.1);
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
            lines.lock().unwrap_or_else(|p| p.into_inner()).insert(stage.to_owned(), (0, 0, datums, Instant::now()));
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
            && let Some((done, reused, all, _)) = lines.lock().unwrap_or_else(|p| p.into_inner()).get(stage)
        {
            eprintln!("stage `{stage}`: finished, {done}/{all} datums ({reused} reused)");
        }
    }
}
