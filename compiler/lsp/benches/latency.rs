//! Language-server latency on a 5,000-line pipeline, in process, release build:
//! a one-character edit until its diagnostics are ready (reanalysis + conversion), hover, and
//! completion. Prints median and 90th percentile over 200 runs each.
//! Run: `cargo bench -p pipe-lsp --bench latency`.

use pipe_core::source::FileId;
use pipe_lsp::workspace::Workspace;
use pipe_lsp::{complete, diagnostics, hover};
use std::time::{Duration, Instant};
use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};

const PATH: &str = "/bench/pipeline.pipe";

fn pipeline(lines: usize) -> String {
    let mut out = String::from(
        "use torchx\n\n## Passes.\nparam epochs: int = 10\nparam lr: float = 0.001\n\ninput raw = repo(\"raw\") @ \"v1\"\n\n",
    );
    let mut k = 0;
    while out.lines().count() < lines {
        let src = if k == 0 { "raw".to_string() } else { format!("s{}", k - 1) };
        out.push_str(&format!(
            "## Stage {k}.\nstage s{k}: torchx.python {{\n  image  = \"python:3.11-slim\"\n  script = \"step.py\"\n  datums = glob({src}, \"/*\")\n  args   = [\"--epochs\", \"${{epochs}}\", \"--lr\", \"${{lr}}\"]\n  cpu    = 1\n  memory = 2Gi\n}}\n\n"
        ));
        k += 1;
    }
    out
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} median {:7.3} ms   p90 {:7.3} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10])
    );
}

fn main() {
    let text = pipeline(5000);
    println!("file: {} lines, {} bytes", text.lines().count(), text.len());
    let mut ws = Workspace::default();
    ws.open(PATH, text.clone(), 0);
    // The `cpu = 1` line of a stage in the middle of the file.
    let cpu_lines: Vec<usize> =
        text.lines().enumerate().filter(|(_, l)| l.contains("cpu    = 1")).map(|(n, _)| n).collect();
    let target = cpu_lines[cpu_lines.len() / 2] as u32;

    let mut edits = Vec::new();
    for v in 1..=200 {
        let digit = if v % 2 == 0 { "1" } else { "2" };
        let change = TextDocumentContentChangeEvent {
            range: Some(Range { start: Position::new(target, 11), end: Position::new(target, 12) }),
            range_length: None,
            text: digit.into(),
        };
        let start = Instant::now();
        let doc = ws.change(PATH, vec![change], v).expect("open");
        let diags = diagnostics::by_file(&doc.analysis);
        assert!(
            diags[PATH].is_empty(),
            "the benchmark file checks clean: {:?}",
            diags[PATH].first().map(|d| &d.message)
        );
        std::hint::black_box(diags);
        edits.push(start.elapsed());
    }
    report("edit → diagnostics", edits);

    let doc = ws.get(PATH).expect("open");
    let hover_at = doc.text.rfind("${epochs}").expect("interpolation") + 3;
    let mut hovers = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let h = hover::hover(&doc.analysis, FileId(0), hover_at);
        assert!(h.is_some_and(|h| h.contains("param epochs")));
        hovers.push(start.elapsed());
    }
    report("hover", hovers);

    let field_at = doc.text.rfind("  cpu    = 1").expect("field");
    let mut completions = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let items = complete::complete(&doc.analysis, field_at + 2);
        assert!(items.iter().any(|i| i.label == "gpu"));
        completions.push(start.elapsed());
    }
    report("completion (stage fields)", completions);

    let value_at = doc.text.rfind("glob(").expect("glob") + 5;
    let mut datasets = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let items = complete::complete(&doc.analysis, value_at);
        assert!(items.len() > 100, "every earlier stage is offered");
        datasets.push(start.elapsed());
    }
    report("completion (datasets)", datasets);
}
