//! Datum expansion: a stage's datum expression over its inputs' files gives the list of datums,
//! each the set of files one run of the command sees. See GRAMMAR.md, "Datums".
//!
//! Takes a [`DatumSpec`] and each input's files (sorted, as in a manifest); gives datums in a
//! stable order. Reads no data: only paths and hashes. A glob match that is a folder brings every
//! file under it; matches never overlap (the outermost wins). Identical datums (the same files,
//! label and captures, as `union(glob(d, "/*"), glob(d, "/a*"))` gives for `/a`) are one datum:
//! the command could not tell the copies apart, so it runs once. A sweep (`grid`, `sample`) gives
//! datums without files, each carrying its point: the values of the swept params.

use crate::glob::Glob;
use pipe_spec::{DatumSpec, FileEntry, GridAxis, Hash, JoinPart};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// One file of a datum: which input it comes from, and the entry (path inside that input). Shared,
/// not copied, between the datums that hold it: a cross of 100,000 files with 10 holds each of
/// the ten in 100,000 datums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatumFile {
    pub input: Arc<str>,
    pub entry: Arc<FileEntry>,
}

/// A unit of work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Datum {
    /// Sorted by (input, path), without duplicates.
    pub files: Vec<DatumFile>,
    /// What the globs' `(…)` groups captured, in order (the key, after `join` or `group`).
    pub captures: Vec<String>,
    /// For people: `digits:/train/shard-0.csv`, `a:/x × b:/y`, `lr=0.1 wd=0`.
    pub label: String,
    /// The point of a sweep: each swept param's value, sorted by name; empty for a datum of files
    /// only. The command gets them as `${name}` and `PIPE_PARAM_<NAME>`.
    pub point: Vec<(Arc<str>, Arc<str>)>,
}

impl Datum {
    /// The datum key: blake3 of the stage fingerprint, everything else the command can observe
    /// (the datum's label and captures, which it gets as `PIPE_DATUM_LABEL` and
    /// `PIPE_CAPTURE_<n>`), and, for every file, its input, path and content hash. A rename is a
    /// change; so is a change of code (the fingerprint). A sweep's point is hashed after the
    /// files, only when there is one, so datums of files keep the keys they always had.
    pub fn key(&self, fingerprint: &Hash) -> Hash {
        let mut h = blake3::Hasher::new();
        h.update(b"pipe-datum-v2\0");
        h.update(&fingerprint.0);
        for part in std::iter::once(&self.label).chain(&self.captures) {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(&(self.files.len() as u64).to_le_bytes());
        for f in &self.files {
            for part in [f.input.as_bytes(), f.entry.path.as_bytes()] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part);
            }
            h.update(&f.entry.hash.0);
        }
        if !self.point.is_empty() {
            h.update(b"point\0");
            h.update(&(self.point.len() as u64).to_le_bytes());
            for (name, value) in &self.point {
                for part in [name.as_bytes(), value.as_bytes()] {
                    h.update(&(part.len() as u64).to_le_bytes());
                    h.update(part);
                }
            }
        }
        h.finalize().into()
    }

    fn merge(parts: &[&Datum], captures: Vec<String>, sep: &str) -> Datum {
        let mut files: Vec<DatumFile> = parts.iter().flat_map(|d| d.files.iter().cloned()).collect();
        files.sort_by(|a, b| (&a.input, &a.entry.path).cmp(&(&b.input, &b.entry.path)));
        files.dedup_by(|a, b| a.input == b.input && a.entry.path == b.entry.path);
        let label = parts.iter().map(|d| d.label.as_str()).collect::<Vec<_>>().join(sep);
        let mut point: Vec<(Arc<str>, Arc<str>)> = parts.iter().flat_map(|d| d.point.iter().cloned()).collect();
        point.sort();
        point.dedup_by(|a, b| a.0 == b.0);
        Datum { files, captures, label, point }
    }
}

