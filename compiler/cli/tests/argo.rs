//! `pipe compile --target argo`: every example and emit fixture compiles to YAML that tools nobody
//! on this project wrote accept (Argo's JSON schema and CRD schema with objects closed, Hera's
//! models, `@kubernetes-models/argo-workflows`, kubernetes-validate on every pod, the Volcano Job
//! schema); output is deterministic; and the workflow's own commands, run here step by step the
//! way Argo would run them, schedule one shard when one datum changed.
//!
//! The validators are installed by `scripts/test.sh` (pip: hera, kubernetes-validate, jsonschema;
//! npm: `tests/validators`); a missing one fails the test with what to install.

use pipe_tests::cluster::Cluster;
use pipe_tests::{compile_cases, compile_to, copy_dir, repo_root, succeeded, write_file};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pipe(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipe")).args(args).current_dir(dir).output().expect("pipe runs")
}

fn compile(file: &Path, out: &Path, extra: &[&str]) -> BTreeMap<String, String> {
    compile_to(Path::new(env!("CARGO_BIN_EXE_pipe")), "argo", file, out, extra)
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("emitted YAML parses")
}

fn need(tool: &str, ok: bool, install: &str) {
    assert!(ok, "{tool} is missing: {install} (scripts/test.sh installs it)");
}

/// Runs both validator scripts over `files`; panics with their report when one objects.
fn validate(files: &[PathBuf]) {
    let validators = repo_root().join("tests/validators");
    let schemas = repo_root().join("../shared/schemas");
    need(
        "../shared/schemas",
        schemas.join("argo-workflows.schema.json").exists(),
        "check out the shared schemas beside the project",
    );
    let python = Command::new("python3").args(["-c", "import hera, kubernetes_validate, jsonschema, yaml"]).output();
    need(
        "the Python validators",
        python.is_ok_and(|o| o.status.success()),
        "`pip install hera kubernetes-validate jsonschema pyyaml`",
    );
    need(
        "@kubernetes-models/argo-workflows",
        validators.join("node_modules/@kubernetes-models/argo-workflows").exists(),
        "`npm ci --prefix tests/validators`",
    );
    let report = succeeded(
        Command::new("python3")
            .arg(validators.join("validate_argo.py"))
            .arg(&schemas)
            .args(files)
            .output()
            .expect("python3 runs"),
    );
    eprintln!("{}", String::from_utf8_lossy(&report.stdout));
    let report = succeeded(
        Command::new("node").arg(validators.join("validate-argo.mjs")).args(files).output().expect("node runs"),
    );
    eprintln!("{}", String::from_utf8_lossy(&report.stdout));
}

#[test]
fn examples_and_emit_fixtures_compile_to_argo_that_third_party_validators_accept() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    let mut kinds = BTreeMap::<String, usize>::new();
    for (name, file) in compile_cases() {
        let (a, b) = (tmp.path().join(&name), tmp.path().join(format!("{name}.again")));
        let first = compile(&file, &a, &["--unpinned"]);
        let second = compile(&file, &b, &["--unpinned"]);
        assert_eq!(first, second, "{name}: two compilations differ");
        for (file_name, text) in &first {
            *kinds.entry(yaml(text)["kind"].as_str().expect("kind").to_owned()).or_default() += 1;
            files.push(a.join(file_name));
        }
        if name.starts_with("example-") {
            let all: String = first.iter().map(|(f, t)| format!("--- {f}\n{t}")).collect();
            insta::assert_snapshot!(format!("argo-{name}"), all);
        }
    }
    for kind in ["ConfigMap", "WorkflowTemplate", "Workflow", "CronWorkflow"] {
        assert!(kinds.get(kind).is_some_and(|n| *n > 0), "no {kind} among the outputs: {kinds:?}");
    }
    validate(&files);
}

