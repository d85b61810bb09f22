//! Every language-server feature, in process: fixture texts with a cursor marker `‸`.

use pipe_core::source::FileId;
use pipe_lsp::workspace::Workspace;
use pipe_lsp::{complete, diagnostics, hover, navigate, symbols};
use tower_lsp_server::ls_types::{DiagnosticSeverity, NumberOrString, SymbolKind};

const CURSOR: char = '‸';

const MNIST: &str = r#"use torchx

## Passes over the training set.
param epochs: int = 10
param lr: float = 0.001

## Handwritten digits.
input digits = repo("mnist") @ "v2"

## Normalises one shard.
stage preprocess: torchx.python {
  image  = "python:3.11-slim"
  script = "prep.py"
  datums = glob(digits, "/train/*")
}

stage train: torchx.ddp {
  image   = "ghcr.io/acme/train:1"
  script  = "train.py"
  datums  = glob(preprocess, "/")
  args    = ["--epochs", "${epochs}", "--lr", "${lr}"]
  nnodes  = 2
  gpu     = epochs
}
"#;

/// The text without the marker, and the marker's byte offset.
fn cursor(marked: &str) -> (String, usize) {
    let offset = marked.find(CURSOR).expect("a cursor marker");
    (marked.replacen(CURSOR, "", 1), offset)
}

/// Puts the marker before the `n`th occurrence (0-based) of `needle` in MNIST, plus `shift` bytes.
fn at(needle: &str, n: usize, shift: usize) -> (String, usize) {
    let start = MNIST.match_indices(needle).nth(n).expect("needle present").0 + shift;
    (MNIST.to_string(), start)
}

fn open(text: &str) -> Workspace {
    let mut ws = Workspace::default();
    ws.open("/virtual/main.pipe", text.to_string(), 1);
    ws
}

fn hover_at(text: &str, offset: usize) -> String {
    let ws = open(text);
    hover::hover(&ws.get("/virtual/main.pipe").expect("open").analysis, FileId(0), offset).unwrap_or_default()
}

fn labels(text: &str, offset: usize) -> Vec<String> {
    let ws = open(text);
    complete::complete(&ws.get("/virtual/main.pipe").expect("open").analysis, offset)
        .into_iter()
        .map(|c| c.label)
        .collect()
}

#[test]
fn diagnostics_carry_code_help_and_related_locations() {
    let text = MNIST.replace("nnodes  = 2", "nodes   = 2").replace("glob(preprocess", "glob(train");
    let ws = open(&text);
    let by_file = diagnostics::by_file(&ws.get("/virtual/main.pipe").expect("open").analysis);
    let diags = &by_file["/virtual/main.pipe"];
    let unknown = diags.iter().find(|d| d.code == Some(NumberOrString::String("E3002".into()))).expect("E3002");
    assert_eq!(unknown.severity, Some(DiagnosticSeverity::ERROR));
    assert!(unknown.message.contains("help: did you mean `nnodes`?"), "{}", unknown.message);
    assert_eq!(unknown.range.start.line, 21);
    let cycle = diags.iter().find(|d| d.code == Some(NumberOrString::String("E4002".into()))).expect("E4002");
    let related = cycle.related_information.as_ref().expect("related information");
    assert_eq!(related[0].message, "stage defined here");
    assert!(!by_file.keys().any(|f| f.starts_with("<stdlib>")), "no diagnostics for the embedded stdlib");
}

#[test]
fn diagnostic_columns_are_utf16() {
    let ws = open("param s: string = \"é🚀\"  param t: int = 1\n");
    let by_file = diagnostics::by_file(&ws.get("/virtual/main.pipe").expect("open").analysis);
    let d = by_file["/virtual/main.pipe"]
        .iter()
        .find(|d| d.code == Some(NumberOrString::String("E1004".into())))
        .expect("E1004");
    assert_eq!(d.range.start.character, 25, "é is one UTF-16 unit and 🚀 two: 25, where chars give 24 and bytes 28");
}