/// Why datums cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum DatumError {
    #[error("the datum expression reads `{0}`, which is not among the stage's inputs")]
    UnknownInput(String),
    /// A spec the compiler would not write (it stops at [`MAX_GRID_POINTS`]): read from a store
    /// or a cluster, it is refused before anything is listed.
    #[error(
        "the stage's grid has more than {MAX_GRID_POINTS} points: compile the pipeline again with pipe, which refuses such a grid"
    )]
    GridTooLarge,
    #[error("the points file `{0}` was not read before listing datums (a runner's bug): report it")]
    PointsNotRead(String),
}

/// The most points a grid of a stage spec may list (the compiler's limit).
pub const MAX_GRID_POINTS: usize = 1_000_000;

/// The datums of `spec` over `inputs` (input name → its files, sorted by path), each once: a datum
/// identical to an earlier one is dropped.
pub fn expand(spec: &DatumSpec, inputs: &HashMap<String, Vec<FileEntry>>) -> Result<Vec<Datum>, DatumError> {
    Ok(expand_keyed(spec, inputs, &Hash([0; 32]))?.into_iter().map(|(d, _)| d).collect())
}

/// [`expand`], each datum with its key under `fingerprint`: every key is computed once, and the
/// keys tell identical datums apart (they are equal exactly when the datums are).
pub fn expand_keyed(
    spec: &DatumSpec,
    inputs: &HashMap<String, Vec<FileEntry>>,
    fingerprint: &Hash,
) -> Result<Vec<(Datum, Hash)>, DatumError> {
    let all = expand_spec(spec, inputs)?;
    let mut seen = HashSet::with_capacity(all.len());
    Ok(all
        .into_iter()
        .map(|d| (d.key(fingerprint), d))
        .filter(|(key, _)| seen.insert(*key))
        .map(|(k, d)| (d, k))
        .collect())
}

fn expand_spec(spec: &DatumSpec, inputs: &HashMap<String, Vec<FileEntry>>) -> Result<Vec<Datum>, DatumError> {
    Ok(match spec {
        DatumSpec::Glob { input, pattern } => {
            let files = inputs.get(input).ok_or_else(|| DatumError::UnknownInput(input.clone()))?;
            glob(input, pattern, files)
        }
        DatumSpec::Union(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(expand_spec(p, inputs)?);
            }
            out
        }
        DatumSpec::Cross(parts) => {
            let mut acc = vec![Datum::default()];
            for p in parts {
                let next = expand_spec(p, inputs)?;
                acc = acc
                    .iter()
                    .flat_map(|a| {
                        next.iter().map(move |b| {
                            let captures = [a.captures.clone(), b.captures.clone()].concat();
                            let parts: Vec<&Datum> = if a.label.is_empty() { vec![b] } else { vec![a, b] };
                            Datum::merge(&parts, captures, " × ")
                        })
                    })
                    .collect();
            }
            acc
        }
        DatumSpec::Join(parts) => join(parts, inputs)?,
        DatumSpec::Grid(axes) => {
            let points = axes.iter().try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
            if points.is_none_or(|n| n > MAX_GRID_POINTS) {
                return Err(DatumError::GridTooLarge);
            }
            grid(axes).collect()
        }
        DatumSpec::Points { path, params, loaded, .. } => {
            let points = loaded.as_ref().ok_or_else(|| DatumError::PointsNotRead(path.clone()))?;
            let names: Vec<Arc<str>> = params.iter().map(|p| Arc::from(p.param.as_str())).collect();
            points
                .iter()
                .map(|values| point_datum(names.iter().cloned().zip(values.iter().map(|v| Arc::from(v.as_str())))))
                .collect()
        }
        DatumSpec::Sample { axes, n, seed } => {
            if *n > MAX_GRID_POINTS as u64 {
                return Err(DatumError::GridTooLarge);
            }
            sample(axes, *n, *seed)
        }
        DatumSpec::Group(parts) => {
            let mut groups: BTreeMap<Vec<String>, Vec<Datum>> = BTreeMap::new();
            for part in parts {
                for d in expand_spec(&part.datums, inputs)? {
                    let key = part.by.iter().map(|n| capture(&d, *n)).collect();
                    groups.entry(key).or_default().push(d);
                }
            }
            groups
                .into_iter()
                .map(|(key, ds)| {
                    let refs: Vec<&Datum> = ds.iter().collect();
                    let mut d = Datum::merge(&refs, key.clone(), " + ");
                    d.label = format!("group {}: {}", key.join(","), d.label);
                    d
                })
                .collect()
        }
    })
}

