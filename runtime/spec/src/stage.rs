//! The stage spec: everything the runtime needs to run one stage, and nothing of the language.
//!
//! The compiler emits one per stage (`pipe run` in memory; Argo and TorchX as a file for
//! `pipe-shim`); the runtime reads it. Param values are substituted (by the compiler, or by
//! [`StageSpec::bind`] where a cluster passes them at submit time) before anything runs, so the
//! bound spec says exactly what runs, and its [`StageSpec::fingerprint`] changes exactly when
//! that does.

use crate::hash::Hash;
use crate::manifest::{CommitId, FileEntry};
use crate::param::ParamType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The format number of [`StageSpec`].
pub const STAGE_SPEC_FORMAT: u32 = 1;

/// The version of the datum and caching rules; part of every fingerprint, so a change to how
/// datums are processed invalidates what older rules cached.
/// `2`: the stage's input names joined the fingerprint, and identical datums run once (entries
/// cached under `1` may come from two copies of a datum sharing a work folder).
pub const RUNTIME_RULES_VERSION: &str = "pipe-runtime-2";

/// One stage, ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageSpec {
    pub format: u32,
    pub pipeline: String,
    pub stage: String,
    /// How the command was built (and, for `ddp`, that targets launch it as a gang).
    pub kind: StageKind,
    pub image: String,
    /// The full argv, params substituted.
    pub command: Vec<String>,
    pub env: Vec<EnvVar>,
    /// The datasets the stage reads, by the names its datum expression uses.
    pub inputs: Vec<StageInput>,
    /// `None`: the stage runs once, with no input.
    pub datums: Option<DatumSpec>,
    pub retries: u32,
    pub timeout_seconds: Option<u64>,
    /// At most this many datums at once (`None`: as many as the runner allows).
    pub parallelism: Option<u32>,
    /// Whether a stage whose datums match nothing fails (otherwise it runs no datum, with a
    /// warning).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_datums: bool,
    /// The JSON file of numbers each datum's command writes under `out/`, relative to it; read
    /// and recorded with the run. Not in the fingerprint: it changes no datum's outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// Params left as `${name}` in `image`, `command` and literal `env` values, for a runner to
    /// [bind](StageSpec::bind) when the run starts (a literal `$` is written `$$` in such a spec).
    /// Empty when the compiler substituted every param.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    /// The types of [`StageSpec::params`] that are not text: a value given to a run is read as
    /// its type and written canonically ([`ParamType::canonical`]), so `2.0` given on a cluster
    /// keys datums as the default `2.0` does on a laptop.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub param_types: BTreeMap<String, ParamType>,
    /// The scripts the command names (`prep.py` in `python prep.py`), by the argument that names
    /// them, with their content: code, like the image. `pipe run` reads them beside the pipeline;
    /// `pipe compile` stores them in the store, and `pipe-shim` puts them in a folder of the work
    /// area and runs the command there, so the same script gives the same datum keys on a laptop
    /// and on a cluster, and a stock image runs a script it does not hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<CodeFile>,
    /// Every stage of the pipeline: a run on a cluster is whole once each has committed. Not in
    /// the fingerprint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipeline_stages: Vec<String>,
    /// The params each datum gives its command (the axes of a `grid` or `sample`), left as
    /// `${name}` in `command` and literal `env` values (a literal `$` as `$$`) for the runtime to
    /// fill from each datum ([`StageSpec::at_point`]). Empty for a stage that sweeps nothing.
    /// Not in the fingerprint: the command's text holds them, and each datum's key its values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datum_params: Vec<String>,
}

/// A script of the stage: the command argument that names it, and its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFile {
    /// The argument as written, a relative path (`prep.py`, `scripts/train.py`).
    pub arg: String,
    /// Its content; `path` is `arg`.
    pub file: FileEntry,
}

