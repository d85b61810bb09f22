//! The `pipe` command line.
//!
//! Takes arguments and files; gives reports on the terminal and exit codes: 0 clean (warnings
//! allowed), 1 problems in the user's files, 2 usage errors and unreadable files. All IO and
//! rendering lives here; the analysis is `pipe-core`'s.

mod commands;
mod files;
mod inputs;
mod report;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a run over 10,000 datums allocates and frees millions of
/// small strings, and glibc spent a third of a no-change run in malloc and free. Built without
/// transparent huge pages (`no_thp`): mimalloc 3 advises its 1 GiB arena for them, so each
/// thread's first touch of a 2 MiB region faulted in and zeroed all of it. A put of 10,000 small
/// files then held 127–157 MB instead of 63–70 MB and took 0.14–0.37 s instead of 0.11–0.12 s,
/// and a no-change run of 1,000,000 datums swung 3.0–5.8 s instead of 3.3–3.8 s (2026-12-07).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "pipe", version, about = "Typed ML data pipelines: check, format, graph, compile and run .pipe files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report every problem in pipeline files (all `*.pipe` here if none are named).
    Check {
        files: Vec<PathBuf>,
        /// `human` for people, `json` for tools (one array of diagnostics on stdout).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Rewrite files in the canonical format (`-` formats standard input to standard output).
    Fmt {
        files: Vec<PathBuf>,
        /// Change nothing; list the files that are not formatted and exit 1 if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Print the pipeline's DAG.
    Graph {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Explain a diagnostic code, e.g. `pipe explain E3001`.
    Explain { code: String },
    /// Run the language server on stdin/stdout, for editors.
    Lsp,
    /// Compile the pipeline for a runtime: `--target spec|argo|torchx`.
    Compile(commands::compile::CompileArgs),
    /// Run the pipeline on this machine, processing only datums that changed.
    Run(commands::run::RunArgs),
    /// Send the pipeline's runs still owed to its tracking servers (MLflow, OpenLineage).
    Export(commands::export::ExportCmd),
    /// The provenance of a pipeline's runs: input commits, fingerprints, datums processed or reused.
    Log(commands::log::LogArgs),
    /// Versioned data repos: init, put, log, ls, get, diff, tag.
    Data(commands::data::DataArgs),
    /// Apply the pipeline's Argo objects to a Kubernetes cluster and submit a Workflow.
    Deploy(commands::deploy::DeployArgs),
    /// Show a deployed Workflow's state and each of its steps.
    Status(commands::deploy::StatusArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

fn main() -> ExitCode {
    // `pipe run` starts each command under a copy of this executable acting as its guard.
    pipe_runtime::guard::serve_if_asked();
    // `pipe data ls | head`: a reader that stops early ends `pipe` quietly, as it ends `ls`,
    // instead of a panic on the next print.
    sigpipe::reset();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Check { files, format } => commands::check::run(&files, matches!(format, Format::Json)),
        Command::Fmt { files, check } => commands::fmt::run(&files, check),
        Command::Graph { file, format } => commands::graph::run(&file, format),
        Command::Explain { code } => commands::explain::run(&code),
        Command::Data(args) => commands::data::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Log(args) => commands::log::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Compile(args) => commands::compile::run(args),
        Command::Deploy(args) => commands::deploy::run(args),
        Command::Status(args) => commands::deploy::status(args),
        Command::Lsp => match pipe_lsp::run_stdio() {
            Ok(pipe_lsp::Ending::AfterShutdown) => Ok(()),
            // The protocol's own rule: exit 1 when input ends, or `exit` comes, without `shutdown`.
            Ok(pipe_lsp::Ending::WithoutShutdown) => Err(report::Failure::Shown),
            Err(e) => Err(report::Failure::usage(format!("the language server could not start: {e}"))),
        },
    };
    // Errors are values up to here: printed once, then the exit code.
    ExitCode::from(outcome.map_or_else(report::Failure::report, |()| 0))
}
