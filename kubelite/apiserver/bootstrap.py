"""What a fresh cluster holds before anyone writes: the system namespaces, the ``kubernetes``
Service, the cluster-admin role bound to system:masters, the discovery and public-info roles,
and the system priority classes.
Idempotent: runs on every start and only creates what is missing."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.api.kinds.scheduling.priorityclass import system_priority_class_objects
from kubelite.machinery.errors import StatusError

if TYPE_CHECKING:
    from kubelite.apiserver.server import ApiServer

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PUBLIC_INFO_URLS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
DISCOVERY_URLS = ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                  "/readyz", "/version", "/version/")


async def _ensure(server: "ApiServer", group: str, version: str, plural: str, obj: dict[str, Any],
                  namespace: str | None = None) -> None:
    rt = server.rt(group, version, plural)
    if await server.store.try_get(rt, namespace, obj["metadata"]["name"]) is not None:
        return
    try:
        await server.store.create(rt, obj, namespace=namespace, manager="kubelite")
    except StatusError as e:
        if e.code != 409:
            raise


async def bootstrap(server: "ApiServer") -> None:
    for ns in SYSTEM_NAMESPACES:
        await _ensure(server, "", "v1", "namespaces", {"metadata": {"name": ns}})
    host, _, port = server.server_address.rpartition(":")
    await _ensure(server, "", "v1", "services", {
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": server.allocator.kubernetes_ip,
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": int(port or 6443)}]},
    }, namespace="default")
    await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterroles", {
        "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                  {"nonResourceURLs": ["*"], "verbs": ["*"]}],
    })
    await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterrolebindings", {
        "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}],
    })
    # Every authenticated user may ask what it is allowed to do (kubectl auth can-i / whoami).
    await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterroles", {
        "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "rules": [{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]},
                  {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}],
    })
    await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterrolebindings", {
        "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:basic-user"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}],
    })
    # What a node agent (kubelet) needs, granted to every node identity (group system:nodes).
    await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterroles", {
        "metadata": {"name": "system:node", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "rules": [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["create", "get", "list", "watch", "patch", "update"]},
            {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch", "update"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "delete"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]},
            {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
            {"apiGroups": [""], "resources": ["configmaps", "secrets", "services", "endpoints"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims", "persistentvolumes"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims/status"], "verbs": ["get", "patch", "update"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "verbs": ["create", "delete", "get", "patch", "update"]},
            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
             "verbs": ["create", "get", "list", "watch"]},
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
        ],
    })
    await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterrolebindings", {
        "metadata": {"name": "system:node", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:nodes"}],
    })
    # Non-resource URLs, as kube's bootstrap policy grants them: discovery and OpenAPI to every
    # authenticated user, health and version to everyone (anonymous included).
    for name, urls, groups in (("system:discovery", DISCOVERY_URLS, ["system:authenticated"]),
                               ("system:public-info-viewer", PUBLIC_INFO_URLS,
                                ["system:authenticated", "system:unauthenticated"])):
        await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterroles", {
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "rules": [{"nonResourceURLs": list(urls), "verbs": ["get"]}],
        })
        await _ensure(server, "rbac.authorization.k8s.io", "v1", "clusterrolebindings", {
            "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in groups],
        })
    for pc in system_priority_class_objects():
        await _ensure(server, "scheduling.k8s.io", "v1", "priorityclasses", pc)
