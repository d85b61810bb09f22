//! `pipe deploy` and `pipe status` against the strict test API server (`pipe_tests::kube_api`),
//! over real HTTP through a generated kubeconfig, so kube's own config loading, discovery,
//! server-side apply and watch code runs: deploying, re-deploying without changes, following a
//! workflow through a watch that drops, and one test per failure the command must explain.

use pipe_tests::kube_api::{KubeApi, Rules, kubeconfig};
use pipe_tests::repo_root;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const TOKEN: &str = "s3cret";

struct Setup {
    api: KubeApi,
    dir: tempfile::TempDir,
}

fn rules() -> Rules {
    Rules { token: TOKEN.into(), argo: true, namespaces: ["team".to_owned()].into(), ..Rules::default() }
}

fn setup(rules: Rules, token: &str) -> Setup {
    let api = KubeApi::start(rules);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("kubeconfig"), api.kubeconfig(token, "team")).expect("kubeconfig");
    Setup { api, dir }
}

fn pipeline() -> PathBuf {
    repo_root().join("examples/mnist/pipeline.pipe")
}

/// `pipe ARGS` with `kubeconfig` as its KUBECONFIG.
fn command(kubeconfig: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipe"));
    c.args(args).env("KUBECONFIG", kubeconfig).env_remove("PIPE_STORE");
    c
}

