//! `pipe log FILE --plot METRIC [--by PARAM]`: the page it writes, rendered by a real browser
//! (Debian's headless Chromium, installed by `scripts/test.sh`): it draws one point per run with
//! the metric, in run order or against the param, with nothing fetched from the network.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pipe(dir: &Path, args: &[&str]) -> Output {
    pipe_tests::pipe_command(Path::new(env!("CARGO_BIN_EXE_pipe")), dir).args(args).output().expect("pipe runs")
}

/// The DOM of `page` once Chromium has run its scripts (`--dump-dom`), offline.
fn rendered(page: &Path, profile: &Path) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs: install Debian's `chromium` (scripts/test.sh does)");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `aria-label`s of the drawn points, in drawing order.
fn points(dom: &str) -> Vec<String> {
    dom.split("<path")
        .skip(1)
        .filter(|p| p.split('>').next().is_some_and(|tag| tag.contains(r#"aria-roledescription="point""#)))
        .filter_map(|p| {
            p.split_once("aria-label=\"").and_then(|(_, rest)| rest.split_once('"')).map(|(l, _)| l.to_owned())
        })
        .collect()
}

#[test]
fn a_metric_is_plotted_across_runs_and_against_a_param() {
    let pipeline = r#"use torchx

param scale: int = 1
param note: string = "none"

input raw = dir("raw")

stage score: torchx.shell {
  image   = "busybox"
  script  = "echo '{\"acc\": '$(( $(cat $PIPE_IN_RAW/*) * ${scale}))'}' > $PIPE_OUT/metrics.json"
  datums  = glob(raw, "/")
  metrics = "metrics.json"
}
"#;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = tmp.path().join("p");
    std::fs::create_dir_all(dir.join("raw")).expect("mkdir");
    std::fs::write(dir.join("pipeline.pipe"), pipeline).expect("write");
    std::fs::write(dir.join("raw/a"), "2").expect("write");
    // A param that would end the page's <script> if it were pasted in raw.
    for (scale, note) in [("1", "first"), ("3", "</script><b>bold"), ("2", "last")] {
        let out = pipe(
            &dir,
            &["run", "pipeline.pipe", "--param", &format!("scale={scale}"), "--param", &format!("note={note}")],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let page = tmp.path().join("acc.html");
    let out = pipe(&dir, &["log", "pipeline.pipe", "--plot", "score.acc", "-o", page.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("wrote {} (3 runs)\n", page.display()));
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(!html.contains("src=\"http") && !html.contains("<script src"), "the page loads nothing: it opens offline");
    let dom = rendered(&page, &tmp.path().join("profile"));
    assert!(
        dom.contains(r#"data-rendered="true""#),
        "the page did not render: {}",
        &dom[dom.len().saturating_sub(600)..]
    );
    let drawn = points(&dom);
    assert_eq!(drawn.len(), 3, "{drawn:?}");
    let runs: Vec<(String, String)> = drawn
        .iter()
        .map(|l| {
            let field = |name: &str| {
                l.split("; ").find_map(|kv| kv.strip_prefix(&format!("{name}: "))).expect("a field").to_owned()
            };
            (field("run"), field("score.acc"))
        })
        .collect();
    let expected: Vec<(String, String)> =
        [("1", "2"), ("2", "6"), ("3", "4")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(runs, expected, "oldest first, each run's metric");

    let by = tmp.path().join("by.html");
    let out = pipe(
        &dir,
        &["log", "pipeline.pipe", "--plot", "score.acc", "--by", "scale", "-o", by.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut drawn = points(&rendered(&by, &tmp.path().join("profile")));
    drawn.sort();
    assert_eq!(drawn.len(), 3, "{drawn:?}");
    assert!(drawn[0].starts_with("scale: 1; score.acc: 2"), "{drawn:?}");
    assert!(drawn[2].starts_with("scale: 3; score.acc: 6"), "{drawn:?}");

    // Against a param of text: a nominal axis, and a value that holds `</script>` stays data.
    let notes = tmp.path().join("notes.html");
    let out = pipe(
        &dir,
        &["log", "pipeline.pipe", "--plot", "score.acc", "--by", "note", "-o", notes.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = rendered(&notes, &tmp.path().join("profile"));
    assert!(dom.contains(r#"data-rendered="true""#), "{}", &dom[dom.len().saturating_sub(600)..]);
    assert_eq!(points(&dom).len(), 3, "{:?}", points(&dom));
    assert!(dom.contains("note: &lt;/script&gt;&lt;b&gt;bold; score.acc: 6"), "{:?}", points(&dom));

    let out = pipe(&dir, &["log", "pipeline.pipe", "--plot", "accuracy"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run has a metric `accuracy` (metrics: score.acc)"));
    let out = pipe(&dir, &["log", "pipeline.pipe", "--plot", "score.acc", "--by", "lr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run with metric `score.acc` has a param `lr`"));
}
