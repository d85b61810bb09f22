//! Datum expressions: `glob`, `cross`, `union`, `join`, `group` (and, in [`super::sweeps`],
//! `grid`, `sample` and `points`).
//!
//! Takes a call; gives a [`Datums`] tree and records which datasets the current stage reads.
//! `glob(DATASET, "/pattern")` splits an input or a stage's output; `cross` pairs every datum of
//! each argument; `union` concatenates; `join` matches datums whose keys (every capture, or those
//! `on` names per argument) are equal, keeping unmatched datums of `outer` arguments;
//! `group(x, by = "$1")` gathers datums with the same key; `glob(d, "/p", as = "role")` names the
//! input by its role. Raises E2011, E3005, E3006 (keys), E3008, E3009 and E3020 (roles); [`super::glob`] checks the patterns and the checker's expressions the rest.

use super::glob;
use super::{Checker, Datums, GroupArg, JoinArg, Place, Ty, Value};
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::resolve::DefKind;
use crate::syntax::ast::{Call, Expr, ExprKind};

impl Checker<'_> {
    pub(super) fn datums_call(&mut self, c: &Call, at: Place<'_>) -> Option<Datums> {
        let f = c.callee.name.as_str();
        let positional: Vec<&Expr> = c.args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
        let allowed_named: &[&str] = match f {
            "group" => &["by"],
            "join" => &["on", "outer"],
            "sample" => &["n", "seed"],
            "glob" => &["as"],
            "points" => &["params"],
            _ => &[],
        };
        // A grid's named arguments are its axes, checked as such.
        for a in c.args.iter().filter_map(|a| a.name.as_ref()).filter(|_| f != "grid") {
            if !allowed_named.contains(&a.name.as_str()) {
                self.diags.push(
                    Diagnostic::new(Code::E3005, a.span, format!("`{f}` has no argument `{}`", a.name))
                        .label("unknown argument")
                        .help(usage(f)),
                );
            }
        }
        match f {
            "glob" => self.glob(c, &positional),
            "group" => self.group(c, &positional, at),
            "grid" => self.grid(c, &positional, true),
            "sample" => self.sample(c, &positional, at),
            "points" => self.points(c, &positional),
            _ => {
                if positional.len() < 2 {
                    self.arity(c, "at least 2 arguments", positional.len());
                    return None;
                }
                let parts: Vec<Option<Datums>> = positional.iter().map(|e| self.datums_arg(e, at)).collect();
                let parts: Vec<Datums> = parts.into_iter().collect::<Option<_>>()?;
                if !self.sweeps_combine(c, &positional, &parts) {
                    return None;
                }
                match f {
                    "cross" => Some(Datums::Cross(parts)),
                    "union" => Some(Datums::Union(parts)),
                    _ => self.join(c, positional, parts),
                }
            }
        }
    }

    /// E3005 for a call of `c`'s function with `found` positional arguments where it `takes` others
    /// ("2 arguments", "1 grid"), with how to write it.
    pub(super) fn arity(&mut self, c: &Call, takes: &str, found: usize) {
        self.diags.push(
            Diagnostic::new(Code::E3005, c.callee.span, format!("`{}` takes {takes}, found {found}", c.callee.name))
                .label("wrong number of arguments")
                .help(usage(&c.callee.name)),
        );
    }

    fn datums_arg(&mut self, e: &Expr, at: Place<'_>) -> Option<Datums> {
        match self.value(e, &Ty::Datums, at) {
            Value::Datums(d) => Some(d),
            _ => None,
        }
    }

    fn glob(&mut self, c: &Call, args: &[&Expr]) -> Option<Datums> {
        let [data, pattern] = args else {
            self.arity(c, "2 arguments", args.len());
            return None;
        };
        let dataset = self.dataset(data);
        let captures = match &pattern.kind {
            ExprKind::Str(s) => {
                match s.as_plain() {
                    Some(p) => match glob::validate(&p) {
                        Ok(n) => Some((p, n)),
                        Err(problem) => {
                            self.diags.push(
                                Diagnostic::new(problem.code, pattern.span, problem.message)
                                    .label("in this pattern")
                                    .help(problem.help),
                            );
                            None
                        }
                    },
                    None => {
                        self.diags.push(
                        Diagnostic::new(Code::E3006, pattern.span, "glob patterns cannot interpolate params")
                            .label("must be a plain string")
                            .help("Write the pattern literally; datum boundaries must be known before the pipeline runs."),
                    );
                        None
                    }
                }
            }
            _ => {
                self.mismatch(pattern, &Ty::String, Place { field: "glob", params: true });
                None
            }
        };
        let role = match c.args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == "as")) {
            Some(a) => Some((self.role(&a.value)?, a.value.span)),
            None => None,
        };
        if let Some(dataset) = &dataset {
            let (name, span) = role.clone().unwrap_or_else(|| (dataset.clone(), data.span));
            self.roles.push((name, dataset.clone(), span));
        }
        let role = role.map(|(name, _)| name);
        let (pattern, captures) = captures?;
        Some(Datums::Glob { dataset: dataset?, pattern, captures, role })
    }

    /// `as = "role"`: the name the command sees this glob's files under, an identifier (it makes
    /// a folder `in/<role>` and a variable `PIPE_IN_<ROLE>`).
    fn role(&mut self, e: &Expr) -> Option<String> {
        let text = match &e.kind {
            ExprKind::Str(s) => s.as_plain(),
            _ => None,
        };
        let Some(text) = text else {
            self.mismatch(e, &Ty::String, Place { field: "as", params: false });
            return None;
        };
        let mut chars = text.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.diags.push(
                Diagnostic::new(Code::E3020, e.span, format!("`{text}` cannot name an input"))
                    .label("letters, digits and `_`, starting with a letter")
                    .help("The role names a folder (`in/<role>`) and a variable (`PIPE_IN_<ROLE>`): write it like a name, e.g. `as = \"train\"`."),
            );
            return None;
        }
        Some(text)
    }

    /// One role, one dataset: within a stage, a role (or a dataset's own name, for a glob without
    /// `as`) may not stand for two datasets, since the command would see both in one folder.
    pub(super) fn roles_agree(&mut self) {
        let mut named: Vec<(String, String, crate::source::Span)> = Vec::new();
        for (role, dataset, span) in self.roles.clone() {
            if let Some((_, other, first)) = named.iter().find(|(r, ds, _)| *r == role && *ds != dataset) {
                let d = Diagnostic::new(
                    Code::E3020,
                    span,
                    format!("`{role}` names both `{other}` and `{dataset}` in this stage"),
                )
                .label(format!("`{dataset}` here"))
                .also(*first, format!("`{other}` here"))
                .help("Give each dataset a role of its own: `glob(DATASET, \"/pattern\", as = \"ROLE\")`, so the command sees each under its own `in/<role>` and `PIPE_IN_<ROLE>`.");
                self.diags.push(d);
                return;
            }
            named.push((role, dataset, span));
        }
    }

    /// The dataset a name refers to (an input or a stage), recorded as read by the current stage.
    pub(super) fn dataset(&mut self, e: &Expr) -> Option<String> {
        let ExprKind::Name(p) = &e.kind else {
            self.mismatch(e, &Ty::Dataset, Place { field: "glob", params: true });
            return None;
        };
        let [id] = p.segments.as_slice() else {
            self.undefined(p, "an input or a stage", Place { field: "glob", params: true });
            return None;
        };
        match self.root_scope().get(&id.name).copied() {
            Some(d) if matches!(d.kind, DefKind::Input | DefKind::Stage) => {
                self.used.insert(id.name.clone());
                self.refer(id.span, d.span, &id.name);
                self.reads.push((id.name.clone(), id.span));
                Some(id.name.clone())
            }
            Some(d) => {
                if d.kind == DefKind::Param {
                    self.used.insert(id.name.clone());
                }
                let names = self.root_scope().names_of(&[DefKind::Input, DefKind::Stage]);
                let help = did_you_mean(
                    &id.name,
                    names,
                    "`glob` reads an input or a stage's output; declare one with `input NAME = …`.",
                );
                self.diags.push(
                    Diagnostic::new(
                        Code::E2011,
                        id.span,
                        format!("`{}` is a {}, not a dataset", id.name, d.kind.noun()),
                    )
                    .label("not an input or a stage")
                    .also(d.span, "defined here")
                    .help(help),
                );
                None
            }
            None => {
                self.undefined(p, "an input or a stage", Place { field: "glob", params: true });
                None
            }
        }
    }

    /// `join(A, B, …)`, keyed on every capture of each argument in order, or on the captures each
    /// argument's entry of `on = ["$1$2", "$2$1"]` names; `outer = [true, false]` keeps the
    /// unmatched datums of the arguments marked `true`.
    fn join(&mut self, c: &Call, args: Vec<&Expr>, parts: Vec<Datums>) -> Option<Datums> {
        let named = |name: &str| c.args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == name));
        // Both checked before either failure returns, so both are reported.
        let outer = match named("outer") {
            Some(a) => self.join_outer(c, &a.value, parts.len()),
            None => Some(vec![false; parts.len()]),
        };
        let keys = match named("on") {
            Some(a) => self.keys(c, &a.value, &parts, "on"),
            None => self.join_all_captures(c, &args, &parts),
        };
        let (outer, keys) = (outer?, keys?);
        let parts = parts.into_iter().zip(keys).zip(outer);
        Some(Datums::Join(parts.map(|((datums, on), outer)| JoinArg { datums, on, outer }).collect()))
    }

    /// The default key: every capture, in order, the same number in each argument.
    fn join_all_captures(&mut self, c: &Call, args: &[&Expr], parts: &[Datums]) -> Option<Vec<Vec<usize>>> {
        let counts: Vec<usize> = parts.iter().map(Datums::captures).collect();
        if counts.iter().all(|n| *n == counts[0]) && counts[0] > 0 {
            return Some(counts.iter().map(|n| (1..=*n).collect()).collect());
        }
        let mut d = Diagnostic::new(Code::E3008, c.callee.span, "join inputs must capture the same number of groups")
            .label(format!("captures: {}", counts.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")));
        for (e, n) in args.iter().zip(&counts) {
            d = d.also(e.span, format!("{n} capture group{}", if *n == 1 { "" } else { "s" }));
        }
        self.diags.push(d.help("Datums are joined on their capture groups: give each input the same groups, e.g. `glob(a, \"/(*).csv\")` and `glob(b, \"/(*).json\")`, or pick each one's key with `on = [\"$1\", \"$2\"]`."));
        None
    }

    /// One key per argument (`on = ["$1$2", "$2$1"]`, `by = ["$1", "$2"]`; a single argument may
    /// have a plain string), each naming captures its argument has, all of one length.
    fn keys(&mut self, c: &Call, e: &Expr, parts: &[Datums], name: &str) -> Option<Vec<Vec<usize>>> {
        let one;
        let items: &[Expr] = match &e.kind {
            ExprKind::Str(_) if parts.len() == 1 => {
                one = [e.clone()];
                &one
            }
            _ => self.list_for(c, e, parts.len(), name, Ty::String, "[\"$1\", \"$1\"]")?,
        };
        let mut keys = Vec::with_capacity(items.len());
        for (item, part) in items.iter().zip(parts) {
            let Some(text) = (match &item.kind {
                ExprKind::Str(s) => s.as_plain(),
                _ => None,
            }) else {
                self.mismatch(item, &Ty::String, Place { field: name, params: false });
                return None;
            };
            let refs = capture_refs(&text);
            let max = part.captures();
            if let Some(bad) = missing_capture(&refs, max) {
                self.diags.push(
                    Diagnostic::new(
                        Code::E3009,
                        item.span,
                        format!("{} key names {bad}, but its datums have {max} capture group{}", c.callee.name, if max == 1 { "" } else { "s" }),
                    )
                    .label("no such capture")
                    .help(format!("Name the capture groups of this argument's globs by number, in the order to match, e.g. `{name} = \"$1\"` for `glob(d, \"/(*)-(*).csv\")`.")),
                );
                return None;
            }
            keys.push(refs);
        }
        if keys.iter().any(|k| k.len() != keys[0].len()) {
            let mut d = Diagnostic::new(
                Code::E3008,
                e.span,
                format!("{} keys must name the same number of captures", c.callee.name),
            )
            .label(format!("lengths: {}", keys.iter().map(|k| k.len().to_string()).collect::<Vec<_>>().join(", ")));
            for (item, k) in items.iter().zip(&keys) {
                d = d.also(item.span, format!("{} capture{}", k.len(), if k.len() == 1 { "" } else { "s" }));
            }
            self.diags.push(d.help("Keys are compared capture by capture: give every argument a key of as many `$N`."));
            return None;
        }
        Some(keys)
    }

    /// `outer = [true, false]`: one flag per argument.
    fn join_outer(&mut self, c: &Call, outer: &Expr, n: usize) -> Option<Vec<bool>> {
        let items = self.list_for(c, outer, n, "outer", Ty::Bool, "[true, false]")?;
        let mut flags = Vec::with_capacity(n);
        for item in items {
            match item.kind {
                ExprKind::Bool(b) => flags.push(b),
                _ => {
                    self.mismatch(item, &Ty::Bool, Place { field: "outer", params: false });
                    return None;
                }
            }
        }
        Some(flags)
    }

    /// The items of a list argument (`on`, `outer`, `by`) with one `elem` entry per datums argument.
    fn list_for<'e>(
        &mut self,
        c: &Call,
        e: &'e Expr,
        n: usize,
        name: &str,
        elem: Ty,
        example: &str,
    ) -> Option<&'e [Expr]> {
        let f = &c.callee.name;
        match &e.kind {
            ExprKind::List(items) if items.len() == n => Some(items),
            ExprKind::List(items) => {
                self.diags.push(
                    Diagnostic::new(
                        Code::E3005,
                        e.span,
                        format!(
                            "`{name}` has {} entr{} for {n} arguments",
                            items.len(),
                            if items.len() == 1 { "y" } else { "ies" }
                        ),
                    )
                    .label(format!("needs {n}"))
                    .also(c.callee.span, format!("in this {f}"))
                    .help(format!("Give one entry per argument of the {f}, in order, e.g. `{name} = {example}`.")),
                );
                None
            }
            _ => {
                self.mismatch(e, &Ty::List(Box::new(elem)), Place { field: name, params: false });
                None
            }
        }
    }

    /// `group(A, by = "$1")`, or `group(A, B, …, by = ["$1", "$2", …])` with one key per argument:
    /// every argument's datums with equal keys are one datum.
    fn group(&mut self, c: &Call, args: &[&Expr], at: Place<'_>) -> Option<Datums> {
        if args.is_empty() {
            self.arity(c, "at least 1 arguments", 0);
            return None;
        }
        let parts: Vec<Option<Datums>> = args.iter().map(|e| self.datums_arg(e, at)).collect();
        let parts: Vec<Datums> = parts.into_iter().collect::<Option<_>>()?;
        let Some(by) = c.args.iter().find(|a| a.name.as_ref().is_some_and(|n| n.name == "by")) else {
            self.diags.push(
                Diagnostic::new(Code::E3005, c.callee.span, "`group` needs `by`")
                    .label("missing `by = \"$1\"`")
                    .help(usage("group")),
            );
            return None;
        };
        let keys = self.keys(c, &by.value, &parts, "by")?;
        Some(Datums::Group(parts.into_iter().zip(keys).map(|(datums, by)| GroupArg { datums, by }).collect()))
    }
}

