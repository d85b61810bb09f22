//! `pipe log FILE [RUN [RUN2]]`: the provenance of a pipeline's runs, newest first; with a run
//! (its id, a unique prefix, `latest` or `latest~N`), its params, code, input commits, each
//! stage's fingerprint, output commit and metrics, and which datums it processed, reused or lost;
//! with two, what changed between them ([`compare`]); with `--table`, every run as a row of params
//! and metrics ([`table`]); with `--plot METRIC`, a page plotting it across runs or against a
//! param ([`plot`]); with `--logs DATUM`, a datum's stored stdout and stderr. For a pipeline with a
//! `trigger`, the list ends with its last check: when, which run, whether it ran and why.

mod compare;
mod plot;
mod table;

use crate::files::checked;
use crate::inputs;
use crate::report::{self, Failure, Outcome, Threads};
use pipe_runtime::record::RunRecord;
use pipe_store::Store;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    file: PathBuf,
    /// One run's whole record: its id, a prefix of it, `latest` or `latest~N` (N runs before).
    run: Option<String>,
    /// Another run, named likewise: what changed from RUN to it (params, input commits, each
    /// stage's code and output, datums processed).
    #[arg(conflicts_with = "logs")]
    other: Option<String>,
    /// The store [default: as `pipe run`].
    #[arg(long, env = "PIPE_STORE")]
    store: Option<String>,
    /// Print the stored stdout and stderr of the datums of RUN whose label (or key prefix) is
    /// DATUM.
    #[arg(long, value_name = "DATUM", requires = "run")]
    logs: Option<String>,
    /// At most this many runs (the newest) [default: 20; with --table, every run].
    #[arg(short = 'n', long)]
    limit: Option<usize>,
    /// The runs as a table: a row per run, its params and metrics (`stage.metric`) as columns.
    #[arg(long, conflicts_with_all = ["run", "logs"])]
    table: bool,
    /// Sort the table by this param or metric column.
    #[arg(long, value_name = "COLUMN", requires = "table")]
    sort: Option<String>,
    /// Sort largest first.
    #[arg(long, requires = "sort")]
    desc: bool,
    /// Plot this metric (`stage.metric`, a column of --table) across the runs, oldest first, as a
    /// self-contained HTML page.
    #[arg(long, value_name = "METRIC", conflicts_with_all = ["run", "logs", "table"])]
    plot: Option<String>,
    /// Plot the metric against this param instead of the runs' order.
    #[arg(long, value_name = "PARAM", requires = "plot")]
    by: Option<String>,
    /// Where to write the plot [default: METRIC.html].
    #[arg(short, long, value_name = "FILE", requires = "plot")]
    output: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: LogArgs) -> Outcome {
    let analysis = checked(&args.file, "read the pipeline's runs")?;
    let pipeline = analysis.pipeline();
    let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
    let runtime = report::runtime(Threads::One)?;
    let store = Store::open(&url, false)?;
    let records = runtime.block_on(async {
        // Oldest first, by when each record was written (cluster runs' ids are not times).
        let mut ids = store.run_ids().await?;
        ids.reverse();
        if let Some(name) = &args.run {
            let mut named = Vec::new();
            for name in std::iter::once(name).chain(&args.other) {
                let record = named_run(&store, &ids, &pipeline.name, name).await?;
                named.push(record.ok_or_else(|| {
                    Failure::with_help(
                        format!("no run `{name}` of pipeline `{}` in {url}", pipeline.name),
                        format!(
                            "`pipe log {}` lists the runs; name one by its id, a prefix of it, `latest` or `latest~N`",
                            args.file.display()
                        ),
                    )
                })?);
            }
            return Ok::<_, Failure>(named);
        }
        let limit = if args.table || args.plot.is_some() { args.limit } else { Some(args.limit.unwrap_or(20)) };
        let mut out = Vec::new();
        for id in ids {
            let Some(value) = store.run_get(&id).await? else { continue };
            match RunRecord::decode(value) {
                Ok(r) if r.pipeline == pipeline.name => out.push(r),
                Ok(_) => continue,
                Err(why) => eprintln!("warning: skipping run `{id}`, whose record cannot be read: {why}"),
            }
            if Some(out.len()) == limit {
                break;
            }
        }
        Ok(out)
    })?;
    if let Some(datum) = &args.logs {
        return print_logs(&runtime, &store, &records, datum);
    }
    // Two runs named: what changed. (Two runs *listed* are a list: comparing whenever exactly two
    // records were found turned `pipe log FILE` and `--table` of a pipeline run twice into a diff.)
    if let ([from, to], Some(_)) = (records.as_slice(), &args.other) {
        let changes = compare::compare(from, to);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&changes).expect("JSON values print"));
        } else {
            println!("from run {} to run {}", from.run_id, to.run_id);
            if changes.is_empty() {
                println!("nothing changed");
            }
            for c in &changes {
                println!("{:<7} {:<14} {} → {}", c.kind, c.name, c.from, c.to);
            }
        }
        return Ok(());
    }
    if let Some(metric) = &args.plot {
        let mut rows = table::rows(&records, None, false).map_err(Failure::usage)?;
        rows.reverse();
        let (page, plotted) = plot::page(&pipeline.name, &rows, metric, args.by.as_deref()).map_err(Failure::usage)?;
        let name: String =
            metric.chars().map(|c| if c.is_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        let out = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.html")));
        std::fs::write(&out, page).map_err(|e| Failure::error(format!("cannot write {}: {e}", out.display())))?;
        println!("wrote {} ({plotted} runs)", out.display());
        return Ok(());
    }
    if args.table {
        let rows = table::rows(&records, args.sort.as_deref(), args.desc).map_err(Failure::usage)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&rows).expect("JSON values print"));
        } else {
            table::print(&rows);
        }
        return Ok(());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records).expect("JSON values print"));
    } else if args.run.is_some() {
        records.iter().for_each(detail);
    } else {
        records.iter().for_each(line);
        if pipeline.trigger.is_some() {
            let last = runtime.block_on(pipe_runtime::trigger::last(&store, &pipeline.name))?;
            match last {
                Some(c) => println!(
                    "last trigger check {} by run {}: {}, {}",
                    c.at,
                    c.run,
                    if c.runs { "ran" } else { "skipped" },
                    c.why
                ),
                None => {
                    println!("no trigger check yet: `pipe deploy` installs the checks; `pipe run --watch` checks here")
                }
            }
        }
    }
    Ok(())
}

