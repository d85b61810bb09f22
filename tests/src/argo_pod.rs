//! The pod Argo's controller would create for a template, and the checks the Kubernetes API server
//! makes on it before any container starts — the part of a real cluster a schema check misses.
//!
//! Takes a WorkflowTemplate's `spec` (as JSON) and a template name; gives the pod spec, or the
//! reasons the controller or the API server would refuse it. Reproduces, for the constructs pipe
//! emits:
//! - argo-workflows `workflow/controller/workflowpod.go`, `createWorkflowPod`: the pod starts from
//!   the template's `container` (named `main`), `initContainers` and `sidecars`; then
//!   `addVolumeReferences` copies into `pod.spec.volumes` exactly the volumes (template-local,
//!   then the workflow's) that those containers' `volumeMounts` name — a mount naming no known
//!   volume is "volume '…' not found in workflow spec"; only then are the workflow's and the
//!   template's `podSpecPatch` applied (`util.ApplyPodSpecPatch`), in that order, as strategic
//!   merge patches of a PodSpec.
//! - kubernetes `staging/src/k8s.io/api/core/v1/types.go` patch strategies: `containers`,
//!   `initContainers`, `volumes` and `env` merge by `name`, `volumeMounts` by `mountPath`; other
//!   lists are replaced.
//! - kubernetes `pkg/apis/core/validation/validation.go`, `ValidatePodSpec`: unique volume names;
//!   every `volumeMounts[].name` of every container and init container is a pod volume
//!   ("Not found"); container names unique DNS-1123 labels; mount paths unique per container;
//!   environment variable names are C identifiers (`validEnvVarName`: no `=`; a letter, `_`, `-`
//!   or `.` first).
//!
//! Does not: schedule, pull images, resolve `{{…}}` (the caller fills them in first if it wants),
//! or model the executor's `wait` sidecar and its own volumes (Argo adds and mounts those itself).

use serde_json::{Map, Value};

/// The pod spec Argo would submit for template `name` of workflow spec `spec`, or why it would
/// be refused. `Ok(None)`: the template makes no pod (a DAG, steps, a suspend).
pub fn build(spec: &Value, name: &str) -> Result<Option<Value>, Vec<String>> {
    let templates = spec["templates"].as_array().cloned().unwrap_or_default();
    let Some(tmpl) = templates.iter().find(|t| t["name"] == name) else {
        return Err(vec![format!("no template `{name}`")]);
    };
    let Some(main) = tmpl.get("container") else { return Ok(None) };
    let mut main = main.clone();
    main["name"] = "main".into();
    let mut pod = Map::new();
    pod.insert("containers".into(), Value::Array(vec![main]));
    let init = tmpl["initContainers"].as_array().cloned().unwrap_or_default();
    if !init.is_empty() {
        pod.insert("initContainers".into(), Value::Array(init));
    }
    if let Some(sidecars) = tmpl["sidecars"].as_array() {
        pod["containers"].as_array_mut().expect("a list").extend(sidecars.iter().cloned());
    }
    for field in ["nodeSelector", "tolerations", "securityContext", "serviceAccountName"] {
        let value = [&tmpl[field], &spec[field]].into_iter().find(|v| !v.is_null() && *v != &Value::Array(vec![]));
        if let Some(value) = value {
            pod.insert(field.into(), value.clone());
        }
    }
    let mut pod = Value::Object(pod);
    add_volume_references(&mut pod, spec, tmpl).map_err(|e| vec![e])?;
    for patch in [&spec["podSpecPatch"], &tmpl["podSpecPatch"]] {
        if let Some(text) = patch.as_str() {
            // pipe writes its patches as JSON; Argo also takes YAML, which this stand-in does not.
            let patch: Value =
                serde_json::from_str(text).map_err(|e| vec![format!("podSpecPatch is not JSON: {e}")])?;
            strategic_merge(&mut pod, &patch);
        }
    }
    let problems = validate_pod_spec(&pod);
    if problems.is_empty() { Ok(Some(pod)) } else { Err(problems) }
}

