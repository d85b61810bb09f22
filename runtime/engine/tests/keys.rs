//! The datum key covers everything a command can observe, checked at scale: thousands of random
//! stages (datum expressions of glob, cross, union, join, group, grid and sample over random
//! inputs) under random
//! edit sequences, each version's datums keyed as the runtime keys them, and every key compared
//! with the command's view of its datum, written out here independently of the key function: the
//! stage's image, kind, command and env, the names of its inputs (one `in/<input>` folder and one
//! `PIPE_IN_<INPUT>` each), the datum's label, captures and point (the swept params' values, in
//! the command and as `PIPE_PARAM_<NAME>`), and each file's input, path and
//! content. Two datums — in one version or across a sequence — with one key and different views
//! would make the cache hand one the other's result: a stale result. Within a version, keys are
//! unique: two executions of one key would share its cache entry.
//!
//! This is the fast half of the cache's differential testing (no process runs): the end-to-end
//! half, which runs real commands and compares with runs from scratch, is
//! `compiler/cli/tests/differential.rs`. Seeded; a failure is shrunk to its shortest edit prefix.
//! `PIPE_KEYS_SEQUENCES` (default 10,000) and `PIPE_KEYS_SEED` replay or soak.

use pipe_runtime::datums::{Datum, expand};
use pipe_spec::{
    DatumSpec, EnvValue, EnvVar, FileEntry, GridAxis, GroupPart, Hash, InputSource, JoinPart, STAGE_SPEC_FORMAT,
    StageInput, StageKind, StageSpec,
};
use std::collections::HashMap;

/// What the command of a datum can see, spelled out without the key function.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    image: String,
    kind: StageKind,
    command: Vec<String>,
    env: Vec<(String, String)>,
    input_names: Vec<String>,
    label: String,
    captures: Vec<String>,
    point: Vec<(String, String)>,
    files: Vec<(String, String, Hash)>,
}

fn view(spec: &StageSpec, d: &Datum) -> View {
    let spec = &spec.at_point(d.point.iter().map(|(k, v)| (&**k, &**v)));
    let mut input_names: Vec<String> = spec.inputs.iter().map(|i| i.name.clone()).collect();
    input_names.sort();
    input_names.dedup();
    View {
        image: spec.image.clone(),
        kind: spec.kind,
        command: spec.command.clone(),
        env: spec
            .env
            .iter()
            .map(|v| {
                let value = match &v.value {
                    EnvValue::Literal(s) => s.clone(),
                    EnvValue::Secret { name, key } => format!("secret {name}/{key}"),
                };
                (v.name.clone(), value)
            })
            .collect(),
        input_names,
        label: d.label.clone(),
        captures: d.captures.clone(),
        point: d.point.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        files: d.files.iter().map(|f| (f.input.to_string(), f.entry.path.clone(), f.entry.hash)).collect(),
    }
}

/// A stage and the data of its inputs.
#[derive(Debug, Clone)]
struct World {
    spec: StageSpec,
    data: HashMap<String, Vec<FileEntry>>,
}

const INPUTS: [&str; 3] = ["raw", "aux", "extra"];
const NAMES: [&str; 6] = ["a-1", "a-2", "b-1", "ab", "c", "a"];
const PATTERNS: [&str; 9] = ["/", "/*", "/*/*", "/a*", "/(*)-*", "/(*)-(*)", "/**", "/(*)/*", "/d0/*"];

fn file(path: String, content: u32) -> FileEntry {
    FileEntry { path, size: 1, hash: Hash::of(&content.to_le_bytes()), chunks: Vec::new() }
}

fn random_files(rng: &mut fastrand::Rng) -> Vec<FileEntry> {
    let mut files: Vec<FileEntry> = (0..rng.usize(0..6))
        .map(|_| {
            let name = NAMES[rng.usize(..NAMES.len())];
            let path = if rng.bool() { name.to_owned() } else { format!("d{}/{name}", rng.usize(..2)) };
            // Few contents, so equal files under different names and inputs are common.
            file(path, rng.u32(..3))
        })
        .collect();
    // No name is both a file and a folder (`d0`, `d1` are never file names): a real tree.
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    files
}

