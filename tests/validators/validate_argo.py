"""Validates pipe's Argo output with tools pipe did not write.

Usage: python3 validate_argo.py SCHEMAS_DIR FILE.yaml...

For every object in the files:
- the Argo JSON schema (SCHEMAS_DIR/argo-workflows.schema.json) and the Argo CRD schema
  (SCHEMAS_DIR/argo-crd-full/<Kind>...), both with every object closed: an unknown field is an error;
- Hera's Argo models (PyPI `hera`);
- kubernetes-validate (PyPI) on the ConfigMap and on a Pod built from every pod-level fragment
  (each container template with the workflow's volumes, security context and podSpecPatch, and
  the template's own podSpecPatch, merged in);
- every resource template's manifest: the Volcano Job CRD schema (SCHEMAS_DIR/volcano/, closed)
  and kubernetes-validate on each task's pod template.
Prints one line per object; exits 1 on the first kind of failure, naming file, object and path.
"""
import copy
import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from hera.workflows import models as hera_models

K8S_VERSION = "1.33"


def closed(schema):
    """The schema with additionalProperties: false wherever an object lists its properties."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def merged(pod_spec, patch_text):
    """pod_spec with an Argo podSpecPatch merged in, as a strategic merge does for these fields:
    containers and init containers by name, their lists appended, other fields replaced."""
    if not patch_text:
        return pod_spec
    patch = json.loads(patch_text)
    out = copy.deepcopy(pod_spec)
    for field in ("initContainers", "containers"):
        for extra in patch.get(field, []):
            target = next((c for c in out.setdefault(field, []) if c["name"] == extra["name"]), None)
            if target is None:
                out[field].append(copy.deepcopy(extra))
                continue
            for key, value in extra.items():
                if isinstance(value, list):
                    target[key] = target.get(key, []) + value
                elif isinstance(value, dict):
                    target[key] = {**target.get(key, {}), **value}
                else:
                    target[key] = value
    for key, value in patch.items():
        if key not in ("initContainers", "containers"):
            out[key] = value
    return out


def errors_of(validator, obj):
    return sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))


def fail(file, what, message):
    print(f"{file}: {what}: {message}", file=sys.stderr)
    return 1


def main():
    schemas = Path(sys.argv[1])
    files = sys.argv[2:]
    argo = closed(json.loads((schemas / "argo-workflows.schema.json").read_text()))
    argo_by_kind = {
        kind: jsonschema.Draft202012Validator(
            {"$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}", "definitions": argo["definitions"]}
        )
        for kind in ("WorkflowTemplate", "Workflow", "CronWorkflow")
    }
    crd = {}
    for path in (schemas / "argo-crd-full").glob("*.json"):
        kind = path.name.split(".")[0]
        crd[kind] = jsonschema.Draft7Validator(closed(json.loads(path.read_text())["openAPIV3Schema"]))
    volcano_doc = json.loads((schemas / "volcano" / "Job.batch.volcano.sh.v1alpha1.openapi.json").read_text())
    volcano = jsonschema.Draft7Validator(closed(volcano_doc["openAPIV3Schema"]))
    hera = {
        "WorkflowTemplate": hera_models.WorkflowTemplate,
        "Workflow": hera_models.Workflow,
        "CronWorkflow": hera_models.CronWorkflow,
    }
    failures = 0
    counts = {"argo schema": 0, "argo crd": 0, "hera": 0, "kubernetes-validate": 0, "volcano": 0}

    def k8s(file, what, obj):
        nonlocal failures
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            counts["kubernetes-validate"] += 1
        except kubernetes_validate.ValidationError as e:
            failures += fail(file, what, f"kubernetes-validate: {'.'.join(map(str, e.path))}: {e.message}")

    for file in files:
        for obj in yaml.safe_load_all(Path(file).read_text()):
            if obj is None:
                continue
            kind = obj.get("kind")
            name = obj["metadata"].get("name") or obj["metadata"].get("generateName")
            what = f"{kind} {name}"
            if kind in ("ConfigMap", "ServiceAccount", "Role", "RoleBinding"):
                k8s(file, what, obj)
                continue
            for e in errors_of(argo_by_kind[kind], obj)[:3]:
                failures += fail(file, what, f"argo schema: {'.'.join(map(str, e.absolute_path))}: {e.message[:300]}")
            counts["argo schema"] += 1
            if kind in crd:
                for e in errors_of(crd[kind], obj)[:3]:
                    failures += fail(file, what, f"argo crd: {'.'.join(map(str, e.absolute_path))}: {e.message[:300]}")
                counts["argo crd"] += 1
            try:
                hera[kind].model_validate(obj) if hasattr(hera[kind], "model_validate") else hera[kind].parse_obj(obj)
                counts["hera"] += 1
            except Exception as e:  # pydantic's ValidationError, whatever its version
                failures += fail(file, what, f"hera: {e}")
            spec = obj["spec"].get("workflowSpec", obj["spec"])
            for t in spec.get("templates", []):
                if "container" in t:
                    pod_spec = {
                        "containers": [t["container"]],
                        "initContainers": t.get("initContainers", []),
                        "volumes": spec.get("volumes", []),
                        "securityContext": spec.get("securityContext", {}),
                        "nodeSelector": t.get("nodeSelector", {}),
                        "tolerations": t.get("tolerations", []),
                        "restartPolicy": "Never",
                    }
                    # Argo applies the workflow's patch, then the template's.
                    pod_spec = merged(merged(pod_spec, spec.get("podSpecPatch")), t.get("podSpecPatch"))
                    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fragment"}, "spec": pod_spec}
                    k8s(file, f"{what} template {t['name']} (as a Pod)", pod)
                if "manifest" in t.get("resource", {}):
                    job = yaml.safe_load(t["resource"]["manifest"])
                    for e in errors_of(volcano, job)[:3]:
                        failures += fail(
                            file, f"{what} template {t['name']}", f"volcano: {'.'.join(map(str, e.absolute_path))}: {e.message[:300]}"
                        )
                    counts["volcano"] += 1
                    for task in job["spec"]["tasks"]:
                        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": task["name"]}, "spec": task["template"]["spec"]}
                        k8s(file, f"{what} template {t['name']} task {task['name']} (as a Pod)", pod)
    print("validated: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f"; {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