/// Capture `$n` of a datum (empty when it has none): a part of a join or group key.
fn capture(d: &Datum, n: usize) -> String {
    d.captures.get(n.saturating_sub(1)).cloned().unwrap_or_default()
}

/// A join as Pachyderm computes it (`src/internal/datum/iterator.go`, `computeJoin`): datums of
/// each part are keyed by the captures its `on` names, in that order; for a key every part has,
/// one datum per combination of one datum from each part; for a key some part lacks, the
/// combinations of the `outer` parts that have it (none when no such part is outer). Keys come
/// out in order; the datum's captures are its key.
fn join(parts: &[JoinPart], inputs: &HashMap<String, Vec<FileEntry>>) -> Result<Vec<Datum>, DatumError> {
    let mut by_key: BTreeMap<Vec<String>, Vec<Vec<Datum>>> = BTreeMap::new();
    for (i, part) in parts.iter().enumerate() {
        for d in expand_spec(&part.datums, inputs)? {
            let key = part.on.iter().map(|n| capture(&d, *n)).collect();
            by_key.entry(key).or_insert_with(|| vec![Vec::new(); parts.len()])[i].push(d);
        }
    }
    let mut out = Vec::new();
    for (key, lists) in by_key {
        let complete = lists.iter().all(|l| !l.is_empty());
        let kept: Vec<&Vec<Datum>> =
            lists.iter().zip(parts).filter(|(l, p)| !l.is_empty() && (complete || p.outer)).map(|(l, _)| l).collect();
        if kept.is_empty() {
            continue;
        }
        let mut combos: Vec<Vec<&Datum>> = vec![Vec::new()];
        for list in kept {
            combos = combos.iter().flat_map(|c| list.iter().map(move |d| [c.clone(), vec![d]].concat())).collect();
        }
        out.extend(combos.iter().map(|c| Datum::merge(c, key.clone(), " ⋈ ")));
    }
    Ok(out)
}

/// One datum per outermost match of `pattern` among the files and folders of one input; for a
/// pattern ending in `**` (`/**`, `/logs/**`), one per file at any depth, as Pachyderm's docs have
/// it (an outermost match would be the first folder level, the same as `/*`).
fn glob(input: &str, pattern: &str, files: &[FileEntry]) -> Vec<Datum> {
    let g = Glob::new(pattern);
    let files_only = pattern.ends_with("/**");
    let name: Arc<str> = input.into();
    let file = |e: &FileEntry| DatumFile { input: name.clone(), entry: Arc::new(e.clone()) };
    if g.is_root() {
        if files.is_empty() {
            return Vec::new();
        }
        return vec![Datum {
            files: files.iter().map(file).collect(),
            label: format!("{input}:/"),
            ..Datum::default()
        }];
    }
    let mut matches: BTreeMap<String, (Vec<String>, Vec<DatumFile>)> = BTreeMap::new();
    for e in files {
        let mut end = if files_only { e.path.len() } else { 0 };
        let found = loop {
            let next = e.path[end..].find('/').map(|i| end + i);
            let prefix = &e.path[..next.unwrap_or(e.path.len())];
            if let Some(caps) = g.captures(prefix) {
                break Some((prefix.to_owned(), caps));
            }
            match next {
                Some(i) => end = i + 1,
                None => break None,
            }
        };
        if let Some((prefix, caps)) = found {
            matches.entry(prefix).or_insert_with(|| (caps, Vec::new())).1.push(file(e));
        }
    }
    matches
        .into_iter()
        .map(|(prefix, (captures, files))| Datum {
            files,
            captures,
            label: format!("{input}:/{prefix}"),
            point: Vec::new(),
        })
        .collect()
}

