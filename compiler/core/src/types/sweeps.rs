//! Sweep datums: `grid(lr = [0.1, 0.01], wd = wds)`, `sample(grid(…), n = 8, seed = 1)` and
//! `points(pick, "/grid.json", params = [lr, wd])` (the points a file lists, read at run time).
//!
//! Takes a call; gives a [`Datums::Grid`] or [`Datums::Sample`] whose axes name declared params,
//! each with a list of values of the param's type (literals, or a list param resolved with the
//! others when the pipeline is compiled or run). Also checks how sweeps combine (`cross` may not
//! sweep a param twice, `union`'s arguments sweep the same params) and that no field fixed for a
//! whole stage uses a swept param. Raises E2001 (an axis that is no param), E3005, E3017 (`n` or
//! `seed` a param) and E3019; values that are not a list of the param's type are a mismatch like
//! any other. Expanding the points is the runtime's (`pipe_runtime::datums`).

use super::{Axis, Checker, Datums, Place, StageField, Ty, Value};
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::source::Span;
use crate::syntax::ast::{Call, Expr, ExprKind, Ident};
use indexmap::IndexMap;

/// The most points one grid may have: each is a datum, listed whole when a stage is planned.
pub(super) const MAX_GRID_POINTS: u128 = 1_000_000;

