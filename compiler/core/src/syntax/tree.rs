//! A compact, indented printout of a syntax tree, for parser snapshots.
//!
//! Takes a [`Module`]; gives text such as `(stage train :torchx.ddp (field image "x"))`, one item
//! per line. Spans are left out so snapshots survive unrelated edits; it is not a `Debug` dump.

use super::ast::*;
use std::fmt::Write;

pub fn print(m: &Module) -> String {
    let mut out = String::new();
    for item in &m.items {
        if let Some(doc) = &item.doc {
            let _ = writeln!(out, "(doc {doc:?})");
        }
        let _ = writeln!(out, "{}", item_tree(&item.kind));
    }
    out
}

fn item_tree(k: &ItemKind) -> String {
    match k {
        ItemKind::Use(u) => {
            let target = match &u.target {
                UseTarget::Module(m) => m.name.clone(),
                UseTarget::File { path, .. } => format!("{path:?}"),
            };
            if u.aliased { format!("(use {target} as {})", u.binding.name) } else { format!("(use {target})") }
        }
        ItemKind::Param(p) => match &p.default {
            Some(d) => format!("(param {} {} {})", p.name.name, ty(&p.ty), expr(d)),
            None => format!("(param {} {})", p.name.name, ty(&p.ty)),
        },
        ItemKind::Input(i) => format!("(input {} {})", i.name.name, expr(&i.source)),
        ItemKind::Stage(s) => {
            let parent = s.template.as_ref().map(|p| format!(" :{}", p.text())).unwrap_or_default();
            format!("(stage {}{parent}{})", s.name.name, fields(&s.body.fields))
        }
        ItemKind::Template(t) => {
            let parent = t.parent.as_ref().map(|p| format!(" :{}", p.text())).unwrap_or_default();
            let members: String = t
                .members
                .iter()
                .map(|m| match m {
                    Member::Decl(d) => match &d.default {
                        Some(v) => format!(" (decl {} {} {})", d.name.name, ty(&d.ty), expr(v)),
                        None => format!(" (decl {} {})", d.name.name, ty(&d.ty)),
                    },
                    Member::Default(f) => format!(" (default {} {})", f.name.name, expr(&f.value)),
                })
                .collect();
            format!("(template {}{parent}{members})", t.name.name)
        }
        ItemKind::Pipeline(b) => format!("(pipeline{})", fields(&b.fields)),
    }
}

fn fields(fs: &[Field]) -> String {
    fs.iter().map(|f| format!(" (field {} {})", key(f), expr(&f.value))).collect()
}

fn key(f: &Field) -> String {
    if f.quoted { format!("{:?}", f.name.name) } else { f.name.name.clone() }
}

fn ty(t: &TypeExpr) -> String {
    match &t.kind {
        TypeExprKind::Named(n) => n.name.clone(),
        TypeExprKind::List(inner) => format!("list[{}]", ty(inner)),
        TypeExprKind::Map(inner) => format!("map[{}]", ty(inner)),
        TypeExprKind::Error => "<error>".into(),
    }
}

pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => string(s),
        ExprKind::Unit(u) => format!("(unit {u})"),
        ExprKind::List(items) => {
            format!("[{}]", items.iter().map(expr).collect::<Vec<_>>().join(" "))
        }
        ExprKind::Record(b) => format!("(record{})", fields(&b.fields)),
        ExprKind::Name(p) => p.text(),
        ExprKind::Call(c) => {
            let args: String = c
                .args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!(" {}={}", n.name, expr(&a.value)),
                    None => format!(" {}", expr(&a.value)),
                })
                .collect();
            format!("({}{args})", c.callee.name)
        }
        ExprKind::At(a, b) => format!("(@ {} {})", expr(a), expr(b)),
        ExprKind::Error => "<error>".into(),
    }
}

fn string(s: &StrLit) -> String {
    let mut out = String::from("\"");
    for p in &s.parts {
        match p {
            StrPart::Text(t) => out.push_str(&t.escape_debug().to_string()),
            StrPart::Interp(i) => {
                let _ = write!(out, "${{{}}}", i.name);
            }
        }
    }
    out.push('"');
    out
}
