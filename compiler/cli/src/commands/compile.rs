//! `pipe compile FILE --target spec|argo|torchx [-o DIR]`: what the compiler hands to runtimes.
//!
//! `spec` writes one stage spec per stage (`<stage>.json`, the contract `pipe-shim` reads) in DAG
//! order, with params substituted. `argo` writes Argo Workflows YAML (see `pipe_argo`): a
//! ConfigMap of stage specs whose params are bound when the workflow runs, the WorkflowTemplate,
//! a Workflow submitting it and, with a `schedule`, a CronWorkflow. `torchx` writes a Python module
//! of TorchX components, one per stage (see `pipe_torchx`), and a `.torchxconfig`. All pin every
//! `repo(…) @ REF` input to the commit it names in the store now and snapshot every `dir(…)`
//! input into the store (repo `<pipeline>.in.<input>`), so a compiled pipeline always reads the
//! same data and a cluster can read it; `--unpinned` leaves refs to be resolved when each stage is
//! planned (and `dir(…)` inputs unreadable on a cluster). Files are byte-identical across runs.
//! [`build`] is shared with `pipe deploy`, which applies the Argo objects instead of writing them.

use crate::files::{checked, param_overrides};
use crate::inputs;
use crate::report::{self, Failure, Outcome, Threads};
use pipe_runtime::pin::pin;
use pipe_spec::StageSpec;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    /// One `pipe-spec` stage spec per stage, as JSON.
    Spec,
    /// Argo Workflows: WorkflowTemplate, Workflow, CronWorkflow, ConfigMap (YAML).
    Argo,
    /// TorchX: a Python module with one component per stage, and a `.torchxconfig`.
    Torchx,
}

/// What every target is built from.
#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    pub file: PathBuf,
    /// The store that repo inputs are resolved in [default: as `pipe run`].
    #[arg(long, env = "PIPE_STORE")]
    pub store: Option<String>,
    /// Leave `repo(…) @ REF` inputs unresolved; each stage resolves them when it is planned.
    #[arg(long)]
    pub unpinned: bool,
    /// A param's value: `--param epochs=20` (repeatable).
    #[arg(short, long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Argo: the image holding the static `pipe-shim` at `/pipe-shim`.
    #[arg(long, value_name = "IMAGE")]
    pub shim_image: Option<String>,
    /// Argo: the Secret holding `PIPE_STORE` and the store's credentials.
    #[arg(long, value_name = "NAME", default_value = "pipe-store")]
    pub store_secret: String,
    /// Argo and TorchX: the Volcano queue of `torchx.ddp` stages (TorchX: of every stage).
    #[arg(long, value_name = "QUEUE", default_value = "default")]
    pub volcano_queue: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CompileArgs {
    #[command(flatten)]
    build: BuildArgs,
    #[arg(long, value_enum)]
    target: Target,
    /// Where to write [default: `<file stem>.<target>/` beside the pipeline].
    #[arg(short, long)]
    out: Option<PathBuf>,
}

/// One output file.
pub(crate) struct Built {
    pub file: String,
    pub text: String,
    /// The Kubernetes object, for Argo outputs.
    pub object: Option<serde_json::Value>,
}

/// Checks, resolves params, pins inputs and compiles `args.file` for `target`; prints
/// diagnostics (warnings too).
pub(crate) fn build(args: &BuildArgs, target: Target) -> Result<Vec<Built>, Failure> {
    let analysis = checked(&args.file, "compile the pipeline")?;
    report::print(&analysis.diagnostics, analysis.sources());
    let pipeline = analysis.pipeline();
    let overrides = param_overrides(&args.params).map_err(Failure::Usage)?;
    let params = pipe_core::emit::params::resolve(pipeline, &overrides).map_err(Failure::Usage)?;
    let mut specs: Vec<StageSpec> = match target {
        Target::Spec => pipe_core::emit::spec::stage_specs(pipeline, &params),
        Target::Argo | Target::Torchx => {
            pipeline.stages.iter().map(|s| pipe_core::emit::spec::stage_spec_template(pipeline, s, &params)).collect()
        }
    };
    if !args.unpinned {
        let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
        let dir = args.file.parent().unwrap_or(Path::new("."));
        let pinned = report::runtime(Threads::One)?.block_on(pin(
            &mut specs,
            &url,
            dir,
            pipeline.schedule.is_some() || pipeline.trigger.is_some(),
        ));
        if let Err(e) = pinned {
            let help = format!("{}; or compile with `--unpinned` to resolve refs when the pipeline runs", e.help());
            return Err(Failure::with_help(e, help));
        }
    }
    let plain = |file: String, text: String| Built { file, text, object: None };
    Ok(match target {
        Target::Spec => specs
            .iter()
            .map(|spec| {
                let mut text = serde_json::to_string_pretty(spec).expect("specs serialise");
                text.push('\n');
                plain(format!("{}.json", spec.stage), text)
            })
            .collect(),
        Target::Argo => {
            let mut opts = pipe_argo::Options::new(pipeline);
            if let Some(image) = &args.shim_image {
                opts.shim_image = image.clone();
            }
            opts.store_secret = args.store_secret.clone();
            opts.volcano_queue = args.volcano_queue.clone();
            let given: indexmap::IndexMap<String, String> =
                params.into_iter().filter(|(n, _)| overrides.iter().any(|(o, _)| o == n)).collect();
            match pipe_argo::compile(pipeline, &specs, &given, &opts) {
                Ok(manifests) => manifests
                    .into_iter()
                    .map(|m| Built { file: m.file, text: m.text, object: Some(m.object) })
                    .collect(),
                Err(diagnostics) => {
                    report::print(&diagnostics, analysis.sources());
                    return Err(Failure::Shown);
                }
            }
        }
        Target::Torchx => {
            report::print(&pipe_torchx::warnings(pipeline), analysis.sources());
            // Pods can reach a remote store, not a folder on this machine.
            let url = inputs::store_url(args.store.as_deref(), pipeline, &args.file);
            let remote =
                ["s3://", "gs://", "az://", "abfs://", "http://", "https://"].iter().any(|s| url.starts_with(s));
            pipe_torchx::compile(pipeline, &specs, &args.volcano_queue, remote.then_some(url.as_str()))
                .into_iter()
                .map(|o| plain(o.file, o.text))
                .collect()
        }
    })
}

pub(crate) fn run(args: CompileArgs) -> Outcome {
    let files = build(&args.build, args.target)?;
    let target = match args.target {
        Target::Spec => "spec",
        Target::Argo => "argo",
        Target::Torchx => "torchx",
    };
    let file = &args.build.file;
    let out = args.out.unwrap_or_else(|| {
        let stem = file.file_stem().map_or("pipeline".into(), |s| s.to_string_lossy().into_owned());
        file.parent().unwrap_or(Path::new(".")).join(format!("{stem}.{target}"))
    });
    std::fs::create_dir_all(&out).map_err(|e| Failure::usage(format!("cannot create `{}`: {e}", out.display())))?;
    for built in &files {
        let path = out.join(&built.file);
        std::fs::write(&path, &built.text)
            .map_err(|e| Failure::usage(format!("cannot write `{}`: {e}", path.display())))?;
    }
    eprintln!("wrote {} file(s) to {}", files.len(), out.display());
    Ok(())
}
