"""How the client addresses a resource: ``ResourceRef`` (group, version, plural, scope, kind)
and constants for the built-in resources the components use.

``rest.Client`` builds every URL from a ``ResourceRef``; informers, the event recorder and leader
election take one to say what they read or write. The URL prefix is computed once per ref, so
the per-request path is one f-string. Custom resources are addressed with a ``ResourceRef``
built from their CRD (``ResourceRef("example.com", "v1", "widgets", True, "Widget")``).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """One resource at one group/version, e.g. ``ResourceRef("apps", "v1", "deployments", True,
    "Deployment")``: its collection path is ``/apis/apps/v1/namespaces/{ns}/deployments``."""

    group: str
    version: str
    plural: str
    namespaced: bool
    kind: str = ""
    prefix: str = field(init=False, repr=False, compare=False)
    api_version: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        gv = f"{self.group}/{self.version}" if self.group else self.version
        object.__setattr__(self, "api_version", gv)
        object.__setattr__(self, "prefix", f"/apis/{gv}" if self.group else f"/api/{gv}")

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``: the name kube-apiserver uses in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection(self, namespace: str | None = None) -> str:
        """The collection path; for a namespaced resource without ``namespace``, all namespaces."""
        if namespace and self.namespaced:
            return f"{self.prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.prefix}/{self.plural}"

    def item(self, namespace: str | None, name: str, subresource: str | None = None) -> str:
        """The path of one object (or one of its subresources)."""
        if not name:
            raise ValueError(f"{self.qualified}: a name is required")
        if self.namespaced:
            if not namespace:
                raise ValueError(f'{self.qualified} "{name}": a namespace is required')
            path = f"{self.prefix}/namespaces/{namespace}/{self.plural}/{name}"
        else:
            path = f"{self.prefix}/{self.plural}/{name}"
        return f"{path}/{subresource}" if subresource else path


def _r(group: str, version: str, plural: str, namespaced: bool, kind: str) -> ResourceRef:
    return ResourceRef(group, version, plural, namespaced, kind)


# core/v1
PODS = _r("", "v1", "pods", True, "Pod")
NODES = _r("", "v1", "nodes", False, "Node")
NAMESPACES = _r("", "v1", "namespaces", False, "Namespace")
SERVICES = _r("", "v1", "services", True, "Service")
ENDPOINTS = _r("", "v1", "endpoints", True, "Endpoints")
CONFIGMAPS = _r("", "v1", "configmaps", True, "ConfigMap")
SECRETS = _r("", "v1", "secrets", True, "Secret")
EVENTS = _r("", "v1", "events", True, "Event")
SERVICEACCOUNTS = _r("", "v1", "serviceaccounts", True, "ServiceAccount")
PERSISTENTVOLUMES = _r("", "v1", "persistentvolumes", False, "PersistentVolume")
PERSISTENTVOLUMECLAIMS = _r("", "v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
REPLICATIONCONTROLLERS = _r("", "v1", "replicationcontrollers", True, "ReplicationController")
RESOURCEQUOTAS = _r("", "v1", "resourcequotas", True, "ResourceQuota")
LIMITRANGES = _r("", "v1", "limitranges", True, "LimitRange")
# apps/v1
DEPLOYMENTS = _r("apps", "v1", "deployments", True, "Deployment")
REPLICASETS = _r("apps", "v1", "replicasets", True, "ReplicaSet")
STATEFULSETS = _r("apps", "v1", "statefulsets", True, "StatefulSet")
DAEMONSETS = _r("apps", "v1", "daemonsets", True, "DaemonSet")
CONTROLLERREVISIONS = _r("apps", "v1", "controllerrevisions", True, "ControllerRevision")
# batch/v1
JOBS = _r("batch", "v1", "jobs", True, "Job")
CRONJOBS = _r("batch", "v1", "cronjobs", True, "CronJob")
# others
LEASES = _r("coordination.k8s.io", "v1", "leases", True, "Lease")
ENDPOINTSLICES = _r("discovery.k8s.io", "v1", "endpointslices", True, "EndpointSlice")
EVENTS_V1 = _r("events.k8s.io", "v1", "events", True, "Event")
HORIZONTALPODAUTOSCALERS = _r("autoscaling", "v2", "horizontalpodautoscalers", True, "HorizontalPodAutoscaler")
PODDISRUPTIONBUDGETS = _r("policy", "v1", "poddisruptionbudgets", True, "PodDisruptionBudget")
INGRESSES = _r("networking.k8s.io", "v1", "ingresses", True, "Ingress")
NETWORKPOLICIES = _r("networking.k8s.io", "v1", "networkpolicies", True, "NetworkPolicy")
STORAGECLASSES = _r("storage.k8s.io", "v1", "storageclasses", False, "StorageClass")
PRIORITYCLASSES = _r("scheduling.k8s.io", "v1", "priorityclasses", False, "PriorityClass")
CUSTOMRESOURCEDEFINITIONS = _r("apiextensions.k8s.io", "v1", "customresourcedefinitions", False,
                               "CustomResourceDefinition")
CERTIFICATESIGNINGREQUESTS = _r("certificates.k8s.io", "v1", "certificatesigningrequests", False,
                                "CertificateSigningRequest")
ROLES = _r("rbac.authorization.k8s.io", "v1", "roles", True, "Role")
ROLEBINDINGS = _r("rbac.authorization.k8s.io", "v1", "rolebindings", True, "RoleBinding")
CLUSTERROLES = _r("rbac.authorization.k8s.io", "v1", "clusterroles", False, "ClusterRole")
CLUSTERROLEBINDINGS = _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False, "ClusterRoleBinding")

#: (apiVersion, kind) -> ref, for the constants above (ownerReferences, involvedObject...).
#: core/v1 Event wins over events.k8s.io for ("v1", "Event") because the key differs.
BUILTINS: dict[tuple[str, str], ResourceRef] = {
    (ref.api_version, ref.kind): ref for ref in list(globals().values()) if isinstance(ref, ResourceRef)
}


def ref_for_kind(api_version: str, kind: str) -> ResourceRef | None:
    """The built-in ref serving ``kind`` at ``api_version`` (``("apps/v1", "ReplicaSet")``), or None."""
    return BUILTINS.get((api_version, kind))

__all__ = [
    "ResourceRef", "BUILTINS", "ref_for_kind",
    "PODS", "NODES", "NAMESPACES", "SERVICES", "ENDPOINTS", "CONFIGMAPS", "SECRETS", "EVENTS",
    "SERVICEACCOUNTS", "PERSISTENTVOLUMES", "PERSISTENTVOLUMECLAIMS", "REPLICATIONCONTROLLERS",
    "RESOURCEQUOTAS", "LIMITRANGES", "DEPLOYMENTS", "REPLICASETS", "STATEFULSETS", "DAEMONSETS",
    "CONTROLLERREVISIONS", "JOBS", "CRONJOBS", "LEASES", "ENDPOINTSLICES", "EVENTS_V1",
    "HORIZONTALPODAUTOSCALERS", "PODDISRUPTIONBUDGETS", "INGRESSES", "NETWORKPOLICIES",
    "STORAGECLASSES", "PRIORITYCLASSES", "CUSTOMRESOURCEDEFINITIONS", "CERTIFICATESIGNINGREQUESTS",
    "ROLES", "ROLEBINDINGS", "CLUSTERROLES", "CLUSTERROLEBINDINGS",
]