/// workflowpod.go `addVolumeReferences`.
fn add_volume_references(pod: &mut Value, spec: &Value, tmpl: &Value) -> Result<(), String> {
    let known: Vec<Value> = tmpl["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["volumes"].as_array().into_iter().flatten())
        .cloned()
        .collect();
    let mut mounts: Vec<String> = Vec::new();
    for list in ["containers", "initContainers"] {
        for c in pod[list].as_array().into_iter().flatten() {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                mounts.push(m["name"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let mut volumes: Vec<Value> = Vec::new();
    for name in mounts {
        let Some(vol) = known.iter().find(|v| v["name"] == name.as_str()) else {
            return Err(format!("volume '{name}' not found in workflow spec"));
        };
        if !volumes.iter().any(|v| v["name"] == name.as_str()) {
            volumes.push(vol.clone());
        }
    }
    if !volumes.is_empty() {
        pod["volumes"] = Value::Array(volumes);
    }
    Ok(())
}

/// The merge key of list `field` of a PodSpec, per the `patchMergeKey` tags of
/// `k8s.io/api/core/v1/types.go`.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "volumes" | "env" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        _ => None,
    }
}

/// A strategic merge patch of `patch` into `doc`, for the subset above: maps merge key by key,
/// lists with a merge key merge element by element, other lists and values replace.
fn strategic_merge(doc: &mut Value, patch: &Value) {
    let (Some(d), Some(p)) = (doc.as_object_mut(), patch.as_object()) else {
        *doc = patch.clone();
        return;
    };
    for (k, pv) in p {
        match (d.get_mut(k), merge_key(k), pv) {
            (Some(Value::Array(items)), Some(key), Value::Array(patches)) => {
                for pe in patches {
                    match items.iter_mut().find(|e| e[key] == pe[key]) {
                        Some(existing) => strategic_merge(existing, pe),
                        None => items.push(pe.clone()),
                    }
                }
            }
            (Some(existing), _, Value::Object(_)) if existing.is_object() => strategic_merge(existing, pv),
            _ => {
                d.insert(k.clone(), pv.clone());
            }
        }
    }
}

/// The checks of `ValidatePodSpec` that pipe's pods can run into.
pub fn validate_pod_spec(pod: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let volumes: Vec<&str> =
        pod["volumes"].as_array().into_iter().flatten().filter_map(|v| v["name"].as_str()).collect();
    for (i, v) in volumes.iter().enumerate() {
        if volumes[..i].contains(v) {
            problems.push(format!("spec.volumes[{i}].name: Duplicate value: \"{v}\""));
        }
    }
    let mut names = Vec::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in pod[list].as_array().into_iter().flatten().enumerate() {
            let at = format!("spec.{list}[{i}]");
            let name = c["name"].as_str().unwrap_or_default();
            if !is_dns1123_label(name) {
                problems.push(format!("{at}.name: Invalid value: \"{name}\": not a DNS-1123 label"));
            }
            if names.contains(&name) {
                problems.push(format!("{at}.name: Duplicate value: \"{name}\""));
            }
            names.push(name);
            let mut paths = Vec::new();
            for (j, m) in c["volumeMounts"].as_array().into_iter().flatten().enumerate() {
                let vol = m["name"].as_str().unwrap_or_default();
                if !volumes.contains(&vol) {
                    problems.push(format!("{at}.volumeMounts[{j}].name: Not found: \"{vol}\""));
                }
                let path = m["mountPath"].as_str().unwrap_or_default();
                if paths.contains(&path) {
                    problems
                        .push(format!("{at}.volumeMounts[{j}].mountPath: Invalid value: \"{path}\": must be unique"));
                }
                paths.push(path);
            }
            for (j, e) in c["env"].as_array().into_iter().flatten().enumerate() {
                let n = e["name"].as_str().unwrap_or_default();
                let first_ok = n.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic() || "_-.".contains(ch));
                if !first_ok || n.contains('=') || !n.chars().all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
                {
                    problems
                        .push(format!("{at}.env[{j}].name: Invalid value: \"{n}\": a valid environment variable name"));
                }
            }
        }
    }
    problems
}

/// `IsDNS1123Label`: at most 63 of `[a-z0-9-]`, starting and ending alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_mount_only_in_the_workflow_patch_names_no_pod_volume() {
        // What pipe emitted before: volumes declared on the workflow, mounted only by the patch.
        let spec = json!({
            "volumes": [{"name": "pipe-bin", "emptyDir": {}}],
            "podSpecPatch": r#"{"containers":[{"name":"main","volumeMounts":[{"name":"pipe-bin","mountPath":"/pipe/bin"}]}]}"#,
            "templates": [{"name": "t", "container": {"image": "x"}}],
        });
        let err = build(&spec, "t").expect_err("refused");
        assert_eq!(err, ["spec.containers[0].volumeMounts[0].name: Not found: \"pipe-bin\""]);
        let mut fixed = spec.clone();
        fixed["templates"][0]["container"]["volumeMounts"] = json!([{"name": "pipe-bin", "mountPath": "/pipe/bin"}]);
        let pod = build(&fixed, "t").expect("accepted").expect("a pod");
        assert_eq!(pod["volumes"][0]["name"], "pipe-bin");
        assert_eq!(pod["containers"][0]["volumeMounts"].as_array().expect("mounts").len(), 1, "merged by mountPath");
    }

    #[test]
    fn patches_merge_containers_by_name_and_env_by_name() {
        let spec = json!({
            "podSpecPatch": r#"{"initContainers":[{"name":"i","image":"s"}],"containers":[{"name":"main","env":[{"name":"A","value":"2"},{"name":"B","value":"1"}]}]}"#,
            "templates": [{"name": "t", "container": {"image": "x", "env": [{"name": "A", "value": "1"}]},
                           "podSpecPatch": r#"{"containers":[{"name":"main","resources":{"limits":{"cpu":"1"}}}]}"#}],
        });
        let pod = build(&spec, "t").expect("accepted").expect("a pod");
        assert_eq!(pod["containers"][0]["env"], json!([{"name": "A", "value": "2"}, {"name": "B", "value": "1"}]));
        assert_eq!(pod["containers"][0]["resources"]["limits"]["cpu"], "1");
        assert_eq!(pod["initContainers"][0]["name"], "i");
        let mut bad = spec.clone();
        bad["templates"][0]["container"]["env"][0]["name"] = "1A".into();
        assert!(build(&bad, "t").is_err());
    }
}
