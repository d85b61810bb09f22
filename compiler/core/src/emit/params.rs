//! Param values for one run or compilation: the defaults, overridden by `--param NAME=VALUE`,
//! each checked against the param's type.

use crate::ir::Pipeline;
use crate::ir::{Piece, Ty, Value};
use indexmap::IndexMap;
use pipe_spec::ParamType;

/// Every param's value as text (what `${name}` becomes), by name, in declaration order.
pub fn resolve(p: &Pipeline, overrides: &[(String, String)]) -> Result<IndexMap<String, String>, String> {
    for (name, _) in overrides {
        if !p.params.iter().any(|q| &q.name == name) {
            let known: Vec<&str> = p.params.iter().map(|q| q.name.as_str()).collect();
            return Err(format!("the pipeline has no param `{name}` (params: {})", known.join(", ")));
        }
    }
    let mut out = IndexMap::new();
    for param in &p.params {
        let given = overrides.iter().rev().find(|(n, _)| n == &param.name).map(|(_, v)| v.clone());
        let text = match (given, &param.default) {
            (Some(v), _) => check(&param.name, &param.ty, v)?,
            (None, Some(default)) => render(default, &out),
            (None, None) => {
                return Err(format!(
                    "param `{}` has no default: give it with `--param {}=VALUE`",
                    param.name, param.name
                ));
            }
        };
        out.insert(param.name.clone(), text);
    }
    Ok(out)
}

/// `value` checked against `ty`, as the one text of its value ([`ParamType::canonical`], which the
/// shim applies to values a cluster run is given): `2.0`, `2.00` and the default `2.0` are one
/// value, so one text, one datum key (`+3` and `3` likewise).
fn check(name: &str, ty: &Ty, value: String) -> Result<String, String> {
    if let Ty::List(elem) = ty {
        // `[0.3, 0.1]` as in the language, or `0.3 0.1` / `0.3,0.1`; rendered as a default list is.
        let trimmed = value.trim();
        let inner = trimmed.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(trimmed);
        let read = super::spec::param_type(elem).unwrap_or(ParamType::Text);
        let items = inner.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty());
        let canonical: Option<Vec<String>> = items.map(|i| read.canonical(i.trim_matches('"'))).collect();
        return canonical.map(|c| c.join(" ")).ok_or_else(|| {
            format!("param `{name}` is {ty}, and `{value}` is not: write its items as `[1, 2]` or `1,2`, each a {elem}")
        });
    }
    let read = super::spec::param_type(ty).unwrap_or(ParamType::Text);
    read.canonical(&value).ok_or_else(|| format!("param `{name}` is {ty}, and `{value}` is not"))
}

/// The text a value stands for, with `${param}` substituted from `params`.
pub fn render(v: &Value, params: &IndexMap<String, String>) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(pieces) => pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Param(name) => params.get(name).cloned().unwrap_or_default(),
            })
            .collect(),
        Value::Duration(ms) => format!("{}s", ms / 1000),
        Value::Quantity(q) => q.text.clone(),
        Value::Param(name) => params.get(name).cloned().unwrap_or_default(),
        Value::List(items) => items.iter().map(|i| render(i, params)).collect::<Vec<_>>().join(" "),
        Value::Map(_) | Value::Secret { .. } | Value::Datums(_) | Value::Error => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value, one text: a param given as `2.0` must key datums as its default `2.0` does.
    #[test]
    fn a_given_value_reads_as_its_default_would() {
        let default = |v: Value| render(&v, &IndexMap::new());
        assert_eq!(check("t", &Ty::Float, "2.0".into()), Ok(default(Value::Float(2.0))));
        assert_eq!(check("t", &Ty::Float, "2.00".into()), Ok(default(Value::Float(2.0))));
        assert_eq!(check("t", &Ty::Float, "1e-3".into()), Ok(default(Value::Float(0.001))));
        assert_eq!(check("n", &Ty::Int, "+3".into()), Ok(default(Value::Int(3))));
        assert_eq!(check("b", &Ty::Bool, "true".into()), Ok("true".into()));
        assert_eq!(check("s", &Ty::String, "2.0".into()), Ok("2.0".into()), "text stays as given");
        let floats = Ty::List(Box::new(Ty::Float));
        let list = |items: Vec<Value>| default(Value::List(items));
        for given in ["[0.3, 0.1]", "0.3,0.1", " 0.30 0.1 ", "[0.3,0.1]"] {
            assert_eq!(
                check("lrs", &floats, given.into()),
                Ok(list(vec![Value::Float(0.3), Value::Float(0.1)])),
                "{given}"
            );
        }
        for (ty, bad) in [(Ty::Float, "inf"), (Ty::Float, "x"), (Ty::Int, "2.5"), (Ty::Bool, "yes"), (floats, "abc")] {
            assert!(check("p", &ty, bad.into()).is_err(), "{bad}");
        }
    }
}
