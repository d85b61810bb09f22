//! The `pipeline` block's `trigger = [models, data]` and `poll = 5m`.
//!
//! Takes the `trigger` field (names of inputs, which no other value may name), the block's other
//! checked values and the pipeline's inputs; gives the [`ir::Trigger`]: repo inputs only, polled
//! every whole number of minutes dividing an hour or of hours dividing a day (a cron schedule that
//! ticks evenly), at least a minute. Raises E3021 (and, for a value that is not a list of names, a type mismatch); the polling
//! itself is the targets' and the runtime's (`pipe_runtime::trigger`).

use super::{Checker, Place, Ty, Value};
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::ir::{self, Source};
use crate::source::Span;
use crate::syntax::ast::{ExprKind, Field};
use indexmap::IndexMap;

/// How often a trigger is checked without `poll`.
const DEFAULT_POLL_SECONDS: u64 = 300;

impl Checker<'_> {
    pub(super) fn trigger(
        &mut self,
        field: Option<&Field>,
        values: &IndexMap<String, Value>,
        spans: &IndexMap<String, Span>,
        inputs: &[ir::Input],
    ) -> Option<ir::Trigger> {
        let poll = match values.get("poll") {
            Some(Value::Duration(ms)) => Some((ms / 1000, spans["poll"])),
            _ => None,
        };
        let Some(field) = field else {
            if let Some((_, span)) = poll {
                self.diags.push(
                    Diagnostic::new(Code::E3021, span, "`poll` without a `trigger`")
                        .label("nothing to check")
                        .help("Name the repo inputs whose new commits start a run: `trigger = [models]`; a time-based run is `schedule = \"0 3 * * *\"`."),
                );
            }
            return None;
        };
        let names = self.watched(field, inputs);
        let poll_seconds = match poll {
            Some((seconds, span)) => self.poll(seconds, span),
            None => Some(DEFAULT_POLL_SECONDS),
        };
        if let Some(span) = spans.get("schedule") {
            self.diags.push(
                Diagnostic::new(
                    Code::E3021,
                    field.name.span,
                    "a pipeline runs on a `schedule` or on a `trigger`, not both",
                )
                .label("trigger")
                .also(*span, "schedule")
                .help(
                    "Keep `trigger` to run on new commits (checked every `poll`), or `schedule` to run at fixed times.",
                ),
            );
            return None;
        }
        let (names, poll_seconds) = (names?, poll_seconds?);
        Some(ir::Trigger { inputs: names, poll_seconds })
    }

    /// The names in `trigger = [a, b]`, each a repo input, at least one.
    fn watched(&mut self, field: &Field, inputs: &[ir::Input]) -> Option<Vec<String>> {
        let ExprKind::List(items) = &field.value.kind else {
            self.mismatch(&field.value, &Ty::List(Box::new(Ty::Dataset)), Place { field: "trigger", params: false });
            return None;
        };
        if items.is_empty() {
            self.diags.push(
                Diagnostic::new(Code::E3021, field.value.span, "`trigger` watches no input")
                    .label("empty")
                    .help("Name the repo inputs whose new commits start a run: `trigger = [models]`."),
            );
            return None;
        }
        let mut names = Vec::new();
        for item in items {
            let name = match &item.kind {
                ExprKind::Name(p) if p.segments.len() == 1 => &p.segments[0],
                _ => {
                    self.mismatch(item, &Ty::Dataset, Place { field: "trigger", params: false });
                    return None;
                }
            };
            let def = self.root_scope().get(&name.name).copied();
            if let Some(d) = def {
                self.used.insert(name.name.clone());
                self.refer(name.span, d.span, &name.name);
            }
            let problem = match (def.map(|d| d.kind), inputs.iter().find(|i| i.name == name.name)) {
                (_, Some(i)) => match &i.source {
                    Source::Repo { .. } | Source::Error => None,
                    Source::Dir { .. } => Some(format!("`{}` is a `dir(…)`, which has no commits to watch", name.name)),
                    Source::Url { .. } => Some(format!("`{}` is a `url(…)`, which has no commits to watch", name.name)),
                },
                (Some(kind), None) => Some(format!("`{}` is a {}, not an input", name.name, kind.noun())),
                (None, None) => Some(format!("`{}` is not defined", name.name)),
            };
            if let Some(message) = problem {
                let repos = inputs.iter().filter(|i| matches!(i.source, Source::Repo { .. })).map(|i| i.name.as_str());
                let help = did_you_mean(
                    &name.name,
                    repos,
                    "A trigger watches repo inputs (`input models = repo(\"models\")`): put a folder into a repo with `pipe data put` to watch it.",
                );
                self.diags.push(Diagnostic::new(Code::E3021, name.span, message).label("not a repo input").help(help));
                return None;
            }
            if !names.contains(&name.name) {
                names.push(name.name.clone());
            }
        }
        Some(names)
    }

    /// A poll interval a cron schedule ticks evenly: 1–60 minutes dividing an hour, or 1–24
    /// hours dividing a day.
    fn poll(&mut self, seconds: u64, span: Span) -> Option<u64> {
        let (minutes, hours) = (seconds / 60, seconds / 3600);
        let even = seconds.is_multiple_of(60)
            && ((1..=60).contains(&minutes) && 60u64.is_multiple_of(minutes)
                || seconds.is_multiple_of(3600) && (1..=24).contains(&hours) && 24u64.is_multiple_of(hours));
        if seconds < 60 {
            self.diags.push(
                Diagnostic::new(Code::E3021, span, format!("a poll interval of {seconds}s is under a minute"))
                    .label("at least 1m")
                    .help("A cluster checks on a cron schedule, a minute at the finest: write `poll = 1m` or more."),
            );
            return None;
        }
        if !even {
            self.diags.push(
                Diagnostic::new(Code::E3021, span, "the poll interval does not divide an hour or a day")
                    .label("uneven ticks")
                    .help("Checks run on a cron schedule: use minutes that divide an hour (1m, 2m, 5m, 10m, 15m, 30m) or hours that divide a day (1h, 2h, 6h, 12h, 24h)."),
            );
            return None;
        }
        Some(seconds)
    }
}