impl Checker<'_> {
    /// `grid(NAME = VALUES, …)`: each named argument an axis. `listed`: every point becomes a
    /// datum (so the grid may have at most [`MAX_GRID_POINTS`]); a sample's grid is not listed.
    pub(super) fn grid(&mut self, c: &Call, positional: &[&Expr], listed: bool) -> Option<Datums> {
        if let Some(e) = positional.first() {
            self.diags.push(
                Diagnostic::new(Code::E3005, e.span, "`grid` takes named axes, not positional arguments")
                    .label("name the param this axis sweeps")
                    .help(USAGE_GRID),
            );
            return None;
        }
        if c.args.is_empty() {
            self.diags.push(
                Diagnostic::new(Code::E3005, c.callee.span, "`grid` needs at least one axis")
                    .label("a grid of no params has no points")
                    .help(USAGE_GRID),
            );
            return None;
        }
        let mut axes = Vec::new();
        let mut seen: IndexMap<String, Span> = IndexMap::new();
        let mut ok = true;
        let mut points: u128 = 1;
        for arg in &c.args {
            let Some(name) = &arg.name else { continue };
            if let Some(first) = seen.get(&name.name) {
                self.diags.push(
                    Diagnostic::new(
                        Code::E3019,
                        name.span,
                        format!("param `{}` is swept twice in one grid", name.name),
                    )
                    .label("a second axis")
                    .also(*first, "first here")
                    .help(format!("Give each param one axis with all its values: `{} = [a, b, c]`.", name.name)),
                );
                ok = false;
                continue;
            }
            seen.insert(name.name.clone(), name.span);
            let Some(ty) = self.swept_param(name) else {
                ok = false;
                continue;
            };
            let values = self.value(&arg.value, &Ty::List(Box::new(ty)), Place { field: "grid", params: true });
            match &values {
                Value::List(items) if items.is_empty() => {
                    self.diags.push(
                        Diagnostic::new(Code::E3019, arg.value.span, format!("axis `{}` has no values", name.name))
                            .label("no values, so no points")
                            .help(format!(
                                "List at least one value (`{} = [0.1]`), or leave the axis out and every datum gets the param's value.",
                                name.name
                            )),
                    );
                    ok = false;
                }
                Value::List(items) if items.iter().any(|i| matches!(i, Value::Error)) => ok = false,
                Value::List(items) => points = points.saturating_mul(items.len() as u128),
                Value::Param(_) => {}
                _ => ok = false,
            }
            axes.push(Axis { param: name.name.clone(), values });
        }
        if listed && points > MAX_GRID_POINTS {
            self.diags.push(
                Diagnostic::new(Code::E3019, c.callee.span, format!("the grid has {points} points"))
                    .label(format!("more than {MAX_GRID_POINTS}"))
                    .help("Run a seeded subset with `sample(grid(…), n = 1000, seed = 1)`, or split the sweep over stages."),
            );
            ok = false;
        }
        ok.then_some(Datums::Grid(axes))
    }

    /// `sample(grid(…), n = N, seed = S)`: `n` distinct points of the grid; `seed` defaults to 0.
    pub(super) fn sample(&mut self, c: &Call, positional: &[&Expr], at: Place<'_>) -> Option<Datums> {
        let [inner] = positional else {
            self.arity(c, "1 grid argument", positional.len());
            return None;
        };
        let named = |name: &str| c.args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == name));
        let n = match named("n") {
            Some(a) => self.count(&a.value, "n", 1).filter(|n| {
                let fits = u128::from(*n) <= MAX_GRID_POINTS;
                if !fits {
                    self.diags.push(
                        Diagnostic::new(Code::E3019, a.value.span, format!("`n` is {n}: every point is a datum"))
                            .label(format!("more than {MAX_GRID_POINTS}"))
                            .help("Sample fewer points, or split the sweep over stages."),
                    );
                }
                fits
            }),
            None => {
                self.diags.push(
                    Diagnostic::new(Code::E3005, c.callee.span, "`sample` needs `n`")
                        .label("how many points?")
                        .help(USAGE_SAMPLE),
                );
                None
            }
        };
        let seed = match named("seed") {
            Some(a) => self.count(&a.value, "seed", 0),
            None => Some(0),
        };
        let grid = match &inner.kind {
            ExprKind::Call(g) if g.callee.name == "grid" => {
                let positional: Vec<&Expr> = g.args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
                match self.grid(g, &positional, false) {
                    Some(Datums::Grid(axes)) => Some(axes),
                    _ => None,
                }
            }
            _ => {
                let found = self.value(inner, &Ty::Datums, at);
                if !matches!(found, Value::Error) {
                    self.diags.push(
                        Diagnostic::new(Code::E3019, inner.span, "`sample` picks points of a grid")
                            .label("not a grid")
                            .help(USAGE_SAMPLE),
                    );
                }
                None
            }
        };
        Some(Datums::Sample { axes: grid?, n: n?, seed: seed? })
    }

    /// `points(DATASET, "/file.json", params = [lr, wd])`: the points a JSON file of the dataset
    /// lists when the stage runs, each giving the listed params (declared ones) their values.
    pub(super) fn points(&mut self, c: &Call, positional: &[&Expr]) -> Option<Datums> {
        let [data, file] = positional else {
            self.arity(c, "a dataset and a file's path", positional.len());
            return None;
        };
        let dataset = self.dataset(data);
        if let Some(d) = &dataset {
            self.roles.push((d.clone(), d.clone(), data.span));
        }
        let path = match &file.kind {
            ExprKind::Str(s) => s.as_plain(),
            _ => None,
        };
        let path = match path {
            Some(p) if p.starts_with('/') && p.len() > 1 && !p.ends_with('/') && !p.contains(['*', '?', '[', '(']) => {
                Some(p)
            }
            _ => {
                self.diags.push(
                    Diagnostic::new(Code::E3019, file.span, "`points` reads one file, named by its path")
                        .label("not a file's path")
                        .help(USAGE_POINTS),
                );
                None
            }
        };
        let Some(named) = c.args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == "params")) else {
            self.diags.push(
                Diagnostic::new(Code::E3005, c.callee.span, "`points` needs `params`")
                    .label("which params does the file give?")
                    .help(USAGE_POINTS),
            );
            return None;
        };
        let params = self.point_params(&named.value)?;
        Some(Datums::Points { dataset: dataset?, path: path?, params })
    }

    /// `params = [lr, wd]`: declared params, each once, at least one.
    fn point_params(&mut self, e: &Expr) -> Option<Vec<String>> {
        let ExprKind::List(items) = &e.kind else {
            self.diags.push(
                Diagnostic::new(Code::E3005, e.span, "`params` lists the params the file gives")
                    .label("not a list of params")
                    .help(USAGE_POINTS),
            );
            return None;
        };
        if items.is_empty() {
            self.diags.push(
                Diagnostic::new(Code::E3019, e.span, "`params` lists no param").label("empty").help(USAGE_POINTS),
            );
            return None;
        }
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let ExprKind::Name(p) = &item.kind else {
                self.mismatch(item, &Ty::String, Place { field: "params", params: false });
                return None;
            };
            let [id] = p.segments.as_slice() else { return None };
            self.swept_param(id)?;
            if names.contains(&id.name) {
                self.diags.push(
                    Diagnostic::new(Code::E3019, id.span, format!("param `{}` is listed twice", id.name))
                        .label("again")
                        .help(USAGE_POINTS),
                );
                return None;
            }
            names.push(id.name.clone());
        }
        Some(names)
    }

    /// The type of the declared param a sweep names (recorded as used and referred to), or E2001.
    fn swept_param(&mut self, name: &Ident) -> Option<Ty> {
        let Some((ty, declared)) = self.params.get(&name.name).cloned() else {
            let names: Vec<String> = self.params.keys().cloned().collect();
            let fallback = format!(
                "A sweep gives each datum its own value of a declared param: declare it (`param {}: float = 0.1`) and use `${{{}}}` in the command.",
                name.name, name.name
            );
            self.diags.push(
                Diagnostic::new(Code::E2001, name.span, format!("`{}` is not a declared param", name.name))
                    .label("no such param")
                    .help(did_you_mean(&name.name, names.iter().map(String::as_str), &fallback)),
            );
            return None;
        };
        self.used.insert(name.name.clone());
        self.refer(name.span, declared, &name.name);
        Some(ty)
    }

    /// A whole number at least `min`, written literally (`n`, `seed`).
    fn count(&mut self, e: &Expr, field: &str, min: i64) -> Option<u64> {
        match &e.kind {
            ExprKind::Int(v) if *v >= min => u64::try_from(*v).ok(),
            ExprKind::Int(v) => {
                self.diags.push(
                    Diagnostic::new(Code::E3019, e.span, format!("`{field}` is {v}, under {min}"))
                        .label(format!("at least {min}"))
                        .help(USAGE_SAMPLE),
                );
                None
            }
            ExprKind::Name(_) => {
                if let Value::Param(p) = self.value(e, &Ty::Int, Place { field, params: true }) {
                    self.diags.push(
                        Diagnostic::new(
                            Code::E3017,
                            e.span,
                            format!("`{field}` is param `{p}`, but it must be known when the pipeline is compiled"),
                        )
                        .label("a param here")
                        .help(format!("Write `{field}` as a literal: which points a sample has decides the datums, and so the plan.")),
                    );
                }
                None
            }
            _ => {
                self.mismatch(e, &Ty::Int, Place { field, params: false });
                None
            }
        }
    }

    /// No field chosen once for the whole stage (the image, resources, placement, `metrics`) uses
    /// a param the stage's datums sweep: only the command and its environment run per datum.
    pub(super) fn swept_in_fixed_fields(
        &mut self,
        datums: &Datums,
        fields: &IndexMap<String, Value>,
        spans: &IndexMap<String, Span>,
        stage: Span,
    ) {
        let swept = datums.swept();
        if swept.is_empty() {
            return;
        }
        for field in FIXED_FIELDS {
            let Some(value) = fields.get(field.name()) else { continue };
            let mut used = Vec::new();
            crate::emit::spec::params_in(value, &mut used);
            let Some(param) = used.iter().find(|p| swept.contains(p)) else { continue };
            let name = field.name();
            self.diags.push(
                Diagnostic::new(
                    Code::E3019,
                    spans.get(name).copied().unwrap_or(stage),
                    format!("`{name}` uses `{param}`, which this stage's datums sweep"),
                )
                .label("one value for the whole stage")
                .help(format!(
                    "`{name}` is chosen once per pod, before any datum runs; use `${{{param}}}` in `args`, `command`, `script` or `env`, which each datum fills, or a param that is not swept here."
                )),
            );
        }
    }

    /// The arguments of a `cross` sweep no param twice, and those of a `union` all sweep the same
    /// params (a datum without a swept param's value could not fill `${name}`).
    pub(super) fn sweeps_combine(&mut self, c: &Call, args: &[&Expr], parts: &[Datums]) -> bool {
        let swept: Vec<Vec<String>> = parts.iter().map(Datums::swept).collect();
        match c.callee.name.as_str() {
            "cross" => {
                for (i, params) in swept.iter().enumerate() {
                    let Some((j, twice)) = swept[..i]
                        .iter()
                        .enumerate()
                        .find_map(|(j, s)| params.iter().find(|p| s.contains(p)).map(|p| (j, p)))
                    else {
                        continue;
                    };
                    self.diags.push(
                        Diagnostic::new(
                            Code::E3019,
                            args[i].span,
                            format!("param `{twice}` is swept by two arguments of this cross"),
                        )
                        .label("sweeps it again")
                        .also(args[j].span, "sweeps it first")
                        .help(format!("Sweep `{twice}` in one grid: `grid({twice} = [a, b], …)`.")),
                    );
                    return false;
                }
                true
            }
            "union" if swept.iter().any(|s| s != &swept[0]) => {
                let list = |s: &[String]| if s.is_empty() { "none".to_owned() } else { s.join(", ") };
                let mut d =
                    Diagnostic::new(Code::E3019, c.callee.span, "the arguments of this union sweep different params")
                        .label("every datum must give the command the same params");
                for (e, s) in args.iter().zip(&swept) {
                    d = d.also(e.span, format!("sweeps {}", list(s)));
                }
                self.diags.push(d.help("Sweep the same params in every argument, or cross the data with one grid: `cross(grid(…), union(…))`."));
                false
            }
            _ => true,
        }
    }
}

/// Fields a target sets once per stage (or pod), which a datum's point cannot change.
const FIXED_FIELDS: [StageField; 8] = [
    StageField::Image,
    StageField::Cpu,
    StageField::Memory,
    StageField::Gpu,
    StageField::GpuType,
    StageField::NodeSelector,
    StageField::Tolerations,
    StageField::Metrics,
];

const USAGE_GRID: &str = "Write `grid(lr = [0.1, 0.01], wd = [0, 1e-4])`: one axis per declared param, each a list of its values (or a list param).";
pub(super) const USAGE_POINTS: &str = "Write `points(DATASET, \"/grid.json\", params = [lr, wd])`: the file (an output of an earlier stage, usually) is a JSON array of points, `[{\"lr\": 0.1, \"wd\": 0}, …]`, read when the stage runs.";
pub(super) const USAGE_SAMPLE: &str = "Write `sample(grid(lr = [0.1, 0.03, 0.01], wd = [0, 1e-4]), n = 4, seed = 1)`: `n` distinct points of the grid, chosen by `seed` (a whole number, 0 by default).";
