"""Granularity facts server-side apply needs that ``types.json`` does not carry.

* Structs marked ``+structType=atomic`` in k8s.io/api and apimachinery v0.36 (a selector or an
  object reference is owned as one unit: ``"f:selector": {}``).
* Map fields marked ``+mapType=atomic`` (``nodeSelector``, a Service's ``selector``).
* Defaults of list-map key fields: structured-merge-diff fills a missing key from the OpenAPI
  default, so ``ports: [{containerPort: 80}]`` is keyed ``{"containerPort":80,"protocol":"TCP"}``.

Derived by scanning the ``// +structType=atomic`` / ``// +mapType=atomic`` markers of the
v0.36.3 ``types.go`` files; read by ``kubelite.machinery.apply.typed`` only.
"""
from __future__ import annotations

ATOMIC_STRUCTS: frozenset[str] = frozenset({
    "io.k8s.api.admissionregistration.v1.MatchResources",
    "io.k8s.api.admissionregistration.v1.NamedRuleWithOperations",
    "io.k8s.api.admissionregistration.v1.ParamKind",
    "io.k8s.api.admissionregistration.v1.ParamRef",
    "io.k8s.api.admissionregistration.v1.Variable",
    "io.k8s.api.admissionregistration.v1alpha1.MatchResources",
    "io.k8s.api.admissionregistration.v1alpha1.NamedRuleWithOperations",
    "io.k8s.api.admissionregistration.v1alpha1.ParamKind",
    "io.k8s.api.admissionregistration.v1alpha1.ParamRef",
    "io.k8s.api.admissionregistration.v1beta1.MatchResources",
    "io.k8s.api.admissionregistration.v1beta1.NamedRuleWithOperations",
    "io.k8s.api.admissionregistration.v1beta1.ParamKind",
    "io.k8s.api.admissionregistration.v1beta1.ParamRef",
    "io.k8s.api.admissionregistration.v1beta1.Variable",
    "io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.EndpointAddress",
    "io.k8s.api.core.v1.EndpointPort",
    "io.k8s.api.core.v1.FileKeySelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.ScopeSelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretReference",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.discovery.v1.EndpointPort",
    "io.k8s.api.networking.v1.ServiceBackendPort",
    "io.k8s.api.rbac.v1.RoleRef",
    "io.k8s.api.rbac.v1.Subject",
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
})

ATOMIC_MAPS: frozenset[tuple[str, str]] = frozenset({
    ("io.k8s.api.apps.v1beta2.ScaleStatus", "selector"),
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", "selector"),
    ("io.k8s.api.core.v1.ServiceSpec", "selector"),
    ("io.k8s.api.extensions.v1beta1.ScaleStatus", "selector"),
    ("io.k8s.api.node.v1.Scheduling", "nodeSelector"),
})

# (item message, key field) -> default used when an item omits that key field.
KEY_DEFAULTS: dict[tuple[str | None, str], object] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}