/// Every pod the compiled workflows would make, built the way Argo's controller builds it and
/// checked the way the API server checks it (`pipe_tests::argo_pod`, which cites the sources).
#[test]
fn every_pod_argo_would_create_passes_the_api_servers_checks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut pods = 0;
    for (name, file) in compile_cases() {
        let files = compile(&file, &tmp.path().join(&name), &["--unpinned"]);
        let template = yaml(&files["workflow-template.yaml"]);
        for t in template["spec"]["templates"].as_array().expect("templates") {
            let tname = t["name"].as_str().expect("name");
            match pipe_tests::argo_pod::build(&template["spec"], tname) {
                Ok(Some(pod)) => {
                    pods += 1;
                    let mounts = pod["containers"][0]["volumeMounts"].as_array().map_or(0, Vec::len);
                    assert_eq!(
                        mounts, 2,
                        "{name}/{tname}: the spec volume and the shim-and-work volume are mounted: {pod}"
                    );
                    assert_eq!(pod["initContainers"][0]["name"], "pipe-shim", "{name}/{tname}: the shim is installed");
                }
                Ok(None) => {}
                Err(problems) => panic!("{name}: template `{tname}` makes a pod the cluster refuses: {problems:?}"),
            }
        }
    }
    assert!(pods > 20, "only {pods} pods checked");
}

#[test]
fn the_validators_reject_a_manifest_with_an_unknown_field() {
    let tmp = tempfile::tempdir().expect("tmp");
    let files = compile(&repo_root().join("examples/mnist/pipeline.pipe"), tmp.path(), &["--unpinned"]);
    let broken = files["workflow-template.yaml"].replace("  podGC:", "  podGc:");
    assert_ne!(broken, files["workflow-template.yaml"]);
    let path = tmp.path().join("broken.yaml");
    std::fs::write(&path, broken).expect("write");
    let out = Command::new("python3")
        .arg(repo_root().join("tests/validators/validate_argo.py"))
        .arg(repo_root().join("../shared/schemas"))
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(!out.status.success(), "the closed schema must refuse `podGc`");
    assert!(String::from_utf8_lossy(&out.stderr).contains("'podGc' was unexpected"));
}

