//! Many runs as one table: a row per run, its params and metrics as columns, as `dvc exp show`
//! shows experiments.
//!
//! Takes run records; gives rows whose cells are each run's params and its stages' metrics (named
//! `stage.metric`, or `stage.datum:metric` where several datums of a stage report), sorted by one
//! column if asked, and prints them aligned or as JSON. Pure apart from printing.

use pipe_runtime::record::RunRecord;
use serde::Serialize;
use std::collections::BTreeMap;

/// One run's row.
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub(super) run: String,
    pub(super) started: String,
    pub(super) params: BTreeMap<String, String>,
    pub(super) metrics: BTreeMap<String, f64>,
}

/// A row per record, in the records' order, or sorted by `sort` (a param or metric column;
/// runs without it last), largest first when `descending`.
pub(super) fn rows(records: &[RunRecord], sort: Option<&str>, descending: bool) -> Result<Vec<Row>, String> {
    let mut rows: Vec<Row> = records
        .iter()
        .map(|r| Row {
            run: r.run_id.clone(),
            started: r.started.clone(),
            params: r.params.clone(),
            metrics: r.metrics(),
        })
        .collect();
    let Some(column) = sort else { return Ok(rows) };
    if !rows.iter().any(|r| r.metrics.contains_key(column) || r.params.contains_key(column)) {
        let known = columns(&rows);
        return Err(format!("no run has a param or metric `{column}` (columns: {})", known.join(", ")));
    }
    // Numbers compare as numbers (params too: `lr`), text as text; a run without the column last.
    let key = |r: &Row| -> Option<(Option<f64>, String)> {
        if let Some(v) = r.metrics.get(column) {
            return Some((Some(*v), String::new()));
        }
        r.params.get(column).map(|p| (p.parse::<f64>().ok(), p.clone()))
    };
    rows.sort_by(|a, b| {
        let order = match (key(a), key(b)) {
            (Some(x), Some(y)) => {
                let by = match (x.0, y.0) {
                    (Some(p), Some(q)) => p.total_cmp(&q),
                    _ => x.1.cmp(&y.1),
                };
                if descending { by.reverse() } else { by }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        order.then_with(|| b.run.cmp(&a.run))
    });
    Ok(rows)
}

/// Every param column, then every metric column, each sorted.
fn columns(rows: &[Row]) -> Vec<String> {
    let mut params: Vec<String> = rows.iter().flat_map(|r| r.params.keys().cloned()).collect();
    params.sort();
    params.dedup();
    let mut metrics: Vec<String> = rows.iter().flat_map(|r| r.metrics.keys().cloned()).collect();
    metrics.sort();
    metrics.dedup();
    params.into_iter().chain(metrics).collect()
}

/// The rows aligned under a header: run, then params, then metrics; `-` where a run has none.
pub(super) fn print(rows: &[Row]) {
    let columns = columns(rows);
    let cell = |r: &Row, c: &str| -> String {
        r.params.get(c).cloned().or_else(|| r.metrics.get(c).map(|v| format!("{v}"))).unwrap_or_else(|| "-".into())
    };
    let mut table: Vec<Vec<String>> = vec![std::iter::once("run".to_owned()).chain(columns.iter().cloned()).collect()];
    table.extend(
        rows.iter().map(|r| std::iter::once(r.run.clone()).chain(columns.iter().map(|c| cell(r, c))).collect()),
    );
    let widths: Vec<usize> =
        (0..=columns.len()).map(|i| table.iter().map(|row| row[i].chars().count()).max().unwrap_or(0)).collect();
    for row in &table {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", line.join("  ").trim_end());
    }
}
