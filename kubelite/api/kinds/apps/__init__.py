"""The apps/v1 group: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision.

One module per kind; ``RESOURCES`` is what ``kubelite.api.kinds.BUILTIN`` collects.
"""
from __future__ import annotations

from kubelite.api.kinds.apps import controllerrevision, daemonset, deployment, replicaset, statefulset
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [
    deployment.RESOURCE,
    replicaset.RESOURCE,
    daemonset.RESOURCE,
    statefulset.RESOURCE,
    controllerrevision.RESOURCE,
]