impl StageSpec {
    /// This spec with every `${param}` replaced by its value from `values` (and `$$` by `$`);
    /// the spec itself when it has no params. Fails naming a param `values` lacks.
    pub fn bind(&self, values: &BTreeMap<String, String>) -> Result<StageSpec, String> {
        if self.params.is_empty() {
            return Ok(self.clone());
        }
        if let Some(missing) = self.params.iter().find(|p| !values.contains_key(*p)) {
            return Err(format!("the stage spec needs param `{missing}`: pass `--param {missing}=VALUE`"));
        }
        let mut read = BTreeMap::new();
        for name in &self.params {
            let given = &values[name];
            let ty = self.param_types.get(name).copied().unwrap_or(ParamType::Text);
            let text = ty.canonical(given).ok_or_else(|| {
                format!("param `{name}` is {}, and `{given}` is not: pass `--param {name}=VALUE` with a {0}", ty.word())
            })?;
            read.insert(name.clone(), text);
        }
        // A swept param is still `${name}` for each datum to fill, so escapes stay escapes.
        let keep = !self.datum_params.is_empty();
        let fill = |text: &str| substitute(text, &read, keep);
        let mut bound = self.clone();
        bound.image = fill(&self.image);
        bound.command = self.command.iter().map(|a| fill(a)).collect();
        for var in &mut bound.env {
            if let EnvValue::Literal(text) = &mut var.value {
                *text = fill(text);
            }
        }
        bound.params.clear();
        bound.param_types.clear();
        Ok(bound)
    }

    /// The spec one datum runs: each of [`StageSpec::datum_params`] filled from `point` (the
    /// datum's values, by param name) in `command` and literal `env` values, and `$$` read as
    /// `$`. The spec itself, borrowed, when it sweeps nothing (every datum of most stages: no
    /// copy per datum). A name `point` lacks stays as written (the compiler makes every datum of
    /// a sweeping stage give every swept param).
    pub fn at_point<'a>(&self, point: impl IntoIterator<Item = (&'a str, &'a str)>) -> std::borrow::Cow<'_, StageSpec> {
        if self.datum_params.is_empty() {
            return std::borrow::Cow::Borrowed(self);
        }
        let values: BTreeMap<String, String> = point.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let fill = |text: &str| substitute(text, &values, false);
        let mut filled = self.clone();
        filled.command = self.command.iter().map(|a| fill(a)).collect();
        for var in &mut filled.env {
            if let EnvValue::Literal(text) = &mut var.value {
                *text = fill(text);
            }
        }
        filled.datum_params.clear();
        std::borrow::Cow::Owned(filled)
    }

    /// The spec with every param written as `placeholder(name)`, as text, whatever its type: for a
    /// target that fills values in itself when a run starts (Argo's
    /// `{{workflow.parameters.NAME}}`). The shim still reads each given value as its type.
    pub fn with_placeholders(&self, placeholder: impl Fn(&str) -> String) -> StageSpec {
        let values = self.params.iter().map(|p| (p.clone(), placeholder(p))).collect();
        let mut text = self.clone();
        text.param_types.clear();
        text.bind(&values).expect("every param has a placeholder, and text reads as text")
    }

    /// blake3 of everything that decides what the stage computes: image, command, env (secret
    /// references by name, never values), kind, the runtime's rules, the scripts the command names
    /// (by argument and content hash, [`StageSpec::code`]), and the names of the stage's
    /// inputs (every datum's command sees an `in/<input>` folder and a `PIPE_IN_<INPUT>` variable
    /// for each). Not the stage's name, where its inputs come from, or its datums: renaming a stage
    /// or regrouping its inputs keeps results whose inputs are the same.
    pub fn fingerprint(&self) -> Hash {
        #[derive(Serialize)]
        struct Fingerprinted<'a> {
            rules: &'a str,
            kind: StageKind,
            image: &'a str,
            command: &'a [String],
            env: &'a [EnvVar],
            inputs: Vec<&'a str>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            code: Vec<(&'a str, String)>,
        }
        let mut inputs: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        inputs.sort_unstable();
        inputs.dedup();
        let f = Fingerprinted {
            rules: RUNTIME_RULES_VERSION,
            kind: self.kind,
            image: &self.image,
            command: &self.command,
            env: &self.env,
            inputs,
            code: self.code.iter().map(|c| (c.arg.as_str(), c.file.hash.to_hex())).collect(),
        };
        Hash::of(&serde_json::to_vec(&f).expect("fingerprints serialise"))
    }
}

