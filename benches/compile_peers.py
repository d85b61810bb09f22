#!/usr/bin/env python3
"""Builds the DAG of a generated pipeline with a peer's SDK and writes its Argo-style YAML.

Usage: compile_peers.py kfp|hera SHAPE.json OUT.yaml
SHAPE.json comes from `gen_pipeline.py N --shape SHAPE.json`: per stage its name, image, command,
cpu, memory and the stages it reads. Each stage becomes one container step that runs after the
stages it reads: a KFP container component compiled by KFP's compiler, or a Hera `Container`
template called in a `DAG`, rendered with `to_yaml()`. Prints the seconds spent after imports
(building plus compiling), so the import cost can be told apart from the compile.
"""
import json
import sys
import time


def kfp_build(shape, out):
    from kfp import compiler, dsl

    def component(stage):
        def step():
            return dsl.ContainerSpec(image=stage["image"], command=stage["command"])

        step.__name__ = stage["name"]
        return dsl.container_component(step)

    components = {s["name"]: component(s) for s in shape}

    @dsl.pipeline(name="generated")
    def pipeline():
        tasks = {}
        for s in shape:
            task = components[s["name"]]()
            task.set_cpu_request(s["cpu"]).set_memory_request(s["memory"])
            for upstream in s["reads"]:
                task.after(tasks[upstream])
            tasks[s["name"]] = task

    compiler.Compiler().compile(pipeline, out)


def hera_build(shape, out):
    from hera.workflows import DAG, Container, Resources, Workflow

    with Workflow(generate_name="generated-", entrypoint="main") as w:
        templates = {
            s["name"]: Container(
                name=s["name"],
                image=s["image"],
                command=s["command"],
                resources=Resources(cpu_request=s["cpu"], memory_request=s["memory"]),
            )
            for s in shape
        }
        with DAG(name="main"):
            tasks = {}
            for s in shape:
                task = templates[s["name"]](name=s["name"])
                for upstream in s["reads"]:
                    tasks[upstream] >> task
                tasks[s["name"]] = task
    with open(out, "w") as f:
        f.write(w.to_yaml())


def main():
    tool, shape_file, out = sys.argv[1:4]
    shape = json.load(open(shape_file))
    build = {"kfp": kfp_build, "hera": hera_build}[tool]
    if tool == "kfp":
        import kfp.compiler  # noqa: F401  (imports are not the compile)
    else:
        import hera.workflows  # noqa: F401
    started = time.perf_counter()
    build(shape, out)
    print(f"{tool}: {len(shape)} stages built and compiled in {time.perf_counter() - started:.3f} s (after imports)")


if __name__ == "__main__":
    main()