/// The run of `pipeline` that `name` names among `ids` (newest first): `latest`, `latest~N` (the
/// Nth before it), a whole id, or a prefix of exactly one of the pipeline's ids.
async fn named_run(store: &Store, ids: &[String], pipeline: &str, name: &str) -> Result<Option<RunRecord>, Failure> {
    let read = |id: String| async move {
        let Some(value) = store.run_get(&id).await? else { return Ok::<_, Failure>(None) };
        let record = RunRecord::decode(value)
            .map_err(|why| Failure::error(format!("the record of run `{id}` cannot be read: {why}")))?;
        Ok((record.pipeline == pipeline).then_some(record))
    };
    let back = match name.strip_prefix("latest") {
        Some("") => Some(0),
        Some(rest) => rest.strip_prefix('~').and_then(|n| n.parse::<usize>().ok()),
        None => None,
    };
    if let Some(back) = back {
        let mut seen = 0;
        for id in ids {
            if let Some(record) = read(id.clone()).await? {
                if seen == back {
                    return Ok(Some(record));
                }
                seen += 1;
            }
        }
        return Ok(None);
    }
    let mut found = Vec::new();
    for id in ids.iter().filter(|id| id.starts_with(name)) {
        if let Some(record) = read(id.clone()).await? {
            if record.run_id == name {
                return Ok(Some(record));
            }
            found.push(record);
        }
    }
    if found.len() > 1 {
        let some: Vec<&str> = found.iter().take(5).map(|r| r.run_id.as_str()).collect();
        return Err(Failure::with_help(
            format!(
                "`{name}` is the start of {} runs' ids: {}{}",
                found.len(),
                some.join(", "),
                if found.len() > 5 { ", …" } else { "" }
            ),
            "give more of the id",
        ));
    }
    Ok(found.pop())
}