/// Every point of a grid, the last axis varying fastest, each a datum labelled `lr=0.1 wd=0` (in
/// the axes' order). An axis without values makes no point (the compiler rejects one).
fn grid(axes: &[GridAxis]) -> impl Iterator<Item = Datum> + '_ {
    let names: Vec<Arc<str>> = axes.iter().map(|a| Arc::from(a.param.as_str())).collect();
    let total = if axes.is_empty() { 0 } else { axes.iter().map(|a| a.values.len() as u128).product() };
    (0..total).map(move |number| grid_point(axes, &names, number))
}

/// Point `number` of the grid `axes` make, counting with the last axis fastest.
fn grid_point(axes: &[GridAxis], names: &[Arc<str>], mut number: u128) -> Datum {
    let mut picked = vec![0; axes.len()];
    for (slot, axis) in picked.iter_mut().zip(axes).rev() {
        let size = axis.values.len() as u128;
        *slot = (number % size) as usize;
        number /= size;
    }
    point_datum(names.iter().cloned().zip(axes.iter().zip(&picked).map(|(a, i)| Arc::from(a.values[*i].as_str()))))
}

/// The datum of one point: its values (param, value) labelled in the order given, kept sorted.
fn point_datum(values: impl Iterator<Item = (Arc<str>, Arc<str>)>) -> Datum {
    let mut point: Vec<(Arc<str>, Arc<str>)> = values.collect();
    let label = point.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(" ");
    point.sort();
    Datum { label, point, ..Datum::default() }
}