/// How a stage's command was built, from the standard template at the root of its chain. Each
/// variant's name on the wire is spelled out, since it is part of every fingerprint: renaming a
/// variant must not change a cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StageKind {
    /// `command` and `args` in `image`.
    #[serde(rename = "container")]
    Container,
    /// `torchx.python`: `python SCRIPT ARGS…`.
    #[serde(rename = "python")]
    Python,
    /// `torchx.shell`: `sh -c SCRIPT`.
    #[serde(rename = "shell")]
    Shell,
    /// `torchx.ddp`: `torchrun` on `nnodes` gang-scheduled nodes.
    #[serde(rename = "ddp")]
    Ddp,
}

/// An environment variable of the stage's command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
}

/// A literal value, or a reference to a secret the cluster (or the local environment) holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvValue {
    Literal(String),
    Secret { name: String, key: String },
}

/// A dataset a stage reads, under the name its command sees (`in/<name>`, `PIPE_IN_<NAME>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageInput {
    /// The name the datum expression uses: the input or upstream stage, or the role a glob gives
    /// it (`glob(pick, "/best.json", as = "start")`).
    pub name: String,
    pub source: InputSource,
    /// The pipeline's input or stage this reads, when the stage names it by a role of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
}

impl StageInput {
    /// The pipeline's name of the dataset read: the input or stage, whatever role it plays here.
    pub fn dataset(&self) -> &str {
        self.dataset.as_deref().unwrap_or(&self.name)
    }
}

/// Where a stage's input comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputSource {
    /// A commit of a data repo (resolved from a branch or tag when the pipeline was compiled or
    /// started).
    Repo { repo: String, reference: String, commit: Option<CommitId> },
    /// The output of an upstream stage, in this run.
    Stage { stage: String },
    /// A local folder, snapshotted when the run starts.
    Dir { path: String },
    /// A file or archive downloaded when the run starts.
    Url { url: String },
}

/// How a stage's inputs split into datums. See GRAMMAR.md, "Datums".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatumSpec {
    Glob {
        input: String,
        pattern: String,
    },
    Cross(Vec<DatumSpec>),
    Union(Vec<DatumSpec>),
    Join(Vec<JoinPart>),
    Group(Vec<GroupPart>),
    /// One datum per combination of one value from each axis (`grid(lr = […], wd = […])`).
    Grid(Vec<GridAxis>),
    /// `n` distinct points of the grid the axes make, chosen by `seed` (`sample(grid(…), n = 8,
    /// seed = 1)`): point numbers drawn from blake3 of the seed and the draw's number, so a
    /// larger `n` keeps every point a smaller one chose.
    Sample {
        axes: Vec<GridAxis>,
        n: u64,
        seed: u64,
    },
    /// One datum per point a JSON file of an input lists (`points(pick, "/grid.json", params =
    /// [lr])`): an array of objects giving each of `params` a value. `loaded` is the file's points
    /// (values in `params`' order, canonical), filled by the runtime from the file before the
    /// datums are listed; a spec as compiled has none.
    Points {
        input: String,
        path: String,
        params: Vec<PointParam>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loaded: Option<Vec<Vec<String>>>,
    },
}

/// A param a points file gives values of, with the type they are read as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointParam {
    pub param: String,
    #[serde(rename = "type")]
    pub ty: crate::param::ParamType,
}

/// One axis of a sweep: a param and its values, each as the text `${param}` becomes (a value's
/// one canonical spelling, so `0.10` and `0.1` are one point).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridAxis {
    pub param: String,
    pub values: Vec<String>,
}

/// One argument of a group: its datums and the captures that make its key (`$2$1` is `[2, 1]`).
/// Every argument's datums with equal keys are one datum (Pachyderm's `group_by` per input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPart {
    pub datums: DatumSpec,
    pub by: Vec<usize>,
}

