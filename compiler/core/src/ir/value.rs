//! Types and checked values.
//!
//! Takes nothing; gives the [`Ty`] of every field and param, the [`Value`] the checker produces
//! from an expression, and [`Datums`], the datum expression tree. Values keep param references
//! symbolic (`${epochs}`, `Value::Param`) so targets can substitute them at run time.

use indexmap::IndexMap;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Ty {
    Int,
    Float,
    Bool,
    String,
    Duration,
    Quantity,
    List(Box<Ty>),
    Map(Box<Ty>),
    /// A string or a `secret(…)`: the values of `env`.
    EnvValue,
    Secret,
    /// `{ key, operator, value, effect }`
    Toleration,
    Datums,
    Dataset,
    /// Already reported; accepts and produces anything.
    Error,
}

impl Ty {
    /// Whether a value of type `self` may stand where `want` is expected.
    pub fn fits(&self, want: &Ty) -> bool {
        use Ty::*;
        match (self, want) {
            (Error, _) | (_, Error) => true,
            (Int, Float | Quantity) | (Float, Quantity) => true,
            (String | Secret, EnvValue) => true,
            (List(a), List(b)) | (Map(a), Map(b)) => a.fits(b),
            (a, b) => a == b,
        }
    }

    /// The names the language accepts in `param x: T`.
    pub const NAMED: [&'static str; 6] = ["int", "float", "bool", "string", "duration", "quantity"];

    pub fn named(name: &str) -> Option<Ty> {
        Some(match name {
            "int" => Ty::Int,
            "float" => Ty::Float,
            "bool" => Ty::Bool,
            "string" => Ty::String,
            "duration" => Ty::Duration,
            "quantity" => Ty::Quantity,
            _ => return None,
        })
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Int => f.write_str("int"),
            Ty::Float => f.write_str("float"),
            Ty::Bool => f.write_str("bool"),
            Ty::String => f.write_str("string"),
            Ty::Duration => f.write_str("duration"),
            Ty::Quantity => f.write_str("quantity"),
            Ty::List(t) => write!(f, "list[{t}]"),
            Ty::Map(t) => write!(f, "map[{t}]"),
            Ty::EnvValue => f.write_str("string or secret"),
            Ty::Secret => f.write_str("secret"),
            Ty::Toleration => f.write_str("toleration"),
            Ty::Datums => f.write_str("datums"),
            Ty::Dataset => f.write_str("dataset"),
            Ty::Error => f.write_str("<error>"),
        }
    }
}

/// A piece of an interpolated string.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Piece {
    Text(String),
    Param(String),
}

/// A checked value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Vec<Piece>),
    /// Milliseconds.
    Duration(u64),
    Quantity(Quantity),
    List(Vec<Value>),
    Map(IndexMap<String, Value>),
    Secret {
        name: String,
        key: String,
    },
    /// A direct reference to a param of a fitting type.
    Param(String),
    Datums(Datums),
    /// Stands for a value whose error was already reported.
    Error,
}

impl Value {
    pub fn plain_str(s: impl Into<String>) -> Value {
        Value::Str(vec![Piece::Text(s.into())])
    }

    /// The text of a string without interpolations.
    pub fn as_plain_str(&self) -> Option<String> {
        match self {
            Value::Str(pieces) => pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => Some(t.as_str()),
                    Piece::Param(_) => None,
                })
                .collect(),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
}

/// A Kubernetes quantity: the text as written and its value in thousandths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quantity {
    pub text: String,
    pub milli: i128,
}

/// How a stage's input splits into datums.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Datums {
    /// `glob(DATASET, "/pattern")`, or `glob(DATASET, "/pattern", as = "role")`: the command sees
    /// the files under `role` (`in/<role>`, `PIPE_IN_<ROLE>`), the dataset's name when `None`.
    Glob {
        dataset: String,
        pattern: String,
        captures: usize,
        role: Option<String>,
    },
    Cross(Vec<Datums>),
    Union(Vec<Datums>),
    Join(Vec<JoinArg>),
    Group(Vec<GroupArg>),
    /// `grid(lr = [0.1, 0.01], wd = lrs)`: one datum per combination of the axes' values.
    Grid(Vec<Axis>),
    /// `sample(grid(…), n = 8, seed = 1)`: `n` distinct points of the grid, chosen by `seed`.
    Sample {
        axes: Vec<Axis>,
        n: u64,
        seed: u64,
    },
    /// `points(pick, "/grid.json", params = [lr, wd])`: one datum per point a JSON file of a
    /// dataset lists, read when the stage runs.
    Points {
        dataset: String,
        path: String,
        params: Vec<String>,
    },
}

