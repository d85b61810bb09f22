//! `pipe data` end to end, as processes: the commands and their output, a put killed with SIGKILL,
//! concurrent puts to one branch, an S3-compatible server, and a store that cannot be reached.

use pipe_tests::servers::{Moto, free_port};
use pipe_tests::{random_bytes, write_file};
use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cmd(store: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipe"));
    c.arg("data").arg("--store").arg(store).args(args);
    c.env("NO_COLOR", "1").env("PIPE_STATE_DIR", store.with_extension("state"));
    c
}

fn run(mut c: Command) -> Output {
    let out = c.output().expect("pipe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "pipe panicked:\n{stderr}");
    out
}

fn ok(c: Command) -> String {
    let out = run(c);
    assert!(out.status.success(), "pipe failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(c: Command) -> Value {
    serde_json::from_str(&ok(c)).expect("JSON output")
}

fn head(store: &Path, repo: &str) -> Value {
    json(cmd(store, &["log", repo, "-n", "1", "--json"]))[0]["commit"].clone()
}

#[test]
fn init_put_log_ls_get_diff_and_tag() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let src = tmp.path().join("src");
    write_file(&src, "train/0.png", b"zero");
    write_file(&src, "train/1.png", b"one");
    write_file(&src, "labels.csv", b"0,0\n1,1\n");

    let missing = run(cmd(&store, &["log", "mnist"]));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("pipe data init"), "the error says what to do");

    assert!(ok(cmd(&store, &["init", "mnist"])).contains("created repo `mnist`"));
    let v1 = json(cmd(&store, &["put", "mnist", src.to_str().expect("utf-8"), "-m", "first", "--json"]));
    assert_eq!(v1["outcome"]["files"], 3);
    let v1_id = v1["outcome"]["commit"].as_str().expect("commit id").to_owned();
    write_file(&src, "train/2.png", b"two");
    std::fs::remove_file(src.join("labels.csv")).expect("rm");
    let v2 = ok(cmd(&store, &["put", "mnist", src.to_str().expect("utf-8"), "-m", "second"]));
    assert!(v2.starts_with("committed ") && v2.contains("to mnist@main: 3 files"), "{v2}");

    let log = json(cmd(&store, &["log", "mnist", "--json"]));
    assert_eq!(log.as_array().expect("array").len(), 2);
    assert_eq!(log[1]["commit"], v1_id.as_str());
    assert_eq!(log[0]["message"], "second");

    let ls = ok(cmd(&store, &["ls", "mnist", "train/*.png"]));
    assert_eq!(ls.lines().count(), 3, "{ls}");
    assert!(ok(cmd(&store, &["tag", "mnist", "v1", &v1_id[..10]])).contains("as `v1`"));
    let again = run(cmd(&store, &["tag", "mnist", "v1"]));
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("tags never move"));

    let diff = ok(cmd(&store, &["diff", "mnist@v1", "main"]));
    assert_eq!(diff, "D  labels.csv  (8 B)\nA  train/2.png  (3 B)\n");
    assert_eq!(ok(cmd(&store, &["diff", "mnist"])), diff, "one version: what its commit changed");

    let out = tmp.path().join("out");
    ok(cmd(&store, &["get", "mnist@v1", out.to_str().expect("utf-8"), "labels.csv"]));
    assert_eq!(std::fs::read(out.join("labels.csv")).expect("got the file"), b"0,0\n1,1\n");
    assert!(!out.join("train").exists(), "the glob selected one file");

    let usage = run(cmd(&store, &["put"]));
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn a_put_killed_midway_leaves_the_previous_commit_and_a_retry_succeeds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let src = tmp.path().join("src");
    write_file(&src, "small.txt", b"version one");
    ok(cmd(&store, &["init", "ds"]));
    ok(cmd(&store, &["put", "ds", src.to_str().expect("utf-8")]));
    let before = head(&store, "ds");
    for i in 0..48 {
        write_file(&src, &format!("big/{i:02}.bin"), &random_bytes(1024 * 1024, i));
    }
    let count = || walk_count(&store.join("objects"));
    let start = count();
    let mut child = cmd(&store, &["put", "ds", src.to_str().expect("utf-8"), "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count() < start + 5 {
        assert!(child.try_wait().expect("wait").is_none(), "the put finished before it could be killed");
        assert!(Instant::now() < deadline, "the put wrote nothing in 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(9), "killed, not finished");
    let written_before_kill = count() - start;

    assert_eq!(head(&store, "ds"), before, "the branch did not move");
    let out = tmp.path().join("out");
    ok(cmd(&store, &["get", "ds", out.to_str().expect("utf-8")]));
    assert_eq!(walk_count(&out), 1, "the previous commit is intact");

    let retry = json(cmd(&store, &["put", "ds", src.to_str().expect("utf-8"), "--json"]));
    assert_eq!(retry["outcome"]["parent"], before);
    let all_new = count() - start;
    assert!(written_before_kill < all_new, "killed midway: {written_before_kill} of {all_new} objects written");
    let retry_wrote = retry["outcome"]["objects_written"].as_u64().expect("count") as usize;
    assert_eq!(retry_wrote + written_before_kill, all_new, "the retry writes only what the killed put had not");
    let out2 = tmp.path().join("out2");
    ok(cmd(&store, &["get", "ds", out2.to_str().expect("utf-8")]));
    assert_eq!(walk_count(&out2), 49);
}

/// Puts of small files (packed, see the store's `pack` module) killed at random points: after each
/// kill the store checks clean (no commit names an object that is not whole, in a pack or loose),
/// the branch is where a finished put left it, and the next put completes and reads back exactly.
#[test]
fn puts_of_small_files_killed_at_random_points_leave_the_store_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let src = tmp.path().join("src");
    let mut rng = fastrand::Rng::with_seed(23);
    let write_all = |round: u64, rng: &mut fastrand::Rng| {
        for i in 0..3000u64 {
            write_file(
                &src,
                &format!("s/{:02}/{i:04}.bin", i % 50),
                &random_bytes(rng.usize(100..8000), 10_000 * round + i),
            );
        }
    };
    ok(cmd(&store, &["init", "ds"]));
    write_all(0, &mut rng);
    let started = Instant::now();
    ok(cmd(&store, &["put", "ds", src.to_str().expect("utf-8")]));
    // Kills land in the first three quarters of a put as long as the first.
    let took = started.elapsed().as_millis() as u64;
    let mut killed = 0;
    // Until 5 puts died midway (a kill after a put finished proves nothing), at most 20 rounds.
    let mut round = 0u64;
    while killed < 5 && round < 20 {
        round += 1;
        write_all(round, &mut rng);
        let mut child = cmd(&store, &["put", "ds", src.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(rng.u64(1..(took * 3 / 4).max(2))));
        child.kill().expect("SIGKILL");
        if child.wait().expect("wait").signal() == Some(9) {
            killed += 1;
        }
        let got = tmp.path().join(format!("got{round}"));
        ok(cmd(&store, &["get", "ds", got.to_str().expect("utf-8")]));
        assert_eq!(walk_count(&got), 3000, "the head reads back whole after round {round}");
        let fsck = run(cmd(&store, &["fsck"]));
        assert!(fsck.status.success(), "after round {round}: {}", String::from_utf8_lossy(&fsck.stdout));
    }
    assert_eq!(killed, 5, "only {killed} of 20 puts were killed before they finished");
    assert!(walk_count(&store.join("packs")) > 0, "small files were packed");
    ok(cmd(&store, &["put", "ds", src.to_str().expect("utf-8")]));
    let out = tmp.path().join("out");
    ok(cmd(&store, &["get", "ds", out.to_str().expect("utf-8")]));
    assert_eq!(walk_count(&out), 3000);
    for i in (0..3000).step_by(97) {
        let path = format!("s/{:02}/{i:04}.bin", i % 50);
        assert_eq!(
            std::fs::read(out.join(&path)).expect("got"),
            std::fs::read(src.join(&path)).expect("src"),
            "{path}"
        );
    }
}

/// Puts killed at random points leave half-written objects (`KEY#N`, object_store's staging
/// names) that nothing reused or removed: 21 files, 6 MiB after 210 kills. The next put, alone in
/// the store, collects them; one running beside a live put leaves them alone.
#[test]
fn the_next_put_collects_what_killed_puts_left() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let src = tmp.path().join("src");
    ok(cmd(&store, &["init", "ds"]));
    for i in 0..24 {
        write_file(&src, &format!("big/{i:02}.bin"), &random_bytes(2 * 1024 * 1024, 100 + i));
    }
    let staged = || walk_staged(&store);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut kills = 0;
    while staged() == 0 {
        assert!(kills < 200, "200 kills left no staged file");
        let mut child = cmd(&store, &["put", "ds", src.to_str().expect("utf-8"), "--jobs", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(rng.u64(20..400)));
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        kills += 1;
        // New content, so the next put has chunks to write.
        for i in 0..24 {
            write_file(&src, &format!("big/{i:02}.bin"), &random_bytes(2 * 1024 * 1024, 1000 * kills + i));
        }
    }
    assert!(staged() > 0);
    ok(cmd(&store, &["put", "ds", src.to_str().expect("utf-8")]));
    assert_eq!(staged(), 0, "after {kills} kills, the next put removed every leftover");
    let out = tmp.path().join("out");
    ok(cmd(&store, &["get", "ds", out.to_str().expect("utf-8")]));
    assert_eq!(walk_count(&out), 24);
}

/// A damaged store can be repaired the way the help says. Before: after an object was damaged,
/// `put` of the same data said "up to date … wrote 0 objects" and `get` still failed, and a put
/// into a new repo made a commit on the corrupt object.
#[test]
fn a_damaged_object_is_found_reported_and_rewritten_by_the_next_put() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let src = tmp.path().join("src");
    write_file(&src, "a.txt", b"alpha");
    write_file(&src, "b.txt", b"bravo");
    write_file(&src, "big.bin", &random_bytes(3 * 1024 * 1024, 9));
    ok(cmd(&store, &["init", "ds"]));
    ok(cmd(&store, &["put", "ds", src.to_str().expect("utf-8")]));
    let object = |hash: &str| store.join("objects").join(&hash[..2]).join(hash);
    let files = json(cmd(&store, &["ls", "ds", "--json"]));
    let hash_of = |path: &str| {
        files.as_array().expect("files").iter().find(|f| f["path"] == path).expect("listed")["hash"]
            .as_str()
            .expect("hash")
            .to_owned()
    };
    let (a, b) = (hash_of("a.txt"), hash_of("b.txt"));
    let out_dir = |name: &str| tmp.path().join(name).to_str().expect("utf-8").to_owned();
    let failing = |args: &[&str]| {
        let out = run(cmd(&store, args));
        assert_eq!(out.status.code(), Some(1), "{args:?} must fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // Damaged, then found by a get: the next put of the same folder rewrites it.
    std::fs::write(object(&a), b"alphx").expect("damage");
    let stderr = failing(&["get", "ds", &out_dir("o1")]);
    assert!(stderr.contains("is corrupt") && stderr.contains("pipe data fsck"), "{stderr}");
    let put = json(cmd(&store, &["put", "ds", src.to_str().expect("utf-8"), "--json"]));
    assert_eq!(put["outcome"]["changed"], false, "{put}");
    assert_eq!(put["outcome"]["objects_written"], 1, "the damaged object is written again: {put}");
    ok(cmd(&store, &["get", "ds", &out_dir("o2")]));
    assert_eq!(std::fs::read(tmp.path().join("o2/a.txt")).expect("read"), b"alpha");

    // Damaged and missing, found by fsck (nothing read them), repaired by a put into a new repo.
    std::fs::write(object(&a), b"garbage").expect("damage");
    std::fs::remove_file(object(&b)).expect("lose");
    let out = run(cmd(&store, &["fsck"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("damaged object {}: corrupt", &a[..12])), "{stdout}");
    assert!(stdout.contains(&format!("damaged object {}: missing", &b[..12])), "{stdout}");
    assert!(stdout.contains(": a.txt") && stdout.contains(": b.txt"), "uses are named: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 damaged object(s)"));
    ok(cmd(&store, &["init", "copy"]));
    let put = json(cmd(&store, &["put", "copy", src.to_str().expect("utf-8"), "--json"]));
    assert_eq!(put["outcome"]["objects_written"], 2, "{put}");
    let clean = ok(cmd(&store, &["fsck"]));
    assert!(clean.contains("checked 2 repos (2 commits)") && !clean.contains("damaged"), "{clean}");
    ok(cmd(&store, &["get", "ds", &out_dir("o3")]));
    assert_eq!(std::fs::read(tmp.path().join("o3/b.txt")).expect("read"), b"bravo");

    // A chunk of a large file, damaged: fsck names the file.
    let big = json(cmd(&store, &["fsck", "ds", "--json"]));
    assert!(big["objects"].as_u64().expect("count") > 3, "the 3 MiB file is several chunks: {big}");
}

/// Files under `dir` named as object_store stages an upload: `KEY#N`.
fn walk_staged(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .map(|e| e.expect("entry").path())
        .map(|p| {
            if p.is_dir() {
                walk_staged(&p)
            } else {
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                usize::from(name.rsplit_once('#').is_some_and(|(_, n)| n.bytes().all(|b| b.is_ascii_digit())))
            }
        })
        .sum()
}

fn walk_count(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .map(|e| e.expect("entry").path())
        .map(|p| if p.is_dir() { walk_count(&p) } else { usize::from(!p.to_string_lossy().contains('#')) })
        .sum()
}

#[test]
fn concurrent_puts_to_one_branch_lose_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    ok(cmd(&store, &["init", "ds"]));
    let base = tmp.path().join("base");
    write_file(&base, "x", b"base");
    ok(cmd(&store, &["put", "ds", base.to_str().expect("utf-8")]));
    let children: Vec<_> = (0..6)
        .map(|i| {
            let dir = tmp.path().join(format!("w{i}"));
            write_file(&dir, "x", format!("writer {i}").as_bytes());
            cmd(&store, &["put", "ds", dir.to_str().expect("utf-8")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    let mut winners = 0;
    for o in &outputs {
        let stderr = String::from_utf8_lossy(&o.stderr);
        match o.status.code() {
            Some(0) => winners += 1,
            Some(1) => assert!(stderr.contains("moved to") && stderr.contains("nothing was lost"), "{stderr}"),
            other => panic!("unexpected exit {other:?}: {stderr}"),
        }
    }
    assert!(winners >= 1);
    let log = json(cmd(&store, &["log", "ds", "-n", "100", "--json"]));
    assert_eq!(log.as_array().expect("array").len(), winners + 1, "every winner is in the history, once");
}

#[test]
fn an_s3_store_is_configured_from_the_environment() {
    let moto = Moto::start("pipe-cli");
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    write_file(&src, "a/b.txt", b"on s3");
    let s3 = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pipe"));
        c.arg("data")
            .args(args)
            .env("PIPE_STORE", moto.url("team/data"))
            .env("PIPE_STATE_DIR", tmp.path().join("state"));
        c.envs(moto.env());
        c
    };
    ok(s3(&["init", "ds"]));
    ok(s3(&["put", "ds", src.to_str().expect("utf-8")]));
    let out = tmp.path().join("out");
    ok(s3(&["get", "ds", out.to_str().expect("utf-8")]));
    assert_eq!(std::fs::read(out.join("a/b.txt")).expect("read"), b"on s3");
}

#[test]
fn an_unreachable_store_is_one_clear_error() {
    let port = free_port();
    let started = Instant::now();
    let out = run({
        let mut c = Command::new(env!("CARGO_BIN_EXE_pipe"));
        c.args(["data", "--store", "s3://bucket/prefix", "log", "ds"]);
        c.env("AWS_ENDPOINT", format!("http://127.0.0.1:{port}")).env("AWS_ALLOW_HTTP", "true");
        c.env("AWS_ACCESS_KEY_ID", "x").env("AWS_SECRET_ACCESS_KEY", "x").env("AWS_REGION", "us-east-1");
        c
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: cannot reach the store at `s3://bucket/prefix`"), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "one error and its help, not a chain or backtrace:\n{stderr}");
    assert!(stderr.contains("help: check the URL and the network"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(40), "gave up after {:?}", started.elapsed());

    let mut ftp = Command::new(env!("CARGO_BIN_EXE_pipe"));
    ftp.args(["data", "--store", "ftp://x/y", "log", "ds"]);
    let bad = run(ftp);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a supported scheme"));
}

/// `pipe data` against moto with `args`, the store at `url` and moto's settings but `endpoint`.
fn on_s3(moto_env: &[(String, String)], url: &str, args: &[&str]) -> (Option<i32>, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipe"));
    c.args(["data", "--store", url]).args(args).envs(moto_env.iter().cloned());
    c.env("PIPE_STATE_DIR", tmp.path().join("state"));
    let out = run(c);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A 403 names the credentials, not the network (every retried error used to read as "cannot
/// reach", because object_store's retry message contains "retry_timeout"), and shows the
/// server's code and message instead of its XML.
#[test]
fn a_store_that_refuses_the_credentials_says_so() {
    let moto = Moto::start_checking_credentials("locked");
    let src = tempfile::tempdir().expect("tempdir");
    write_file(src.path(), "a.txt", b"x");
    for args in [vec!["log", "ds"], vec!["init", "ds"], vec!["put", "ds", src.path().to_str().expect("utf-8")]] {
        let (code, stderr) = on_s3(&moto.env(), &moto.url("p"), &args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: the store at `s3://locked/p` refused to"), "{args:?}: {stderr}");
        assert!(stderr.contains("403 Forbidden") && stderr.contains("AWS_ACCESS_KEY_ID"), "{args:?}: {stderr}");
        assert!(!stderr.contains("<?xml") && !stderr.contains("cannot reach"), "{args:?}: {stderr}");
    }
}

/// A bucket that does not exist is named as such, with how to make it; it used to read as "no
/// repo … create it with `pipe data init`", and that init then failed with raw XML.
#[test]
fn a_missing_bucket_is_named_with_how_to_make_it() {
    let moto = Moto::start("present");
    let src = tempfile::tempdir().expect("tempdir");
    write_file(src.path(), "a.txt", b"x");
    let url = "s3://absent/p";
    for args in [
        vec!["log", "ds"],
        vec!["init", "ds"],
        vec!["ls", "ds"],
        vec!["put", "ds", src.path().to_str().expect("utf-8")],
    ] {
        let (code, stderr) = on_s3(&moto.env(), url, &args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: the bucket `absent` of `s3://absent/p` does not exist"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("aws s3 mb s3://absent"), "{args:?}: {stderr}");
    }
    // The bucket that exists still says what is missing there: the repo.
    let (_, stderr) = on_s3(&moto.env(), &moto.url("p"), &["log", "ds"]);
    assert!(stderr.starts_with("error: no repo `ds`"), "{stderr}");
}

/// An endpoint that takes connections and never answers fails in seconds (two tries of the 10 s
/// read timeout), not after the 120 s request timeout.
#[test]
fn a_store_that_never_answers_fails_in_seconds() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let env = [
        ("AWS_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "x".into()),
        ("AWS_SECRET_ACCESS_KEY", "x".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let started = Instant::now();
    let (code, stderr) = on_s3(&env, "s3://bucket/p", &["log", "ds"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("error: cannot reach the store at `s3://bucket/p`: it took the connection but answered no request within 10s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(45), "gave up after {:?}", started.elapsed());
}

#[test]
fn a_pipelines_repo_inputs_resolve_to_commit_ids() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("project");
    let src = tmp.path().join("src");
    write_file(&src, "train/0.png", b"zero");
    write_file(
        &project,
        "pipeline.pipe",
        b"input digits = repo(\"mnist\") @ \"v2\"\ninput latest = repo(\"mnist\")\ninput local = dir(\"./raw\")\n\nstage s {\n  image = \"python:3.11-slim\"\n  command = [\"true\"]\n  datums = cross(glob(digits, \"/*\"), glob(latest, \"/*\"), glob(local, \"/\"))\n}\n",
    );
    let store = project.join(".pipe");
    ok(cmd(&store, &["init", "mnist"]));
    let v2 = json(cmd(&store, &["put", "mnist", src.to_str().expect("utf-8"), "--json"]))["outcome"]["commit"].clone();
    ok(cmd(&store, &["tag", "mnist", "v2"]));
    write_file(&src, "train/1.png", b"one");
    let main =
        json(cmd(&store, &["put", "mnist", src.to_str().expect("utf-8"), "--json"]))["outcome"]["commit"].clone();

    // No --store: the `.pipe` folder beside the pipeline, wherever the command runs from.
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipe"));
    c.args(["data", "resolve", "--json"])
        .arg(project.join("pipeline.pipe"))
        .current_dir(tmp.path())
        .env_remove("PIPE_STORE");
    let resolved = json(c);
    assert_eq!(resolved[0]["name"], "digits");
    assert_eq!(resolved[0]["commit"], v2);
    assert_eq!(resolved[1]["reference"], "main");
    assert_eq!(resolved[1]["commit"], main);
    assert_eq!(resolved.as_array().expect("array").len(), 2, "dir inputs are snapshotted at run time");

    write_file(&project, "other.pipe", b"input d = repo(\"mnist\") @ \"v9\"\nstage s {\n  image = \"x\"\n  command = [\"true\"]\n  datums = glob(d, \"/\")\n}\n");
    let unknown = run(cmd(&store, &["resolve", project.join("other.pipe").to_str().expect("utf-8")]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("known refs: main, v2"));
}

/// Names and messages in a store are anyone's text: `ls`, `diff` and `log` show their control
/// characters escaped, so a stored name cannot recolour, clear or rewrite the user's terminal.
#[test]
fn stored_names_cannot_drive_the_terminal() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("store");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("evil\u{1b}[31mred\u{1b}[0m\r.csv"), "x").expect("write");
    ok(cmd(&store, &["init", "r"]));
    ok(cmd(&store, &["put", "r", data.to_str().expect("utf-8"), "-m", "hi\u{1b}[2J"]));
    for args in [&["ls", "r"][..], &["log", "r"][..], &["diff", "r@main"][..]] {
        let out = run(cmd(&store, args));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{args:?} printed a control character: {text:?}");
    }
    assert!(ok(cmd(&store, &["ls", "r"])).contains("evil\\u{1b}[31mred"));
}

/// `get` never overwrites a user's edit: a file in the way that differs from the version got and
/// that pipe did not write (or that was changed since) is refused, naming it, unless `--force`;
/// files pipe wrote and nobody touched are replaced by the next version, and files already right
/// are left as they are. Also: `ls`/`get` globs that match nothing are an error, not an empty
/// success; `pipe data repos` lists the store's repos; re-tagging a commit with its own tag is a
/// no-op.
#[test]
fn get_keeps_edits_and_the_small_commands_say_what_happened() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let src = tmp.path().join("src");
    let out = tmp.path().join("out");
    let out_s = out.to_str().expect("utf-8");
    write_file(&src, "a.txt", b"one");
    write_file(&src, "b.txt", b"bee");
    ok(cmd(&store, &["init", "ds"]));
    ok(cmd(&store, &["put", "ds", src.to_str().expect("utf-8")]));
    ok(cmd(&store, &["tag", "ds", "v1"]));
    ok(cmd(&store, &["tag", "ds", "v1"]));
    write_file(&src, "a.txt", b"two");
    ok(cmd(&store, &["put", "ds", src.to_str().expect("utf-8")]));

    // A version over an untouched copy of another: replaced.
    ok(cmd(&store, &["get", "ds@v1", out_s]));
    ok(cmd(&store, &["get", "ds@main", out_s]));
    assert_eq!(std::fs::read(out.join("a.txt")).expect("read"), b"two");

    // The user edits a file: the next get refuses and writes nothing over it.
    std::fs::write(out.join("a.txt"), b"mine").expect("edit");
    let refused = run(cmd(&store, &["get", "ds@v1", out_s]));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a.txt` is in the way") && stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read(out.join("a.txt")).expect("read"), b"mine", "the edit is kept");
    // A file that already holds the wanted bytes is no conflict, edited by hand or not.
    std::fs::write(out.join("a.txt"), b"two").expect("edit back");
    ok(cmd(&store, &["get", "ds@main", out_s]));
    std::fs::write(out.join("a.txt"), b"mine").expect("edit");
    ok(cmd(&store, &["get", "ds@v1", out_s, "--force"]));
    assert_eq!(std::fs::read(out.join("a.txt")).expect("read"), b"one");

    for args in [vec!["ls", "ds", "nothing/*"], vec!["get", "ds", out_s, "nothing/*"]] {
        let none = run(cmd(&store, &args));
        let stderr = String::from_utf8_lossy(&none.stderr);
        assert_eq!(none.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("no file of `ds` matches nothing/*"), "{args:?}: {stderr}");
    }
    ok(cmd(&store, &["init", "other"]));
    let repos = ok(cmd(&store, &["repos"]));
    assert!(repos.contains("ds  main@") && repos.contains("other  (no commits)"), "{repos}");
}

/// Store errors that misled: a file given as the store said "File exists"; a repo name that is
/// one stage's output under another pipeline's name was told to `pipe data init`, which made a
/// second, empty repo.
#[test]
fn store_errors_name_the_mistake() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let out = run(cmd(&file, &["init", "ds"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is a file, not a folder") && !stderr.contains("File exists"), "{stderr}");

    let store = tmp.path().join("store");
    ok(cmd(&store, &["init", "sweep-validate.leaderboard"]));
    for (asked, meant) in
        [("pipeline.leaderboard", "sweep-validate.leaderboard"), ("leaderboard", "sweep-validate.leaderboard")]
    {
        let out = run(cmd(&store, &["log", asked]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("help: did you mean `{meant}`?")) && !stderr.contains("pipe data init"),
            "{stderr}"
        );
    }
}
