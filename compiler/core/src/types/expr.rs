//! Checking one expression against the type its place expects.
//!
//! Takes an expression and the expected [`Ty`]; gives a [`Value`] (or `Value::Error` once the
//! problem is reported). Unit literals take their meaning from the expected type; names resolve to
//! params (by value) and, through `glob`, to datasets. Raises E2001, E2007, E2008, E2011, E3001,
//! E3002, E3004, E3005, E3011, E3013 and E3014.

use super::schema::TOLERATION_FIELDS;
use super::templates::duplicate_field;
use super::units::{DURATION_UNIT_NAMES, QUANTITY_UNIT_NAMES, duration_ms, quantity, quantity_of_number};
use super::{Checker, Piece, Place, Ty, Value};
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::resolve::DefKind;
use crate::syntax::ast::{Block, Expr, ExprKind, Path, StrLit, StrPart};
use indexmap::IndexMap;

/// The functions the language knows.
pub(super) const FUNCTIONS: [&str; 12] =
    ["glob", "cross", "union", "join", "group", "grid", "sample", "points", "secret", "repo", "dir", "url"];

impl Checker<'_> {
    pub(super) fn value(&mut self, e: &Expr, want: &Ty, at: Place<'_>) -> Value {
        match (&e.kind, want) {
            (ExprKind::Error, _) => Value::Error,
            (_, Ty::Error) => {
                self.value_any(e, at);
                Value::Error
            }
            (ExprKind::Int(n), Ty::Int) => Value::Int(*n),
            (ExprKind::Int(n), Ty::Float) => Value::Float(*n as f64),
            (ExprKind::Int(n), Ty::Quantity) => Value::Quantity(quantity_of_number(*n as f64, n.to_string())),
            (ExprKind::Float(f), Ty::Float) => Value::Float(*f),
            (ExprKind::Float(f), Ty::Quantity) => Value::Quantity(quantity_of_number(*f, f.to_string())),
            (ExprKind::Bool(b), Ty::Bool) => Value::Bool(*b),
            (ExprKind::Str(s), Ty::String | Ty::EnvValue) => Value::Str(self.pieces(s, at)),
            (ExprKind::Unit(u), Ty::Duration | Ty::Quantity) => self.unit(e, u, want, at),
            (ExprKind::List(items), Ty::List(inner)) => {
                Value::List(items.iter().map(|i| self.value(i, inner, at)).collect())
            }
            (ExprKind::Record(b), Ty::Map(inner)) => Value::Map(self.record(b, |c, _, v| c.value(v, inner, at))),
            (ExprKind::Record(b), Ty::Toleration) => self.toleration(b, at),
            (ExprKind::Name(p), _) => self.name_value(p, want, at),
            (ExprKind::Call(c), _) => self.call(e, c, want, at),
            (ExprKind::At(..), _) => {
                self.diags.push(
                    Diagnostic::new(Code::E3013, e.span, "`@` pins an input to a version")
                        .label("only allowed in `input`")
                        .help("Pin data where it is declared: `input NAME = repo(\"REPO\") @ \"REF\"`."),
                );
                Value::Error
            }
            _ => {
                self.value_any(e, at);
                self.mismatch(e, want, at)
            }
        }
    }

    /// Checks names inside a value whose type is already wrong, so they count as used.
    fn value_any(&mut self, e: &Expr, at: Place<'_>) {
        match &e.kind {
            ExprKind::Str(s) => {
                self.pieces(s, at);
            }
            ExprKind::List(items) => items.iter().for_each(|i| self.value_any(i, at)),
            ExprKind::Record(b) => b.fields.iter().for_each(|f| self.value_any(&f.value, at)),
            _ => {}
        }
    }

    /// E3001.
    pub(super) fn mismatch(&mut self, e: &Expr, want: &Ty, at: Place<'_>) -> Value {
        let found = describe(e);
        self.diags.push(
            Diagnostic::new(Code::E3001, e.span, format!("expected `{want}`, found {found}"))
                .label(format!("this is {found}"))
                .help(format!("`{}` takes {} `{want}`, for example `{}`.", at.field, article(want), example(want))),
        );
        Value::Error
    }

    /// The pieces of a string, with each `${param}` checked.
    pub(super) fn pieces(&mut self, s: &StrLit, at: Place<'_>) -> Vec<Piece> {
        let mut out = Vec::new();
        for part in &s.parts {
            match part {
                StrPart::Text(t) => out.push(Piece::Text(t.clone())),
                StrPart::Interp(id) => {
                    if at.params
                        && let Some((_, span)) = self.params.get(&id.name).cloned()
                    {
                        self.used.insert(id.name.clone());
                        self.refer(id.span, span, &id.name);
                        out.push(Piece::Param(id.name.clone()));
                        continue;
                    }
                    let help = if at.params {
                        let names: Vec<String> = self.params.keys().cloned().collect();
                        did_you_mean(
                            &id.name,
                            names.iter().map(String::as_str),
                            &format!("Declare it: `param {}: string = \"…\"`.", id.name),
                        )
                    } else {
                        "Templates in used files cannot see the pipeline's params; set the field in the stage instead."
                            .into()
                    };
                    self.diags.push(
                        Diagnostic::new(Code::E2008, id.span, format!("`${{{}}}` names no param", id.name))
                            .label("no such param")
                            .help(help),
                    );
                }
            }
        }
        out
    }

    fn unit(&mut self, e: &Expr, text: &str, want: &Ty, at: Place<'_>) -> Value {
        let parsed = match want {
            Ty::Duration => duration_ms(text).map(Value::Duration),
            _ => quantity(text).map(Value::Quantity),
        };
        parsed.unwrap_or_else(|| {
            let (other, units) = match want {
                Ty::Duration if quantity(text).is_some() => (" is a quantity, not a duration", DURATION_UNIT_NAMES),
                Ty::Duration => ("", DURATION_UNIT_NAMES),
                _ if duration_ms(text).is_some() => (" is a duration, not a quantity", QUANTITY_UNIT_NAMES),
                _ => ("", QUANTITY_UNIT_NAMES),
            };
            let message =
                if other.is_empty() { format!("`{text}` is not a valid {want}") } else { format!("`{text}`{other}") };
            self.diags.push(
                Diagnostic::new(Code::E3004, e.span, message)
                    .label(format!("`{}` takes a {want}", at.field))
                    .help(format!("Write a {want} with one of the units {units}, for example `{}`.", example(want))),
            );
            Value::Error
        })
    }

    /// The entries of a record, each checked by `each`; duplicate keys reported.
    pub(super) fn record(
        &mut self,
        b: &Block,
        mut each: impl FnMut(&mut Self, &str, &Expr) -> Value,
    ) -> IndexMap<String, Value> {
        let mut out = IndexMap::new();
        let mut spans = IndexMap::new();
        for f in &b.fields {
            if let Some(first) = spans.insert(f.name.name.clone(), f.name.span) {
                self.diags.push(duplicate_field(&f.name.name, f.name.span, first));
                continue;
            }
            let v = each(self, &f.name.name, &f.value);
            out.insert(f.name.name.clone(), v);
        }
        out
    }

    fn toleration(&mut self, b: &Block, at: Place<'_>) -> Value {
        let mut map = IndexMap::new();
        let mut seen = IndexMap::new();
        for f in &b.fields {
            if let Some(first) = seen.insert(f.name.name.clone(), f.name.span) {
                self.diags.push(duplicate_field(&f.name.name, f.name.span, first));
                continue;
            }
            let Some((_, allowed)) = TOLERATION_FIELDS.iter().find(|(n, _)| *n == f.name.name) else {
                let names = TOLERATION_FIELDS.iter().map(|(n, _)| *n);
                self.diags.push(
                    Diagnostic::new(Code::E3002, f.name.span, format!("a toleration has no field `{}`", f.name.name))
                        .label("unknown field")
                        .help(did_you_mean(
                            &f.name.name,
                            names,
                            "A toleration has the fields key, operator, value and effect.",
                        )),
                );
                continue;
            };
            let v = self.value(&f.value, &Ty::String, Place { field: &f.name.name, ..at });
            if let Some(text) = v.as_plain_str().filter(|t| !allowed.is_empty() && !allowed.contains(&t.as_str())) {
                let help =
                    did_you_mean(&text, allowed.iter().copied(), &format!("Write one of: {}.", allowed.join(", ")));
                self.diags.push(
                    Diagnostic::new(
                        Code::E3011,
                        f.value.span,
                        format!("`{text}` is not a valid toleration {}", f.name.name),
                    )
                    .label(format!("expected one of {}", allowed.join(", ")))
                    .help(help),
                );
            }
            map.insert(f.name.name.clone(), v);
        }
        Value::Map(map)
    }

    /// A name in value position: a param of a fitting type.
    fn name_value(&mut self, p: &Path, want: &Ty, at: Place<'_>) -> Value {
        let [id] = p.segments.as_slice() else {
            return self.undefined(p, "a param", at);
        };
        if at.params
            && let Some((ty, span)) = self.params.get(&id.name).cloned()
        {
            self.used.insert(id.name.clone());
            self.refer(id.span, span, &id.name);
            if ty.fits(want) || (ty == Ty::String && *want == Ty::EnvValue) {
                return Value::Param(id.name.clone());
            }
            self.diags.push(
                Diagnostic::new(
                    Code::E3001,
                    p.span,
                    format!("expected `{want}`, found param `{}` of type `{ty}`", id.name),
                )
                .label(format!("this is a `{ty}`"))
                .also(span, "declared here")
                .help(format!(
                    "`{}` takes {} `{want}`; change the param's type or use another value.",
                    at.field,
                    article(want)
                )),
            );
            return Value::Error;
        }
        match self.root_scope().get(&id.name).copied() {
            Some(d) if at.params && d.kind != DefKind::Param => {
                self.used.insert(id.name.clone());
                self.refer(id.span, d.span, &id.name);
                let hint = if matches!(d.kind, DefKind::Input | DefKind::Stage) {
                    format!("Read a dataset through `datums = glob({}, \"/*\")`.", id.name)
                } else {
                    format!("`{}` takes {} `{want}`.", at.field, article(want))
                };
                self.diags.push(
                    Diagnostic::new(Code::E2011, p.span, format!("`{}` is a {}, not a value", id.name, d.kind.noun()))
                        .label(format!("a {}", d.kind.noun()))
                        .also(d.span, "defined here")
                        .help(hint),
                );
                Value::Error
            }
            _ => self.undefined(p, "a param", at),
        }
    }

    /// E2001 for a name that is not defined.
    pub(super) fn undefined(&mut self, p: &Path, what: &str, at: Place<'_>) -> Value {
        let mut names: Vec<String> = if at.params { self.params.keys().cloned().collect() } else { Vec::new() };
        if what != "a param" {
            names = self.root_scope().names_of(&[DefKind::Input, DefKind::Stage]).map(str::to_string).collect();
        }
        let text = p.text();
        let fallback = if what == "a param" {
            format!("Declare it with `param {text}: TYPE = VALUE`, or write a literal value.")
        } else {
            format!("Declare it with `input {text} = …` or `stage {text} {{ … }}`.")
        };
        self.diags.push(
            Diagnostic::new(Code::E2001, p.span, format!("`{text}` is not defined"))
                .label(format!("expected {what}"))
                .help(did_you_mean(&text, names.iter().map(String::as_str), &fallback)),
        );
        Value::Error
    }

    fn call(&mut self, e: &Expr, c: &crate::syntax::ast::Call, want: &Ty, at: Place<'_>) -> Value {
        match c.callee.name.as_str() {
            "glob" | "cross" | "union" | "join" | "group" | "grid" | "sample" | "points" => {
                let d = self.datums_call(c, at);
                if *want == Ty::Datums {
                    return d.map_or(Value::Error, Value::Datums);
                }
                self.mismatch(e, want, at)
            }
            "secret" => {
                let v = self.secret(e, c, at);
                if matches!(want, Ty::EnvValue | Ty::Secret) {
                    return v;
                }
                self.diags.push(
                    Diagnostic::new(Code::E3014, e.span, format!("a secret cannot be used in `{}`", at.field))
                        .label("secrets are only for `env`")
                        .help("Pass secrets as environment variables: `env = { TOKEN = secret(\"NAME\", \"KEY\") }`."),
                );
                Value::Error
            }
            "repo" | "dir" | "url" => {
                self.diags.push(
                    Diagnostic::new(Code::E3013, e.span, format!("`{}(…)` is an input source", c.callee.name))
                        .label("only allowed in `input`")
                        .help(format!(
                            "Declare it as an input (`input data = {}(…)`) and read it with `glob(data, \"/*\")`.",
                            c.callee.name
                        )),
                );
                Value::Error
            }
            other => {
                self.diags.push(
                    Diagnostic::new(Code::E2007, c.callee.span, format!("unknown function `{other}`"))
                        .label("not a function")
                        .help(did_you_mean(
                            other,
                            FUNCTIONS,
                            "The functions are glob, cross, union, join, group, secret, repo, dir and url.",
                        )),
                );
                Value::Error
            }
        }
    }

    fn secret(&mut self, e: &Expr, c: &crate::syntax::ast::Call, at: Place<'_>) -> Value {
        let args: Vec<&Expr> = c.args.iter().filter(|a| a.name.is_none()).map(|a| &a.value).collect();
        if args.len() != 2 || c.args.iter().any(|a| a.name.is_some()) {
            self.diags.push(
                Diagnostic::new(Code::E3005, e.span, format!("`secret` takes 2 arguments, found {}", c.args.len()))
                    .label("wrong arguments")
                    .help("Write `secret(\"SECRET_NAME\", \"KEY\")`: the Kubernetes secret and the key in it."),
            );
            return Value::Error;
        }
        let name = self.value(args[0], &Ty::String, Place { field: "secret", ..at });
        let key = self.value(args[1], &Ty::String, Place { field: "secret", ..at });
        match (name.as_plain_str(), key.as_plain_str()) {
            (Some(name), Some(key)) => Value::Secret { name, key },
            _ => {
                if name != Value::Error && key != Value::Error {
                    self.diags.push(
                        Diagnostic::new(Code::E3001, e.span, "secret names cannot interpolate params")
                            .label("must be plain strings")
                            .help("Write the secret's name and key as plain strings."),
                    );
                }
                Value::Error
            }
        }
    }
}