#[test]
fn manifests_inject_the_shim_and_keep_secrets_and_params_out_of_literals() {
    let tmp = tempfile::tempdir().expect("tmp");
    let files =
        compile(&repo_root().join("examples/mnist/pipeline.pipe"), tmp.path(), &["--unpinned", "--param", "epochs=3"]);
    let template = yaml(&files["workflow-template.yaml"]);
    let templates = template["spec"]["templates"].as_array().expect("templates");
    // The template the DAG's task `run-<stage>` calls.
    let tasks =
        templates.iter().find(|t| t["name"] == "main").expect("main")["dag"]["tasks"].as_array().expect("tasks");
    let by_name = |stage: &str| {
        let task = format!("run-{}", stage.trim_start_matches("stage-"));
        let n = tasks.iter().find(|t| t["name"] == task.as_str()).expect("the task")["template"].clone();
        templates.iter().find(|t| t["name"] == n).unwrap_or_else(|| panic!("template {n}"))
    };
    // Every pod gets the shim's init container and the restrictive defaults from the patch.
    let patch: Value =
        serde_json::from_str(template["spec"]["podSpecPatch"].as_str().expect("podSpecPatch")).expect("patch JSON");
    assert_eq!(patch["initContainers"][0]["command"], serde_json::json!(["/pipe-shim", "install", "/pipe/run/bin"]));
    assert_eq!(patch["containers"][0]["name"], "main");
    assert_eq!(patch["containers"][0]["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(patch["containers"][0]["envFrom"][0]["secretRef"]["name"], "pipe-store");
    assert_eq!(template["spec"]["securityContext"]["runAsNonRoot"], true);
    let pre = by_name("stage-preprocess");
    let command: Vec<&str> =
        pre["container"]["command"].as_array().expect("command").iter().filter_map(Value::as_str).collect();
    // One shard template per shape of pod: the stage is its input, the command its spec's.
    assert_eq!(&command[..3], ["/pipe/run/bin/pipe-shim", "--spec", "/pipe/spec/{{inputs.parameters.stage}}.json"]);
    assert_eq!(&command[command.len() - 3..], ["run", "--shard", "{{inputs.parameters.shard}}"]);
    // The secret is a reference in the pod and never a value anywhere.
    let job = yaml(by_name("stage-train")["resource"]["manifest"].as_str().expect("manifest"));
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["minAvailable"], 2);
    let evaluate = by_name("stage-evaluate");
    let hf = evaluate["container"]["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "HF_TOKEN")
        .expect("HF_TOKEN");
    assert_eq!(hf["valueFrom"]["secretKeyRef"]["name"], "hf");
    assert!(hf.get("value").is_none());
    // Params are workflow arguments (strings) and reach commands as Argo expressions.
    let params = &template["spec"]["arguments"]["parameters"];
    assert_eq!(params[0]["name"], "epochs");
    assert_eq!(params[0]["value"], "10");
    assert!(files["workflow-template.yaml"].contains("--epochs '{{workflow.parameters.epochs}}'"));
    let workflow = yaml(&files["workflow.yaml"]);
    assert_eq!(workflow["spec"]["workflowTemplateRef"]["name"], "pipeline");
    assert_eq!(workflow["spec"]["arguments"]["parameters"][0]["value"], "3");
    // GPU stages ask for GPUs, select the model and tolerate the GPU taint.
    let pod = &job["spec"]["tasks"][0]["template"]["spec"];
    assert_eq!(pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"], "8");
    assert_eq!(pod["nodeSelector"]["nvidia.com/gpu.product"], "nvidia-a100-80gb");
    assert_eq!(pod["tolerations"][0]["key"], "nvidia.com/gpu");
}

#[test]
fn a_pipeline_too_large_for_kubernetes_is_a_compile_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let generated = Command::new("python3")
        .arg(repo_root().join("benches/gen_pipeline.py"))
        .arg("3000")
        .output()
        .expect("python3 runs the generator");
    let file = tmp.path().join("big.pipe");
    std::fs::write(&file, &generated.stdout).expect("write");
    let out = pipe(tmp.path(), &["compile", "big.pipe", "--target", "argo", "--unpinned", "-o", "out"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("E5007") && stderr.contains("KiB"), "{stderr}");
    assert!(!tmp.path().join("out/workflow-template.yaml").exists(), "nothing is written on error");
}

#[test]
fn compiling_pins_repo_inputs_and_snapshots_dir_inputs_into_the_store() {
    let tmp = tempfile::tempdir().expect("tmp");
    copy_dir(&repo_root().join("examples/faces"), tmp.path());
    let store = tmp.path().join("store");
    let files =
        compile(&tmp.path().join("pipeline.pipe"), &tmp.path().join("out"), &["--store", &store.to_string_lossy()]);
    let config = yaml(&files["configmap.yaml"]);
    let specs: Vec<Value> = config["data"]
        .as_object()
        .expect("data")
        .values()
        .map(|v| serde_json::from_str(v.as_str().expect("text")).expect("spec JSON"))
        .collect();
    let pinned: Vec<&Value> = specs
        .iter()
        .flat_map(|s| s["inputs"].as_array().expect("inputs"))
        .filter_map(|i| i["source"].get("repo"))
        .collect();
    assert!(!pinned.is_empty(), "the dir input became a repo input: {specs:?}");
    for repo in pinned {
        assert_eq!(repo["repo"], "pipeline.in.batches");
        assert!(repo["commit"].as_str().is_some_and(|c| c.len() == 64), "pinned to a commit: {repo}");
    }
    let log = succeeded(pipe(tmp.path(), &["data", "log", "pipeline.in.batches", "--store", &store.to_string_lossy()]));
    assert!(!log.stdout.is_empty());
}

/// A nightly CronWorkflow must read each night's data: a scheduled pipeline's branches are
/// resolved when each run plans, not when it was compiled; a tag stays the pin the user chose.
#[test]
fn a_scheduled_or_triggered_pipeline_resolves_its_branches_at_each_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let store = root.join("store").to_string_lossy().into_owned();
    for repo in ["models", "golden"] {
        succeeded(pipe(root, &["data", "init", repo, "--store", &store]));
        write_file(root, &format!("{repo}/a.txt"), b"v1\n");
        succeeded(pipe(root, &["data", "put", repo, repo, "--store", &store]));
    }
    succeeded(pipe(root, &["data", "tag", "golden", "v1", "--store", &store]));
    let text = |schedule: &str| {
        format!(
            "pipeline {{\n  name = \"nightly\"\n{schedule}}}\n\ninput models = repo(\"models\") @ \"main\"\ninput golden = repo(\"golden\") @ \"v1\"\n\nstage validate {{\n  image   = \"busybox\"\n  datums  = cross(glob(models, \"/*\"), glob(golden, \"/*\"))\n  command = [\"sh\", \"-c\", \"cat $PIPE_IN_MODELS/* > $PIPE_OUT/$PIPE_DATUM\"]\n}}\n"
        )
    };
    let sources = |name: &str, schedule: &str| -> BTreeMap<String, Value> {
        write_file(root, &format!("{name}.pipe"), text(schedule).as_bytes());
        let files = compile(&root.join(format!("{name}.pipe")), &root.join(name), &["--store", &store]);
        let config = yaml(&files["configmap.yaml"]);
        let spec: Value = serde_json::from_str(config["data"]["validate.json"].as_str().expect("spec")).expect("JSON");
        spec["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|i| (i["name"].as_str().expect("name").to_owned(), i["source"]["repo"].clone()))
            .collect()
    };
    let scheduled = sources("scheduled", "  schedule = \"0 3 * * *\"\n");
    assert!(scheduled["models"]["commit"].is_null(), "the branch is read when each run plans: {scheduled:?}");
    assert!(scheduled["golden"]["commit"].as_str().is_some_and(|c| c.len() == 64), "a tag stays pinned");
    let triggered = sources("triggered", "  trigger = [models]\n");
    assert!(triggered["models"]["commit"].is_null(), "a triggered run reads the branch it was started for");
    let once = sources("once", "");
    assert!(once["models"]["commit"].as_str().is_some(), "without a schedule, compiling pins: {once:?}");
}

/// A compiled workflow on the cluster stand-in (`pipe_tests::cluster`), with the store Secret.
fn cluster(root: &Path, files: &BTreeMap<String, String>, secret: Vec<(String, String)>) -> Cluster {
    let (template, config) = (yaml(&files["workflow-template.yaml"]), yaml(&files["configmap.yaml"]));
    Cluster::new(root, Path::new(env!("CARGO_BIN_EXE_pipe")), &template, &config, secret, BTreeMap::new())
}

#[test]
fn a_workflow_schedules_one_shard_when_one_datum_changed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path();
    let text = r#"
## The suffix each line gets.
param suffix: string = "!"

input letters = repo("letters") @ "main"

stage upper {
  image   = "busybox"
  datums  = glob(letters, "/*")
  command = ["sh", "-c", "for f in $PIPE_IN_LETTERS/*; do tr a-z A-Z < $f | sed 's/$/${suffix}/' > $PIPE_OUT/$(basename $f); done"]
}

stage total {
  image   = "busybox"
  datums  = glob(upper, "/")
  command = ["sh", "-c", "cat $PIPE_IN_UPPER/* > $PIPE_OUT/all.txt"]
}
"#;
    write_file(root, "pipeline.pipe", text.as_bytes());
    for (name, body) in [("a.txt", "alpha\n"), ("b.txt", "beta\n"), ("c.txt", "gamma\n"), ("d.txt", "delta\n")] {
        write_file(root, &format!("data/{name}"), body.as_bytes());
    }
    // The store is an S3 bucket on loopback, as pods reach a store over the network.
    let moto = pipe_tests::servers::Moto::start("cluster");
    let store = moto.url("team");
    let pipe = |args: &[&str]| moto.pipe(Path::new(env!("CARGO_BIN_EXE_pipe")), root, args);
    let put = || pipe(&["data", "put", "letters", "data", "--store", &store]);
    pipe(&["data", "init", "letters", "--store", &store]);
    put();
    let files = compile(&root.join("pipeline.pipe"), &root.join("out"), &["--unpinned"]);
    let mut secret = moto.env();
    secret.push(("PIPE_STORE".into(), store.clone()));
    let mut cluster = cluster(root, &files, secret);

    let first = cluster.submit("run-1");
    assert_eq!(first.get("run-upper"), Some(&4), "one shard per datum at first: {first:?}");
    assert_eq!(first.get("run-total"), Some(&1));
    pipe(&["data", "get", "pipeline.total", "got1", "--store", &store]);
    assert_eq!(std::fs::read_to_string(root.join("got1/all.txt")).expect("output"), "ALPHA!\nBETA!\nGAMMA!\nDELTA!\n");

    let again = cluster.submit("run-2");
    assert_eq!(again.get("run-upper"), None, "nothing changed, no shard pods: {again:?}");
    assert_eq!(again.get("run-total"), None);

    write_file(root, "data/c.txt", b"gamma ray\n");
    put();
    let third = cluster.submit("run-3");
    assert_eq!(third.get("run-upper"), Some(&1), "one datum changed, one shard: {third:?}");
    assert_eq!(third.get("run-total"), Some(&1));
    pipe(&["data", "get", "pipeline.total", "got3", "--store", &store]);
    assert_eq!(
        std::fs::read_to_string(root.join("got3/all.txt")).expect("output"),
        "ALPHA!\nBETA!\nGAMMA RAY!\nDELTA!\n"
    );
}

/// Volcano names a Job's pods `<job>-<task>-<index>` and refuses names over 63 characters
/// (`MakePodName` and `validateK8sPodNameLength` in volcano-sh/volcano); its `svc` plugin makes
/// them hostnames. Long pipeline and stage names used to give 90-character pod names. And a gang
/// whose step timed out kept running (and holding GPUs): its pods now carry a deadline.
#[test]
fn ddp_pod_names_fit_volcanos_limit_whatever_the_names() {
    let tmp = tempfile::tempdir().expect("tmp");
    let stage = "a_rather_long_stage_name_for_distributed_training_of_the_model";
    let text = format!(
        "use torchx\n\nstage {stage}: torchx.ddp {{\n  image   = \"pytorch/pytorch\"\n  script  = \"train.py\"\n  nnodes  = 12\n  timeout = 2h\n}}\n"
    );
    let file = tmp.path().join("a_pipeline_whose_name_is_also_quite_long_indeed.pipe");
    std::fs::write(&file, text).expect("write");
    let files = compile(&file, &tmp.path().join("out"), &["--unpinned"]);
    let template = yaml(&files["workflow-template.yaml"]);
    let ddp = template["spec"]["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find_map(|t| t["resource"]["manifest"].as_str())
        .expect("a resource template");
    let job: Value = serde_json::from_str(ddp).expect("the manifest is JSON");
    // The API server appends 5 random characters to `generateName`.
    let job_name = format!("{}abcde", job["metadata"]["generateName"].as_str().expect("generateName"));
    let tasks = job["spec"]["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1, "one task, a replica per node");
    let task = &tasks[0];
    assert_eq!(task["replicas"], 12);
    let task_name = task["name"].as_str().expect("name");
    for rank in 0..12 {
        let pod = format!("{job_name}-{task_name}-{rank}");
        assert!(pipe_tests::argo_pod::is_dns1123_label(&pod), "pod name `{pod}` ({} characters)", pod.len());
    }
    let var = format!("VC_{}_HOSTS", task_name.to_uppercase().replace('-', "_"));
    assert!(var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{var}");
    // The Job outlives its step; on a timeout its pods must still end and free their GPUs.
    assert_eq!(task["template"]["spec"]["activeDeadlineSeconds"], 7200 + 300, "{task_name}");
    assert_eq!(volcano_pods(&job, &job_name), 12, "Volcano admits the Job");
}

/// The pods Volcano makes of `job`, named `name`, when its webhook admits it.
fn volcano_pods(job: &Value, name: &str) -> usize {
    pipe_tests::volcano::admit(job, name).unwrap_or_else(|p| panic!("Volcano refuses the Job: {p:?}")).len()
}

/// Deploying new specs while a run is in flight must not change what that run's later pods read:
/// a Workflow keeps the template spec it started with (`status.storedWorkflowSpec`, Argo's
/// `operator.go`), so the ConfigMap it names must keep its content. It is named by it.
#[test]
fn the_specs_config_map_is_named_by_its_content() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mnist = std::fs::read_to_string(repo_root().join("examples/mnist/pipeline.pipe")).expect("read");
    let compiled = |name: &str, text: &str| {
        let dir = tmp.path().join(name);
        copy_dir(&repo_root().join("examples/mnist"), &dir);
        std::fs::write(dir.join("pipeline.pipe"), text).expect("write");
        let files = compile(&dir.join("pipeline.pipe"), &dir.join("out"), &["--unpinned"]);
        let config = yaml(&files["configmap.yaml"]);
        let name = config["metadata"]["name"].as_str().expect("name").to_owned();
        let template = yaml(&files["workflow-template.yaml"]);
        let volumes = template["spec"]["volumes"].as_array().expect("volumes");
        assert!(volumes.iter().any(|v| v["configMap"]["name"] == name.as_str()), "the template mounts {name}");
        name
    };
    let (a, same) = (compiled("a", &mnist), compiled("b", &mnist));
    let changed = compiled("c", &mnist.replacen("python:3.11-slim", "python:3.12-slim", 1));
    assert_eq!(a, same, "equal specs, equal name");
    assert_ne!(a, changed, "new specs, a new ConfigMap: runs in flight keep theirs");
    assert!(a.starts_with("pipeline-specs-") && a.len() <= 63, "{a}");
}

/// The pods' service account exists and may do exactly what they do: report step outputs
/// (`workflowtaskresults`, how a plan's result reaches `withParam`) and, with ddp stages, create,
/// read and delete Volcano Jobs. Argo's `docs/workflow-rbac.md`; `resource.go` of its executor.
#[test]
fn every_pipeline_brings_the_least_role_its_pods_need() {
    let tmp = tempfile::tempdir().expect("tmp");
    for (name, file) in compile_cases() {
        let files = compile(&file, &tmp.path().join(&name), &["--unpinned"]);
        let (account, role, binding, template) = (
            yaml(&files["service-account.yaml"]),
            yaml(&files["role.yaml"]),
            yaml(&files["role-binding.yaml"]),
            yaml(&files["workflow-template.yaml"]),
        );
        let sa = account["metadata"]["name"].as_str().expect("a name");
        assert_eq!(template["spec"]["serviceAccountName"], sa, "{name}: the pods run as the emitted account");
        assert_eq!(binding["subjects"][0]["name"], sa, "{name}");
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"], "{name}");
        let ddp =
            template["spec"]["templates"].as_array().expect("templates").iter().any(|t| t.get("resource").is_some());
        let mut expected = vec![
            serde_json::json!({"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}),
        ];
        if ddp {
            expected.push(serde_json::json!({"apiGroups": ["batch.volcano.sh"], "resources": ["jobs"], "verbs": ["create", "get", "list", "delete"]}));
        }
        assert_eq!(role["rules"].as_array().expect("rules"), &expected, "{name}");
    }
    let sweep = compile(&repo_root().join("examples/sweep/pipeline.pipe"), &tmp.path().join("sweep"), &["--unpinned"]);
    assert_eq!(yaml(&sweep["service-account.yaml"])["metadata"]["name"], "pipelines", "the account the example names");
}
