//! The DAG as text: Graphviz DOT, Mermaid, or JSON.
//!
//! Takes a checked pipeline; gives a deterministic rendering in which inputs and stages are nodes
//! and each edge is labelled with the glob patterns the reader applies.

use super::{Node, dag};
use crate::ir::Datums;
use crate::ir::{Pipeline, Source};
use petgraph::visit::EdgeRef;
use serde_json::{Value, json};
use std::fmt::Write;

/// The glob patterns stage `reader` applies to `dataset`.
fn patterns(datums: Option<&Datums>, dataset: &str) -> Vec<String> {
    fn walk(d: &Datums, dataset: &str, out: &mut Vec<String>) {
        match d {
            Datums::Glob { dataset: ds, pattern, .. } if ds == dataset => out.push(pattern.clone()),
            Datums::Glob { .. } => {}
            Datums::Cross(ps) | Datums::Union(ps) => ps.iter().for_each(|p| walk(p, dataset, out)),
            Datums::Join(ps) => ps.iter().for_each(|p| walk(&p.datums, dataset, out)),
            Datums::Group(ps) => ps.iter().for_each(|p| walk(&p.datums, dataset, out)),
            Datums::Points { dataset: ds, path, .. } if ds == dataset => out.push(path.clone()),
            Datums::Grid(_) | Datums::Sample { .. } | Datums::Points { .. } => {}
        }
    }
    let mut out = Vec::new();
    if let Some(d) = datums {
        walk(d, dataset, &mut out);
    }
    out
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Repo { repo, reference } => format!("repo {repo}@{reference}"),
        Source::Dir { path } => format!("dir {path}"),
        Source::Url { url } => format!("url {url}"),
        Source::Error => "?".into(),
    }
}

struct Edge {
    from: String,
    to: String,
    label: String,
}

fn edges(p: &Pipeline) -> Vec<Edge> {
    let g = dag(p);
    let name = |n: Node| match n {
        Node::Input(i) => p.inputs[i].name.clone(),
        Node::Stage(i) => p.stages[i].name.clone(),
    };
    let mut out: Vec<Edge> = g
        .edge_references()
        .map(|e| {
            let (from, to) = (name(g[e.source()]), name(g[e.target()]));
            let reader = p.stage(&to);
            let label = patterns(reader.and_then(|s| s.datums.as_ref()), &from).join(", ");
            Edge { from, to, label }
        })
        .collect();
    out.sort_by(|a, b| (&a.to, &a.from).cmp(&(&b.to, &b.from)));
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A DOT label of several lines.
fn label(lines: &[&str]) -> String {
    format!("\"{}\"", lines.iter().map(|l| escape(l)).collect::<Vec<_>>().join("\\n"))
}

pub fn dot(p: &Pipeline) -> String {
    let mut out =
        format!("digraph {} {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n", quote(&p.name));
    for i in &p.inputs {
        let _ = writeln!(
            out,
            "  {} [shape=cylinder, label={}];",
            quote(&i.name),
            label(&[&i.name, &source_text(&i.source)])
        );
    }
    for s in &p.stages {
        let text = match &s.template {
            Some(t) => label(&[&s.name, t]),
            None => label(&[&s.name]),
        };
        let _ = writeln!(out, "  {} [label={text}];", quote(&s.name));
    }
    for e in edges(p) {
        let _ = writeln!(out, "  {} -> {} [label={}];", quote(&e.from), quote(&e.to), quote(&e.label));
    }
    out.push_str("}\n");
    out
}

pub fn mermaid(p: &Pipeline) -> String {
    let mut out = String::from("flowchart LR\n");
    // Mermaid ids are positional: names such as `end` are reserved words there.
    let id = |name: &str| {
        p.inputs
            .iter()
            .position(|i| i.name == name)
            .map(|k| format!("i{k}"))
            .or_else(|| p.stages.iter().position(|s| s.name == name).map(|k| format!("s{k}")))
            .unwrap_or_default()
    };
    for (k, i) in p.inputs.iter().enumerate() {
        let _ = writeln!(out, "  i{k}[(\"{}\")]", i.name);
    }
    for (k, s) in p.stages.iter().enumerate() {
        let _ = writeln!(out, "  s{k}[\"{}\"]", s.name);
    }
    for e in edges(p) {
        let label =
            if e.label.is_empty() { String::new() } else { format!("|\"{}\"|", e.label.replace('"', "#quot;")) };
        let _ = writeln!(out, "  {} -->{label} {}", id(&e.from), id(&e.to));
    }
    out
}

pub fn json(p: &Pipeline) -> Value {
    let inputs = p.inputs.iter().map(|i| json!({ "id": i.name, "kind": "input", "source": i.source }));
    let stages =
        p.stages.iter().map(|s| json!({ "id": s.name, "kind": "stage", "template": s.template, "runs": s.kind }));
    let edges: Vec<Value> =
        edges(p).into_iter().map(|e| json!({ "from": e.from, "to": e.to, "patterns": e.label })).collect();
    json!({ "name": p.name, "nodes": inputs.chain(stages).collect::<Vec<_>>(), "edges": edges })
}
