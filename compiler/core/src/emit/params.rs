//! Param values for one run or compilation: the defaults, overridden by `--param NAME=VALUE`,
//! each checked against the param's type.

use crate::ir::Pipeline;
use crate::types::{Piece, Ty, Value};
use indexmap::IndexMap;

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

fn check(name: &str, ty: &Ty, value: String) -> Result<String, String> {
    let ok = match ty {
        Ty::Int => value.parse::<i64>().is_ok(),
        Ty::Float => value.parse::<f64>().is_ok_and(f64::is_finite),
        Ty::Bool => matches!(value.as_str(), "true" | "false"),
        _ => true,
    };
    if ok { Ok(value) } else { Err(format!("param `{name}` is {ty}, and `{value}` is not")) }
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
