//! Templates: finding them by name and folding their chain into one [`Schema`].
//!
//! Takes a template path as written in some module (`ddp`, `torchx.ddp`); gives the schema a stage
//! of that template is checked against: the builtin stage fields, then each ancestor's new fields
//! and defaults, outermost last. Raises E2005, E2006, E2010, E2011, E3002, E3015 and E4003.

use super::schema::{FieldInfo, Schema, stage_schema};
use super::{Checker, Place, Ty};
use crate::diag::{Code, Diagnostic, did_you_mean};
use crate::ir::Kind;
use crate::resolve::{DefKind, ModuleId, Program};
use crate::syntax::ast::{ItemKind, Member, Path, TypeExpr, TypeExprKind};
use std::collections::HashMap;
use std::sync::Arc;

impl Checker<'_> {
    /// The schema of the template `path` names from module `m`, reporting what is wrong.
    pub(super) fn template(&mut self, m: ModuleId, path: &Path) -> Option<Arc<Schema>> {
        let (tm, item) = self.find_template(m, path, true)?;
        self.resolve_template(tm, item)
    }

    /// The same lookup, without reporting (for tools, after checking).
    pub(super) fn template_quiet(&mut self, m: ModuleId, path: &Path) -> Option<Arc<Schema>> {
        let key = self.find_template(m, path, false)?;
        self.templates.get(&key).cloned().flatten()
    }

    /// Resolves every template of every module, so unused ones are checked too.
    pub(super) fn all_templates(&mut self) {
        let prog = self.prog;
        for (mi, module) in prog.modules.iter().enumerate() {
            for (index, item) in module.ast.items.iter().enumerate() {
                if matches!(item.kind, ItemKind::Template(_)) {
                    self.resolve_template(ModuleId(mi as u32), index);
                }
            }
        }
    }

    fn find_template(&mut self, m: ModuleId, path: &Path, report: bool) -> Option<(ModuleId, usize)> {
        let prog = self.prog;
        let (target, name) = match path.segments.as_slice() {
            [name] => (m, name),
            [module, name] => {
                let Some(&target) = prog.module(m).uses.get(&module.name) else {
                    if report {
                        let uses = prog.module(m).uses.keys().map(String::as_str);
                        let help = did_you_mean(
                            &module.name,
                            uses,
                            &format!("Add `use {}` at the top of the file.", module.name),
                        );
                        self.diags.push(
                            Diagnostic::new(
                                Code::E2005,
                                module.span,
                                format!("no module `{}` is used here", module.name),
                            )
                            .label("unknown module")
                            .help(help),
                        );
                    }
                    return None;
                };
                if m == Program::ROOT {
                    self.used.insert(module.name.clone());
                }
                if let Some(d) = self.scope(m).get(&module.name).copied() {
                    self.refer(module.span, d.span, &module.name);
                }
                (target, name)
            }
            _ => {
                if report {
                    self.diags.push(
                        Diagnostic::new(Code::E2005, path.span, format!("`{}` is not a template name", path.text()))
                            .label("too many `.`")
                            .help("Name a template as `NAME` or `MODULE.NAME`."),
                    );
                }
                return None;
            }
        };
        match self.scope(target).get(&name.name).copied() {
            Some(d) if d.kind == DefKind::Template => {
                self.refer(name.span, d.span, &name.name);
                Some((target, d.item))
            }
            Some(d) if report => {
                self.diags.push(
                    Diagnostic::new(
                        Code::E2011,
                        name.span,
                        format!("`{}` is a {}, not a template", name.name, d.kind.noun()),
                    )
                    .label("not a template")
                    .also(d.span, "defined here")
                    .help("A stage's `: NAME` names a template, such as `torchx.ddp`."),
                );
                None
            }
            Some(_) => None,
            None => {
                if report {
                    let mut names: Vec<String> =
                        self.scope(target).names_of(&[DefKind::Template]).map(str::to_string).collect();
                    if target == m {
                        for (binding, &um) in &prog.module(m).uses {
                            names.extend(
                                self.scope(um).names_of(&[DefKind::Template]).map(|t| format!("{binding}.{t}")),
                            );
                        }
                    }
                    let whose =
                        if target == m { String::new() } else { format!(" in module `{}`", path.segments[0].name) };
                    let fallback = "Define it with `template NAME { … }`, or use a standard one such as `torchx.ddp` after `use torchx`.";
                    self.diags.push(
                        Diagnostic::new(Code::E2005, name.span, format!("no template named `{}`{whose}", name.name))
                            .label("unknown template")
                            .help(did_you_mean(&name.name, names.iter().map(String::as_str), fallback)),
                    );
                }
                None
            }
        }
    }

    fn resolve_template(&mut self, tm: ModuleId, index: usize) -> Option<Arc<Schema>> {
        if let Some(done) = self.templates.get(&(tm, index)) {
            return done.clone();
        }
        let prog = self.prog;
        let module = prog.module(tm);
        let ItemKind::Template(t) = &module.ast.items[index].kind else {
            return None;
        };
        if let Some(pos) = self.resolving.iter().position(|k| *k == (tm, index)) {
            let chain: Vec<String> = self.resolving[pos..]
                .iter()
                .filter_map(|(m, i)| prog.module(*m).ast.items[*i].kind.name().map(|n| n.name.clone()))
                .collect();
            self.diags.push(
                Diagnostic::new(
                    Code::E4003,
                    t.name.span,
                    format!("template `{}` inherits from itself: {} → {}", t.name.name, chain.join(" → "), t.name.name),
                )
                .label("part of the cycle")
                .help("Remove the `: PARENT` of one template in the chain."),
            );
            return None;
        }
        self.resolving.push((tm, index));
        let base = match &t.parent {
            Some(p) => self.template(tm, p),
            None => {
                let kind = module.stdlib.as_deref().and_then(|m| Kind::of_stdlib(m, &t.name.name));
                Some(Arc::new(Schema { kind: kind.unwrap_or(Kind::Container), ..stage_schema() }))
            }
        };
        self.resolving.pop();
        let result = base.map(|base| {
            let mut schema = (*base).clone();
            schema.name = match &module.stdlib {
                Some(m) => format!("{m}.{}", t.name.name),
                None => t.name.name.clone(),
            };
            schema.doc = module.ast.items[index].doc.clone();
            schema.declared = Some(t.name.span);
            self.apply_members(tm, &t.members, &mut schema);
            Arc::new(schema)
        });
        self.templates.insert((tm, index), result.clone());
        result
    }

    fn apply_members(&mut self, tm: ModuleId, members: &[Member], schema: &mut Schema) {
        let mut seen = HashMap::new();
        let params = tm == Program::ROOT;
        for member in members {
            let name = match member {
                Member::Decl(d) => &d.name,
                Member::Default(f) => &f.name,
            };
            if let Some(first) = seen.insert(name.name.clone(), name.span) {
                self.diags.push(duplicate_field(&name.name, name.span, first));
                continue;
            }
            match member {
                Member::Decl(d) => {
                    if let Some(prev) = schema.fields.get(&d.name.name) {
                        let mut diag = Diagnostic::new(
                            Code::E3015,
                            d.name.span,
                            format!("field `{}` is already declared", d.name.name),
                        )
                        .label("declared again");
                        diag = match prev.declared {
                            Some(span) => diag.also(span, "first declared here"),
                            None => diag,
                        };
                        self.diags.push(diag.help(format!(
                            "To change its default, write `{} = VALUE` instead of redeclaring it.",
                            d.name.name
                        )));
                        continue;
                    }
                    let ty = self.type_of(&d.ty);
                    let default = d.default.as_ref().map(|e| self.value(e, &ty, Place { field: &d.name.name, params }));
                    let info = FieldInfo {
                        ty,
                        required: default.is_none(),
                        default,
                        doc: d.doc.clone().unwrap_or_default(),
                        declared: Some(d.name.span),
                    };
                    schema.fields.insert(d.name.name.clone(), info);
                }
                Member::Default(f) => {
                    let Some(ty) = schema.fields.get(&f.name.name).map(|i| i.ty.clone()) else {
                        self.diags.push(self.unknown_field(&f.name.name, f.name.span, schema));
                        continue;
                    };
                    let v = self.value(&f.value, &ty, Place { field: &f.name.name, params });
                    if let Some(info) = schema.fields.get_mut(&f.name.name) {
                        info.default = Some(v);
                        info.required = false;
                    }
                }
            }
        }
    }

    /// E3002 with "did you mean" over the schema's fields.
    pub(super) fn unknown_field(&self, name: &str, span: crate::source::Span, schema: &Schema) -> Diagnostic {
        let names = schema.fields.keys().map(String::as_str);
        let fallback = format!(
            "Fields of `{}` are: {}.",
            schema.name,
            schema.fields.keys().cloned().collect::<Vec<_>>().join(", ")
        );
        Diagnostic::new(Code::E3002, span, format!("`{}` has no field `{name}`", schema.name))
            .label("unknown field")
            .help(did_you_mean(name, names, &fallback))
    }

    /// The type a written type names.
    pub(super) fn type_of(&mut self, t: &TypeExpr) -> Ty {
        match &t.kind {
            TypeExprKind::Named(n) => Ty::named(&n.name).unwrap_or_else(|| {
                let known = Ty::NAMED.iter().copied().chain(["list", "map"]);
                let help = if matches!(n.name.as_str(), "list" | "map") {
                    format!("Write the element type: `{}[string]`.", n.name)
                } else {
                    did_you_mean(
                        &n.name,
                        known,
                        "The types are int, float, bool, string, duration, quantity, list[T] and map[T].",
                    )
                };
                self.diags.push(
                    Diagnostic::new(Code::E2010, n.span, format!("unknown type `{}`", n.name))
                        .label("not a type")
                        .help(help),
                );
                Ty::Error
            }),
            TypeExprKind::List(inner) => Ty::List(Box::new(self.type_of(inner))),
            TypeExprKind::Map(inner) => Ty::Map(Box::new(self.type_of(inner))),
            TypeExprKind::Error => Ty::Error,
        }
    }
}

/// E2006 for a field written twice in one block.
pub(super) fn duplicate_field(name: &str, span: crate::source::Span, first: crate::source::Span) -> Diagnostic {
    Diagnostic::new(Code::E2006, span, format!("field `{name}` is set twice"))
        .label("set again here")
        .also(first, "first set here")
        .help("Remove one of the two; a field has one value.")
}
