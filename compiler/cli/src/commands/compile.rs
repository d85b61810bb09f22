//! `pipe compile FILE --target spec [-o DIR]`: what the compiler hands to runtimes.
//!
//! `spec` writes one stage spec per stage (`<stage>.json`, the contract `pipe-shim` reads) in DAG
//! order, with params substituted and every `repo(…) @ REF` input pinned to the commit it names in
//! the store now, so a compiled pipeline always reads the same data (`--unpinned` leaves refs to
//! be resolved when each stage is planned). Files are byte-identical across runs.

use crate::files::{checked, param_overrides};
use crate::{inputs, report};
use pipe_spec::InputSource;
use pipe_store::Store;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Target {
    /// One `pipe-spec` stage spec per stage, as JSON.
    Spec,
}

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    file: PathBuf,
    #[arg(long, value_enum)]
    target: Target,
    /// Where to write [default: `<file stem>.<target>/` beside the pipeline].
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// The store that repo inputs are resolved in [default: as `pipe run`].
    #[arg(long, env = "PIPE_STORE")]
    store: Option<String>,
    /// Leave `repo(…) @ REF` inputs unresolved; each stage resolves them when it is planned.
    #[arg(long)]
    unpinned: bool,
    /// A param's value: `--param epochs=20` (repeatable).
    #[arg(short, long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
}

pub fn run(args: CompileArgs) -> u8 {
    let analysis = match checked(&args.file, "compile the pipeline") {
        Ok(a) => a,
        Err(code) => return code,
    };
    report::print(&analysis.diagnostics, analysis.sources());
    let pipeline = analysis.pipeline();
    let params = match param_overrides(&args.params).and_then(|o| pipe_core::emit::params::resolve(pipeline, &o)) {
        Ok(p) => p,
        Err(e) => return report::usage_error(&e),
    };
    let mut specs = pipe_core::emit::spec::stage_specs(pipeline, &params);
    if !args.unpinned {
        let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
        if let Err(e) = pin(&mut specs, &url) {
            eprintln!(
                "error: {e}\n  help: {}; or compile with `--unpinned` to resolve refs when the pipeline runs",
                e.help()
            );
            return 1;
        }
    }
    let out = args.out.unwrap_or_else(|| {
        let stem = args.file.file_stem().map_or("pipeline".into(), |s| s.to_string_lossy().into_owned());
        args.file.parent().unwrap_or(Path::new(".")).join(format!("{stem}.spec"))
    });
    if let Err(e) = std::fs::create_dir_all(&out) {
        return report::usage_error(&format!("cannot create `{}`: {e}", out.display()));
    }
    for spec in &specs {
        let path = out.join(format!("{}.json", spec.stage));
        let mut text = serde_json::to_string_pretty(spec).expect("specs serialise");
        text.push('\n');
        if let Err(e) = std::fs::write(&path, text) {
            return report::usage_error(&format!("cannot write `{}`: {e}", path.display()));
        }
    }
    eprintln!("wrote {} stage spec(s) to {}", specs.len(), out.display());
    0
}

/// Resolves every repo input's ref to its commit now.
fn pin(specs: &mut [pipe_spec::StageSpec], url: &str) -> Result<(), pipe_store::StoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| pipe_store::StoreError::Io { path: PathBuf::from(url), source: e })?;
    runtime.block_on(async {
        let store = Store::open(url, false)?;
        for spec in specs.iter_mut() {
            for input in &mut spec.inputs {
                if let InputSource::Repo { repo, reference, commit } = &mut input.source {
                    *commit = Some(store.resolve(repo, reference).await?);
                }
            }
        }
        Ok(())
    })
}
