//! Points files: the datums of `points(pick, "/grid.json", params = [lr, wd])`, read from a file
//! an input (usually an earlier stage) holds, so a refine stage's grid can come from a search.
//!
//! Takes a stage spec, the files of its inputs and the store; gives the spec with every `Points`
//! node's `loaded` filled from its file: a JSON array of objects, each giving every listed param a
//! value (a number, a bool or a string), read as the param's type and written canonically, as a
//! grid's values are. A missing file, a point missing a param or naming another, a value of the
//! wrong type or more than [`crate::datums::MAX_GRID_POINTS`] points fail the stage, saying
//! which. Does not list datums (`datums` does).

use crate::datums::MAX_GRID_POINTS;
use crate::run::RunError;
use pipe_spec::{DatumSpec, FileEntry, JoinPart, PointParam, StageSpec};
use pipe_store::Store;
use std::collections::HashMap;

/// A points file is read whole: at most this many bytes.
const MAX_POINTS_FILE: u64 = 64 * 1024 * 1024;

/// `spec` with its points files read; borrowed back unchanged when it has none.
pub async fn load<'a>(
    store: &Store,
    spec: &'a StageSpec,
    datasets: &HashMap<String, Vec<FileEntry>>,
) -> Result<std::borrow::Cow<'a, StageSpec>, RunError> {
    let mut files = Vec::new();
    if let Some(d) = &spec.datums {
        wanted(d, &mut files);
    }
    if files.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(spec));
    }
    let fail = |message: String| RunError::Stage { stage: spec.stage.clone(), message };
    let mut read: HashMap<(String, String), Vec<u8>> = HashMap::new();
    for (input, path) in files {
        let inner = path.trim_start_matches('/');
        let entry = datasets.get(&input).and_then(|fs| fs.iter().find(|f| f.path == inner)).ok_or_else(|| {
            fail(format!(
                "`{input}` has no `{path}`, the points file of its `points(…)`: the stage that makes `{input}` must write `out{path}`"
            ))
        })?;
        let bytes = store.read_small(entry, MAX_POINTS_FILE).await?.ok_or_else(|| {
            fail(format!(
                "`{input}:{path}` is {} bytes, more than the {MAX_POINTS_FILE} a points file may have",
                entry.size
            ))
        })?;
        read.insert((input, path), bytes);
    }
    let mut loaded = spec.clone();
    if let Some(d) = &mut loaded.datums {
        fill(d, &read).map_err(fail)?;
    }
    Ok(std::borrow::Cow::Owned(loaded))
}

/// The (input, path) of every points file under `d`.
fn wanted(d: &DatumSpec, out: &mut Vec<(String, String)>) {
    match d {
        DatumSpec::Points { input, path, .. } => out.push((input.clone(), path.clone())),
        DatumSpec::Cross(ps) | DatumSpec::Union(ps) => ps.iter().for_each(|p| wanted(p, out)),
        DatumSpec::Join(ps) => ps.iter().for_each(|JoinPart { datums, .. }| wanted(datums, out)),
        DatumSpec::Group(ps) => ps.iter().for_each(|p| wanted(&p.datums, out)),
        DatumSpec::Glob { .. } | DatumSpec::Grid(_) | DatumSpec::Sample { .. } => {}
    }
}

fn fill(d: &mut DatumSpec, read: &HashMap<(String, String), Vec<u8>>) -> Result<(), String> {
    match d {
        DatumSpec::Points { input, path, params, loaded } => {
            let bytes = &read[&(input.clone(), path.clone())];
            *loaded = Some(parse(bytes, params).map_err(|why| format!("`{input}:{path}` {why}"))?);
            Ok(())
        }
        DatumSpec::Cross(ps) | DatumSpec::Union(ps) => ps.iter_mut().try_for_each(|p| fill(p, read)),
        DatumSpec::Join(ps) => ps.iter_mut().try_for_each(|p| fill(&mut p.datums, read)),
        DatumSpec::Group(ps) => ps.iter_mut().try_for_each(|p| fill(&mut p.datums, read)),
        DatumSpec::Glob { .. } | DatumSpec::Grid(_) | DatumSpec::Sample { .. } => Ok(()),
    }
}

/// The points of a points file: each point's values in `params`' order, canonical.
pub fn parse(bytes: &[u8], params: &[PointParam]) -> Result<Vec<Vec<String>>, String> {
    let example = || {
        let fields: Vec<String> = params.iter().map(|p| format!("\"{}\": …", p.param)).collect();
        format!("[{{{}}}]", fields.join(", "))
    };
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("is not JSON ({e}): write an array of points, {}", example()))?;
    let serde_json::Value::Array(points) = value else {
        return Err(format!("is not an array of points: write {}", example()));
    };
    if points.len() > MAX_GRID_POINTS {
        return Err(format!("lists {} points, more than the {MAX_GRID_POINTS} a stage may have", points.len()));
    }
    let mut out = Vec::with_capacity(points.len());
    for (i, point) in points.iter().enumerate() {
        let serde_json::Value::Object(fields) = point else {
            return Err(format!("point {i} is not an object: write {}", example()));
        };
        if let Some(other) = fields.keys().find(|k| !params.iter().any(|p| &p.param == *k)) {
            return Err(format!("point {i} gives `{other}`, which the stage's `params` do not list"));
        }
        let mut values = Vec::with_capacity(params.len());
        for p in params {
            let given = fields.get(&p.param).ok_or_else(|| format!("point {i} gives no `{}`", p.param))?;
            let text = match given {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => given.to_string(),
                _ => return Err(format!("point {i}: `{}` is not a number, a bool or a string", p.param)),
            };
            let canonical =
                p.ty.canonical(&text)
                    .ok_or_else(|| format!("point {i}: `{}` is {}, and `{text}` is not", p.param, p.ty.word()))?;
            values.push(canonical);
        }
        out.push(values);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_spec::ParamType;

    fn params() -> Vec<PointParam> {
        vec![
            PointParam { param: "lr".into(), ty: ParamType::Float },
            PointParam { param: "depth".into(), ty: ParamType::Int },
        ]
    }

    #[test]
    fn points_are_read_as_their_params_types_and_written_canonically() {
        let points = parse(br#"[{"lr": 0.10, "depth": 3}, {"depth": "4", "lr": 1e-2}]"#, &params()).expect("points");
        assert_eq!(points, [vec!["0.1".to_owned(), "3".into()], vec!["0.01".into(), "4".into()]]);
    }

    #[test]
    fn a_bad_points_file_says_what_is_wrong_with_which_point() {
        let why = |text: &str| parse(text.as_bytes(), &params()).expect_err("bad");
        assert!(why("{").contains("is not JSON"), "{}", why("{"));
        assert!(why(r#"{"lr": 1}"#).contains("not an array"));
        assert!(why(r#"[{"lr": 1}]"#).contains("point 0 gives no `depth`"));
        assert!(why(r#"[{"lr": 1, "depth": 2, "wd": 0}]"#).contains("`wd`, which the stage's `params` do not list"));
        assert!(why(r#"[{"lr": 1, "depth": 2}, {"lr": "fast", "depth": 2}]"#).contains("point 1: `lr` is float"));
        assert!(why(r#"[{"lr": [1], "depth": 2}]"#).contains("not a number, a bool or a string"));
    }
}
