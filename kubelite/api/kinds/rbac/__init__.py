"""The rbac.authorization.k8s.io/v1 group: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

One module per kind (shared rules in ``_common``); ``RESOURCES`` feeds ``kinds.BUILTIN``.
"""
from __future__ import annotations

from kubelite.api.kinds.rbac import clusterrole, clusterrolebinding, role, rolebinding
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [role.RESOURCE, clusterrole.RESOURCE, rolebinding.RESOURCE, clusterrolebinding.RESOURCE]