/// `pipe deploy --watch` of the example, started in the background.
fn spawn_deploy_watch(kubeconfig: &Path) -> std::process::Child {
    let file = pipeline();
    command(kubeconfig, &["deploy", file.to_str().expect("utf-8"), "--unpinned", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pipe runs")
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        command(&self.dir.path().join("kubeconfig"), args)
    }

    fn pipe(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("pipe runs")
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        let file = pipeline();
        let mut args = vec!["deploy", file.to_str().expect("utf-8"), "--unpinned"];
        args.extend(extra);
        self.pipe(&args)
    }
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn deploy_applies_submits_and_redeploying_changes_nothing() {
    let s = setup(rules(), TOKEN);
    let first = s.deploy(&[]);
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stderr}");
    let name = stdout.trim();
    assert!(name.starts_with("pipeline-"), "prints the workflow's name: {stdout}");
    let template = s.api.get("workflowtemplates", "team", "pipeline").expect("the template is applied");
    let specs_name = |s: &Setup| {
        let names = s.api.names("configmaps");
        assert_eq!(names.len(), 1, "one ConfigMap of specs: {names:?}");
        assert!(names[0].starts_with("pipeline-specs-"), "named by content: {names:?}");
        names[0].clone()
    };
    let config = s.api.get("configmaps", "team", &specs_name(&s)).expect("the specs are applied");
    assert!(config["data"]["train.json"].as_str().is_some_and(|t| t.contains("\"stage\":\"train\"")));
    assert_eq!(
        s.api.get("workflows", "team", name).expect("submitted")["spec"]["workflowTemplateRef"]["name"],
        "pipeline"
    );
    let applies: Vec<String> = s.api.requests().into_iter().filter(|r| r.starts_with("PATCH")).collect();
    assert!(applies.iter().all(|r| r.contains("fieldManager=pipe")), "{applies:?}");

    let second = s.deploy(&[]);
    assert!(second.status.success(), "{}", text(&second).1);
    let again = s.api.get("workflowtemplates", "team", "pipeline").expect("template");
    assert_eq!(again["metadata"]["resourceVersion"], template["metadata"]["resourceVersion"], "unchanged apply");
    let config_again = s.api.get("configmaps", "team", &specs_name(&s)).expect("specs");
    assert_eq!(config_again["metadata"]["resourceVersion"], config["metadata"]["resourceVersion"]);
    assert_eq!(s.api.names("workflows").len(), 2, "each deploy submits a workflow");

    let dry = s.deploy(&["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry).1);
    assert_eq!(s.api.names("workflows").len(), 2, "a dry run stores nothing");
}

/// Regression: a scheduled pipeline's CronWorkflow was written by `pipe compile` but never
/// applied by `pipe deploy`, so its schedule never ran; a triggered pipeline's checks need one too.
#[test]
fn deploy_installs_the_cron_workflow_of_a_schedule_or_a_trigger() {
    let s = setup(rules(), TOKEN);
    let sweep = repo_root().join("examples/sweep/pipeline.pipe");
    let out = s.pipe(&["deploy", sweep.to_str().expect("utf-8"), "--unpinned", "--namespace", "team"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let cron = s.api.get("cronworkflows", "team", "sweep-validate").expect("the schedule is installed");
    assert_eq!(cron["spec"]["schedules"], json!(["0 3 * * *"]));
    assert_eq!(cron["spec"]["workflowSpec"]["workflowTemplateRef"]["name"], "sweep-validate");

    let triggered = s.dir.path().join("validate.pipe");
    std::fs::write(
        &triggered,
        "input models = repo(\"models\")\n\npipeline {\n  trigger = [models]\n  poll    = 10m\n}\n\nstage check {\n  image   = \"busybox\"\n  command = [\"true\"]\n  datums  = glob(models, \"/*\")\n}\n",
    )
    .expect("write");
    let out = s.pipe(&["deploy", triggered.to_str().expect("utf-8"), "--unpinned", "--namespace", "team"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("applied CronWorkflow team/validate"), "{stderr}");
    let cron = s.api.get("cronworkflows", "team", "validate").expect("the checks are installed");
    assert_eq!(cron["spec"]["schedules"], json!(["*/10 * * * *"]));
    assert_eq!(cron["spec"]["startingDeadlineSeconds"], 600);
    let first = s.api.get("workflows", "team", stdout.trim()).expect("the first check is submitted");
    assert_eq!(first["spec"]["workflowTemplateRef"]["name"], "validate");
    // `pipe status` says what the check found.
    let mut trigger = node("trigger", "Succeeded", "");
    trigger["outputs"] = json!({"result": "skip"});
    s.api.set_status("team", stdout.trim(), json!({"phase": "Succeeded", "nodes": {"a": trigger}}));
    for args in [vec!["status"], vec!["status", stdout.trim()]] {
        let out = s.pipe(&args);
        let (listed, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(listed.contains("trigger: skipped, no new commit"), "{args:?}: {listed}");
    }
}

fn node(name: &str, phase: &str, message: &str) -> serde_json::Value {
    json!({"displayName": name, "type": "Pod", "phase": phase, "message": message})
}

/// Runs `pipe deploy --watch` while `drive` plays Argo's controller; gives the deploy's output.
fn watch(s: &Setup, drive: impl FnOnce(&KubeApi, &str)) -> Output {
    let child = spawn_deploy_watch(&s.dir.path().join("kubeconfig"));
    let started = std::time::Instant::now();
    let name = loop {
        if let Some(n) = s.api.names("workflows").first() {
            break n.clone();
        }
        assert!(started.elapsed().as_secs() < 30, "no workflow was submitted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // Let the client start watching before anything changes.
    while !s.api.requests().iter().any(|r| r.contains("watch=true")) {
        assert!(started.elapsed().as_secs() < 30, "the client never watched");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drive(&s.api, &name);
    child.wait_with_output().expect("pipe ends")
}

#[test]
fn watch_follows_the_workflow_to_success_and_resumes_when_the_watch_ends() {
    let s = setup(Rules { cut_watch_after: Some(1), ..rules() }, TOKEN);
    let out = watch(&s, |api, name| {
        let statuses = [
            json!({"phase": "Running", "nodes": {"a": node("plan-preprocess", "Running", "")}}),
            json!({"phase": "Running", "nodes": {
                "a": node("plan-preprocess", "Succeeded", ""), "b": node("run-preprocess(0:0)", "Running", "")}}),
            json!({"phase": "Succeeded", "nodes": {
                "a": node("plan-preprocess", "Succeeded", ""), "b": node("run-preprocess(0:0)", "Succeeded", "")}}),
        ];
        for (i, status) in statuses.into_iter().enumerate() {
            if i > 0 {
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
            api.set_status("team", name, status);
        }
    });
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("Succeeded") && stdout.contains("run-preprocess(0:0)"), "{stdout}");
    let watches: Vec<String> = s.api.requests().into_iter().filter(|r| r.contains("watch=true")).collect();
    assert!(watches.len() >= 3, "each ended watch is resumed: {watches:?}");
    let versions: Vec<u64> = watches
        .iter()
        .filter_map(|r| r.split("resourceVersion=").nth(1))
        .filter_map(|v| v.split('&').next()?.parse().ok())
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "each resumes from the last version seen: {versions:?}");
}

#[test]
fn a_failed_workflow_exits_1_naming_the_failing_step() {
    let s = setup(rules(), TOKEN);
    let out = watch(&s, |api, name| {
        api.set_status("team", name, json!({"phase": "Failed", "message": "child failed", "nodes": {
            "a": node("plan-preprocess", "Succeeded", ""),
            "b": node("run-preprocess(1:1)", "Failed", "Error (exit code 1): datum digits:/train/shard-1.csv failed")}}));
    });
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("step `run-preprocess(1:1)` failed: Error (exit code 1)"), "{stderr}");
    let name = stdout.lines().next().expect("the name").to_owned();
    let status = s.pipe(&["status", &name]);
    let (shown, why) = text(&status);
    assert_eq!(status.status.code(), Some(1));
    assert!(shown.contains("run-preprocess(1:1)") && shown.contains("Failed"), "{shown}");
    assert!(why.contains("help: `pipe status"), "{why}");
}

#[test]
fn a_watch_from_a_version_the_server_forgot_reads_the_workflow_again() {
    let s = setup(Rules { cut_watch_after: Some(1), ..rules() }, TOKEN);
    let out = watch(&s, |api, name| {
        api.set_status("team", name, json!({"phase": "Running", "nodes": {}}));
        std::thread::sleep(std::time::Duration::from_millis(200));
        let running = json!({"phase": "Running", "nodes": {"a": node("plan-preprocess", "Running", "")}});
        api.set_statuses_and_compact("team", name, vec![running, json!({"phase": "Succeeded", "nodes": {}})]);
    });
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let reads = s.api.requests().iter().filter(|r| r.starts_with("GET /workflows/team/")).count();
    assert!(reads >= 2, "after 410 Gone the workflow is read again: {:?}", s.api.requests());
}

fn fails_with(s: &Setup, out: &Output, needles: &[&str]) {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "`{n}` missing from:\n{stderr}");
    }
    assert!(stderr.contains("help:"), "{stderr}");
    assert!(!s.api.names("workflows").iter().any(|_| true), "nothing is submitted after an error");
}

#[test]
fn no_reachable_cluster() {
    let s = setup(rules(), TOKEN);
    let port = pipe_tests::servers::free_port();
    let config = s.api.kubeconfig(TOKEN, "team").replace(&s.api.url, &format!("http://127.0.0.1:{port}"));
    std::fs::write(s.dir.path().join("kubeconfig"), config).expect("kubeconfig");
    fails_with(&s, &s.deploy(&[]), &["no cluster answers at http://127.0.0.1", "kubectl cluster-info"]);
}

#[test]
fn expired_credentials() {
    let s = setup(rules(), "expired-token");
    fails_with(&s, &s.deploy(&[]), &["rejected the credentials (401)", "log in again"]);
}

#[test]
fn forbidden_names_the_verb_and_resource() {
    let s = setup(Rules { forbidden: Some(("patch".into(), "workflowtemplates".into())), ..rules() }, TOKEN);
    fails_with(
        &s,
        &s.deploy(&[]),
        &[
            "forbidden to patch workflowtemplates in namespace `team` (403)",
            "kubectl auth can-i patch workflowtemplates -n team",
        ],
    );
}

#[test]
fn a_deployer_who_may_not_grant_the_pods_rights_is_told_which() {
    // Creating the Role the pods need takes the right to manage roles in the namespace.
    let s = setup(Rules { forbidden: Some(("patch".into(), "roles".into())), ..rules() }, TOKEN);
    fails_with(
        &s,
        &s.deploy(&[]),
        &["forbidden to patch roles in namespace `team` (403)", "kubectl auth can-i patch roles -n team"],
    );
    assert!(s.api.names("workflows").is_empty(), "nothing is submitted that could not run");
}

#[test]
fn missing_namespace() {
    let s = setup(rules(), TOKEN);
    fails_with(
        &s,
        &s.deploy(&["--namespace", "nowhere"]),
        &["namespace `nowhere` does not exist", "kubectl create namespace nowhere"],
    );
}

#[test]
fn argo_not_installed() {
    let s = setup(Rules { argo: false, ..rules() }, TOKEN);
    fails_with(&s, &s.deploy(&[]), &["Argo Workflows is not installed", "install Argo Workflows"]);
}

#[test]
fn a_rejected_object_shows_the_server_s_message() {
    let message = "spec.templates[0].name: Invalid value: \"x\": too long";
    let s = setup(Rules { reject: Some(("workflowtemplates".into(), message.into())), ..rules() }, TOKEN);
    fails_with(&s, &s.deploy(&[]), &["rejected workflowtemplates `pipeline` (422)", "too long"]);
}

#[test]
fn status_without_a_kubeconfig_says_where_to_find_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["status", "x"])
        .env("KUBECONFIG", dir.path().join("missing"))
        .env("HOME", dir.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("pipe runs");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no Kubernetes configuration") && stderr.contains("KUBECONFIG"), "{stderr}");
}

#[test]
fn against_kmock_deploy_updates_a_previous_deploy_submits_and_watches_to_success() {
    let k = pipe_tests::servers::Kmock::start();
    // A namespace where the pipeline was deployed before: its objects exist, stale. (kmock applies
    // only to objects that exist, so the seeds have the names of the objects this deploy applies.)
    let json = "application/json";
    let compiled = tempfile::tempdir().expect("tmp");
    let files = pipe_tests::compile_to(
        Path::new(env!("CARGO_BIN_EXE_pipe")),
        "argo",
        &pipeline(),
        compiled.path(),
        &["--unpinned"],
    );
    for (file, collection) in [
        ("service-account.yaml", "/api/v1/namespaces/team/serviceaccounts"),
        ("role.yaml", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles"),
        ("role-binding.yaml", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings"),
        ("configmap.yaml", "/api/v1/namespaces/team/configmaps"),
    ] {
        let mut seed: serde_json::Value = serde_saphyr::from_str(&files[file]).expect("YAML");
        seed["metadata"] = json!({"name": seed["metadata"]["name"], "namespace": "team"});
        for stale in ["data", "rules", "subjects"] {
            seed.as_object_mut().expect("an object").remove(stale);
        }
        let (code, body) = k.request("POST", collection, json, &seed.to_string());
        assert!(code < 300, "kmock refused the seed {file} ({code}): {body}");
    }
    let (code, body) = k.request(
        "POST",
        "/apis/argoproj.io/v1alpha1/namespaces/team/workflowtemplates",
        json,
        r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"WorkflowTemplate","metadata":{"name":"pipeline","namespace":"team"},"spec":{"entrypoint":"old"}}"#,
    );
    assert!(code < 300, "kmock refused the seed WorkflowTemplate ({code}): {body}");
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig(&k.url, "any", "team")).expect("kubeconfig");
    let child = spawn_deploy_watch(&dir.path().join("kubeconfig"));
    let started = std::time::Instant::now();
    let name = loop {
        let (_, list) = k.request("GET", "/apis/argoproj.io/v1alpha1/namespaces/team/workflows", json, "");
        let list: serde_json::Value = serde_json::from_str(&list).unwrap_or_default();
        if let Some(n) = list["items"][0]["metadata"]["name"].as_str() {
            break n.to_owned();
        }
        assert!(started.elapsed().as_secs() < 30, "no workflow was submitted to kmock");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let path = format!("/apis/argoproj.io/v1alpha1/namespaces/team/workflows/{name}");
    let merge = "application/merge-patch+json";
    let running = json!({"status": {"phase": "Running", "nodes": {"a": node("plan-preprocess", "Running", "")}}});
    k.request("PATCH", &path, merge, &running.to_string());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let done = json!({"status": {"phase": "Succeeded", "nodes": {"a": node("plan-preprocess", "Succeeded", "")}}});
    k.request("PATCH", &path, merge, &done.to_string());
    let out = child.wait_with_output().expect("pipe ends");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with(&name) && stdout.contains("Succeeded"), "{stdout}");
    let (_, configs) = k.request("GET", "/api/v1/namespaces/team/configmaps", json, "");
    let configs: serde_json::Value = serde_json::from_str(&configs).expect("JSON");
    let applied = configs["items"].as_array().expect("items").iter().any(|c| {
        c["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("pipeline-specs-"))
            && c["data"]["train.json"].is_string()
    });
    assert!(applied, "the ConfigMap of specs was applied: {configs}");
    let (_, template) =
        k.request("GET", "/apis/argoproj.io/v1alpha1/namespaces/team/workflowtemplates/pipeline", json, "");
    let template: serde_json::Value = serde_json::from_str(&template).expect("JSON");
    assert_eq!(template["spec"]["entrypoint"], "main", "the WorkflowTemplate was applied");
    let (_, role) =
        k.request("GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles/pipeline-pipe", json, "");
    assert!(role.contains("workflowtaskresults"), "the Role was applied: {role}");
}

#[test]
fn a_taken_workflow_name_is_picked_again_and_names_taken_every_time_are_a_conflict() {
    let s = setup(Rules { taken_creates: 2, ..rules() }, TOKEN);
    let out = s.deploy(&[]);
    assert!(out.status.success(), "{}", text(&out).1);
    let creates = s.api.requests().iter().filter(|r| r.starts_with("POST /workflows/")).count();
    assert_eq!(creates, 3, "two names were taken, the third was free");

    let s = setup(Rules { taken_creates: 100, ..rules() }, TOKEN);
    fails_with(&s, &s.deploy(&[]), &["conflicts (409)", "run `pipe deploy` again"]);
}

#[test]
fn status_without_a_name_lists_pipe_s_workflows_by_label() {
    let s = setup(rules(), TOKEN);
    let names: Vec<String> = (0..2)
        .map(|_| {
            let out = s.deploy(&[]);
            assert!(out.status.success(), "{}", text(&out).1);
            text(&out).0.trim().to_owned()
        })
        .collect();
    let foreign = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                         "metadata": {"name": "someone-else", "namespace": "team", "labels": {"team": "other"}}});
    s.api.put_foreign("workflows", "team", "someone-else", foreign);
    let out = s.pipe(&["status"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for name in &names {
        assert!(stdout.contains(name.as_str()), "{name} missing from:\n{stdout}");
    }
    assert!(!stdout.contains("someone-else"), "{stdout}");
    assert!(
        s.api.requests().iter().any(|r| r.contains("labelSelector=app.kubernetes.io/managed-by=pipe")),
        "{:?}",
        s.api.requests()
    );
}
