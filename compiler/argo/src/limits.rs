//! What the cluster would reject, found at compile time: objects over the size Kubernetes stores
//! (E5007) and text Argo would take for one of its `{{…}}` variables (E5008).
//!
//! Takes the IR, the stage specs and the sizes of the emitted objects; gives diagnostics on the
//! stage that is to blame.

use pipe_core::diag::{Code, Diagnostic};
use pipe_core::ir::Pipeline;
use pipe_spec::{EnvValue, StageSpec};
use serde::Serialize;

/// The largest object pipe emits: etcd refuses requests over 1.5 MiB by default, and Argo's own
/// guidance keeps workflow objects under 1 MiB so that their status fits beside the spec.
pub(crate) const MAX_OBJECT_BYTES: usize = 1 << 20;

/// What a Workflow holds besides its template's spec and its node status: metadata (labels,
/// annotations, managed fields), the submitted arguments, conditions, timestamps. Measured on
/// Argo's own example workflows' stored objects, with room to spare.
const WORKFLOW_OVERHEAD_BYTES: usize = 16 << 10;

/// The size of `value` as the API server stores it (compact JSON).
pub(crate) fn json_size<T: Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// The stage an E5007 points at: the one with the largest spec.
fn largest_stage<'a>(p: &'a Pipeline, specs: &[StageSpec]) -> Option<&'a pipe_core::ir::Stage> {
    p.stages.iter().zip(specs).max_by_key(|(_, s)| json_size(s)).map(|(stage, _)| stage)
}

