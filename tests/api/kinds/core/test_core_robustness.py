"""Odd objects never crash a strategy: every kind's create/update/row path survives ``null``,
empty and out-of-range values anywhere in a realistic object (they must become field errors).

Values of the wrong JSON type never reach a strategy -- the API server answers them with 400
first (``kubelite.api.conformance.type_errors``) -- so the mutations the server would reject
are skipped here, exactly as the server filters them."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.conformance import type_errors
from kubelite.api.kinds.core import RESOURCES
from tests.api.kinds.core.builders import NOW, container, meta

SAMPLES: dict[str, dict[str, Any]] = {
    "Pod": {"spec": {"containers": [container(ports=[{"containerPort": 80, "name": "http"}],
                                              env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                                              resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1"}},
                                              volumeMounts=[{"name": "v", "mountPath": "/v"}],
                                              livenessProbe={"httpGet": {"port": 80}})],
                     "initContainers": [container("init")],
                     "volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "p"}]}}],
                     "tolerations": [{"key": "k", "operator": "Exists"}], "nodeSelector": {"a": "b"},
                     "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                         {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "kubernetes.io/hostname"}]}}},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": True, "restartCount": 1,
                                                                  "state": {"running": {}}}]}},
    "Service": {"spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}], "type": "NodePort"},
                "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}},
    "Endpoints": {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
    "ConfigMap": {"data": {"a": "b"}, "binaryData": {"c": "ZA=="}},
    "Secret": {"data": {"a": "Yg=="}, "stringData": {"c": "d"}, "type": "Opaque"},
    "Namespace": {"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
    "Node": {"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
             "status": {"capacity": {"cpu": "1"}, "conditions": [{"type": "Ready", "status": "True"}],
                        "addresses": [{"type": "InternalIP", "address": "1.2.3.4"}], "nodeInfo": {}}},
    "Event": {"involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "R",
              "firstTimestamp": "2024-05-01T11:00:00Z", "count": 2, "source": {"component": "c"}},
    "ServiceAccount": {"secrets": [{"name": "s"}]},
    "PersistentVolume": {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                  "hostPath": {"path": "/x"}, "claimRef": {"name": "c"}}},
    "PersistentVolumeClaim": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                                       "volumeName": "pv"},
                              "status": {"capacity": {"storage": "1Gi"}}},
    "ResourceQuota": {"spec": {"hard": {"cpu": "1"}, "scopes": ["BestEffort"]},
                      "status": {"hard": {"cpu": "1"}, "used": {"cpu": "0"}}},
    "LimitRange": {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "100m"}}]}},
    "ReplicationController": {"spec": {"replicas": 1, "selector": {"app": "web"},
                                       "template": {"metadata": {"labels": {"app": "web"}},
                                                    "spec": {"containers": [container()]}}}},
    "PodTemplate": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [container()]}}},
}
WEIRD: list[Any] = [None, 0, -1, 1.5, True, "", "x", "-1", [], [1, "a"], {}, {"a": 1}, [{}], [None]]


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _set(obj: Any, path: tuple, value: Any) -> None:
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def _run(rt: Any, obj: dict[str, Any], old: dict[str, Any]) -> None:
    s = rt.strategy
    created = copy.deepcopy(obj)
    s.defaults(created)
    s.prepare_for_create(created)
    s.validate(created)
    s.row(created, NOW)
    s.field_labels(created)
    new = copy.deepcopy(obj)
    new["metadata"] = copy.deepcopy(old["metadata"])
    s.defaults(new)
    s.prepare_for_update(new, old)
    s.validate_update(new, old)
    st = copy.deepcopy(obj)
    s.prepare_for_status_update(st, old)
    s.validate_update(st, old)
    s.row(st, NOW)


@pytest.mark.parametrize("rt", RESOURCES, ids=lambda rt: rt.kind)
def test_wrong_types_never_crash(rt: Any) -> None:
    base = {"apiVersion": "v1", "kind": rt.kind,
            "metadata": meta("x", namespace="default" if rt.namespaced else None),
            **copy.deepcopy(SAMPLES[rt.kind])}
    old = copy.deepcopy(base)
    rt.strategy.defaults(old)
    rt.strategy.prepare_for_create(old)
    paths = [p for p in _paths(base) if p[0] not in ("metadata", "apiVersion", "kind")]
    for path in paths:
        for value in WEIRD:
            obj = copy.deepcopy(base)
            _set(obj, path, copy.deepcopy(value))
            if type_errors(obj, rt.schema):
                continue
            try:
                _run(rt, obj, old)
            except Exception as e:  # noqa: BLE001 - the point is to name the crash
                raise AssertionError(f"{rt.kind}: {path} = {value!r} crashed: {type(e).__name__}: {e}") from e
