"""The core/v1 kinds ("" group): one module per kind, collected in ``RESOURCES``.

``kubelite.api.kinds.BUILTIN`` collects ``RESOURCES``; the API server registers each
``ResourceType``. The pod-spec defaulting and validation that other groups reuse for their pod
templates live in ``kinds/core/pod.py`` (containers in ``container.py``, volumes in
``volume.py``, the pod Table row in ``pod_table.py``).
"""
from __future__ import annotations

from kubelite.api.kinds.core.configmap import CONFIG_MAP
from kubelite.api.kinds.core.endpoints import ENDPOINTS
from kubelite.api.kinds.core.event import EVENT
from kubelite.api.kinds.core.limitrange import LIMIT_RANGE
from kubelite.api.kinds.core.namespace import NAMESPACE
from kubelite.api.kinds.core.node import NODE
from kubelite.api.kinds.core.persistentvolume import PERSISTENT_VOLUME, PERSISTENT_VOLUME_CLAIM
from kubelite.api.kinds.core.pod import POD
from kubelite.api.kinds.core.podtemplate import POD_TEMPLATE
from kubelite.api.kinds.core.replicationcontroller import REPLICATION_CONTROLLER
from kubelite.api.kinds.core.resourcequota import RESOURCE_QUOTA
from kubelite.api.kinds.core.secret import SECRET
from kubelite.api.kinds.core.service import SERVICE
from kubelite.api.kinds.core.serviceaccount import SERVICE_ACCOUNT
from kubelite.api.registry import ResourceType

RESOURCES: list[ResourceType] = [
    POD, SERVICE, ENDPOINTS, CONFIG_MAP, SECRET, NAMESPACE, NODE, EVENT, SERVICE_ACCOUNT,
    PERSISTENT_VOLUME, PERSISTENT_VOLUME_CLAIM, RESOURCE_QUOTA, LIMIT_RANGE, REPLICATION_CONTROLLER, POD_TEMPLATE,
]