fn random_datums(rng: &mut fastrand::Rng, inputs: &[String], depth: u32) -> DatumSpec {
    let glob = |rng: &mut fastrand::Rng| DatumSpec::Glob {
        input: inputs[rng.usize(..inputs.len())].clone(),
        pattern: PATTERNS[rng.usize(..PATTERNS.len())].into(),
    };
    if depth == 0 {
        return match rng.u8(..5) {
            0 => DatumSpec::Grid(random_axes(rng)),
            1 => DatumSpec::Sample { axes: random_axes(rng), n: rng.u64(1..5), seed: rng.u64(..3) },
            _ => glob(rng),
        };
    }
    let parts = |rng: &mut fastrand::Rng| (0..rng.usize(2..4)).map(|_| random_datums(rng, inputs, depth - 1)).collect();
    match rng.u8(..6) {
        0 => DatumSpec::Cross(parts(rng)),
        1 => DatumSpec::Union(parts(rng)),
        2 => {
            let parts: Vec<DatumSpec> = parts(rng);
            // Keys of one or two captures, in either order; some parts outer.
            let on = if rng.bool() { vec![1] } else { vec![2, 1] };
            DatumSpec::Join(
                parts.into_iter().map(|datums| JoinPart { datums, on: on.clone(), outer: rng.bool() }).collect(),
            )
        }
        3 => {
            let parts: Vec<DatumSpec> = (0..rng.usize(1..3)).map(|_| random_datums(rng, inputs, depth - 1)).collect();
            DatumSpec::Group(
                parts.into_iter().map(|datums| GroupPart { datums, by: vec![1 + rng.usize(..2)] }).collect(),
            )
        }
        _ => glob(rng),
    }
}

/// One or two axes over `lr` and `wd`, a few values each (equal texts under both names are common).
fn random_axes(rng: &mut fastrand::Rng) -> Vec<GridAxis> {
    let values = |rng: &mut fastrand::Rng| (0..rng.usize(1..4)).map(|_| rng.u8(..3).to_string()).collect();
    let mut axes = vec![GridAxis { param: "lr".into(), values: values(rng) }];
    if rng.bool() {
        axes.push(GridAxis { param: "wd".into(), values: values(rng) });
    }
    if rng.bool() {
        axes.reverse();
    }
    axes
}

/// A datum expression of up to two levels of combinators.
fn any_datums(rng: &mut fastrand::Rng, inputs: &[String]) -> DatumSpec {
    let depth = rng.u32(..3);
    random_datums(rng, inputs, depth)
}

fn random_world(rng: &mut fastrand::Rng) -> World {
    let n = rng.usize(1..=INPUTS.len());
    let names: Vec<String> = INPUTS[..n].iter().map(|s| (*s).to_owned()).collect();
    let inputs = names
        .iter()
        .map(|name| StageInput {
            name: name.clone(),
            source: InputSource::Repo { repo: name.clone(), reference: "main".into(), commit: None },
            dataset: None,
        })
        .collect();
    let spec = StageSpec {
        format: STAGE_SPEC_FORMAT,
        pipeline: "p".into(),
        stage: "s".into(),
        kind: StageKind::Shell,
        image: "busybox".into(),
        command: vec!["sh".into(), "-c".into(), "cat in/*/* > $$PIPE_OUT/x-${lr}".into()],
        env: Vec::new(),
        inputs,
        datums: Some(any_datums(rng, &names)),
        retries: 0,
        timeout_seconds: None,
        parallelism: None,
        require_datums: false,
        metrics: None,
        params: Vec::new(),
        param_types: Default::default(),
        code: Vec::new(),
        pipeline_stages: Vec::new(),
        datum_params: vec!["lr".into(), "wd".into()],
    };
    let data = names.iter().map(|n| (n.clone(), random_files(rng))).collect();
    World { spec, data }
}

