//! `pipe data resolve FILE`: which commit each `repo(…) @ REF` input of a pipeline names now.

use crate::files::checked;
use crate::inputs;
use crate::report::Outcome;
use pipe_core::ir::Source;
use pipe_store::Store;
use std::path::Path;

pub(super) fn run(runtime: &tokio::runtime::Runtime, flag: Option<&str>, file: &Path, json: bool) -> Outcome {
    let analysis = checked(file, "resolve the pipeline's inputs")?;
    let pipeline = analysis.pipeline();
    let url = inputs::store_url(flag, pipeline, file);
    let resolved = runtime.block_on(async {
        let store = Store::open(&url, false)?;
        inputs::resolve(&store, pipeline).await
    });
    let resolved = resolved?;
    if json {
        println!("{}", serde_json::to_string_pretty(&resolved).expect("JSON values print"));
        return Ok(());
    }
    for input in &pipeline.inputs {
        let line = match &input.source {
            Source::Repo { repo, reference } => {
                let commit = resolved.iter().find(|r| r.name == input.name).map(|r| r.commit.to_string());
                format!("repo({repo}) @ {reference} → {}", commit.unwrap_or_default())
            }
            Source::Dir { path } => format!("dir({path}) → snapshotted when the pipeline runs"),
            Source::Url { url } => format!("url({url}) → downloaded when the pipeline runs"),
            Source::Error => continue,
        };
        println!("{:<12} {line}", input.name);
    }
    Ok(())
}
