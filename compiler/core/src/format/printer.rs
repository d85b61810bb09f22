//! The printer: walks the tree, emitting comments as their positions are passed.

use crate::syntax::ast::*;

const INDENT: &str = "  ";

/// One line-level entry of a block, for alignment.
struct Row {
    key: Option<String>,
    start: usize,
    end: usize,
    multiline: bool,
}

pub(super) struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    next: usize,
    out: String,
    /// Source offset of the end of the last thing printed.
    last: usize,
}

impl<'a> Printer<'a> {
    pub(super) fn new(src: &'a str, comments: &'a [Comment]) -> Self {
        Printer { src, comments, next: 0, out: String::new(), last: 0 }
    }

    pub(super) fn module(mut self, m: &Module) -> String {
        let mut prev_block = false;
        for (k, item) in m.items.iter().enumerate() {
            let block = matches!(item.kind, ItemKind::Stage(_) | ItemKind::Template(_) | ItemKind::Pipeline(_));
            let start = item.span.start as usize;
            if k > 0 && (block || prev_block || self.blank_before(start)) {
                self.blank_line();
            }
            self.leading(start, 0);
            self.item(item);
            self.last = item.span.end as usize;
            self.trailing();
            prev_block = block;
        }
        self.leading(self.src.len(), 0);
        let trimmed = self.out.trim_end().to_string();
        if trimmed.is_empty() { trimmed } else { trimmed + "\n" }
    }

    /// Whether the source has a blank line between the last printed thing and `offset`, counting
    /// from the first comment in between if there is one.
    fn blank_before(&self, offset: usize) -> bool {
        let upto = self.comments.get(self.next).map_or(offset, |c| (c.span.start as usize).min(offset));
        let gap = &self.src[self.last.min(upto)..upto];
        gap.matches('\n').count() >= 2
    }

    fn blank_line(&mut self) {
        if !self.out.is_empty()
            && !self.out.ends_with("\n\n")
            && !self.out.ends_with("{\n")
            && !self.out.ends_with("[\n")
        {
            self.out.push('\n');
        }
    }

    /// Own-line comments that start before `offset`, at `depth`.
    fn leading(&mut self, offset: usize, depth: usize) {
        while let Some(c) = self.comments.get(self.next).filter(|c| (c.span.start as usize) < offset) {
            let gap = &self.src[self.last.min(c.span.start as usize)..c.span.start as usize];
            if gap.matches('\n').count() >= 2 && self.last > 0 {
                self.blank_line();
            }
            self.line(depth, &format!("#{}", c.text.trim_end()));
            self.last = c.span.end as usize;
            self.next += 1;
        }
    }

    /// A comment on the same source line as the last thing printed goes at the end of its line.
    fn trailing(&mut self) {
        if let Some(c) = self.comments.get(self.next) {
            let start = c.span.start as usize;
            if start >= self.last && !self.src[self.last..start].contains('\n') {
                if self.out.ends_with('\n') {
                    self.out.pop();
                }
                self.out.push_str(&format!("  #{}\n", c.text.trim_end()));
                self.last = c.span.end as usize;
                self.next += 1;
                return;
            }
        }
        if !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn text(&self, span: crate::source::Span) -> &'a str {
        &self.src[span.range()]
    }

    fn item(&mut self, item: &Item) {
        match &item.kind {
            ItemKind::Use(u) => {
                let target = match &u.target {
                    UseTarget::Module(m) => m.name.clone(),
                    UseTarget::File { span, .. } => self.text(*span).to_string(),
                };
                let alias = if u.aliased { format!(" as {}", u.binding.name) } else { String::new() };
                self.out.push_str(&format!("use {target}{alias}"));
            }
            ItemKind::Param(p) => {
                self.out.push_str(&format!("param {}: {}", p.name.name, self.text(p.ty.span)));
                if let Some(d) = &p.default {
                    self.out.push_str(" = ");
                    self.expr(d, 0);
                }
            }
            ItemKind::Input(i) => {
                self.out.push_str(&format!("input {} = ", i.name.name));
                self.expr(&i.source, 0);
            }
            ItemKind::Stage(s) => {
                let parent = s.template.as_ref().map(|p| format!(": {}", p.text())).unwrap_or_default();
                self.out.push_str(&format!("stage {}{parent} ", s.name.name));
                self.block(&s.body.fields, s.body.span, 0);
            }
            ItemKind::Template(t) => {
                let parent = t.parent.as_ref().map(|p| format!(": {}", p.text())).unwrap_or_default();
                self.out.push_str(&format!("template {}{parent} ", t.name.name));
                self.members(&t.members, t.span_body);
            }
            ItemKind::Pipeline(b) => {
                self.out.push_str("pipeline ");
                self.block(&b.fields, b.span, 0);
            }
        }
    }