/// What is wrong with a key naming `refs` of `max` captures: no `$N` at all, or one out of range.
fn missing_capture(refs: &[usize], max: usize) -> Option<String> {
    if refs.is_empty() {
        return Some("no `$N`".into());
    }
    refs.iter().find(|n| **n == 0 || **n > max).map(|n| format!("`${n}`"))
}

/// The numbers of `$1`, `$2`, … in a group or join key.
fn capture_refs(key: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = key;
    while let Some(pos) = rest.find('$') {
        rest = &rest[pos + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        out.push(digits.parse().unwrap_or(0));
        rest = &rest[digits.len()..];
    }
    out
}

fn usage(f: &str) -> String {
    match f {
        "glob" => "Write `glob(DATASET, \"/pattern\")`, e.g. `glob(images, \"/*\")`.".into(),
        "group" => "Write `group(DATUMS, by = \"$1\")`, or `group(A, B, by = [\"$1\", \"$2\"])` with one key per argument.".into(),
        "sample" => super::sweeps::USAGE_SAMPLE.into(),
        "points" => super::sweeps::USAGE_POINTS.into(),
        "join" => "Write `join(DATUMS, DATUMS, …)`, optionally with `on = [\"$1\", \"$1\"]` (each argument's key captures, in order) and `outer = [true, false]` (keep an argument's datums that have no partner).".into(),
        other => format!("Write `{other}(DATUMS, DATUMS, …)` with at least two datum expressions."),
    }
}
