//! `pipe compile --target torchx`, proven by TorchX itself (PyPI `torchx`, installed by
//! `scripts/test.sh`): its linter and component finder accept every emitted component, each builds
//! an `AppDef`, a dry run on its Kubernetes scheduler gives a Volcano Job the Volcano schema
//! accepts, `torchx run --dryrun` takes the typed params, and `torchx run -s local_cwd` of an
//! example stage really runs the shim and the command here, then skips every datum the second time.

use pipe_tests::{compile_cases, compile_to, copy_dir, repo_root, succeeded};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn pipe(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipe")).args(args).current_dir(dir).output().expect("pipe runs")
}

fn need_torchx() {
    let found =
        Command::new("python3").args(["-c", "import torchx, kubernetes, jsonschema, kubernetes_validate"]).output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "TorchX is missing: `pip install torchx kubernetes jsonschema kubernetes-validate` (scripts/test.sh installs it)"
    );
}

fn compile(file: &Path, out: &Path, extra: &[&str]) -> BTreeMap<String, String> {
    compile_to(Path::new(env!("CARGO_BIN_EXE_pipe")), "torchx", file, out, extra)
}

#[test]
fn every_component_passes_torchx_linter_finder_and_kubernetes_dry_run() {
    need_torchx();
    let tmp = tempfile::tempdir().expect("tmp");
    let mut modules = Vec::new();
    for (name, file) in compile_cases() {
        let (a, b) = (tmp.path().join(&name), tmp.path().join(format!("{name}.again")));
        let first = compile(&file, &a, &["--unpinned"]);
        assert_eq!(first, compile(&file, &b, &["--unpinned"]), "{name}: two compilations differ");
        assert!(first.contains_key(".torchxconfig"));
        let module = first.keys().find(|f| f.ends_with(".py")).expect("a module").clone();
        if name.starts_with("example-") {
            insta::assert_snapshot!(format!("torchx-{name}"), format!("--- {module}\n{}", first[&module]));
        }
        modules.push(a.join(module));
    }
    let validators = repo_root().join("tests/validators");
    let out = succeeded(
        Command::new("python3")
            .arg(validators.join("validate_torchx.py"))
            .arg(repo_root().join("../shared/schemas"))
            .args(&modules)
            .current_dir(&validators)
            .output()
            .expect("python3 runs"),
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn torchx_run_dry_run_takes_typed_params_and_builds_the_ddp_gang() {
    need_torchx();
    let tmp = tempfile::tempdir().expect("tmp");
    compile(&repo_root().join("examples/mnist/pipeline.pipe"), tmp.path(), &["--unpinned"]);
    let out = succeeded(
        Command::new("torchx")
            .args(["run", "--workspace", "", "--dryrun", "-s", "kubernetes", "./pipeline.py:train", "--epochs", "20"])
            .current_dir(tmp.path())
            .output()
            .expect("torchx runs"),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kind: Job") && text.contains("schedulerName: volcano"), "{text}");
    assert!(text.contains("--epochs 20 --lr 0.001"), "the param reached the command: {text}");
    assert!(text.contains("name: train-0") && text.contains("name: train-1"), "two replicas: {text}");
    assert!(
        text.contains("${TORCHX_RANK0_HOST:=localhost}:29500") && text.contains("${VC_TRAIN_0_HOSTS:=localhost}:29500")
    );
    assert!(text.contains("- pipe-shim\n") && text.contains("- stage\n"), "the shim wraps the entrypoint: {text}");
    assert!(text.contains("value: '20'"), "PIPE_PARAM_epochs binds the spec: {text}");
    let bad = Command::new("torchx")
        .args(["run", "--workspace", "", "--dryrun", "-s", "kubernetes", "./pipeline.py:train", "--epochs", "many"])
        .current_dir(tmp.path())
        .output()
        .expect("torchx runs");
    assert!(!bad.status.success(), "an int param refuses `many`");
}

#[test]
fn torchx_local_cwd_runs_the_shim_and_a_second_run_skips_every_datum() {
    need_torchx();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    copy_dir(&repo_root().join("examples/mnist"), dir);
    let store = dir.join("store").to_string_lossy().into_owned();
    succeeded(pipe(dir, &["data", "init", "mnist", "--store", &store]));
    succeeded(pipe(dir, &["data", "put", "mnist", "data", "--store", &store]));
    succeeded(pipe(dir, &["data", "tag", "mnist", "v2", "--store", &store]));
    compile(&dir.join("pipeline.pipe"), &dir.join("out"), &["--store", &store]);
    let shim_dir = Path::new(env!("CARGO_BIN_EXE_pipe")).parent().expect("bin dir").to_path_buf();
    assert!(shim_dir.join("pipe-shim").exists(), "build pipe-shim: `cargo build -p pipe-shim`");
    let path = format!("{}:{}", shim_dir.display(), std::env::var("PATH").unwrap_or_default());
    let run = || {
        let out = succeeded(
            Command::new("torchx")
                .args(["run", "--workspace", "", "-s", "local_cwd", "./out/pipeline.py:preprocess", "--store", &store])
                .current_dir(dir)
                .env("PATH", &path)
                .output()
                .expect("torchx runs"),
        );
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    // What the shim did, from the run's record: TorchX's console copy of a role's output is
    // tailed from its log files by a thread, and lines written just before the role exits can
    // be missing from it (seen in CI).
    let latest = || -> (u64, u64) {
        let log = succeeded(pipe(dir, &["log", "pipeline.pipe", "--json", "-n", "1", "--store", &store]));
        let records: serde_json::Value = serde_json::from_slice(&log.stdout).expect("JSON");
        let stage = &records[0]["stages"][0];
        (stage["processed"].as_u64().expect("processed"), stage["skipped"].as_u64().expect("skipped"))
    };
    let first = run();
    assert!(first.contains("SUCCEEDED"), "{first}");
    assert_eq!(latest(), (3, 0), "{first}");
    let listing = succeeded(pipe(dir, &["data", "ls", "pipeline.preprocess", "--store", &store]));
    assert!(String::from_utf8_lossy(&listing.stdout).contains("shard-0.json"));
    let second = run();
    assert!(second.contains("SUCCEEDED"), "{second}");
    assert_eq!(latest(), (0, 3), "{second}");
}

/// TorchX's Kubernetes dry run (the Volcano Job it would submit) of a ddp stage whose name has a
/// `_`, `memory = 2Gi` and a store: replicas above 0 must point at the variable Volcano's `svc`
/// plugin sets for task 0 (`VC_<task, - as _>_HOSTS`, `pkg/controllers/job/plugins/svc/svc.go`),
/// the pod must request at least 2 GiB although TorchX takes 1,024 MB off `memMB`
/// (`RESERVED_MEMMB`), and the pods must know the store (they have no `PIPE_STORE` of their own).
#[test]
fn a_ddp_role_rendezvouses_requests_its_memory_and_knows_its_store_on_kubernetes() {
    need_torchx();
    let tmp = tempfile::tempdir().expect("tmp");
    let text = "use torchx\n\nstage train_big: torchx.ddp {\n  image  = \"pytorch/pytorch\"\n  script = \"train.py\"\n  nnodes = 2\n  memory = 2Gi\n}\n";
    std::fs::write(tmp.path().join("p.pipe"), text).expect("write");
    compile(&tmp.path().join("p.pipe"), tmp.path(), &["--unpinned", "--store", "s3://team-bucket/pipe"]);
    let out = succeeded(
        Command::new("torchx")
            .args(["run", "--workspace", "", "--dryrun", "-s", "kubernetes", "./p.py:train_big"])
            .current_dir(tmp.path())
            .output()
            .expect("torchx runs"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let yaml_start = stdout.find("apiVersion").expect("the Job's YAML");
    let job: serde_json::Value = serde_saphyr::from_str(&stdout[yaml_start..]).expect("YAML");
    let tasks = job["spec"]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    let volcano_var = format!("VC_{}_HOSTS", tasks[0]["name"].as_str().expect("name").replace('-', "_").to_uppercase());
    let rank1 = serde_json::to_string(&tasks[1]["template"]["spec"]["containers"][0]["command"]).expect("command");
    assert!(rank1.contains(&format!("${{{volcano_var}:=localhost}}")), "rank 1 waits on {volcano_var}: {rank1}");

    let container = &tasks[0]["template"]["spec"]["containers"][0];
    let request = container["resources"]["requests"]["memory"].as_str().expect("a memory request");
    let megabytes: u64 = request.trim_end_matches('M').parse().expect("TorchX writes M");
    assert!(megabytes * 1_000_000 >= 2 << 30, "requests {request}, less than 2Gi");
    let env = container["env"].as_array().expect("env");
    let store = env.iter().find(|e| e["name"] == "PIPE_STORE").expect("PIPE_STORE reaches the pod");
    assert_eq!(store["value"], "s3://team-bucket/pipe");
}

/// Params in `image` and `node_selector` reach the pod TorchX's Kubernetes scheduler builds, with
/// the values the run is given: the component read only literal labels (a param became an empty
/// label) and took an image with a param as the literal text `pytorch:${tag}`.
#[test]
fn params_in_image_and_placement_reach_torchx_s_pod() {
    need_torchx();
    let tmp = tempfile::tempdir().expect("tmp");
    let text = "use torchx\n\nparam tag: string = \"2.4\"\nparam kind: string = \"p4d\"\n\n\
                stage train: torchx.python {\n  image = \"pytorch/pytorch:${tag}\"\n  script = \"train.py\"\n\
                node_selector = { \"node.kubernetes.io/instance-type\" = \"${kind}.24xlarge\" }\n}\n";
    std::fs::write(tmp.path().join("p.pipe"), text).expect("write");
    compile(&tmp.path().join("p.pipe"), tmp.path(), &["--unpinned"]);
    let pod = |args: &[&str]| -> serde_json::Value {
        let out = succeeded(
            Command::new("torchx")
                .args(["run", "--workspace", "", "--dryrun", "-s", "kubernetes", "./p.py:train"])
                .args(args)
                .current_dir(tmp.path())
                .output()
                .expect("torchx runs"),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let job: serde_json::Value =
            serde_saphyr::from_str(&stdout[stdout.find("apiVersion").expect("the Job's YAML")..]).expect("YAML");
        job["spec"]["tasks"][0]["template"]["spec"].clone()
    };
    let defaults = pod(&[]);
    assert_eq!(defaults["containers"][0]["image"], "pytorch/pytorch:2.4");
    assert_eq!(defaults["nodeSelector"]["node.kubernetes.io/instance-type"], "p4d.24xlarge");
    let given = pod(&["--tag", "2.5", "--kind", "p5"]);
    assert_eq!(given["containers"][0]["image"], "pytorch/pytorch:2.5");
    assert_eq!(given["nodeSelector"]["node.kubernetes.io/instance-type"], "p5.24xlarge");
    let image = pod(&["--image", "registry.local/train:1"]);
    assert_eq!(image["containers"][0]["image"], "registry.local/train:1", "a given image wins");
}

/// TorchX on Kubernetes, as far as this machine allows: the Volcano Job TorchX's own scheduler
/// would submit (its dry run), each pod run as a kubelet would (`pipe_tests::sandbox`, in
/// bubblewrap) in an image that holds `pipe-shim` on its `PATH` (TorchX has no init containers),
/// against an S3 store on loopback. A first run commits the stage; a second processes nothing.
#[test]
fn torchx_kubernetes_pods_run_the_stage_against_s3_and_skip_it_the_second_time() {
    need_torchx();
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let moto = pipe_tests::servers::Moto::start("torchx");
    let store = moto.url("team");
    let pipe = |args: &[&str]| moto.pipe(Path::new(env!("CARGO_BIN_EXE_pipe")), root, args);
    for (name, body) in [("a.txt", "alpha\n"), ("b.txt", "beta\n")] {
        pipe_tests::write_file(root, &format!("data/{name}"), body.as_bytes());
    }
    pipe(&["data", "init", "letters", "--store", &store]);
    pipe(&["data", "put", "letters", "data", "--store", &store]);
    let text = "input letters = repo(\"letters\")\n\nstage upper {\n  image   = \"debian:bookworm-slim\"\n  datums  = glob(letters, \"/*\")\n  command = [\"sh\", \"-c\", \"cat $PIPE_IN_LETTERS/* | tr a-z A-Z > $PIPE_OUT/$(basename $PIPE_DATUM_LABEL)\"]\n}\n";
    pipe_tests::write_file(root, "p.pipe", text.as_bytes());
    pipe(&["compile", "p.pipe", "--target", "torchx", "-o", ".", "--store", &store]);

    let mut node = pipe_tests::sandbox::Node::new(&root.join("node"));
    let shim = pipe_tests::sandbox::static_shim(Path::new(env!("CARGO_BIN_EXE_pipe")));
    node.images.insert("debian:bookworm-slim".into(), pipe_tests::sandbox::Root::HostWith(vec![shim]));
    node.image_env.insert("debian:bookworm-slim".into(), moto.env());
    let run = |label: &str| -> String {
        let out = succeeded(
            Command::new("torchx")
                .args(["run", "--workspace", "", "--dryrun", "-s", "kubernetes", "./p.py:upper"])
                .current_dir(root)
                .output()
                .expect("torchx runs"),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let job: serde_json::Value =
            serde_saphyr::from_str(&stdout[stdout.find("apiVersion").expect("the Job")..]).expect("YAML");
        let mut logs = String::new();
        for task in job["spec"]["tasks"].as_array().expect("tasks") {
            let pod = &task["template"]["spec"];
            match node.run_pod(pod) {
                Ok((_, stderr)) => logs.push_str(&stderr),
                Err(e) => panic!("{label}: the pod of task {} failed: {e}", task["name"]),
            }
        }
        logs
    };
    let first = run("first run");
    assert!(first.contains("2 datums, 2 processed, 0 reused"), "{first}");
    let got = root.join("got");
    pipe(&["data", "get", "p.upper", got.to_str().expect("utf-8"), "--store", &store]);
    assert_eq!(std::fs::read_to_string(got.join("a.txt")).expect("output"), "ALPHA\n");
    let second = run("second run");
    assert!(second.contains("2 datums, 0 processed, 2 reused"), "nothing changed, nothing runs: {second}");
}

/// A float param reaches the command as the same text whether it comes from `pipe run` (Rust's
/// `f64` `Display`, through `pipe_core::emit::params::render`) or from a TorchX component's typed
/// argument (`_pipe_text` in the emitted Python, read back by the shim as the spec's param type
/// says): else equal values key datums differently, and a stage TorchX ran runs again under `pipe
/// run`. 2,000 random floats and the awkward ones (Python and Rust break ties between equally
/// short digits differently: 2127324910041327.25 is `…27.2` in one and `…27.3` in the other).
#[test]
fn torchx_writes_float_params_as_pipe_does() {
    need_torchx();
    let tmp = tempfile::tempdir().expect("tmp");
    let text = "param t: float = 2.0\n\nstage s {\n  image   = \"busybox\"\n  command = [\"echo\", \"${t}\"]\n}\n";
    std::fs::write(tmp.path().join("p.pipe"), text).expect("write");
    compile(&tmp.path().join("p.pipe"), tmp.path(), &[]);
    let mut floats = vec![2.0, 0.1, 1e-7, 1e16, 1e21, 123_456.789, -0.0, 5e-324, f64::MAX, f64::MIN_POSITIVE, 0.3];
    floats.push(2_127_324_910_041_327.3); // the double 2127324910041327.25
    floats.extend((0..2000).map(|_| f64::from_bits(fastrand::u64(..))).filter(|f| f.is_finite()));
    // Rust's `{:?}` of an f64 reads back exactly in Python's `float()`.
    let input: String = floats.iter().map(|f| format!("{f:?}\n")).collect();
    let script =
        "import sys\nsys.path.insert(0, '.')\nimport p\nfor line in sys.stdin:\n    print(p._pipe_text(float(line)))\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes()).expect("write");
    let out = succeeded(child.wait_with_output().expect("python3 ends"));
    let python: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(python.len(), floats.len());
    for (f, py) in floats.iter().zip(&python) {
        let pipe_run = pipe_core::emit::params::render(&pipe_core::ir::Value::Float(*f), &Default::default());
        let shim = pipe_spec::ParamType::Float.canonical(py);
        assert_eq!(shim.as_deref(), Some(pipe_run.as_str()), "{f:?}, which TorchX writes as {py}");
    }
}