/// The stored logs of every datum of the run named `datum` (label, or a prefix of its key).
fn print_logs(runtime: &tokio::runtime::Runtime, store: &Store, records: &[RunRecord], datum: &str) -> Outcome {
    let matching: Vec<_> = records
        .iter()
        .flat_map(|r| r.stages.iter().flat_map(move |s| s.datums.iter().map(move |d| (s, d))))
        .filter(|(_, d)| d.datum == datum || d.key.starts_with(datum))
        .collect();
    if matching.is_empty() {
        return Err(Failure::with_help(
            format!("the run has no datum `{datum}`"),
            "`pipe log FILE RUN` lists its datums; give a label or a key prefix",
        ));
    }
    runtime.block_on(async {
        for (stage, d) in matching {
            println!("== stage `{}`, datum `{}` ({})", stage.name, d.datum, d.status);
            // A datum reused from the stage index has its logs in its cache entry.
            let mut logs = d.logs.clone();
            if logs.is_empty()
                && let (Ok(fp), Ok(key)) = (stage.fingerprint.parse(), d.key.parse())
                && let Some(entry) = store.cache_get(&fp, &key).await?
            {
                logs = entry.logs;
            }
            if logs.is_empty() {
                println!("(no output kept: the command wrote nothing, or ran before logs were kept)");
                continue;
            }
            let tmp = tempfile::tempdir()
                .map_err(|source| pipe_store::StoreError::Io { path: std::env::temp_dir(), source })?;
            store.get_files(logs.clone(), tmp.path(), 2, std::sync::Arc::new(pipe_store::Quiet)).await?;
            for f in &logs {
                println!("-- {}", f.path);
                print!("{}", String::from_utf8_lossy(&std::fs::read(tmp.path().join(&f.path)).unwrap_or_default()));
            }
        }
        Ok::<_, Failure>(())
    })
}

fn line(r: &RunRecord) {
    let stages: Vec<String> =
        r.stages.iter().map(|s| format!("{} {}/{}/{}", s.name, s.processed, s.skipped, s.failed)).collect();
    let pending =
        if r.pending.is_empty() { String::new() } else { format!("  (not committed yet: {})", r.pending.join(", ")) };
    println!("{}  {}  {}{pending}", r.run_id, r.started, stages.join("  "));
}

fn detail(r: &RunRecord) {
    println!("run {}  ({} → {})", r.run_id, r.started, r.finished);
    if let Some(git) = &r.git {
        println!("code   git {}{}", git.commit, if git.dirty { " with changes not committed" } else { "" });
    }
    if !r.pending.is_empty() {
        println!("stages not committed yet: {} (running, or stopped before their commit)", r.pending.join(", "));
    }
    for (name, value) in &r.params {
        println!("param  {name:<12} {value}");
    }
    for i in &r.inputs {
        println!("input  {:<12} {}@{} = {}", i.name, i.repo, i.reference, i.commit);
    }
    for s in &r.stages {
        println!(
            "stage  {:<12} {:<8} processed {} reused {} failed {}  fingerprint {}  output {}",
            s.name,
            s.status,
            s.processed,
            s.skipped,
            s.failed,
            s.fingerprint.get(..12).unwrap_or(&s.fingerprint),
            s.output.map_or("-".to_owned(), |c| c.to_string()),
        );
        if !s.image.is_empty() {
            println!("         image {}", s.image);
        }
        for c in &s.code {
            println!("         script {} {}", c.path, c.hash.short(12));
        }
        for d in &s.datums {
            println!("         {:<9} {}", d.status, d.datum);
            for (name, value) in &d.metrics {
                println!("           {name} = {value}");
            }
            if let Some(f) = &d.failure {
                println!("           {}", f.reason);
                for line in f.stderr_tail.lines() {
                    println!("           | {line}");
                }
            }
        }
    }
}
