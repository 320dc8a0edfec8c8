"""The built-in local-path provisioner (k3s' ``rancher.io/local-path``): what the default
StorageClass looks like and what a provisioned PersistentVolume looks like. Pure data; the
binder (``pvbinder.py``) decides when to provision and writes the objects.

A claim of class ``local-path`` scheduled onto node ``n1`` gets a PV named ``pvc-<claim uid>``:
a ``hostPath`` volume (type DirectoryOrCreate) at ``<base>/pvc-<uid>_<namespace>_<claim>`` with
required node affinity ``kubernetes.io/hostname In [n1]``, the claim's size, access modes and
volume mode, the class's reclaim policy, and a ``claimRef`` pre-binding it to the claim. The
directory itself is created by the node agent when it mounts the volume (and removed by it
after a ``Delete`` reclaim); nothing here touches the filesystem. The base directory is
``options["local_path_dir"]``, else ``<options["data_dir"]>/storage``, else
``/var/lib/kubelite/storage``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

Obj = dict[str, Any]

PROVISIONER = "rancher.io/local-path"
DEFAULT_CLASS_NAME = "local-path"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
HOSTNAME_LABEL = "kubernetes.io/hostname"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
SELECTED_NODE_ANNOTATION = "local.path.provisioner/selected-node"
#: access modes a directory on one node can honour
SUPPORTED_ACCESS_MODES = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})


def default_storage_class() -> Obj:
    """The class k3s installs: default, WaitForFirstConsumer, reclaim Delete."""
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS_NAME, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def base_dir(options: Mapping[str, Any]) -> str:
    if options.get("local_path_dir"):
        return str(options["local_path_dir"])
    if options.get("data_dir"):
        return str(Path(str(options["data_dir"])) / "storage")
    if os.geteuid() == 0:
        return "/var/lib/kubelite/storage"
    return str(Path.home() / ".local" / "share" / "kubelite" / "storage")


def pv_name_for(claim: Mapping[str, Any]) -> str:
    return f"pvc-{(claim.get('metadata') or {}).get('uid', '')}"


def unsupported_access_modes(claim: Mapping[str, Any]) -> list[str]:
    return sorted(set((claim.get("spec") or {}).get("accessModes") or ()) - SUPPORTED_ACCESS_MODES)


def claim_ref(claim: Mapping[str, Any]) -> Obj:
    meta = claim.get("metadata") or {}
    ref: Obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta.get("namespace", ""),
                "name": meta.get("name", ""), "uid": meta.get("uid", "")}
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref


def node_affinity(node: str) -> Obj:
    return {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}}


def build_pv(claim: Mapping[str, Any], storage_class: Mapping[str, Any], node: str, base: str) -> Obj:
    """The PersistentVolume provisioned for ``claim`` on ``node`` (see the module doc)."""
    meta, spec = claim.get("metadata") or {}, claim.get("spec") or {}
    name = pv_name_for(claim)
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    path = f"{base.rstrip('/')}/{name}_{meta.get('namespace', '')}_{meta.get('name', '')}"
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: str(storage_class.get("provisioner") or PROVISIONER),
                                                   SELECTED_NODE_ANNOTATION: node}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
            "storageClassName": (storage_class.get("metadata") or {}).get("name", ""),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": path, "type": "DirectoryOrCreate"},
            "nodeAffinity": node_affinity(node),
            "claimRef": claim_ref(claim),
        },
    }
