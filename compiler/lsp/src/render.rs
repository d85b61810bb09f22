//! Small renderings shared by hover and completion: values as source text, schemas as tables.

use pipe_core::ir::{Datums, Piece, Value};
use pipe_core::types::{Schema, units};

/// A value as it would be written in a `.pipe` file.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Str(pieces) => {
            let inner: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.replace('\\', "\\\\").replace('"', "\\\""),
                    Piece::Param(p) => format!("${{{p}}}"),
                })
                .collect();
            format!("\"{inner}\"")
        }
        Value::Duration(ms) => units::format_duration(*ms),
        Value::Quantity(q) => q.text.clone(),
        Value::List(items) => format!("[{}]", items.iter().map(value_text).collect::<Vec<_>>().join(", ")),
        Value::Map(m) => {
            let entries: Vec<String> = m.iter().map(|(k, v)| format!("{k} = {}", value_text(v))).collect();
            format!("{{ {} }}", entries.join(", "))
        }
        Value::Secret { name, key } => format!("secret(\"{name}\", \"{key}\")"),
        Value::Param(p) => p.clone(),
        Value::Datums(d) => datums_text(d),
        Value::Error => "…".into(),
    }
}

fn datums_text(d: &Datums) -> String {
    let list = |ps: &[Datums]| ps.iter().map(datums_text).collect::<Vec<_>>().join(", ");
    match d {
        Datums::Glob { dataset, pattern, role: None, .. } => format!("glob({dataset}, \"{pattern}\")"),
        Datums::Glob { dataset, pattern, role: Some(role), .. } => {
            format!("glob({dataset}, \"{pattern}\", as = \"{role}\")")
        }
        Datums::Cross(ps) => format!("cross({})", list(ps)),
        Datums::Union(ps) => format!("union({})", list(ps)),
        Datums::Join(ps) => {
            let parts: Vec<String> = ps.iter().map(|p| datums_text(&p.datums)).collect();
            let keys: Vec<String> = ps.iter().map(|p| format!("\"{}\"", key_text(&p.on))).collect();
            let mut text = format!("join({}, on = [{}]", parts.join(", "), keys.join(", "));
            if ps.iter().any(|p| p.outer) {
                let outer: Vec<String> = ps.iter().map(|p| p.outer.to_string()).collect();
                text.push_str(&format!(", outer = [{}]", outer.join(", ")));
            }
            text + ")"
        }
        Datums::Group(ps) if ps.len() == 1 => {
            format!("group({}, by = \"{}\")", datums_text(&ps[0].datums), key_text(&ps[0].by))
        }
        Datums::Group(ps) => {
            let parts: Vec<String> = ps.iter().map(|p| datums_text(&p.datums)).collect();
            let keys: Vec<String> = ps.iter().map(|p| format!("\"{}\"", key_text(&p.by))).collect();
            format!("group({}, by = [{}])", parts.join(", "), keys.join(", "))
        }
        Datums::Grid(axes) => grid_text(axes),
        Datums::Sample { axes, n, seed } => format!("sample({}, n = {n}, seed = {seed})", grid_text(axes)),
        Datums::Points { dataset, path, params } => {
            format!("points({dataset}, \"{path}\", params = [{}])", params.join(", "))
        }
    }
}

fn grid_text(axes: &[pipe_core::ir::Axis]) -> String {
    let axes: Vec<String> = axes.iter().map(|a| format!("{} = {}", a.param, value_text(&a.values))).collect();
    format!("grid({})", axes.join(", "))
}

/// `[2, 1]` as `$2$1`.
fn key_text(refs: &[usize]) -> String {
    refs.iter().map(|n| format!("${n}")).collect()
}

/// A markdown table of a schema's fields; `own_only` leaves out the builtin stage fields.
pub(crate) fn field_table(schema: &Schema, own_only: bool) -> String {
    let builtin = pipe_core::types::schema::stage_schema();
    let mut rows = vec!["| field | type | default |".to_string(), "| --- | --- | --- |".to_string()];
    for (name, info) in &schema.fields {
        let inherited_unchanged = builtin.fields.get(name).is_some_and(|b| b.default == info.default);
        if own_only && inherited_unchanged {
            continue;
        }
        let default = match (&info.default, info.required) {
            (Some(d), _) => format!("`{}`", value_text(d)),
            (None, true) => "required".into(),
            (None, false) => String::new(),
        };
        rows.push(format!("| `{name}` | `{}` | {default} |", info.ty));
    }
    rows.join("\n")
}