/// `n` distinct points of the grid `axes` make, chosen by `seed`, in grid order: point numbers
/// drawn one after another from blake3 of the seed and the draw's number (a repeat is drawn
/// again) until `n` are distinct. The draws depend on nothing else, so raising `n` adds points and
/// keeps the others (their datums stay cached), the same seed picks the same points on every
/// machine and release, and a grid too large to list costs only the points drawn.
fn sample(axes: &[GridAxis], n: u64, seed: u64) -> Vec<Datum> {
    let sizes = axes.iter().map(|a| a.values.len() as u128);
    let total = if axes.is_empty() { 0 } else { sizes.fold(1u128, |t, s| t.saturating_mul(s)) };
    if u128::from(n) >= total {
        return grid(axes).collect();
    }
    let mut chosen = std::collections::BTreeSet::new();
    for draw in 0u64.. {
        if chosen.len() as u64 == n {
            break;
        }
        let mut h = blake3::Hasher::new();
        h.update(b"pipe-sample-v1\0");
        h.update(&seed.to_le_bytes());
        h.update(&draw.to_le_bytes());
        let bytes = h.finalize();
        let wide = u128::from_le_bytes(bytes.as_bytes()[..16].try_into().expect("16 bytes"));
        chosen.insert(wide % total);
    }
    let names: Vec<Arc<str>> = axes.iter().map(|a| Arc::from(a.param.as_str())).collect();
    chosen.into_iter().map(|number| grid_point(axes, &names, number)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_spec::GroupPart;

    fn files(paths: &[&str]) -> Vec<FileEntry> {
        paths
            .iter()
            .map(|p| FileEntry { path: (*p).into(), size: 1, hash: Hash::of(p.as_bytes()), chunks: vec![] })
            .collect()
    }

    fn inputs(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<FileEntry>> {
        pairs.iter().map(|(n, ps)| ((*n).to_owned(), files(ps))).collect()
    }

    fn g(input: &str, pattern: &str) -> DatumSpec {
        DatumSpec::Glob { input: input.into(), pattern: pattern.into() }
    }

    fn labels(ds: &[Datum]) -> Vec<String> {
        ds.iter().map(|d| d.label.clone()).collect()
    }

    #[test]
    fn glob_root_entries_and_folders() {
        let i = inputs(&[("d", &["a/1", "a/2", "b", "c/x/y"])]);
        assert_eq!(labels(&expand(&g("d", "/"), &i).expect("ok")), ["d:/"]);
        let top = expand(&g("d", "/*"), &i).expect("ok");
        assert_eq!(labels(&top), ["d:/a", "d:/b", "d:/c"]);
        assert_eq!(top[0].files.len(), 2, "a folder match brings every file under it");
        assert_eq!(labels(&expand(&g("d", "/*/*"), &i).expect("ok")), ["d:/a/1", "d:/a/2", "d:/c/x"]);
        assert!(expand(&g("d", "/"), &inputs(&[("d", &[])])).expect("ok").is_empty());
    }

    /// Pachyderm's `/**`: every file at any depth is a datum of its own (it used to give one
    /// datum per top-level entry, like `/*`, and a ported pipeline lost its per-file parallelism).
    #[test]
    fn a_pattern_ending_in_double_star_gives_a_datum_per_file() {
        let i = inputs(&[("d", &["a/1", "a/b/2", "c"])]);
        assert_eq!(labels(&expand(&g("d", "/**"), &i).expect("ok")), ["d:/a/1", "d:/a/b/2", "d:/c"]);
        assert_eq!(labels(&expand(&g("d", "/a/**"), &i).expect("ok")), ["d:/a/1", "d:/a/b/2"]);
        let each = expand(&g("d", "/**"), &i).expect("ok");
        assert!(each.iter().all(|d| d.files.len() == 1), "one file each, never overlapping");
    }

    #[test]
    fn double_star_matches_never_overlap() {
        let i = inputs(&[("d", &["x.csv/inner.csv", "deep/er/y.csv", "z.txt"])]);
        assert_eq!(labels(&expand(&g("d", "/**/*.csv"), &i).expect("ok")), ["d:/deep/er/y.csv", "d:/x.csv"]);
    }

    #[test]
    fn cross_union_join_group() {
        let i = inputs(&[("a", &["1", "2"]), ("b", &["x", "y", "z"])]);
        assert_eq!(expand(&DatumSpec::Cross(vec![g("a", "/*"), g("b", "/*")]), &i).expect("ok").len(), 6);
        assert_eq!(expand(&DatumSpec::Union(vec![g("a", "/*"), g("b", "/*")]), &i).expect("ok").len(), 5);

        let j = inputs(&[("img", &["cat-1.png", "dog-2.png", "eel-3.png"]), ("lbl", &["cat.txt", "dog.txt"])]);
        let join =
            DatumSpec::Join(vec![part(g("img", "/(*)-*.png"), &[1], false), part(g("lbl", "/(*).txt"), &[1], false)]);
        let joined = expand(&join, &j).expect("ok");
        assert_eq!(labels(&joined), ["img:/cat-1.png ⋈ lbl:/cat.txt", "img:/dog-2.png ⋈ lbl:/dog.txt"]);
        assert_eq!(joined[0].captures, ["cat"]);

        let k = inputs(&[("d", &["2024-a.csv", "2024-b.csv", "2025-a.csv"])]);
        let group = DatumSpec::Group(vec![GroupPart { datums: g("d", "/(*)-(*).csv"), by: vec![1] }]);
        let grouped = expand(&group, &k).expect("ok");
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].files.len(), 2);
        assert_eq!(grouped[0].captures, ["2024"]);
    }

    fn part(datums: DatumSpec, on: &[usize], outer: bool) -> JoinPart {
        JoinPart { datums, on: on.to_vec(), outer }
    }

    /// Pachyderm's `join_on` per input: `/(*)-(*)` meets `/(*)_(*)` with the captures swapped.
    /// Joining on captures in order paired nothing here (or, with one input twice, each file with
    /// itself).
    #[test]
    fn each_part_of_a_join_picks_its_key_captures_in_its_order() {
        let i = inputs(&[("a", &["x-1.csv", "y-2.csv"]), ("b", &["1_x.json", "2_z.json"])]);
        let swapped = DatumSpec::Join(vec![
            part(g("a", "/(*)-(*).csv"), &[1, 2], false),
            part(g("b", "/(*)_(*).json"), &[2, 1], false),
        ]);
        let joined = expand(&swapped, &i).expect("ok");
        assert_eq!(labels(&joined), ["a:/x-1.csv ⋈ b:/1_x.json"]);
        assert_eq!(joined[0].captures, ["x", "1"], "the key, in the order of the first part's `on`");
        let in_order = DatumSpec::Join(vec![
            part(g("a", "/(*)-(*).csv"), &[1, 2], false),
            part(g("b", "/(*)_(*).json"), &[1, 2], false),
        ]);
        assert!(expand(&in_order, &i).expect("ok").is_empty());
    }

    /// Pachyderm's `group_by` per input: two inputs naming their key captures differently group
    /// into one datum per key.
    #[test]
    fn each_part_of_a_group_picks_its_key_captures() {
        let i = inputs(&[("a", &["x-1.csv", "y-2.csv"]), ("b", &["1_x.json", "3_z.json"])]);
        let spec = DatumSpec::Group(vec![
            GroupPart { datums: g("a", "/(*)-(*).csv"), by: vec![1] },
            GroupPart { datums: g("b", "/(*)_(*).json"), by: vec![2] },
        ]);
        let grouped = expand(&spec, &i).expect("ok");
        assert_eq!(
            labels(&grouped),
            ["group x: a:/x-1.csv + b:/1_x.json", "group y: a:/y-2.csv", "group z: b:/3_z.json"]
        );
    }

    /// Pachyderm's examples/joins (stores and returns): an outer part keeps its datums that have
    /// no partner, alone; the inner part's do not; with both outer, every datum appears.
    #[test]
    fn an_outer_part_keeps_its_unmatched_datums() {
        let i =
            inputs(&[("purchases", &["STOREID1.txt", "STOREID2.txt"]), ("returns", &["STOREID2.txt", "STOREID3.txt"])]);
        let spec = |outer_p, outer_r| {
            DatumSpec::Join(vec![
                part(g("purchases", "/(*).txt"), &[1], outer_p),
                part(g("returns", "/(*).txt"), &[1], outer_r),
            ])
        };
        let both = "purchases:/STOREID2.txt ⋈ returns:/STOREID2.txt";
        assert_eq!(labels(&expand(&spec(false, false), &i).expect("ok")), [both]);
        assert_eq!(labels(&expand(&spec(true, false), &i).expect("ok")), ["purchases:/STOREID1.txt", both]);
        assert_eq!(labels(&expand(&spec(false, true), &i).expect("ok")), [both, "returns:/STOREID3.txt"]);
        let all = expand(&spec(true, true), &i).expect("ok");
        assert_eq!(labels(&all), ["purchases:/STOREID1.txt", both, "returns:/STOREID3.txt"]);
        assert_eq!(all[0].captures, ["STOREID1"]);
    }

    #[test]
    fn equal_files_under_different_labels_or_captures_have_different_keys() {
        // `/*` matching folder `d` (one file) and `/*/*` matching that file select the same file,
        // but the command sees a different PIPE_DATUM_LABEL: found by the differential test.
        let i = inputs(&[("d", &["d/x"])]);
        let (top, deep) = (expand(&g("d", "/*"), &i).expect("ok"), expand(&g("d", "/*/*"), &i).expect("ok"));
        assert_eq!(top[0].files, deep[0].files);
        let fp = Hash::of(b"code");
        assert_ne!(top[0].key(&fp), deep[0].key(&fp));
        let mut captured = top[0].clone();
        captured.captures = vec!["x".into()];
        assert_ne!(captured.key(&fp), top[0].key(&fp));
    }

    #[test]
    fn identical_datums_of_a_union_are_one_datum() {
        // Regression: `/a` came out of both globs, and the two copies ran at once in one work
        // folder, one deleting the other's `in/`.
        let i = inputs(&[("raw", &["a", "ab", "b"])]);
        let union = DatumSpec::Union(vec![g("raw", "/*"), g("raw", "/a*")]);
        assert_eq!(labels(&expand(&union, &i).expect("ok")), ["raw:/a", "raw:/ab", "raw:/b"]);
        // Overlapping but different datums stay apart: `/` sees every file, `/a*` two of them.
        let overlap = DatumSpec::Union(vec![g("raw", "/"), g("raw", "/a*")]);
        assert_eq!(labels(&expand(&overlap, &i).expect("ok")), ["raw:/", "raw:/a", "raw:/ab"]);
    }

    fn axis(param: &str, values: &[&str]) -> GridAxis {
        GridAxis { param: param.into(), values: values.iter().map(|v| (*v).to_owned()).collect() }
    }

    #[test]
    fn a_grid_is_one_datum_per_point_and_crosses_with_data() {
        let spec = DatumSpec::Grid(vec![axis("lr", &["0.1", "0.01"]), axis("wd", &["0", "0.0001"])]);
        let points = expand(&spec, &HashMap::new()).expect("ok");
        assert_eq!(labels(&points), ["lr=0.1 wd=0", "lr=0.1 wd=0.0001", "lr=0.01 wd=0", "lr=0.01 wd=0.0001"]);
        assert!(points.iter().all(|d| d.files.is_empty() && d.captures.is_empty()));
        let first: Vec<(&str, &str)> = points[1].point.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(first, [("lr", "0.1"), ("wd", "0.0001")]);
        let i = inputs(&[("d", &["a", "b", "c"])]);
        let crossed = expand(&DatumSpec::Cross(vec![spec, g("d", "/*")]), &i).expect("ok");
        assert_eq!(crossed.len(), 12);
        assert_eq!(crossed[0].label, "lr=0.1 wd=0 × d:/a");
        assert_eq!(crossed[0].point.len(), 2, "a cross keeps the point");
        assert_eq!(crossed[0].files.len(), 1);
    }

    /// Each point is keyed by its values alone: a grid that grows keeps its old points' keys, so
    /// only the new points run (and one that shrinks runs nothing).
    #[test]
    fn a_point_keeps_its_key_when_the_grid_around_it_changes() {
        let fp = Hash::of(b"code");
        let keys = |spec: &DatumSpec| -> HashSet<Hash> {
            expand_keyed(spec, &HashMap::new(), &fp).expect("ok").into_iter().map(|(_, k)| k).collect()
        };
        let values: Vec<String> = (0..1000).map(|i| format!("{i}")).collect();
        let refs = |n: usize| values[..n].iter().map(String::as_str).collect::<Vec<_>>();
        let small = keys(&DatumSpec::Grid(vec![axis("seed", &refs(1000))]));
        let grown = keys(&DatumSpec::Grid(vec![axis("seed", &refs(1000)), axis("depth", &["3"])]));
        assert!(small.is_disjoint(&grown), "another axis is another point");
        let more: Vec<&str> = refs(1000).into_iter().chain(["1000", "1001"]).collect();
        assert_eq!(keys(&DatumSpec::Grid(vec![axis("seed", &more)])).difference(&small).count(), 2);
        let mut fewer = refs(1000);
        fewer.remove(500);
        assert!(keys(&DatumSpec::Grid(vec![axis("seed", &fewer)])).is_subset(&small));
        // A point's key is not a file datum's, even with the same label.
        let point = Datum { label: "x".into(), point: vec![("a".into(), "1".into())], ..Datum::default() };
        let plain = Datum { label: "x".into(), ..Datum::default() };
        assert_ne!(point.key(&fp), plain.key(&fp));
    }

    /// A sample is a seeded choice of distinct grid points; raising `n` keeps the points a
    /// smaller `n` chose, so their datums stay cached.
    #[test]
    fn a_sample_is_seeded_distinct_and_grows_by_adding_points() {
        let axes = vec![axis("lr", &["1", "2", "3", "4", "5", "6"]), axis("wd", &["a", "b", "c", "d"])];
        let sample =
            |n, seed| labels(&expand(&DatumSpec::Sample { axes: axes.clone(), n, seed }, &HashMap::new()).expect("ok"));
        let eight = sample(8, 7);
        assert_eq!(eight.len(), 8);
        assert_eq!(eight.iter().collect::<HashSet<_>>().len(), 8, "distinct points");
        assert_eq!(eight, sample(8, 7), "the same seed, the same points");
        assert_ne!(eight, sample(8, 8), "another seed, other points");
        let twelve = sample(12, 7);
        assert!(eight.iter().all(|l| twelve.contains(l)), "{eight:?} within {twelve:?}");
        assert_eq!(sample(100, 7).len(), 24, "at most the whole grid");
        // Pinned: the rank is part of the rules; a change reshuffles every user's sample.
        assert_eq!(sample(2, 1), ["lr=1 wd=d", "lr=4 wd=a"]);
        // A grid far too large to list (10^20 points) costs only the draws.
        let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let huge: Vec<GridAxis> = (0..10).map(|i| axis(&format!("p{i}"), &refs)).collect();
        let picked = expand(&DatumSpec::Sample { axes: huge, n: 5, seed: 3 }, &HashMap::new()).expect("ok");
        assert_eq!(picked.len(), 5);
        assert!(picked.iter().all(|d| d.point.len() == 10));
    }

    /// A stage spec comes from a store or a cluster: one whose grid the compiler would refuse is
    /// refused here too, before a point is listed (64 axes of 2 values overflowed the count).
    #[test]
    fn a_hostile_grid_is_refused_not_listed() {
        let huge: Vec<GridAxis> = (0..64).map(|i| axis(&format!("p{i}"), &["0", "1"])).collect();
        let grid = expand(&DatumSpec::Grid(huge.clone()), &HashMap::new());
        assert!(matches!(grid, Err(DatumError::GridTooLarge)), "{grid:?}");
        let many = expand(&DatumSpec::Sample { axes: huge, n: u64::MAX, seed: 0 }, &HashMap::new());
        assert!(matches!(many, Err(DatumError::GridTooLarge)));
    }

    #[test]
    fn file_datum_keys_are_stable_across_releases() {
        // A change here throws away every cache entry users have.
        let i = inputs(&[("d", &["a/1", "b"])]);
        let ds = expand(&g("d", "/*"), &i).expect("ok");
        assert_eq!(
            ds[0].key(&Hash::of(b"code")).to_hex(),
            "051091558ed9e14a9c07f208932b5e8fba719c9c0dde5bd99bfd7f434840fc23"
        );
    }

    #[test]
    fn keys_change_with_content_path_or_code() {
        let i = inputs(&[("d", &["a", "b"])]);
        let ds = expand(&g("d", "/*"), &i).expect("ok");
        let fp = Hash::of(b"code");
        assert_ne!(ds[0].key(&fp), ds[1].key(&fp));
        assert_ne!(ds[0].key(&fp), ds[0].key(&Hash::of(b"other code")));
        let mut renamed = ds[0].clone();
        Arc::make_mut(&mut renamed.files[0].entry).path = "a2".into();
        assert_ne!(renamed.key(&fp), ds[0].key(&fp));
    }
}
