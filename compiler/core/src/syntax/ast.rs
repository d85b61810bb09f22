//! The owned syntax tree of one `.pipe` file.
//!
//! Every node carries a [`Span`]; nothing stores file names or lines. `Error` nodes stand where the
//! parser recovered, so later phases can skip them without reporting twice. Comments live beside
//! the tree in [`Module::comments`] for the formatter; `##` doc comments are attached to the item,
//! field or template member they precede.

use crate::source::{FileId, Span};

#[derive(Debug, Clone)]
pub struct Module {
    pub file: FileId,
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

/// A `#` comment (including `##` docs), kept for the formatter.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub span: Span,
    /// The text after `#`, including a second `#` for doc comments.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A dotted name: `torchx.ddp`, `digits`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
    pub span: Span,
}

impl Path {
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(".")
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ItemKind {
    Use(Use),
    Param(Param),
    Input(Input),
    Stage(Stage),
    Template(Template),
    Pipeline(Block),
}

impl ItemKind {
    /// The defined name, if the item defines one.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            ItemKind::Use(u) => Some(&u.binding),
            ItemKind::Param(p) => Some(&p.name),
            ItemKind::Input(i) => Some(&i.name),
            ItemKind::Stage(s) => Some(&s.name),
            ItemKind::Template(t) => Some(&t.name),
            ItemKind::Pipeline(_) => None,
        }
    }

    pub fn keyword(&self) -> &'static str {
        match self {
            ItemKind::Use(_) => "use",
            ItemKind::Param(_) => "param",
            ItemKind::Input(_) => "input",
            ItemKind::Stage(_) => "stage",
            ItemKind::Template(_) => "template",
            ItemKind::Pipeline(_) => "pipeline",
        }
    }
}

/// `use torchx` or `use "lib/common.pipe" as common`.
#[derive(Debug, Clone)]
pub struct Use {
    pub target: UseTarget,
    /// The name the module is known by here: the alias, or the module's own name.
    pub binding: Ident,
    /// Whether `as NAME` was written (always for files).
    pub aliased: bool,
}

#[derive(Debug, Clone)]
pub enum UseTarget {
    Module(Ident),
    File { path: String, span: Span },
}

/// `param epochs: int = 10`
#[derive(Debug, Clone)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeExprKind {
    Named(Ident),
    List(Box<TypeExpr>),
    Map(Box<TypeExpr>),
    Error,
}

/// `input digits = repo("mnist") @ "v2"`
#[derive(Debug, Clone)]
pub struct Input {
    pub name: Ident,
    pub source: Expr,
}

/// `stage train: torchx.ddp { … }`
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: Ident,
    pub template: Option<Path>,
    pub body: Block,
}

/// `template finetune: torchx.ddp { lr: float = 0.001  nnodes = 2 }`
#[derive(Debug, Clone)]
pub struct Template {
    pub name: Ident,
    pub parent: Option<Path>,
    pub members: Vec<Member>,
    pub span_body: Span,
}

/// A template member: a new typed field, or a default for an inherited one.
#[derive(Debug, Clone)]
pub enum Member {
    Decl(FieldDecl),
    Default(Field),
}

impl Member {
    pub fn span(&self) -> Span {
        match self {
            Member::Decl(d) => d.span,
            Member::Default(f) => f.span,
        }
    }
}

/// `lr: float = 0.001`
#[derive(Debug, Clone)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub default: Option<Expr>,
    pub doc: Option<String>,
    pub span: Span,
}

/// `{ name = value … }`: a stage body, a pipeline block or a record literal.
#[derive(Debug, Clone)]
pub struct Block {
    pub fields: Vec<Field>,
    pub span: Span,
}

/// `name = value`
#[derive(Debug, Clone)]
pub struct Field {
    pub name: Ident,
    /// Written as a string key (`"cloud.google.com/gke-accelerator" = …`).
    pub quoted: bool,
    pub value: Expr,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(StrLit),
    /// A number with a unit, typed by context: `90s`, `1h30m`, `64Gi`, `500m`.
    Unit(String),
    List(Vec<Expr>),
    Record(Block),
    Name(Path),
    Call(Call),
    /// `source @ ref`
    At(Box<Expr>, Box<Expr>),
    /// Where the parser recovered; never reported again.
    Error,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub callee: Ident,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

/// A string literal, split at `${param}` interpolations.
#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub parts: Vec<StrPart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrPart {
    Text(String),
    Interp(Ident),
}

impl StrLit {
    /// The text if there is no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                StrPart::Text(t) => out.push_str(t),
                StrPart::Interp(_) => return None,
            }
        }
        Some(out)
    }
}