    /// `{ fields }` as a multi-line block at `depth`, `=` aligned within runs.
    fn block(&mut self, fields: &[Field], span: crate::source::Span, depth: usize) {
        if fields.is_empty() && !self.has_comments_before(span.end as usize) {
            self.out.push_str("{}");
            return;
        }
        self.out.push_str("{\n");
        self.last = span.start as usize + 1;
        let widths = self.run_widths(&self.field_rows(fields));
        for (f, width) in fields.iter().zip(widths) {
            let start = f.span.start as usize;
            if self.blank_before(start) {
                self.blank_line();
            }
            self.leading(start, depth + 1);
            self.indent(depth + 1);
            let key = self.key(f);
            self.padded(&key, width);
            self.expr(&f.value, depth + 1);
            self.last = f.span.end as usize;
            self.trailing();
        }
        self.close(span, depth, "}");
    }

    /// `key`, padded with spaces to `width` characters, then ` = `. (Not `format!`'s `{:<width$}`,
    /// which panics past a width of 65,535: a name that long is odd, not an error.)
    fn padded(&mut self, key: &str, width: usize) {
        self.out.push_str(key);
        self.out.extend(std::iter::repeat_n(' ', width.saturating_sub(key.chars().count())));
        self.out.push_str(" = ");
    }

    fn has_comments_before(&self, offset: usize) -> bool {
        self.comments.get(self.next).is_some_and(|c| (c.span.start as usize) < offset)
    }

    /// Flushes comments inside a construct, then its closing delimiter.
    fn close(&mut self, span: crate::source::Span, depth: usize, delim: &str) {
        self.leading(span.end as usize - 1, depth + 1);
        self.indent(depth);
        self.out.push_str(delim);
        self.last = span.end as usize;
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
    }

    /// A field's key; quoted keys exactly as written, escapes included.
    fn key(&self, f: &Field) -> String {
        if f.quoted { self.text(f.name.span).to_string() } else { f.name.name.clone() }
    }

    /// The key width of each row: rows in one run (no blank line, comment line or multi-line
    /// value between them) align their `=`. Rows without a key break runs.
    fn run_widths(&self, rows: &[Row]) -> Vec<usize> {
        let mut runs: Vec<Vec<usize>> = Vec::new();
        for (k, row) in rows.iter().enumerate() {
            let breaks = k == 0 || row.key.is_none() || rows[k - 1].key.is_none() || {
                let prev = &rows[k - 1];
                let gap = &self.src[prev.end..row.start];
                let own_line_comment = self.comments.iter().any(|c| {
                    let s = c.span.start as usize;
                    s >= prev.end && s < row.start && self.src[prev.end..s].contains('\n')
                });
                gap.matches('\n').count() >= 2 || own_line_comment || row.multiline || prev.multiline
            };
            if breaks {
                runs.push(Vec::new());
            }
            if let Some(run) = runs.last_mut() {
                run.push(k);
            }
        }
        let mut widths = vec![0; rows.len()];
        for run in runs {
            let w = run.iter().filter_map(|k| rows[*k].key.as_ref()).map(|key| key.chars().count()).max().unwrap_or(0);
            run.iter().for_each(|k| widths[*k] = w);
        }
        widths
    }

    fn field_rows(&self, fields: &[Field]) -> Vec<Row> {
        fields.iter().map(|f| self.row(Some(self.key(f)), f.span, f.value.span)).collect()
    }

    fn row(&self, key: Option<String>, span: crate::source::Span, value: crate::source::Span) -> Row {
        Row {
            key,
            start: span.start as usize,
            end: span.end as usize,
            multiline: self.src[value.range()].contains('\n'),
        }
    }