/// One random change a user (or a new commit) makes between two runs.
fn edit(rng: &mut fastrand::Rng, w: &mut World) {
    let names: Vec<String> = w.spec.inputs.iter().map(|i| i.name.clone()).collect();
    match rng.u8(..9) {
        0 => {
            let input = &names[rng.usize(..names.len())];
            w.data.insert(input.clone(), random_files(rng));
        }
        1 => {
            // One file's content changes.
            let input = &names[rng.usize(..names.len())];
            if let Some(files) = w.data.get_mut(input).filter(|f| !f.is_empty()) {
                let i = rng.usize(..files.len());
                files[i].hash = Hash::of(&rng.u32(..3).to_le_bytes());
            }
        }
        2 => {
            // An input joins the stage (seen by the command even where the datums ignore it).
            if let Some(name) = INPUTS.iter().find(|n| !names.iter().any(|m| m == *n)) {
                w.spec.inputs.push(StageInput {
                    name: (*name).to_owned(),
                    source: InputSource::Repo { repo: (*name).into(), reference: "main".into(), commit: None },
                    dataset: None,
                });
                w.data.insert((*name).to_owned(), random_files(rng));
            }
        }
        3 if names.len() > 1 => {
            // An input leaves, and the datum expression no longer reads it.
            let gone = w.spec.inputs.pop().expect("two or more").name;
            w.data.remove(&gone);
            let rest: Vec<String> = w.spec.inputs.iter().map(|i| i.name.clone()).collect();
            w.spec.datums = Some(any_datums(rng, &rest));
        }
        4 => w.spec.datums = Some(any_datums(rng, &names)),
        5 => w.spec.command[2] = format!("cat in/*/* | head -n {} > $$PIPE_OUT/x-${{wd}}", rng.u8(..3)),
        6 => w.spec.env = vec![EnvVar { name: "LR".into(), value: EnvValue::Literal(rng.u8(..3).to_string()) }],
        7 => w.spec.image = format!("busybox:1.{}", rng.u8(..3)),
        _ => w.spec.kind = if rng.bool() { StageKind::Shell } else { StageKind::Container },
    }
}

/// Replays the sequence of `seed` for `steps` edits; gives the first broken rule.
fn replay(seed: u64, steps: usize) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut w = random_world(&mut rng);
    let mut seen: HashMap<Hash, View> = HashMap::new();
    for step in 0..=steps {
        if step > 0 {
            edit(&mut rng, &mut w);
        }
        let spec = w.spec.datums.clone().expect("datums");
        let datums = expand(&spec, &w.data).map_err(|e| format!("step {step}: {e}"))?;
        let fingerprint = w.spec.fingerprint();
        let mut here: HashMap<Hash, usize> = HashMap::new();
        for (i, d) in datums.iter().enumerate() {
            let key = d.key(&fingerprint);
            if let Some(j) = here.insert(key, i) {
                return Err(format!(
                    "step {step}: datums {j} and {i} (`{}`) share key {}: two executions would share its cache entry",
                    d.label,
                    key.short(12)
                ));
            }
            let v = view(&w.spec, d);
            match seen.get(&key) {
                Some(old) if *old != v => {
                    return Err(format!(
                        "step {step}: key {} was given to two different views:\n  before {old:?}\n  now    {v:?}",
                        key.short(12)
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(key, v);
                }
            }
        }
    }
    Ok(())
}

#[test]
fn a_datum_key_changes_whenever_what_its_command_sees_does() {
    let sequences: u64 = std::env::var("PIPE_KEYS_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let first: u64 = std::env::var("PIPE_KEYS_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x6b65_7973);
    let started = std::time::Instant::now();
    for seed in first..first + sequences {
        let steps = 12;
        if let Err(e) = replay(seed, steps) {
            let shortest = (0..=steps).find(|&n| replay(seed, n).is_err()).unwrap_or(steps);
            let again = replay(seed, shortest).expect_err("it failed before");
            panic!(
                "seed {seed} failed: {e}\nshortest: {shortest} edit(s): {again}\nreplay with PIPE_KEYS_SEED={seed} PIPE_KEYS_SEQUENCES=1"
            );
        }
    }
    eprintln!(
        "{sequences} sequences of 12 edits in {:.1} s: every key's view is unique",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_check_catches_a_key_that_leaves_out_the_input_names() {
    // The property, on the key function of before the fix: same files, label and captures, but a
    // stage that gained an input. The fingerprint must differ, or the views collide.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut w = random_world(&mut rng);
    w.spec.inputs.truncate(1);
    let name = w.spec.inputs[0].name.clone();
    w.spec.datums = Some(DatumSpec::Glob { input: name.clone(), pattern: "/*".into() });
    w.data = HashMap::from([(name, vec![file("a".into(), 1)])]);
    let before = w.spec.clone();
    w.spec.inputs.push(StageInput {
        name: "zzz".into(),
        source: InputSource::Repo { repo: "zzz".into(), reference: "main".into(), commit: None },
        dataset: None,
    });
    let d = &expand(w.spec.datums.as_ref().expect("datums"), &w.data).expect("expands")[0];
    assert_ne!(view(&before, d), view(&w.spec, d), "the views differ: one more input folder");
    assert_ne!(d.key(&before.fingerprint()), d.key(&w.spec.fingerprint()), "so must the keys");
}
