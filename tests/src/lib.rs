//! Helpers shared by the test suite: an in-memory loader, fixture loading, and rendering an
//! analysis the way snapshots show it.

pub mod argo_pod;
pub mod cluster;
pub mod kube_api;
pub mod sandbox;
pub mod servers;
pub mod volcano;

use pipe_core::diag::render;
use pipe_core::{Analysis, Loader};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A loader over files held in memory, by root-relative path.
#[derive(Debug, Default, Clone)]
pub struct MemLoader {
    pub files: BTreeMap<String, String>,
}

impl Loader for MemLoader {
    fn load(&self, path: &str) -> Result<String, String> {
        self.files.get(path).cloned().ok_or_else(|| "no such file or directory".to_string())
    }
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Every `.pipe` file under `dir`, by path relative to `dir`, with `/` separators.
pub fn pipe_files(dir: &Path) -> BTreeMap<String, String> {
    text_files(dir, |path| path.extension().is_some_and(|e| e == "pipe"))
}

/// Every file under `dir` that `keep` accepts, read as UTF-8, by path relative to `dir` with `/`
/// separators.
pub fn text_files(dir: &Path, keep: impl Fn(&Path) -> bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if keep(&path) {
                let rel = path.strip_prefix(dir).expect("below dir").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&path).expect("utf-8 file"));
            }
        }
    }
    out
}

/// A pipeline run by new commits of repo `models` (checked every minute), whose one stage copies
/// each model file: the trigger tests' subject, here and on the cluster stand-in.
pub const TRIGGERED_PIPELINE: &str = r#"input models = repo("models")

pipeline {
  name    = "validate"
  trigger = [models]
  poll    = 1m
}

stage check {
  image   = "debian:12"
  command = ["sh", "-c", "cp $PIPE_IN_MODELS/* $PIPE_OUT/"]
  datums  = glob(models, "/*")
}
"#;

/// Analyses `main.pipe` of a folder, with the folder's other `.pipe` files loadable.
pub fn analyze_dir(dir: &Path) -> Analysis {
    let files = pipe_files(dir);
    analyze_files("main.pipe", files)
}

/// Analyses `root` among in-memory files.
pub fn analyze_files(root: &str, files: BTreeMap<String, String>) -> Analysis {
    let text = files.get(root).cloned().unwrap_or_default();
    let loader = MemLoader { files };
    pipe_core::analyze(&loader, root, &text)
}

/// Diagnostics as the terminal shows them, without colour, at width 80.
pub fn rendered(a: &Analysis) -> String {
    render::graphical_all(&a.diagnostics, a.sources(), 80)
}

/// What `pipe compile --target argo --unpinned` reports for an analysis without errors (its
/// E5007/E5008 checks); nothing when the analysis has errors, since nothing is compiled then.
pub fn argo_diagnostics(a: &Analysis) -> Vec<pipe_core::diag::Diagnostic> {
    if a.diagnostics.iter().any(|d| d.is_error()) {
        return Vec::new();
    }
    let p = a.pipeline();
    let defaults = pipe_core::emit::params::resolve(p, &[]).unwrap_or_default();
    let specs: Vec<_> = p.stages.iter().map(|s| pipe_core::emit::spec::stage_spec_template(p, s, &defaults)).collect();
    pipe_argo::compile(p, &specs, &Default::default(), &pipe_argo::Options::new(p)).err().unwrap_or_default()
}

/// What `pipe compile --target torchx` adds to an error-free analysis: its warnings.
pub fn torchx_diagnostics(a: &Analysis) -> Vec<pipe_core::diag::Diagnostic> {
    if a.diagnostics.iter().any(|d| d.is_error()) {
        return Vec::new();
    }
    pipe_torchx::warnings(a.pipeline())
}

/// [`torchx_diagnostics`] rendered like [`rendered`].
pub fn rendered_torchx(a: &Analysis) -> String {
    render::graphical_all(&torchx_diagnostics(a), a.sources(), 80)
}

/// [`argo_diagnostics`] rendered like [`rendered`].
pub fn rendered_argo(a: &Analysis) -> String {
    render::graphical_all(&argo_diagnostics(a), a.sources(), 80)
}

const TOKENS: [&str; 24] = [
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "${",
    "#",
    "##",
    "\n",
    "=",
    ",",
    "@",
    ".",
    ":",
    "glob(",
    "stage x {",
    "template t: torchx.ddp {",
    "use \"x.pipe\" as x",
    "é",
    "→",
    "\u{1F680}",
    "-9223372036854775809",
];

/// Byte flips, deletions, token insertions and truncations (1 to 4 of them) of a text, as text
/// (invalid UTF-8 replaced).
pub fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    String::from_utf8_lossy(&mutate_bytes(rng, text)).into_owned()
}

