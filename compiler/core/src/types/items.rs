//! Checking the root module's items into the IR.
//!
//! Takes the root module; gives the [`ir::Pipeline`]: params (types and defaults), inputs (their
//! sources), stages (fields against their template's schema, defaults applied, required fields
//! present, values in range) and the `pipeline` block. Raises E2002, E2007, E3003,
//! E3005, E3010, E3012, E3013, E3016–E3018, W3001–W3004 and, applying [`crate::target`]'s rules, E5001–E5006; unknown and
//! duplicate fields are [`super::templates`]' to report.

use super::schema::{Schema, StageField, pipeline_schema, stage_schema};
use super::{Checker, Place, Ty, Value};
use crate::diag::{Code, Diagnostic};
use crate::ir::{self, Kind, Source};
use crate::resolve::Program;
use crate::source::Span;
use crate::syntax::ast::{Block, Expr, ExprKind, Input, Item, ItemKind, Stage};
use crate::target;
use indexmap::IndexMap;
use std::sync::Arc;

/// Fields that decide how a stage is laid out before it runs — retries, deadlines, shard counts,
/// gang sizes, rendezvous settings, whether an empty stage fails — and so must be literals: a
/// target builds Volcano tasks, TorchX replicas and Argo retry strategies from them when the
/// pipeline is compiled, before any param has a value. (Resources, images, commands and env may be params: every target carries
/// those to run time.)
const STRUCTURAL: [StageField; 10] = [
    StageField::Retries,
    StageField::Metrics,
    StageField::RequireDatums,
    StageField::Timeout,
    StageField::Parallelism,
    StageField::Nnodes,
    StageField::NprocPerNode,
    StageField::RdzvPort,
    StageField::RdzvBackend,
    StageField::MaxRestarts,
];

/// Int fields with their allowed range.
const INT_RANGES: [(StageField, i64, i64); 7] = [
    (StageField::Gpu, 0, 64),
    (StageField::Retries, 0, 100),
    (StageField::Parallelism, 1, 100_000),
    (StageField::Nnodes, 1, 1024),
    (StageField::NprocPerNode, 1, 64),
    (StageField::RdzvPort, 1, 65_535),
    (StageField::MaxRestarts, 0, 100),
];

