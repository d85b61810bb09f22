//! The DAG: stages ordered by the data they read.
//!
//! Takes the IR's stages and inputs; gives a petgraph graph (an edge from each dataset to every
//! stage that reads it), reports cycles with their full path (E4001) and stages that read their own
//! output (E4002), and sorts the IR's stages topologically, keeping source order where the data
//! allows. Renders the graph as DOT, Mermaid or JSON in [`render`].

pub mod render;

use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::ir::Pipeline;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Input(usize),
    Stage(usize),
}

/// Nodes are the pipeline's inputs and stages (by index into the IR); edges carry data.
pub type Dag = DiGraph<Node, ()>;

pub fn dag(p: &Pipeline) -> Dag {
    let mut g = Dag::new();
    let mut index: HashMap<&str, NodeIndex> = HashMap::new();
    for (i, input) in p.inputs.iter().enumerate() {
        index.insert(&input.name, g.add_node(Node::Input(i)));
    }
    for (i, stage) in p.stages.iter().enumerate() {
        index.insert(&stage.name, g.add_node(Node::Stage(i)));
    }
    for stage in &p.stages {
        let to = index[stage.name.as_str()];
        for read in &stage.reads {
            if let Some(&from) = index.get(read.as_str()) {
                g.add_edge(from, to, ());
            }
        }
    }
    g
}

/// Reports cycles and, if there are none, puts the stages in topological order.
pub fn order(p: &mut Pipeline, diags: &mut Diagnostics) {
    let g = dag(p);
    let mut cyclic = false;
    for stage in &p.stages {
        if let Some(k) = stage.reads.iter().position(|r| *r == stage.name) {
            cyclic = true;
            diags.push(
                Diagnostic::new(
                    Code::E4002,
                    stage.read_spans[k],
                    format!("stage `{}` reads its own output", stage.name),
                )
                .label("reads itself")
                .also(stage.span, "stage defined here")
                .help("A stage's output exists only after it runs; read an input or an earlier stage instead."),
            );
        }
    }
    for scc in tarjan_scc(&g) {
        if scc.len() > 1 {
            cyclic = true;
            diags.push(cycle(p, &g, &scc));
        }
    }
    if !cyclic {
        sort(p, &g);
    }
}

/// E4001 for one strongly connected component, with one concrete cycle through it.
fn cycle(p: &Pipeline, g: &Dag, scc: &[NodeIndex]) -> Diagnostic {
    let stage_of = |n: NodeIndex| match g[n] {
        Node::Stage(i) => Some(i),
        Node::Input(_) => None,
    };
    let start = *scc.iter().min_by_key(|n| stage_of(**n).map(|i| p.stages[i].span.start)).unwrap_or(&scc[0]);
    let members: HashSet<NodeIndex> = scc.iter().copied().collect();
    let mut path = vec![start];
    let mut seen = HashSet::from([start]);
    back_to(g, &members, start, start, &mut path, &mut seen);
    let names: Vec<&str> = path.iter().filter_map(|n| stage_of(*n)).map(|i| p.stages[i].name.as_str()).collect();
    let first = &p.stages[stage_of(start).unwrap_or(0)];
    let mut d =
        Diagnostic::new(Code::E4001, first.span, format!("stages form a cycle: {} → {}", names.join(" → "), names[0]))
            .label("this stage depends on itself through the cycle");
    for (k, name) in names.iter().enumerate() {
        let reader = names[(k + 1) % names.len()];
        if let Some(stage) = p.stages.iter().find(|s| s.name == reader)
            && let Some(pos) = stage.reads.iter().position(|r| r == name)
        {
            d = d.also(stage.read_spans[pos], format!("`{reader}` reads `{name}` here"));
        }
    }
    d.help("Data must flow one way: remove one of these reads, or split a stage in two.")
}

/// Extends `path` from `node` until an edge returns to `start`; true when found.
fn back_to(
    g: &Dag,
    members: &HashSet<NodeIndex>,
    start: NodeIndex,
    node: NodeIndex,
    path: &mut Vec<NodeIndex>,
    seen: &mut HashSet<NodeIndex>,
) -> bool {
    for next in g.neighbors(node) {
        if next == start {
            return true;
        }
        if members.contains(&next) && seen.insert(next) {
            path.push(next);
            if back_to(g, members, start, next, path, seen) {
                return true;
            }
            path.pop();
        }
    }
    false
}

/// Kahn's algorithm, taking the earliest stage in source order whenever several are ready.
fn sort(p: &mut Pipeline, g: &Dag) {
    let mut pending: Vec<usize> =
        g.node_indices().map(|n| g.neighbors_directed(n, petgraph::Incoming).count()).collect();
    let mut ready: BinaryHeap<Reverse<usize>> =
        g.node_indices().filter(|n| pending[n.index()] == 0).map(|n| Reverse(n.index())).collect();
    let mut order = Vec::with_capacity(p.stages.len());
    while let Some(Reverse(n)) = ready.pop() {
        let node = NodeIndex::new(n);
        if let Node::Stage(i) = g[node] {
            order.push(i);
        }
        for next in g.neighbors_directed(node, petgraph::Outgoing) {
            pending[next.index()] -= 1;
            if pending[next.index()] == 0 {
                ready.push(Reverse(next.index()));
            }
        }
    }
    let mut stages: Vec<Option<crate::ir::Stage>> = std::mem::take(&mut p.stages).into_iter().map(Some).collect();
    p.stages = order.into_iter().filter_map(|i| stages[i].take()).collect();
}
