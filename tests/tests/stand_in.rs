//! The cluster stand-in refuses what the real parts refuse: a deliberately broken object of each
//! kind it checks fails, with the reason the upstream gives. (A stand-in that accepts everything
//! proves nothing.)

use pipe_tests::{argo_pod, sandbox, volcano};
use serde_json::{Value, json};

fn workflow(container_mounts: Value, patch: &str) -> Value {
    json!({
        "volumes": [{"name": "pipe-spec", "configMap": {"name": "specs"}}],
        "podSpecPatch": patch,
        "templates": [{"name": "t", "container": {"image": "busybox", "command": ["true"], "volumeMounts": container_mounts}}],
    })
}

#[test]
fn argo_refuses_a_mount_of_no_volume_and_the_api_server_a_patch_mounting_one() {
    let unknown = workflow(json!([{"name": "nowhere", "mountPath": "/x"}]), "{}");
    let err = argo_pod::build(&unknown, "t").expect_err("no such volume");
    assert!(err[0].contains("volume 'nowhere' not found in workflow spec"), "{err:?}");
    // Defect 1 of the cluster issue: mounts only in the patch, so Argo never copies the volume.
    let patched = workflow(
        json!([]),
        r#"{"containers":[{"name":"main","volumeMounts":[{"name":"pipe-spec","mountPath":"/pipe/spec"}]}]}"#,
    );
    let err = argo_pod::build(&patched, "t").expect_err("the API server refuses it");
    assert!(err.iter().any(|e| e.contains("pipe-spec") && e.contains("Not found")), "{err:?}");
    let fine = workflow(json!([{"name": "pipe-spec", "mountPath": "/pipe/spec"}]), "{}");
    assert!(argo_pod::build(&fine, "t").is_ok());
}

#[test]
fn the_api_server_refuses_duplicate_containers_and_bad_env_names() {
    let pod = json!({"containers": [
        {"name": "main", "image": "i", "env": [{"name": "A=B", "value": "x"}]},
        {"name": "main", "image": "i"},
    ]});
    let problems = argo_pod::validate_pod_spec(&pod);
    assert!(problems.iter().any(|p| p.contains("Duplicate") || p.contains("duplicate")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("A=B")), "{problems:?}");
}

fn job(task: &str, replicas: i64, min_available: i64) -> Value {
    json!({"spec": {"minAvailable": min_available, "tasks": [
        {"name": task, "replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
    ]}})
}

#[test]
fn volcano_refuses_long_pod_names_bad_tasks_and_more_than_its_replicas() {
    assert!(volcano::admit(&job("train-0", 1, 1), "pipeline-train-abcde").is_ok());
    let long = volcano::admit(&job("a-rather-long-task-name-0", 1, 1), "a-pipeline-with-quite-a-long-name-abcde")
        .expect_err("a 63+ character pod name");
    assert!(long.iter().any(|p| p.contains("no more than 63 characters")), "{long:?}");
    let bad = volcano::admit(&job("Train_0", 1, 1), "j").expect_err("not a DNS-1123 label");
    assert!(bad.iter().any(|p| p.contains("DNS-1123")), "{bad:?}");
    let gang = volcano::admit(&job("t", 1, 2), "j").expect_err("minAvailable over the replicas");
    assert!(gang.iter().any(|p| p.contains("minAvailable")), "{gang:?}");
    let mut twice = job("t", 1, 1);
    let task = twice["spec"]["tasks"][0].clone();
    twice["spec"]["tasks"].as_array_mut().expect("tasks").push(task);
    let dup = volcano::admit(&twice, "j").expect_err("a task twice");
    assert!(dup.iter().any(|p| p.contains("duplicated task name")), "{dup:?}");
}

#[test]
fn the_kubelet_refuses_a_missing_secret_and_root_under_run_as_non_root() {
    let node = sandbox::Node::new(tempfile::tempdir().expect("tmp").path());
    let missing = json!({"containers": [{"name": "main", "image": "i", "command": ["true"],
        "envFrom": [{"secretRef": {"name": "pipe-store"}}]}]});
    let err = node.run_pod(&missing).expect_err("no such secret");
    assert!(err.contains("CreateContainerConfigError") && err.contains("pipe-store"), "{err}");
    let root = json!({"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "main", "image": "i", "command": ["true"]}]});
    let err = node.run_pod(&root).expect_err("uid 0");
    assert!(err.contains("runAsNonRoot"), "{err}");
}

#[test]
fn the_kubelet_expands_commands_as_kubernetes_does() {
    let vars = [("VC_TASK_INDEX", "1"), ("A", "x")].into_iter().collect();
    assert_eq!(sandbox::expand("--rank=$(VC_TASK_INDEX)", &vars), "--rank=1");
    assert_eq!(sandbox::expand("$(MISSING) $$(A) $$ $A ${A}", &vars), "$(MISSING) $(A) $ $A ${A}");
}

#[test]
fn the_kubelet_keeps_a_read_only_root_read_only() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = sandbox::Node::new(tmp.path());
    let pod = |read_only: bool| {
        json!({"volumes": [{"name": "w", "emptyDir": {}}], "containers": [{"name": "main", "image": "i",
            "command": ["sh", "-c", "touch /w/ok && touch /tmp/x"],
            "securityContext": {"readOnlyRootFilesystem": read_only},
            "volumeMounts": [{"name": "w", "mountPath": "/w"}]}]})
    };
    assert!(node.run_pod(&pod(false)).is_ok());
    let err = node.run_pod(&pod(true)).expect_err("/tmp is read-only");
    assert!(err.contains("Read-only file system"), "{err}");
}
