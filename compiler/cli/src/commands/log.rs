//! `pipe log FILE [RUN]`: the provenance of a pipeline's runs, newest first; with a run id, which
//! input commits it read, each stage's fingerprint and output commit, and which datums it
//! processed, reused or lost.

use crate::files::checked;
use crate::{inputs, report};
use pipe_store::Store;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    file: PathBuf,
    /// One run's whole record.
    run: Option<String>,
    /// The store [default: as `pipe run`].
    #[arg(long, env = "PIPE_STORE")]
    store: Option<String>,
    /// At most this many runs.
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(args: LogArgs) -> u8 {
    let analysis = match checked(&args.file, "read the pipeline's runs") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let pipeline = analysis.pipeline();
    let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return report::usage_error(&format!("cannot start the async runtime: {e}")),
    };
    let records = runtime.block_on(async {
        let store = Store::open(&url, false)?;
        let ids = match &args.run {
            Some(id) => vec![id.clone()],
            None => store.run_ids().await?.into_iter().rev().collect(),
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = store.run_get(&id).await?
                && r["pipeline"] == pipeline.name.as_str()
            {
                out.push(r);
                if out.len() == args.limit {
                    break;
                }
            }
        }
        Ok::<_, pipe_store::StoreError>(out)
    });
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}\n  help: {}", e.help());
            return 1;
        }
    };
    if let Some(id) = &args.run
        && records.is_empty()
    {
        eprintln!(
            "error: no run `{id}` of pipeline `{}` in {url}\n  help: `pipe log {}` lists the runs",
            pipeline.name,
            args.file.display()
        );
        return 1;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records).expect("JSON values print"));
    } else if args.run.is_some() {
        records.iter().for_each(detail);
    } else {
        records.iter().for_each(line);
    }
    0
}

fn line(r: &Value) {
    let stages: Vec<String> = r["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| format!("{} {}/{}/{}", s["name"].as_str().unwrap_or(""), s["processed"], s["skipped"], s["failed"]))
        .collect();
    println!("{}  {}  {}", r["run_id"].as_str().unwrap_or(""), r["started"].as_str().unwrap_or(""), stages.join("  "));
}

fn detail(r: &Value) {
    println!(
        "run {}  ({} → {})",
        r["run_id"].as_str().unwrap_or(""),
        r["started"].as_str().unwrap_or(""),
        r["finished"].as_str().unwrap_or("")
    );
    for i in r["inputs"].as_array().into_iter().flatten() {
        println!(
            "input  {:<12} {}@{} = {}",
            i["name"].as_str().unwrap_or(""),
            i["repo"].as_str().unwrap_or(""),
            i["reference"].as_str().unwrap_or(""),
            i["commit"].as_str().unwrap_or("")
        );
    }
    for s in r["stages"].as_array().into_iter().flatten() {
        println!(
            "stage  {:<12} {:<8} processed {} reused {} failed {}  fingerprint {}  output {}",
            s["name"].as_str().unwrap_or(""),
            s["status"].as_str().unwrap_or(""),
            s["processed"],
            s["skipped"],
            s["failed"],
            &s["fingerprint"].as_str().unwrap_or("")[..12.min(s["fingerprint"].as_str().unwrap_or("").len())],
            s["output"].as_str().unwrap_or("-"),
        );
        for d in s["datums"].as_array().into_iter().flatten() {
            println!("         {:<9} {}", d["status"].as_str().unwrap_or(""), d["datum"].as_str().unwrap_or(""));
        }
    }
}