/// More cores than this in one pod's `cpu` is taken for a missing `m` (W3004).
const MAX_NODE_CORES: i128 = 256;
impl Checker<'_> {
    pub(super) fn root(&mut self, fallback_name: &str) -> ir::Pipeline {
        let prog = self.prog;
        let items = &prog.root().ast.items;
        let mut out = ir::Pipeline { name: target::k8s_name(fallback_name), ..Default::default() };
        for item in items {
            if let ItemKind::Param(p) = &item.kind {
                let ty = self.type_of(&p.ty);
                self.params.entry(p.name.name.clone()).or_insert((ty, p.name.span));
            }
        }
        for item in items {
            if let ItemKind::Param(p) = &item.kind {
                let Some((ty, span)) = self.params.get(&p.name.name).cloned().filter(|(_, s)| *s == p.name.span) else {
                    continue;
                };
                let default =
                    p.default.as_ref().map(|e| self.value(e, &ty, Place { field: &p.name.name, params: false }));
                out.params.push(ir::Param { name: p.name.name.clone(), ty, default, doc: item.doc.clone(), span });
            }
        }
        for item in items {
            if let ItemKind::Input(i) = &item.kind {
                let source = self.input(i);
                out.inputs.push(ir::Input {
                    name: i.name.name.clone(),
                    source,
                    doc: item.doc.clone(),
                    span: i.name.span,
                });
            }
        }
        self.all_templates();
        let mut k8s_names: IndexMap<String, Span> = IndexMap::new();
        for item in items {
            if let ItemKind::Stage(s) = &item.kind {
                self.stage_name(&s.name.name, s.name.span, &mut k8s_names);
                out.stages.push(self.stage(item, s));
            }
        }
        let mut first_block: Option<Span> = None;
        for item in items {
            if let ItemKind::Pipeline(b) = &item.kind {
                if let Some(first) = first_block {
                    self.diags.push(
                        Diagnostic::new(Code::E2002, item.span, "a second `pipeline` block")
                            .label("second block")
                            .also(first, "first block")
                            .help("Merge the two blocks into one."),
                    );
                    continue;
                }
                first_block = Some(item.span);
                self.pipeline_block(b, &mut out);
            }
        }
        out
    }

    /// E5001 (collision) and E5002 (length) for a stage's Kubernetes name.
    fn stage_name(&mut self, name: &str, span: Span, seen: &mut IndexMap<String, Span>) {
        let k = target::k8s_name(name);
        if k.len() > target::MAX_LABEL {
            self.diags.push(
                Diagnostic::new(Code::E5002, span, format!("stage name `{name}` is {} characters long", k.len()))
                    .label(format!("at most {} characters", target::MAX_LABEL))
                    .help("Shorten the name: Kubernetes names of templates and pods are at most 63 characters."),
            );
        }
        if let Some(first) = seen.get(&k) {
            self.diags.push(
                Diagnostic::new(
                    Code::E5001,
                    span,
                    format!("stage `{name}` has the same Kubernetes name as another stage: `{k}`"),
                )
                .label("collides")
                .also(*first, "this stage is also named so")
                .help("Rename one of them; Kubernetes names are lowercase with `-` for `_`."),
            );
        } else {
            seen.insert(k, span);
        }
    }

    fn input(&mut self, i: &Input) -> Source {
        let (call, pin) = match &i.source.kind {
            ExprKind::At(lhs, rhs) => (lhs.as_ref(), Some(rhs.as_ref())),
            _ => (&i.source, None),
        };
        let ExprKind::Call(c) = &call.kind else {
            if !matches!(call.kind, ExprKind::Error) {
                self.source_error(
                    call.span,
                    "an input is `repo(\"NAME\")`, `dir(\"PATH\")` or `url(\"URL\")`",
                    "Write for example `input images = repo(\"images\") @ \"v1\"`.",
                );
            }
            return Source::Error;
        };
        let name = c.callee.name.as_str();
        if !matches!(name, "repo" | "dir" | "url") {
            let help = crate::diag::did_you_mean(
                name,
                ["repo", "dir", "url"],
                "Inputs come from `repo(…)`, `dir(…)` or `url(…)`.",
            );
            self.diags.push(
                Diagnostic::new(Code::E2007, c.callee.span, format!("unknown input source `{name}`"))
                    .label("not a source")
                    .help(help),
            );
            return Source::Error;
        }
        let [arg] = c.args.as_slice() else {
            self.diags.push(
                Diagnostic::new(Code::E3005, call.span, format!("`{name}` takes 1 argument, found {}", c.args.len()))
                    .label("wrong arguments")
                    .help(format!("Write `{name}(\"…\")` with one string.")),
            );
            return Source::Error;
        };
        let Some(text) = self.plain_string(&arg.value, name) else {
            return Source::Error;
        };
        let source = match name {
            "repo" => self.repo_source(text, arg.value.span, pin),
            "dir" if text.is_empty() => {
                self.source_error(
                    arg.value.span,
                    "`dir` needs a folder",
                    "Write the folder's path relative to the pipeline file, e.g. `dir(\"data\")`.",
                );
                Source::Error
            }
            "dir" => Source::Dir { path: text },
            _ => match text.split_once("://").map(|(s, _)| s) {
                Some("http" | "https" | "s3" | "gs" | "az") => Source::Url { url: text },
                _ => {
                    self.source_error(
                        arg.value.span,
                        "unsupported URL",
                        "Use an `http://`, `https://`, `s3://`, `gs://` or `az://` URL.",
                    );
                    Source::Error
                }
            },
        };
        if let (Some(pin), false) = (pin, name == "repo") {
            self.source_error(
                pin.span,
                "only repos can be pinned with `@`",
                "Remove `@ …`: folders and URLs are snapshotted when the pipeline runs.",
            );
        }
        source
    }

    fn repo_source(&mut self, repo: String, span: Span, pin: Option<&Expr>) -> Source {
        let valid = !repo.is_empty()
            && repo.len() <= 63
            && repo.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && repo.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !valid {
            self.source_error(
                span,
                &format!("`{repo}` is not a valid repo name"),
                "Repo names are 1 to 63 lowercase letters, digits, `-`, `_` or `.`.",
            );
        }
        let reference = match pin {
            None => "main".to_string(),
            Some(p) => match self.plain_string(p, "@") {
                Some(r) if !r.is_empty() && !r.contains(char::is_whitespace) && !r.contains("..") => r,
                Some(r) => {
                    self.source_error(
                        p.span,
                        &format!("`{r}` is not a valid branch, tag or commit"),
                        "Pin to a branch, tag or commit id without spaces or `..`.",
                    );
                    return Source::Error;
                }
                None => return Source::Error,
            },
        };
        if valid { Source::Repo { repo, reference } } else { Source::Error }
    }

    fn source_error(&mut self, span: Span, message: &str, help: &str) {
        self.diags
            .push(Diagnostic::new(Code::E3013, span, message.to_string()).label("invalid input source").help(help));
    }

    /// A string literal without interpolation.
    fn plain_string(&mut self, e: &Expr, field: &str) -> Option<String> {
        let v = self.value(e, &Ty::String, Place { field, params: false });
        match v {
            Value::Str(_) => v.as_plain_str(),
            _ => None,
        }
    }

    fn stage(&mut self, item: &Item, s: &Stage) -> ir::Stage {
        self.reads.clear();
        self.roles.clear();
        let schema = match &s.template {
            Some(p) => self.template(Program::ROOT, p),
            None => Some(Arc::new(stage_schema())),
        };
        let (given, spans) = self.fields(&s.body, schema.as_deref());
        let mut fields = IndexMap::new();
        if let Some(schema) = &schema {
            for (name, info) in &schema.fields {
                if let Some(v) = given.get(name) {
                    fields.insert(name.clone(), v.clone());
                } else if let Some(d) = &info.default {
                    fields.insert(name.clone(), d.clone());
                } else if info.required {
                    self.diags.push(
                        Diagnostic::new(Code::E3003, s.name.span, format!("stage `{}` has no `{name}`", s.name.name))
                            .label(format!("missing `{name}`"))
                            .help(format!("Add `{name} = …` to the stage: {}", info.doc)),
                    );
                }
            }
        }
        let kind = schema.as_ref().map_or(Kind::Container, |s| s.kind);
        self.validate(s, kind, &fields, &spans);
        let members = super::members::members(kind, &fields);
        if let Some(d) = &members.datums {
            self.swept_in_fixed_fields(d, &fields, &spans, s.name.span);
        }
        self.roles_agree();
        let mut reads: Vec<String> = Vec::new();
        let mut read_spans = Vec::new();
        for (r, span) in &self.reads {
            if !reads.contains(r) {
                reads.push(r.clone());
                read_spans.push(*span);
            }
        }
        ir::Stage {
            name: s.name.name.clone(),
            kind,
            template: s.template.as_ref().map(|p| p.text()),
            doc: item.doc.clone(),
            fields,
            image: members.image,
            program: members.program,
            args: members.args,
            env: members.env,
            resources: members.resources,
            placement: members.placement,
            retries: members.retries,
            timeout_ms: members.timeout_ms,
            parallelism: members.parallelism,
            require_datums: members.require_datums,
            datums: members.datums,
            metrics: members.metrics,
            reads,
            read_spans,
            span: s.name.span,
        }
    }

    /// The fields written in a block, checked against a schema (unchecked if it is broken).
    fn fields(&mut self, b: &Block, schema: Option<&Schema>) -> (IndexMap<String, Value>, IndexMap<String, Span>) {
        let mut spans: IndexMap<String, Span> = IndexMap::new();
        let mut values = IndexMap::new();
        for f in &b.fields {
            if let Some(first) = spans.get(&f.name.name) {
                self.diags.push(super::templates::duplicate_field(&f.name.name, f.name.span, *first));
                continue;
            }
            spans.insert(f.name.name.clone(), f.value.span);
            let ty = match schema {
                Some(schema) => match schema.fields.get(&f.name.name) {
                    Some(info) => info.ty.clone(),
                    None => {
                        let d = self.unknown_field(&f.name.name, f.name.span, schema);
                        self.diags.push(d);
                        Ty::Error
                    }
                },
                None => Ty::Error,
            };
            let v = self.value(&f.value, &ty, Place { field: &f.name.name, params: true });
            values.insert(f.name.name.clone(), v);
        }
        (values, spans)
    }

    fn validate(&mut self, s: &Stage, kind: Kind, fields: &IndexMap<String, Value>, spans: &IndexMap<String, Span>) {
        let span_of = |f: StageField| spans.get(f.name()).copied().unwrap_or(s.name.span);
        let get = |f: StageField| fields.get(f.name());
        for field in STRUCTURAL {
            let name = field.name();
            let param = match get(field) {
                Some(Value::Param(p)) => Some(p.clone()),
                Some(Value::Str(pieces)) => pieces.iter().find_map(|piece| match piece {
                    super::Piece::Param(p) => Some(p.clone()),
                    super::Piece::Text(_) => None,
                }),
                _ => None,
            };
            if let Some(param) = param {
                self.diags.push(
                    Diagnostic::new(
                        Code::E3017,
                        span_of(field),
                        format!("`{name}` is param `{param}`, but it must be known when the pipeline is compiled"),
                    )
                    .label("a param here")
                    .help(format!(
                        "Write `{name}` as a literal: targets lay the stage out from it before params have values (it would silently become the default)."
                    )),
                );
            }
        }
        for (field, lo, hi) in INT_RANGES {
            let name = field.name();
            if let Some(n) = get(field).and_then(Value::as_int).filter(|n| *n < lo || *n > hi) {
                self.diags.push(
                    Diagnostic::new(
                        Code::E3010,
                        span_of(field),
                        format!("`{name}` must be between {lo} and {hi}, found {n}"),
                    )
                    .label("out of range")
                    .help(format!("Set `{name}` to a value from {lo} to {hi}.")),
                );
            }
        }
        for field in [StageField::Cpu, StageField::Memory] {
            let name = field.name();
            if let Some(Value::Quantity(q)) = get(field).filter(|v| matches!(v, Value::Quantity(q) if q.milli <= 0)) {
                self.diags.push(
                    Diagnostic::new(
                        Code::E3010,
                        span_of(field),
                        format!("`{name}` must be more than zero, found `{}`", q.text),
                    )
                    .label("not positive")
                    .help(format!("Request a positive amount, or remove `{name}` to use the cluster's default.")),
                );
            }
        }
        if let Some(Value::Duration(0)) = get(StageField::Timeout) {
            self.diags.push(
                Diagnostic::new(Code::E3010, span_of(StageField::Timeout), "`timeout` must be more than zero")
                    .label("zero")
                    .help("Give the longest time one datum may take, e.g. `timeout = 2h`, or remove it."),
            );
        }
        if let Some(image) = get(StageField::Image).and_then(Value::as_plain_str)
            && let Err(why) = image_reference(&image)
        {
            self.diags.push(
                    Diagnostic::new(Code::E3016, span_of(StageField::Image), format!("`{image}` is not a valid image reference: {why}"))
                        .label("invalid image")
                        .help("Write an image as `[registry/]repository[:tag][@sha256:digest]`, e.g. `\"ghcr.io/acme/train:1.4\"`."),
                );
        }
        if let Some(path) = get(StageField::Metrics).and_then(Value::as_plain_str)
            && let Err(why) = pipe_spec::check_path(&path)
        {
            self.diags.push(
                Diagnostic::new(Code::E3018, span_of(StageField::Metrics), format!("`{path}` is not a path under `out/`: {why}"))
                    .label("invalid metrics path")
                    .help("Name the JSON file the command writes under `$PIPE_OUT`, relative to it: `metrics = \"metrics.json\"`."),
            );
        }
        self.validate_env_and_labels(fields, &span_of);
        let gpu = get(StageField::Gpu).and_then(Value::as_int).unwrap_or(0);
        if get(StageField::GpuType).is_some() && gpu == 0 && !matches!(get(StageField::Gpu), Some(Value::Param(_))) {
            self.diags.push(
                Diagnostic::new(
                    Code::W3001,
                    span_of(StageField::GpuType),
                    "`gpu_type` is set but the stage requests no GPU",
                )
                .label("has no effect without `gpu`")
                .help("Request GPUs with `gpu = N`, or remove `gpu_type`."),
            );
        }
        // Numbers that are almost certainly missing a unit: Kubernetes reads `memory = 2` as two
        // bytes and `cpu = 500` as five hundred cores.
        if let Some(Value::Quantity(q)) = get(StageField::Memory)
            && q.text.parse::<f64>().is_ok()
        {
            self.diags.push(
                Diagnostic::new(Code::W3003, span_of(StageField::Memory), format!("`memory = {}` is {} bytes", q.text, q.text))
                    .label("no unit")
                    .help("Give memory a unit, e.g. `memory = 2Gi` or `512Mi`; for bytes, write them with a unit too (`2048Ki`)."),
            );
        }
        if let Some(Value::Quantity(q)) = get(StageField::Cpu)
            && q.milli > MAX_NODE_CORES * 1000
        {
            self.diags.push(
                Diagnostic::new(Code::W3004, span_of(StageField::Cpu), format!("`cpu = {}` asks for {} cores", q.text, q.milli / 1000))
                    .label("more than any node has")
                    .help(format!("Thousandths of a core are written `{}m`; a pod must fit on one node, and nodes have at most a few hundred cores.", q.text)),
            );
        }
        let nproc = get(StageField::NprocPerNode).and_then(Value::as_int).unwrap_or(1);
        if kind == Kind::Ddp && gpu > 0 && nproc > gpu {
            self.diags.push(
                Diagnostic::new(
                    Code::W3002,
                    span_of(StageField::NprocPerNode),
                    format!("{nproc} processes per node share {gpu} GPU{}", if gpu == 1 { "" } else { "s" }),
                )
                .label("more processes than GPUs")
                .help("Set `nproc_per_node` to the number of GPUs per node, so each process gets one."),
            );
        }
    }

    fn validate_env_and_labels(&mut self, fields: &IndexMap<String, Value>, span_of: &dyn Fn(StageField) -> Span) {
        let get = |f: StageField| fields.get(f.name());
        if let Some(Value::Map(env)) = get(StageField::Env) {
            for (name, v) in env {
                if let Err(why) = target::env_name(name) {
                    self.diags.push(
                        Diagnostic::new(
                            Code::E5004,
                            span_of(StageField::Env),
                            format!("`{name}` is not a valid environment variable name: it {why}"),
                        )
                        .label("invalid name")
                        .help("Rename the variable, e.g. `HF_TOKEN`."),
                    );
                }
                if let Value::Secret { name: secret, key } = v {
                    let problem = target::dns1123_subdomain(secret)
                        .map_err(|e| format!("secret name `{secret}` {e}"))
                        .and_then(|_| target::secret_key(key).map_err(|e| format!("secret key `{key}` {e}")));
                    if let Err(why) = problem {
                        self.diags.push(
                            Diagnostic::new(Code::E5005, span_of(StageField::Env), format!("invalid secret reference: {why}"))
                                .label("Kubernetes would reject this secret reference")
                                .help("Secret names are lowercase DNS names like `hf-token`; keys are letters, digits, `-`, `_` or `.`."),
                        );
                    }
                }
            }
        }
        if let Some(Value::Map(sel)) = get(StageField::NodeSelector) {
            self.labels(sel, span_of(StageField::NodeSelector));
        }
    }

    /// E5003 for label keys and values Kubernetes rejects.
    pub(super) fn labels(&mut self, labels: &IndexMap<String, Value>, span: Span) {
        for (k, v) in labels {
            let problem = target::label_key(k).map_err(|e| format!("label key `{k}`: {e}")).and_then(|_| {
                match v.as_plain_str() {
                    Some(v) => target::label_value(&v).map_err(|e| format!("label value `{v}` {e}")),
                    None => Ok(()),
                }
            });
            if let Err(why) = problem {
                self.diags.push(
                    Diagnostic::new(Code::E5003, span, format!("invalid Kubernetes label: {why}"))
                        .label("Kubernetes would reject this label")
                        .help("Label keys look like `example.com/name`; values are at most 63 letters, digits, `-`, `_` or `.`."),
                );
            }
        }
    }

    fn pipeline_block(&mut self, b: &Block, out: &mut ir::Pipeline) {
        let schema = Schema {
            name: "pipeline".into(),
            kind: Kind::Container,
            fields: pipeline_schema(),
            doc: None,
            declared: None,
        };
        let prev = std::mem::take(&mut self.reads);
        // `trigger` names inputs, which no value may: it is checked on its own.
        let (trigger, rest): (Vec<_>, Vec<_>) = b.fields.iter().cloned().partition(|f| f.name.name == "trigger");
        let (values, spans) = self.fields(&Block { fields: rest, ..b.clone() }, Some(&schema));
        self.reads = prev;
        out.trigger = self.trigger(trigger.first(), &values, &spans, &out.inputs);
        let text = |name: &str| values.get(name).and_then(Value::as_plain_str);
        if let Some(name) = text("name") {
            let problem = target::dns1123_label(&name).err().or_else(|| {
                (name.len() > target::MAX_PIPELINE_NAME)
                    .then(|| format!("must be at most {} characters long", target::MAX_PIPELINE_NAME))
            });
            match problem {
                Some(why) => self.diags.push(
                    Diagnostic::new(Code::E5006, spans["name"], format!("pipeline name `{name}` {why}"))
                        .label("invalid name")
                        .help(format!(
                            "Use at most {} lowercase letters, digits and `-`, e.g. `mnist-train`.",
                            target::MAX_PIPELINE_NAME
                        )),
                ),
                None => out.name = name,
            }
        }
        if let Some(schedule) = text("schedule") {
            let fields = schedule.split_whitespace().count();
            let parsed = if schedule.starts_with('@') || fields == 5 {
                schedule.parse::<croner::Cron>().map_err(|e| e.to_string())
            } else {
                Err(format!("it has {fields} fields, not 5"))
            };
            match parsed {
                Ok(_) => out.schedule = Some(schedule),
                Err(why) => self.diags.push(
                    Diagnostic::new(Code::E3012, spans["schedule"], format!("`{schedule}` is not a valid cron schedule: {why}"))
                        .label("invalid schedule")
                        .help("Write five fields, minute hour day-of-month month day-of-week, e.g. `\"0 3 * * *\"` for 03:00 daily."),
                ),
            }
        }
        out.service_account = text("service_account");
        out.namespace = text("namespace");
        out.store = text("store");
        if let Some(Value::Map(labels)) = values.get("labels") {
            self.labels(labels, spans["labels"]);
            out.labels = labels.iter().filter_map(|(k, v)| v.as_plain_str().map(|v| (k.clone(), v))).collect();
        }
    }
}

/// Whether a string is an OCI image reference: `[registry/]path[:tag][@algo:hex]`.
pub(super) fn image_reference(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("it is empty".into());
    }
    if image.contains(char::is_whitespace) {
        return Err("it contains white space".into());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            !algo.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Err(format!("the digest `{d}` is not `sha256:` and a hex digest"));
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |n| n + 1);
    let (name, tag) = match rest[last_slash..].split_once(':') {
        Some((_, t)) => (&rest[..rest.len() - t.len() - 1], Some(t)),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(format!("the tag `{t}` is not valid"));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        parts.remove(0);
    }
    for p in parts {
        let ok = !p.is_empty()
            && p.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && p.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok {
            return Err(format!("the path component `{p}` must be lowercase letters, digits, `.`, `_` or `-`"));
        }
    }
    Ok(())
}
