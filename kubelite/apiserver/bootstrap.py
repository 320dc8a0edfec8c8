"""What a fresh cluster holds before anyone writes: the system namespaces, the ``kubernetes``
Service, the cluster-admin role bound to system:masters, the discovery and public-info roles,
the system priority classes, the local APIServices of the built-in groups, and the roles that
let nodes join (``node_join_policy``).
Idempotent: runs on every start and only creates what is missing."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubelite.api.kinds import BUILTIN
from kubelite.api.kinds.apiregistration import apiservice
from kubelite.api.kinds.scheduling.priorityclass import system_priority_class_objects
from kubelite.apiserver import apiservices
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
    # kube-aggregator's autoregistration of the built-in group/versions
    served = list(dict.fromkeys((t.group, t.version) for t in BUILTIN))
    await apiservices.sync(server, apiservice.local_apiservices(served), managed="onstart")
    for plural, obj in node_join_policy():
        await _ensure(server, "rbac.authorization.k8s.io", "v1", plural, obj)


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    return "clusterroles", {"metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                            "rules": rules}


def _group_binding(name: str, role: str, group: str) -> tuple[str, dict[str, Any]]:
    return "clusterrolebindings", {
        "metadata": {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]}


def node_join_policy() -> list[tuple[str, dict[str, Any]]]:
    """What joining and running a node needs (kube's bootstrap roles, bound as kubeadm binds them):

    * bootstrap tokens (group system:bootstrappers) may create CSRs and read them back
      (``system:node-bootstrapper``) and have their node-client CSRs auto-approved
      (``...:nodeclient``); nodes (group system:nodes) have renewals auto-approved
      (``...:selfnodeclient``) and may create and read CSRs (``kubelite:node-certificates``);
      what else a node may do is the ``system:node`` role's business.
    """
    csr = "certificatesigningrequests"
    certs = "certificates.k8s.io"
    return [
        _cluster_role("system:node-bootstrapper", [_rule([certs], [csr], ["create", "get", "list", "watch"])]),
        _group_binding("kubelite:kubelet-bootstrap", "system:node-bootstrapper", "system:bootstrappers"),
        _cluster_role(f"system:{certs}:{csr}:nodeclient", [_rule([certs], [f"{csr}/nodeclient"], ["create"])]),
        _group_binding("kubelite:node-autoapprove-bootstrap", f"system:{certs}:{csr}:nodeclient", "system:bootstrappers"),
        _cluster_role(f"system:{certs}:{csr}:selfnodeclient", [_rule([certs], [f"{csr}/selfnodeclient"], ["create"])]),
        _group_binding("kubelite:node-autoapprove-certificate-rotation", f"system:{certs}:{csr}:selfnodeclient",
                       "system:nodes"),
        # a node renews its client certificate and gets its serving certificate through CSRs,
        # whatever else its role grants
        _cluster_role("kubelite:node-certificates", [_rule([certs], [csr], ["create", "get", "list", "watch"])]),
        _group_binding("kubelite:node-certificates", "kubelite:node-certificates", "system:nodes"),
    ]