#[test]
fn hover_shows_types_and_docs() {
    let (t, o) = at("${epochs}", 0, 3);
    let h = hover_at(&t, o);
    assert!(h.contains("param epochs: int = 10") && h.contains("Passes over the training set."), "{h}");
    let (t, o) = at("gpu     = epochs", 0, 12);
    assert!(hover_at(&t, o).contains("param of type `int`"));

    let (t, o) = at("nnodes", 0, 2);
    let h = hover_at(&t, o);
    assert!(h.contains("`nnodes: int` = `1` — field of `torchx.ddp`") && h.contains("How many nodes"), "{h}");

    let (t, o) = at("torchx.ddp", 0, 8);
    let h = hover_at(&t, o);
    assert!(
        h.contains("template ddp") && h.contains("torchrun") && h.contains("| `nproc_per_node` | `int` | `1` |"),
        "{h}"
    );

    let (t, o) = at("glob(preprocess", 0, 7);
    let h = hover_at(&t, o);
    assert!(h.contains("stage preprocess: torchx.python") && h.contains("runs as `python`; reads `digits`"), "{h}");

    let (t, o) = at("glob(digits", 0, 1);
    assert!(hover_at(&t, o).starts_with("`glob(DATASET, \"/pattern\")`"));

    let (t, o) = at("image", 0, 1);
    assert!(hover_at(&t, o).contains("`image: string` (required)"));
}

#[test]
fn definition_and_references() {
    let ws = open(MNIST);
    let a = &ws.get("/virtual/main.pipe").expect("open").analysis;
    let use_at = MNIST.find("glob(preprocess").expect("use") + 6;
    let def = navigate::definition(a, FileId(0), use_at).expect("definition");
    assert_eq!(&MNIST[def.range()], "preprocess");
    assert_eq!(def.start as usize, MNIST.find("stage preprocess").expect("def") + 6);

    let tpl = navigate::definition(a, FileId(0), MNIST.find("torchx.ddp").expect("tpl") + 8).expect("template");
    assert_eq!(a.sources().get(tpl.file).name, "<stdlib>/torchx.pipe");

    let epochs = MNIST.find("param epochs").expect("param") + 7;
    let refs = navigate::references(a, FileId(0), epochs, true);
    assert_eq!(refs.len(), 3, "the declaration, `${{epochs}}` and `gpu     = epochs`");
    assert_eq!(navigate::references(a, FileId(0), epochs, false).len(), 2);

    let digits = MNIST.find("input digits").expect("input") + 7;
    assert_eq!(navigate::references(a, FileId(0), digits, true).len(), 2, "the input and `glob(digits, …)`");
    let ddp = MNIST.find("torchx.ddp").expect("tpl") + 8;
    let uses = navigate::references(a, FileId(0), ddp, false);
    assert_eq!(uses.len(), 1);
    assert_eq!(&MNIST[uses[0].range()], "ddp");
    let input_def = navigate::definition(a, FileId(0), MNIST.find("glob(digits").expect("use") + 6).expect("def");
    assert_eq!(input_def.start as usize, digits - 1, "the name starts right after `input `");
}

#[test]
fn definition_follows_used_files() {
    let mut ws = Workspace::default();
    ws.open("/virtual/lib/jobs.pipe", "## A job.\ntemplate job {\n  retries = 2\n}\n".into(), 1);
    let main = "use \"lib/jobs.pipe\" as jobs\n\nstage s: jobs.job {\n  image = \"alpine:3.20\"\n}\n";
    ws.open("/virtual/main.pipe", main.into(), 1);
    let a = &ws.get("/virtual/main.pipe").expect("open").analysis;
    assert!(a.diagnostics.is_empty(), "{:?}", a.diagnostics);
    let file = navigate::definition(a, FileId(0), main.find("lib/").expect("path")).expect("file");
    assert_eq!((a.sources().get(file.file).name.as_str(), file.start), ("/virtual/lib/jobs.pipe", 0));
    let tpl = navigate::definition(a, FileId(0), main.find("jobs.job").expect("tpl") + 6).expect("template");
    assert_eq!(&a.sources().get(tpl.file).text[tpl.range()], "job");
    let h = hover::hover(a, FileId(0), main.find("jobs.job").expect("tpl") + 6).expect("hover");
    assert!(h.contains("A job.") && h.contains("| `retries` | `int` | `2` |"), "{h}");
}