    fn members(&mut self, members: &[Member], span: crate::source::Span) {
        if members.is_empty() && !self.has_comments_before(span.end as usize) {
            self.out.push_str("{}");
            return;
        }
        self.out.push_str("{\n");
        self.last = span.start as usize + 1;
        let rows: Vec<Row> = members
            .iter()
            .map(|m| match m {
                Member::Decl(d) => self.row(None, d.span, d.span),
                Member::Default(f) => self.row(Some(f.name.name.clone()), f.span, f.value.span),
            })
            .collect();
        let widths = self.run_widths(&rows);
        for (m, width) in members.iter().zip(widths) {
            let start = m.span().start as usize;
            if self.blank_before(start) {
                self.blank_line();
            }
            self.leading(start, 1);
            self.indent(1);
            match m {
                Member::Decl(d) => {
                    self.out.push_str(&format!("{}: {}", d.name.name, self.text(d.ty.span)));
                    if let Some(v) = &d.default {
                        self.out.push_str(" = ");
                        self.expr(v, 1);
                    }
                }
                Member::Default(f) => {
                    self.padded(&f.name.name, width);
                    self.expr(&f.value, 1);
                }
            }
            self.last = m.span().end as usize;
            self.trailing();
        }
        self.close(span, 0, "}");
    }

    fn expr(&mut self, e: &Expr, depth: usize) {
        let multiline = self.src[e.span.range()].contains('\n');
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Unit(_) | ExprKind::Str(_) | ExprKind::Error => {
                let t = self.text(e.span);
                self.out.push_str(t);
            }
            ExprKind::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            ExprKind::Name(p) => self.out.push_str(&p.text()),
            ExprKind::At(a, b) => {
                self.expr(a, depth);
                self.out.push_str(" @ ");
                self.expr(b, depth);
            }
            ExprKind::List(items) => {
                let items: Vec<(Option<String>, &Expr)> = items.iter().map(|i| (None, i)).collect();
                self.seq("[", "]", &items, e.span, depth, multiline);
            }
            ExprKind::Record(b) if !multiline => {
                if b.fields.is_empty() {
                    self.out.push_str("{}");
                    return;
                }
                let items: Vec<(Option<String>, &Expr)> =
                    b.fields.iter().map(|f| (Some(self.key(f)), &f.value)).collect();
                self.seq("{ ", " }", &items, e.span, depth, false);
            }
            ExprKind::Record(b) => self.block(&b.fields, b.span, depth),
            ExprKind::Call(c) => {
                self.out.push_str(&c.callee.name);
                let items: Vec<(Option<String>, &Expr)> =
                    c.args.iter().map(|a| (a.name.as_ref().map(|n| n.name.clone()), &a.value)).collect();
                self.seq("(", ")", &items, e.span, depth, multiline);
            }
        }
    }

    /// A comma-separated sequence, on one line or one element per line with a trailing comma.
    fn seq(
        &mut self,
        open: &str,
        close: &str,
        items: &[(Option<String>, &Expr)],
        span: crate::source::Span,
        depth: usize,
        multiline: bool,
    ) {
        if !multiline || items.is_empty() {
            self.out.push_str(open);
            for (k, (name, value)) in items.iter().enumerate() {
                if k > 0 {
                    self.out.push_str(", ");
                }
                if let Some(n) = name {
                    self.out.push_str(&format!("{n} = "));
                }
                self.expr(value, depth);
            }
            self.out.push_str(if items.is_empty() { close.trim() } else { close });
            return;
        }
        self.out.push_str(open.trim_end());
        self.out.push('\n');
        self.last = span.start as usize + 1;
        for (name, value) in items {
            let start = value.span.start as usize;
            self.leading(start, depth + 1);
            self.indent(depth + 1);
            if let Some(n) = name {
                self.out.push_str(&format!("{n} = "));
            }
            self.expr(value, depth + 1);
            self.out.push(',');
            self.last = value.span.end as usize;
            self.skip_comma();
            self.trailing();
        }
        self.close(span, depth, close.trim_start());
    }

    /// Moves `last` past a `,` that follows the element in the source.
    fn skip_comma(&mut self) {
        let rest = &self.src[self.last..];
        let trimmed = rest.trim_start_matches([' ', '\t']);
        if trimmed.starts_with(',') {
            self.last += rest.len() - trimmed.len() + 1;
        }
    }
}