/// One argument of a join: its datums, the captures that make its key (`$2$1` is `[2, 1]`), and
/// whether its datums with no partner are kept (Pachyderm's `outer_join`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinPart {
    pub datums: DatumSpec,
    pub on: Vec<usize>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outer: bool,
}

/// The format number of [`CacheEntry`].
pub const CACHE_FORMAT: u32 = 1;

/// What one processed datum produced: stored at `cache/<stage fingerprint>/<datum key>`, written
/// only after every output object is stored, and only for a datum whose command succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub format: u32,
    pub stage: String,
    pub datum: String,
    /// The datum's outputs, paths relative to `out/`.
    pub files: Vec<FileEntry>,
    pub seconds: f64,
    /// The command's `stdout.log` and `stderr.log` when it wrote anything (stored objects).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<FileEntry>,
}

/// `text` with `${name}` replaced from `values` and `$$` read as `$`; other `$` stay as written.
/// `text` with each `${name}` that `values` has replaced by its value. `$$` is a literal `$`:
/// read as one, or, with `keep_escaped` (a second pass will read the text), kept as `$$` with
/// the values' own `$` doubled.
fn substitute(text: &str, values: &BTreeMap<String, String>, keep_escaped: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push_str(if keep_escaped { "$$" } else { "$" });
            rest = tail;
        } else if let Some((name, tail)) = after.strip_prefix('{').and_then(|b| b.split_once('}'))
            && let Some(value) = values.get(name)
        {
            if keep_escaped {
                out.push_str(&value.replace('$', "$$"));
            } else {
                out.push_str(value);
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod bind_tests {
    use super::*;

    fn spec(command: &[&str], params: &[&str]) -> StageSpec {
        StageSpec {
            format: STAGE_SPEC_FORMAT,
            pipeline: "p".into(),
            stage: "s".into(),
            kind: StageKind::Container,
            image: "img:${tag}".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            env: vec![EnvVar { name: "LR".into(), value: EnvValue::Literal("${lr}".into()) }],
            inputs: Vec::new(),
            datums: None,
            retries: 0,
            timeout_seconds: None,
            parallelism: None,
            require_datums: false,
            metrics: None,
            params: params.iter().map(|s| s.to_string()).collect(),
            param_types: BTreeMap::new(),
            code: Vec::new(),
            pipeline_stages: Vec::new(),
            datum_params: Vec::new(),
        }
    }

    #[test]
    fn bind_fills_params_and_unescapes_dollars() {
        let values: BTreeMap<String, String> =
            [("tag", "1.4"), ("lr", "0.1"), ("n", "3")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
        let bound = spec(&["echo", "${n}x", "$$HOME", "${unknown}"], &["tag", "lr", "n"]).bind(&values).expect("binds");
        assert_eq!(bound.image, "img:1.4");
        assert_eq!(bound.command, ["echo", "3x", "$HOME", "${unknown}"]);
        assert_eq!(bound.env[0].value, EnvValue::Literal("0.1".into()));
        assert!(bound.params.is_empty());
        assert_eq!(bound.fingerprint(), bound.bind(&BTreeMap::new()).expect("binds").fingerprint());
    }

    #[test]
    fn bind_reads_each_value_as_its_type() {
        // `argo submit -p lr=0.10` or TorchX's `--lr 0.1` give text; the key must not depend on
        // how the same value was spelled.
        let mut typed = spec(&["train", "--lr", "${lr}", "--n", "${n}"], &["lr", "n"]);
        typed.param_types = [("lr", ParamType::Float), ("n", ParamType::Int)].map(|(k, t)| (k.to_owned(), t)).into();
        let bind = |lr: &str, n: &str| {
            let values: BTreeMap<String, String> =
                [("lr", lr), ("n", n)].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
            typed.bind(&values)
        };
        let canonical = bind("0.1", "3").expect("binds");
        assert_eq!(canonical.command, ["train", "--lr", "0.1", "--n", "3"]);
        assert!(canonical.param_types.is_empty());
        for (lr, n) in [("0.10", "3"), ("1e-1", "+3"), (" 0.1", "3")] {
            assert_eq!(bind(lr, n).expect("binds").fingerprint(), canonical.fingerprint(), "{lr} {n}");
        }
        let err = bind("fast", "3").expect_err("not a float");
        assert!(err.contains("`lr` is float") && err.contains("--param lr=VALUE"), "{err}");
    }

    #[test]
    fn fingerprints_are_stable_across_releases() {
        // A change here throws away every cache entry users have: make it on purpose, with the
        // rules version, never as a side effect (of renaming an enum variant, say).
        let spec = spec(&["python", "prep.py"], &[]);
        assert_eq!(serde_json::to_string(&StageKind::Ddp).expect("kind"), "\"ddp\"");
        assert_eq!(spec.fingerprint().to_hex(), "fb15e05bdca633f233ae57e08deb0d8825faf9d74dac9e3b6a57a300f663044f");
    }

    #[test]
    fn the_fingerprint_covers_the_input_names_a_command_sees() {
        // Regression: a stage that gained an input (`union` of a second one) reused datums whose
        // command had seen no `in/aux` folder and no `PIPE_IN_AUX` variable.
        let input = |name: &str, repo: &str| StageInput {
            name: name.into(),
            source: InputSource::Repo { repo: repo.into(), reference: "main".into(), commit: None },
            dataset: None,
        };
        let one = StageSpec { inputs: vec![input("raw", "r")], ..spec(&["echo"], &[]) };
        let two = StageSpec { inputs: vec![input("raw", "r"), input("aux", "a")], ..one.clone() };
        let renamed = StageSpec { inputs: vec![input("data", "r")], ..one.clone() };
        let moved = StageSpec { inputs: vec![input("raw", "elsewhere")], ..one.clone() };
        assert_ne!(one.fingerprint(), two.fingerprint());
        assert_ne!(one.fingerprint(), renamed.fingerprint());
        assert_eq!(one.fingerprint(), moved.fingerprint(), "where an input comes from is data, keyed per file");
    }

    #[test]
    fn a_point_fills_swept_params_after_a_run_binds_the_rest() {
        // `lr` is swept (each datum gives it); `tag` is bound when a cluster run starts. Literal
        // `$` survive both passes, and a bound value holding `$` is not read as a placeholder.
        let mut swept = spec(&["train", "--lr", "${lr}", "--tag", "${tag}", "$$HOME"], &["tag"]);
        swept.datum_params = vec!["lr".into()];
        let values: BTreeMap<String, String> = [("tag".to_owned(), "$${lr}".to_owned())].into();
        let bound = swept.bind(&values).expect("binds");
        assert_eq!(bound.command, ["train", "--lr", "${lr}", "--tag", "$$$${lr}", "$$HOME"]);
        assert_eq!(bound.datum_params, ["lr"], "still swept");
        let point = bound.at_point([("lr", "0.1")]);
        assert_eq!(point.command, ["train", "--lr", "0.1", "--tag", "$${lr}", "$HOME"]);
        assert_eq!(point.env[0].value, EnvValue::Literal("0.1".into()));
        assert!(point.datum_params.is_empty());
        let plain = spec(&["echo", "$$", "${lr}"], &[]);
        assert!(
            matches!(plain.at_point([("lr", "1")]), std::borrow::Cow::Borrowed(p) if *p == plain),
            "a stage that sweeps nothing is left alone, and not copied"
        );
    }

    #[test]
    fn bind_names_a_missing_param_and_leaves_plain_specs_alone() {
        let err = spec(&["echo"], &["tag", "lr"]).bind(&BTreeMap::new()).expect_err("a missing param");
        assert!(err.contains("`--param tag=VALUE`"), "{err}");
        let plain = spec(&["echo", "$$"], &[]);
        assert_eq!(plain.bind(&BTreeMap::new()).expect("binds").command, ["echo", "$$"]);
    }
}