#[test]
fn completion_offers_what_fits_the_place() {
    let (t, o) = cursor(&MNIST.replace("  nnodes  = 2\n", "  nnodes  = 2\n  ‸\n"));
    let fields = labels(&t, o);
    assert!(fields.contains(&"nproc_per_node".to_string()) && fields.contains(&"retries".to_string()), "{fields:?}");
    assert!(!fields.contains(&"nnodes".to_string()), "fields already set are not offered");

    let (t, o) = cursor(&MNIST.replace("glob(preprocess, \"/\")", "glob(‸"));
    let ds = labels(&t, o);
    assert!(
        ds.contains(&"digits".to_string())
            && ds.contains(&"preprocess".to_string())
            && !ds.contains(&"train".to_string()),
        "{ds:?}"
    );

    let (t, o) = cursor(&MNIST.replace("  nnodes  = 2\n", "  nnodes  = 2\n  timeout = 6‸\n"));
    assert_eq!(labels(&t, o), ["ms", "s", "m", "h", "d"]);
    let (t, o) = cursor(&MNIST.replace("  nnodes  = 2\n", "  nnodes  = 2\n  memory = 64‸\n"));
    assert!(labels(&t, o).contains(&"Gi".to_string()));

    let (t, o) = cursor(&MNIST.replace("glob(preprocess, \"/\")", "‸"));
    let datums = labels(&t, o);
    for f in ["glob", "cross", "union", "join", "group", "grid", "sample", "points"] {
        assert!(datums.contains(&f.to_string()), "`datums` offers {f}: {datums:?}");
    }

    let (t, o) = cursor(&format!("{MNIST}\nstage eval: ‸"));
    let tpls = labels(&t, o);
    assert!(tpls.contains(&"torchx.ddp".to_string()) && tpls.contains(&"torchx.shell".to_string()), "{tpls:?}");

    let (t, o) = cursor(&format!("{MNIST}\n‸"));
    assert!(labels(&t, o).contains(&"stage".to_string()));

    let (t, o) = cursor(&MNIST.replace("\"${lr}\"", "\"${‸\""));
    assert_eq!(labels(&t, o), ["epochs", "lr"]);

    let (t, o) = cursor(&MNIST.replace("gpu     = epochs", "gpu     = ‸"));
    assert_eq!(labels(&t, o), ["epochs"], "only params whose type fits");

    let (t, o) = cursor(&MNIST.replace("param lr: float", "param lr: fl‸"));
    assert!(labels(&t, o).contains(&"float".to_string()));
}

#[test]
fn document_symbols_outline_the_file() {
    let ws = open(MNIST);
    let syms = symbols::symbols(&ws.get("/virtual/main.pipe").expect("open").analysis);
    let names: Vec<(&str, SymbolKind)> = syms.iter().map(|s| (s.name.as_str(), s.kind)).collect();
    assert_eq!(
        names,
        [
            ("torchx", SymbolKind::MODULE),
            ("epochs", SymbolKind::VARIABLE),
            ("lr", SymbolKind::VARIABLE),
            ("digits", SymbolKind::INTERFACE),
            ("preprocess", SymbolKind::FUNCTION),
            ("train", SymbolKind::FUNCTION),
        ]
    );
    assert_eq!(syms[5].children.len(), 6);
    assert_eq!(syms[5].detail.as_deref(), Some("torchx.ddp"));
}

#[test]
fn rename_edits_every_occurrence_and_refuses_bad_names() {
    let ws = open(MNIST);
    let a = &ws.get("/virtual/main.pipe").expect("open").analysis;
    let at = MNIST.find("${epochs}").expect("use") + 3;
    let spans = navigate::rename(a, FileId(0), at, "num_epochs").expect("rename");
    let mut renamed = MNIST.to_string();
    for s in spans.iter().rev() {
        renamed.replace_range(s.range(), "num_epochs");
    }
    assert!(
        renamed.contains("param num_epochs: int")
            && renamed.contains("${num_epochs}")
            && renamed.contains("gpu     = num_epochs")
    );
    let after = open(&renamed);
    assert!(after.get("/virtual/main.pipe").expect("open").analysis.diagnostics.is_empty());

    assert!(navigate::rename(a, FileId(0), at, "2x").expect_err("refused").contains("not a name"));
    assert!(navigate::rename(a, FileId(0), at, "lr").expect_err("refused").contains("already defined"));
    let ddp = MNIST.find("torchx.ddp").expect("tpl") + 8;
    assert!(navigate::prepare_rename(a, FileId(0), ddp).expect_err("refused").contains("standard library"));
    let stage = MNIST.find("glob(preprocess").expect("stage") + 6;
    let spans = navigate::rename(a, FileId(0), stage, "prep").expect("stage rename");
    assert_eq!(spans.len(), 2);
}
