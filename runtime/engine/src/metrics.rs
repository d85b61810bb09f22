//! A stage's metrics: the numbers each datum's command writes to the stage's `metrics` file.
//!
//! Takes a stage's datum outcomes (before they are merged) and the store; gives each datum's
//! numbers, keyed by their dotted path in the JSON (`{"eval": {"acc": 0.9}}` is `eval.acc`), in
//! its run record. The file is `out/<metrics>` or `out/<folder>/<metrics>` (a datum writing into
//! a folder of its own, so a stage of many datums does not write one path twice). A file that is
//! missing, not JSON, too large or holds no number is a warning on the stage, never a failure: the
//! outputs are committed either way. Reads only the metrics files, never other outputs.

use crate::datums::Datum;
use crate::exec::DatumOutcome;
use crate::run::StageReport;
use pipe_spec::{FileEntry, Hash, StageSpec};
use pipe_store::{Store, StoreError};
use std::collections::BTreeMap;

/// The largest metrics file read: numbers, not data.
pub const MAX_METRICS_BYTES: u64 = 1 << 20;

/// Each datum's metrics file (by datum key), for a stage that declares `metrics`; a warning on
/// `report` for each datum that ran or was reused without one.
pub fn files_of(
    spec: &StageSpec,
    outcomes: &[(Datum, Hash, DatumOutcome)],
    report: &mut StageReport,
) -> Vec<(Hash, FileEntry)> {
    let Some(name) = &spec.metrics else { return Vec::new() };
    let nested = format!("/{name}");
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (d, key, outcome) in outcomes {
        let outputs = match outcome {
            DatumOutcome::Reused { outputs, .. } | DatumOutcome::Processed { outputs, .. } => outputs,
            DatumOutcome::Failed(_) => continue,
        };
        match outputs.iter().find(|f| f.path == *name || f.path.ends_with(&nested)) {
            Some(f) => found.push((*key, f.clone())),
            None => missing.push(d.label.clone()),
        }
    }
    if let Some(first) = missing.first() {
        report.warnings.push(format!(
            "{} datum(s) wrote no `out/{name}` (its `metrics`), e.g. `{first}`: write the numbers as JSON to $PIPE_OUT/{name}",
            missing.len()
        ));
    }
    found
}

/// Reads each file of `found` and puts its numbers on its datum's record in `report`.
pub async fn attach(store: &Store, found: Vec<(Hash, FileEntry)>, report: &mut StageReport) -> Result<(), StoreError> {
    if found.is_empty() {
        return Ok(());
    }
    let index: BTreeMap<String, usize> = report.datum_log.iter().enumerate().map(|(i, d)| (d.key.clone(), i)).collect();
    for (key, file) in found {
        let Some(&i) = index.get(&key.to_hex()) else { continue };
        let label = report.datum_log[i].datum.clone();
        let numbers = match store.read_small(&file, MAX_METRICS_BYTES).await? {
            None => Err(format!("is {} bytes, more than the {MAX_METRICS_BYTES} a metrics file may have", file.size)),
            Some(bytes) => parse(&bytes),
        };
        match numbers {
            Ok((numbers, skipped)) => {
                if let Some(first) = skipped.first() {
                    report.warnings.push(format!(
                        "datum `{label}`: `out/{}` has {} value(s) that are not numbers, e.g. `{first}`; they are not recorded",
                        file.path,
                        skipped.len()
                    ));
                }
                report.datum_log[i].metrics = numbers;
            }
            Err(why) => report.warnings.push(format!("datum `{label}`: `out/{}` {why}", file.path)),
        }
    }
    Ok(())
}

/// The numbers of a metrics file by dotted path, and the paths of values that are not numbers.
pub fn parse(bytes: &[u8]) -> Result<(BTreeMap<String, f64>, Vec<String>), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("is not JSON ({e}): write an object of numbers"))?;
    if !value.is_object() {
        return Err("is not a JSON object: write an object of numbers, e.g. {\"accuracy\": 0.93}".into());
    }
    let mut numbers = BTreeMap::new();
    let mut skipped = Vec::new();
    flatten("", &value, &mut numbers, &mut skipped);
    if numbers.is_empty() {
        return Err("holds no number: write an object of numbers, e.g. {\"accuracy\": 0.93}".into());
    }
    Ok((numbers, skipped))
}

fn flatten(path: &str, value: &serde_json::Value, numbers: &mut BTreeMap<String, f64>, skipped: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (k, v) in fields {
                let inner = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                flatten(&inner, v, numbers, skipped);
            }
        }
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => {
                numbers.insert(path.to_owned(), x);
            }
            _ => skipped.push(path.to_owned()),
        },
        _ => skipped.push(path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_numbers_are_flattened_and_the_rest_is_named() {
        let (numbers, skipped) =
            parse(br#"{"loss": 0.5, "eval": {"acc": 0.93, "f1": 1}, "note": "x", "curve": [1, 2]}"#)
                .expect("an object of numbers");
        assert_eq!(numbers, BTreeMap::from([("loss".into(), 0.5), ("eval.acc".into(), 0.93), ("eval.f1".into(), 1.0)]));
        let mut skipped = skipped;
        skipped.sort();
        assert_eq!(skipped, ["curve", "note"]);
    }

    #[test]
    fn files_that_are_not_objects_of_numbers_say_so() {
        assert!(parse(b"not json").expect_err("refused").starts_with("is not JSON"));
        assert!(parse(b"[1, 2]").expect_err("refused").starts_with("is not a JSON object"));
        assert!(parse(br#"{"a": "b"}"#).expect_err("refused").starts_with("holds no number"));
    }
}