/// E5007 for every object over [`MAX_OBJECT_BYTES`], on the stage with the largest spec.
pub(crate) fn check_sizes<'a>(
    p: &Pipeline,
    specs: &[StageSpec],
    sizes: impl Iterator<Item = (&'a str, usize)>,
) -> Result<(), Vec<Diagnostic>> {
    let largest = || largest_stage(p, specs);
    let errors: Vec<Diagnostic> = sizes
        .filter(|(_, size)| *size > MAX_OBJECT_BYTES)
        .filter_map(|(file, size)| {
            let stage = largest()?;
            Some(
                Diagnostic::new(
                    Code::E5007,
                    stage.span,
                    format!(
                        "`{file}` would be {} KiB, over the {} KiB a Kubernetes object may hold",
                        size.div_ceil(1024),
                        MAX_OBJECT_BYTES / 1024
                    ),
                )
                .label(format!("the largest of {} stages", p.stages.len()))
                .help("Split the pipeline into several pipelines that read each other's outputs as `repo(…)` inputs, or shorten long inline scripts by moving them into files in the image."),
            )
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// E5007 when a run of the pipeline would not fit in its Workflow: Argo stores a copy of the
/// template's spec (`status.storedWorkflowTemplateSpec`, `setExecWorkflow` in
/// `workflow/controller/operator.go`) beside the status of every node, and refuses to go on with
/// a Workflow whose JSON, nodes compressed, is over `MAX_WORKFLOW_SIZE`, 1 MiB by default
/// (`workflow/packer/packer.go`). `template_spec` is the spec's size; the nodes are those of the
/// smallest complete run ([`crate::status`]).
pub(crate) fn check_run(p: &Pipeline, specs: &[StageSpec], template_spec: usize) -> Result<(), Vec<Diagnostic>> {
    let nodes = crate::status::stored_bytes(p, specs);
    let total = template_spec + nodes + WORKFLOW_OVERHEAD_BYTES;
    if total <= MAX_OBJECT_BYTES {
        return Ok(());
    }
    let Some(stage) = largest_stage(p, specs) else { return Ok(()) };
    Err(vec![
        Diagnostic::new(
            Code::E5007,
            stage.span,
            format!(
                "a run of this pipeline would store {} KiB in its Workflow ({} KiB of template, {} KiB of step status for a run of one shard per stage), over the {} KiB Argo allows",
                total.div_ceil(1024),
                template_spec.div_ceil(1024),
                nodes.div_ceil(1024),
                MAX_OBJECT_BYTES / 1024
            ),
        )
        .label(format!("the largest of {} stages", p.stages.len()))
        .help("Split the pipeline into several pipelines that read each other's outputs as `repo(…)` inputs."),
    ])
}

/// E5008 for each stage whose command, image or environment contains `{{`, which Argo would try
/// to substitute (and fail on, or silently change).
pub(crate) fn check_text(p: &Pipeline, specs: &[StageSpec]) -> Result<(), Vec<Diagnostic>> {
    let errors: Vec<Diagnostic> = p
        .stages
        .iter()
        .zip(specs)
        .filter_map(|(stage, spec)| {
            let literals = spec.env.iter().filter_map(|v| match &v.value {
                EnvValue::Literal(text) => Some(text),
                EnvValue::Secret { .. } => None,
            });
            let found = std::iter::once(&spec.image).chain(&spec.command).chain(literals).find(|t| t.contains("{{"))?;
            Some(
                Diagnostic::new(
                    Code::E5008,
                    stage.span,
                    format!("stage `{}` has `{{{{` in `{found}`, which Argo reads as one of its variables", stage.name),
                )
                .label("Argo would substitute this")
                .help("Move the text into a script file in the image, or build it at run time (e.g. `printf '%s%s' '{' '{'`); `{{` cannot be escaped in Argo."),
            )
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(stages: usize) -> (Pipeline, Vec<StageSpec>) {
        let mut text = String::from("input d = repo(\"d\")\n");
        for i in 0..stages {
            let from = if i == 0 { "d".to_owned() } else { format!("s{}", i - 1) };
            text.push_str(&format!(
                "stage s{i} {{\n  image = \"busybox\"\n  command = [\"true\"]\n  datums = glob({from}, \"/*\")\n  retries = 1\n}}\n"
            ));
        }
        let analysis = pipe_core::analyze(&pipe_core::resolve::NoFiles, "p.pipe", &text);
        assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
        let p = analysis.pipeline().clone();
        let specs = p
            .stages
            .iter()
            .map(|s| {
                pipe_core::emit::spec::stage_spec_template(
                    &p,
                    s,
                    &pipe_core::emit::params::resolve(&p, &[]).expect("defaults"),
                )
            })
            .collect();
        (p, specs)
    }

    #[test]
    fn a_run_must_fit_beside_the_template_it_copies() {
        let (p, specs) = pipeline(50);
        let nodes = crate::status::stored_bytes(&p, &specs);
        // Each stage's plan, shard and commit: 7 nodes, some 40 to 400 bytes each once compressed.
        assert!((50 * 7 * 40..50 * 7 * 400).contains(&nodes), "{nodes} bytes for 350 nodes");
        assert!(check_run(&p, &specs, 100 << 10).is_ok());
        // A template that fits on its own (under 1 MiB) can leave no room for the run's status.
        let almost = MAX_OBJECT_BYTES - WORKFLOW_OVERHEAD_BYTES - nodes / 2;
        let err = check_run(&p, &specs, almost).expect_err("no room for the nodes");
        assert_eq!(err[0].code, Code::E5007);
        assert!(err[0].message.contains("a run of this pipeline would store"), "{}", err[0].message);
        assert!(check_run(&p, &specs, MAX_OBJECT_BYTES - WORKFLOW_OVERHEAD_BYTES - nodes).is_ok());
    }

    #[test]
    fn node_ids_are_argos() {
        // `NodeID` in argo-workflows' workflow_types.go: FNV-1a 32 of the node's name.
        assert_eq!(crate::status::node_id_for_tests("wf", "wf"), "wf");
        assert_eq!(crate::status::node_id_for_tests("wf", ""), "wf-2166136261");
        assert_eq!(crate::status::node_id_for_tests("wf", "a"), "wf-3826002220");
    }
}