/// One axis of a sweep: a declared param and the values it takes, a list of literals or a
/// list param (resolved when the pipeline is compiled or run, like every param).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axis {
    pub param: String,
    pub values: Value,
}

/// One argument of `group`: its datums and the captures that make its key, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupArg {
    pub datums: Datums,
    pub by: Vec<usize>,
}

/// One argument of `join`: its datums, the captures that make its key, in order (`on = "$2$1"` is
/// `[2, 1]`; all of them by default), and whether its unmatched datums are kept (`outer`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinArg {
    pub datums: Datums,
    pub on: Vec<usize>,
    pub outer: bool,
}

impl Datums {
    /// How many capture groups a datum of this expression carries (`$1`, `$2`, …).
    pub fn captures(&self) -> usize {
        match self {
            Datums::Glob { captures, .. } => *captures,
            Datums::Cross(parts) => parts.iter().map(Datums::captures).sum(),
            Datums::Union(parts) => parts.iter().map(Datums::captures).min().unwrap_or(0),
            Datums::Join(parts) => parts.first().map_or(0, |p| p.on.len()),
            Datums::Group(parts) => parts.first().map_or(0, |p| p.by.len()),
            Datums::Grid(_) | Datums::Sample { .. } | Datums::Points { .. } => 0,
        }
    }

    /// The params each datum gives its command (a sweep's axes), sorted, without repeats.
    pub fn swept(&self) -> Vec<String> {
        let mut out: Vec<String> = match self {
            Datums::Glob { .. } => Vec::new(),
            Datums::Grid(axes) | Datums::Sample { axes, .. } => axes.iter().map(|a| a.param.clone()).collect(),
            Datums::Points { params, .. } => params.clone(),
            Datums::Cross(ps) | Datums::Union(ps) => ps.iter().flat_map(Datums::swept).collect(),
            Datums::Join(ps) => ps.iter().flat_map(|p| p.datums.swept()).collect(),
            Datums::Group(ps) => ps.iter().flat_map(|p| p.datums.swept()).collect(),
        };
        out.sort();
        out.dedup();
        out
    }

    /// Every (role, dataset) pair the globs read, in order of appearance, without repeats: the
    /// names a datum's command sees its inputs under, and what each is.
    pub fn roles(&self) -> Vec<(String, String)> {
        fn walk(d: &Datums, out: &mut Vec<(String, String)>) {
            match d {
                Datums::Glob { dataset, role, .. } => {
                    let pair = (role.clone().unwrap_or_else(|| dataset.clone()), dataset.clone());
                    if !out.contains(&pair) {
                        out.push(pair);
                    }
                }
                Datums::Cross(ps) | Datums::Union(ps) => ps.iter().for_each(|p| walk(p, out)),
                Datums::Join(ps) => ps.iter().for_each(|p| walk(&p.datums, out)),
                Datums::Group(ps) => ps.iter().for_each(|p| walk(&p.datums, out)),
                Datums::Points { dataset, .. } => {
                    let pair = (dataset.clone(), dataset.clone());
                    if !out.contains(&pair) {
                        out.push(pair);
                    }
                }
                Datums::Grid(_) | Datums::Sample { .. } => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// Every dataset read, in order of appearance, without repeats.
    pub fn datasets(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<String>) {
        match self {
            Datums::Glob { dataset, .. } => {
                if !out.contains(dataset) {
                    out.push(dataset.clone());
                }
            }
            Datums::Cross(ps) | Datums::Union(ps) => ps.iter().for_each(|p| p.collect(out)),
            Datums::Join(ps) => ps.iter().for_each(|p| p.datums.collect(out)),
            Datums::Group(ps) => ps.iter().for_each(|p| p.datums.collect(out)),
            Datums::Points { dataset, .. } => {
                if !out.contains(dataset) {
                    out.push(dataset.clone());
                }
            }
            Datums::Grid(_) | Datums::Sample { .. } => {}
        }
    }
}