/// "an int", "a string", …: what an expression is, for messages.
pub(super) fn describe(e: &Expr) -> &'static str {
    match &e.kind {
        ExprKind::Int(_) => "an int",
        ExprKind::Float(_) => "a float",
        ExprKind::Bool(_) => "a bool",
        ExprKind::Str(_) => "a string",
        ExprKind::Unit(u) if duration_ms(u).is_some() => "a duration",
        ExprKind::Unit(u) if quantity(u).is_some() => "a quantity",
        ExprKind::Unit(_) => "a number with a unit",
        ExprKind::List(_) => "a list",
        ExprKind::Record(_) => "a record",
        ExprKind::Name(_) => "a name",
        ExprKind::Call(c) => match c.callee.name.as_str() {
            "glob" | "cross" | "union" | "join" | "group" | "grid" | "sample" | "points" => "datums",
            "secret" => "a secret",
            _ => "a call",
        },
        ExprKind::At(..) => "a pinned input",
        ExprKind::Error => "an error",
    }
}

fn article(t: &Ty) -> &'static str {
    match t {
        Ty::Int | Ty::EnvValue => "an",
        _ => "a",
    }
}

/// A literal of the type, for help messages.
pub(super) fn example(t: &Ty) -> String {
    match t {
        Ty::Int => "3".into(),
        Ty::Float => "0.5".into(),
        Ty::Bool => "true".into(),
        Ty::String | Ty::EnvValue => "\"text\"".into(),
        Ty::Duration => "30m".into(),
        Ty::Quantity => "2Gi".into(),
        Ty::List(inner) => format!("[{}]", example(inner)),
        Ty::Map(inner) => format!("{{ KEY = {} }}", example(inner)),
        Ty::Secret => "secret(\"name\", \"key\")".into(),
        Ty::Toleration => "{ key = \"nvidia.com/gpu\", operator = \"Exists\", effect = \"NoSchedule\" }".into(),
        Ty::Datums => "glob(data, \"/*\")".into(),
        Ty::Dataset => "data".into(),
        Ty::Error => "…".into(),
    }
}
