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

/// The size of `value` as the API server stores it (compact JSON).
pub(crate) fn json_size<T: Serialize>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// E5007 for every object over [`MAX_OBJECT_BYTES`], on the stage with the largest spec.
pub(crate) fn check_sizes<'a>(
    p: &Pipeline,
    specs: &[StageSpec],
    sizes: impl Iterator<Item = (&'a str, usize)>,
) -> Result<(), Vec<Diagnostic>> {
    let largest = || p.stages.iter().zip(specs).max_by_key(|(_, s)| json_size(s));
    let errors: Vec<Diagnostic> = sizes
        .filter(|(_, size)| *size > MAX_OBJECT_BYTES)
        .filter_map(|(file, size)| {
            let (stage, _) = largest()?;
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
