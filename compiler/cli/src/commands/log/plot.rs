//! A metric across runs, or against a param, as one self-contained HTML page: a Vega-Lite spec
//! with Vega and Vega-Lite inlined (`assets/vega/`), so it opens offline, as DVC's plots do.
//!
//! Takes the table's rows (a run's params and metrics) oldest first; gives the page's text: a
//! line over the runs in order, or points over a param's values (`--by`; a quantitative axis when
//! every value is a number). Runs without the metric are left out. Pure: writing the file is the
//! caller's.

use super::table::Row;
use serde_json::{Value, json};

const VEGA: &str = include_str!("../../../assets/vega/vega.min.js");
const VEGA_LITE: &str = include_str!("../../../assets/vega/vega-lite.min.js");

/// The page plotting `metric` of `rows` (oldest first), against the runs' order or param `by`.
pub(super) fn page(pipeline: &str, rows: &[Row], metric: &str, by: Option<&str>) -> Result<(String, usize), String> {
    let with: Vec<(usize, &Row)> =
        rows.iter().enumerate().filter(|(_, r)| r.metrics.get(metric).is_some_and(|v| v.is_finite())).collect();
    if with.is_empty() {
        let mut known: Vec<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
        known.sort();
        known.dedup();
        let known: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
        return Err(format!("no run has a metric `{metric}` (metrics: {})", known.join(", ")));
    }
    if let Some(param) = by
        && !with.iter().any(|(_, r)| r.params.contains_key(param))
    {
        return Err(format!("no run with metric `{metric}` has a param `{param}`"));
    }
    let numeric =
        by.is_some_and(|p| with.iter().all(|(_, r)| r.params.get(p).is_none_or(|v| v.parse::<f64>().is_ok())));
    let values: Vec<Value> = with
        .iter()
        .map(|(i, r)| {
            let x = match by {
                None => json!(i + 1),
                Some(p) => match r.params.get(p) {
                    Some(v) if numeric => v.parse::<f64>().map_or(Value::Null, Value::from),
                    Some(v) => Value::from(v.clone()),
                    None => Value::Null,
                },
            };
            json!({ "x": x, "value": r.metrics[metric], "run": r.run, "started": r.started })
        })
        .collect();
    let x = match by {
        None => json!({ "field": "x", "type": "quantitative", "title": "run", "axis": { "tickMinStep": 1 } }),
        Some(p) if numeric => json!({ "field": "x", "type": "quantitative", "title": p, "scale": { "zero": false } }),
        Some(p) => json!({ "field": "x", "type": "nominal", "title": p }),
    };
    // Field names are fixed: a metric's dots would read as nested fields to Vega-Lite.
    let spec = json!({
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": format!("{pipeline}: {metric}"),
        "width": 640,
        "height": 320,
        "data": { "values": values },
        "mark": if by.is_some() { json!({ "type": "point", "filled": true, "size": 80 }) } else { json!({ "type": "line", "point": true }) },
        "encoding": {
            "x": x,
            "y": { "field": "value", "type": "quantitative", "title": metric, "scale": { "zero": false } },
            "tooltip": [
                { "field": "run", "title": "run id" },
                { "field": "started", "title": "started" },
                { "field": "x", "title": by.unwrap_or("run") },
                { "field": "value", "title": metric },
            ],
        },
    });
    // `</` cannot appear inside a <script>: a value such as a param "</script>" would end it.
    let spec = serde_json::to_string(&spec).expect("JSON values serialise").replace("</", "<\\/");
    let title = html_escape(&format!("{pipeline}: {metric}"));
    Ok((
        format!(
            r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<script>{VEGA}</script>
<script>{VEGA_LITE}</script>
</head>
<body>
<div id="plot"></div>
<script>
const spec = {spec};
new vega.View(vega.parse(vegaLite.compile(spec).spec), {{ renderer: "svg", container: "#plot", hover: true }})
  .runAsync()
  .then(() => document.body.setAttribute("data-rendered", "true"))
  .catch((e) => {{ document.body.setAttribute("data-error", String(e)); document.body.append(String(e)); }});
</script>
</body>
</html>
"##
        ),
        with.len(),
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
