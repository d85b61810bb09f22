"""Validates pipe's TorchX output with TorchX itself.

Usage: python3 validate_torchx.py SCHEMAS_DIR MODULE.py...

For every component function (top-level `def` not starting with `_`) of every module:
- TorchX's component linter (`torchx.specs.file_linter.validate`) reports nothing;
- TorchX's component finder loads it (`torchx.specs.finder.get_component("FILE:FN")`) and calling
  it with its defaults builds an `AppDef`;
- a dry run on TorchX's Kubernetes scheduler gives a Volcano Job that the Volcano CRD schema
  (SCHEMAS_DIR/volcano/, every object closed) accepts, and each task's pod passes
  kubernetes-validate.
Prints one line per module; exits 1 naming module, component and problem on failure.
"""
import ast
import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
from torchx.runner import get_runner
from torchx.schedulers.kubernetes_scheduler import sanitize_for_serialization
from torchx.specs import AppDef, file_linter, finder

from validate_argo import K8S_VERSION, closed


def main():
    schemas = Path(sys.argv[1])
    volcano_doc = json.loads((schemas / "volcano" / "Job.batch.volcano.sh.v1alpha1.openapi.json").read_text())
    volcano = jsonschema.Draft7Validator(closed(volcano_doc["openAPIV3Schema"]))
    runner = get_runner()
    failures = 0
    for module in sys.argv[2:]:
        tree = ast.parse(Path(module).read_text())
        names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]
        if not names:
            print(f"{module}: no component functions", file=sys.stderr)
            failures += 1
        for name in names:
            where = f"{module}:{name}"
            lint = file_linter.validate(module, name)
            if lint:
                print(f"{where}: linter: {[m.description for m in lint]}", file=sys.stderr)
                failures += 1
                continue
            app = finder.get_component(where).fn()
            if not isinstance(app, AppDef):
                print(f"{where}: gives {type(app)}, not an AppDef", file=sys.stderr)
                failures += 1
                continue
            request = runner.dryrun(app, "kubernetes", cfg={"queue": "default"}).request
            job = sanitize_for_serialization(request.resource)
            for e in sorted(volcano.iter_errors(job), key=lambda e: list(e.absolute_path))[:3]:
                print(f"{where}: volcano: {'.'.join(map(str, e.absolute_path))}: {e.message[:300]}", file=sys.stderr)
                failures += 1
            for task in job["spec"]["tasks"]:
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": task["name"]}, "spec": task["template"]["spec"]}
                try:
                    kubernetes_validate.validate(json.loads(json.dumps(pod)), K8S_VERSION, strict=True)
                except kubernetes_validate.ValidationError as e:
                    print(f"{where}: task {task['name']}: kubernetes-validate: {e.message}", file=sys.stderr)
                    failures += 1
        print(f"{module}: {len(names)} component(s) checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