/// [`mutate`]'s edits as bytes, which may be invalid UTF-8, plus rarer hostile ones: an opener
/// repeated past the nesting limit, a 70,000-character run (a long line, or a long name inside
/// an identifier), a stray continuation byte or a truncated multi-byte character.
pub fn mutate_bytes(rng: &mut fastrand::Rng, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.usize(1..=4) {
        let at = rng.usize(0..=bytes.len());
        match rng.u8(0..40) {
            0..=7 if at < bytes.len() => bytes[at] ^= 1 << rng.u8(0..8),
            8..=15 if at < bytes.len() => {
                let end = (at + rng.usize(1..=24)).min(bytes.len());
                bytes.drain(at..end);
            }
            16..=23 => bytes.splice(at..at, TOKENS[rng.usize(0..TOKENS.len())].bytes()).for_each(drop),
            24..=31 => bytes.truncate(at),
            32 => {
                let opener: &[u8] = [b"[".as_slice(), b"{ a = ", b"(", b"${"][rng.usize(0..4)];
                let deep = opener.repeat(rng.usize(60..=300));
                bytes.splice(at..at, deep).for_each(drop);
            }
            33 => bytes.splice(at..at, std::iter::repeat_n(b'n', 70_000)).for_each(drop),
            34 => bytes.splice(at..at, [0x80, 0xff, 0xe2, 0x82].into_iter().take(rng.usize(1..=4))).for_each(drop),
            _ => bytes.insert(at.min(bytes.len()), rng.u8(..)),
        }
    }
    bytes
}

/// Copies the folder `from` to `to`, leaving out `.pipe` (a local store and its state).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readable folder") {
        let p = e.expect("entry").path();
        let name = p.file_name().expect("a name");
        if name == ".pipe" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).expect("copy");
        }
    }
}

/// Writes `bytes` at `root/path`, creating its folders.
pub fn write_file(root: &Path, path: &str, bytes: &[u8]) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("a file has a parent folder")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

/// `len` pseudo-random bytes, the same for the same seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Every example (`example-<name>`: its `pipeline.pipe`) and emit fixture (`emit-<case>`: its
/// `main.pipe`), sorted by name: what each compile target must accept.
pub fn compile_cases() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut out = Vec::new();
    for (prefix, folder, file) in [("example", "examples", "pipeline.pipe"), ("emit", "tests/cases/emit", "main.pipe")]
    {
        for entry in std::fs::read_dir(root.join(folder)).expect("case folder") {
            let dir = entry.expect("entry").path();
            if dir.join(file).exists() {
                out.push((format!("{prefix}-{}", dir.file_name().expect("name").to_string_lossy()), dir.join(file)));
            }
        }
    }
    out.sort();
    out
}

/// `out` if its process succeeded; otherwise a panic showing its stdout and stderr.
pub fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `pipe` (the binary at `pipe`, a test's `env!("CARGO_BIN_EXE_pipe")`) in `dir`, unsandboxed and
/// untouched by the environment's store, state folder and tracking servers.
pub fn pipe_command(pipe: &Path, dir: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(pipe);
    c.current_dir(dir).env("NO_COLOR", "1").env("PIPE_SANDBOX", "off");
    for var in ["PIPE_STORE", "PIPE_STATE_DIR", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "OPENLINEAGE_URL"] {
        c.env_remove(var);
    }
    c
}

/// `pipe-shim` (beside the `pipe` binary at `pipe`) run in `dir` for run `run`, the way a pod runs
/// it: the store is `dir/.pipe`, work folders go under `dir/work`.
pub fn shim_command(pipe: &Path, dir: &Path, run: &str) -> std::process::Command {
    let shim = pipe.with_file_name("pipe-shim");
    assert!(shim.exists(), "{} is missing: build it with `cargo build -p pipe-shim`", shim.display());
    let mut c = std::process::Command::new(shim);
    c.current_dir(dir).env("PIPE_STORE", dir.join(".pipe")).env("PIPE_RUN", run).env("PIPE_WORK", dir.join("work"));
    c
}

/// Runs `pipe compile FILE --target TARGET -o OUT EXTRA…` with the `pipe` binary at `pipe`
/// (a test's `env!("CARGO_BIN_EXE_pipe")`), which must succeed; gives each emitted file's name and
/// text.
pub fn compile_to(pipe: &Path, target: &str, file: &Path, out: &Path, extra: &[&str]) -> BTreeMap<String, String> {
    let (f, o) = (file.to_string_lossy(), out.to_string_lossy());
    let mut args = vec!["compile", &f, "--target", target, "-o", &o];
    args.extend(extra);
    succeeded(std::process::Command::new(pipe).args(args).output().expect("pipe runs"));
    files_in(out)
}

/// The files directly in `dir`, by name, as text.
pub fn files_in(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("a folder")
        .map(|e| {
            let path = e.expect("entry").path();
            (
                path.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).expect("text"),
            )
        })
        .collect()
}
