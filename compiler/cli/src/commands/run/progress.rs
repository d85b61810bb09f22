//! One progress bar per stage, on stderr, when it is a terminal and the output is not JSON.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug)]
pub(super) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub(super) fn new(quiet: bool) -> Bars {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        Bars { multi: MultiProgress::with_draw_target(target), bars: Mutex::new(HashMap::new()) }
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
    }
    fn datum_done(&self, stage: &str, reused: bool) {
        if let Some(bar) = self.bars.lock().expect("bars lock").get(stage) {
            bar.inc(1);
            if reused {
                bar.set_message("(cached)");
            }
        }
    }
    fn datums_reused(&self, stage: &str, count: usize) {
        if let Some(bar) = self.bars.lock().expect("bars lock").get(stage) {
            bar.inc(count as u64);
            bar.set_message("(cached)");
        }
    }
    fn stage_finished(&self, stage: &str) {
        if let Some(bar) = self.bars.lock().expect("bars lock").get(stage) {
            bar.finish();
        }
    }
}
