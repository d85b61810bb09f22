"""Serves kmock's Kubernetes emulator (PyPI `kmock`) on 127.0.0.1 for pipe's deploy tests.

Usage: python3 kmock_server.py PORT_FILE
Declares the resources `pipe deploy` uses (core v1 configmaps, namespaces and serviceaccounts;
rbac.authorization.k8s.io/v1 roles and rolebindings; Argo's workflows,
workflowtemplates and cronworkflows in argoproj.io/v1alpha1), starts the emulator on a free
port, writes the port to PORT_FILE and serves until killed. Everything else is kmock's own
behaviour: discovery, create, get, patch, watch streams.
"""
import asyncio
import sys

import kmock

RESOURCES = {
    "v1/configmaps": ("ConfigMap", True),
    "v1/namespaces": ("Namespace", False),
    "v1/serviceaccounts": ("ServiceAccount", True),
    "rbac.authorization.k8s.io/v1/roles": ("Role", True),
    "rbac.authorization.k8s.io/v1/rolebindings": ("RoleBinding", True),
    "argoproj.io/v1alpha1/workflows": ("Workflow", True),
    "argoproj.io/v1alpha1/workflowtemplates": ("WorkflowTemplate", True),
    "argoproj.io/v1alpha1/cronworkflows": ("CronWorkflow", True),
}


async def main(port_file: str) -> None:
    emulator = kmock.KubernetesEmulator()
    for key, (kind, namespaced) in RESOURCES.items():
        emulator.resources[key] = kmock.ResourceInfo(
            kind=kind,
            namespaced=namespaced,
            verbs={"create", "get", "list", "patch", "update", "watch", "delete"},
        )
    async with emulator, kmock.Server(emulator) as server:
        with open(port_file, "w") as f:
            f.write(str(server.port))
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
