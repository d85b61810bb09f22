//! `pipe run FILE --watch`: the pipeline's trigger checked here, now and then every `poll` (or
//! `--every`), and the pipeline run whenever its watched inputs have commits no run took yet.
//!
//! Takes the same arguments as a run; each check is `pipe_runtime::trigger::check` against the
//! run's store, under a new run id that the run then uses, so a check and its run share one id
//! and the claims are the cluster's (a laptop watching and a cluster polling one store start one
//! run per set of commits between them). A failed run or an unreachable store is reported and the
//! watch goes on; with `--checks N` it ends after N checks, exiting 1 if any run failed. The
//! trigger (which inputs, how often) is read once, when the watch starts; each run reads the
//! pipeline file as it is then.

use super::{RunArgs, run_once};
use crate::files::checked;
use crate::inputs;
use crate::report::{self, Failure, Threads};
use pipe_store::Store;
use std::time::Duration;

pub(super) fn watch(args: &RunArgs) -> report::Outcome {
    let analysis = checked(&args.file, "watch the pipeline")?;
    let pipeline = analysis.pipeline();
    let Some(trigger) = pipe_core::emit::spec::trigger_spec(pipeline) else {
        return Err(Failure::with_help(
            format!("pipeline `{}` has no trigger to watch", pipeline.name),
            "add `trigger = [INPUT]` to its `pipeline` block, naming the repo inputs whose new commits start a run",
        ));
    };
    let every = args.every.unwrap_or(Duration::from_secs(trigger.poll_seconds));
    let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
    let runtime = report::runtime(Threads::One)?;
    let mut failed = false;
    let mut checks = 0u64;
    loop {
        let id = pipe_runtime::run::run_id();
        let checked = runtime.block_on(async {
            let store = Store::open(&url, true)?;
            Ok::<_, Failure>(pipe_runtime::trigger::check(&store, &trigger, &id).await?)
        });
        match checked {
            Ok(check) if check.runs => {
                eprintln!("{} {}: running as {id}", check.at, check.why);
                if let Err(failure) = run_once(args, Some(id)) {
                    failed = true;
                    let code = failure.report();
                    eprintln!("the run failed (exit {code}); watching on");
                }
            }
            Ok(check) => eprintln!("{} {}", check.at, check.why),
            Err(failure) => {
                failed = true;
                failure.report();
                eprintln!("the check failed; trying again in {}", humantime::format_duration(every));
            }
        }
        checks += 1;
        if args.checks.is_some_and(|n| checks >= n) {
            break;
        }
        std::thread::sleep(every);
    }
    if failed { Err(Failure::Shown) } else { Ok(()) }
}
