"""The null and wrong-type sweep: for every built-in kind, ``null`` and a value of the wrong JSON
type at every field path its schema declares (bounded per kind), plus ``null`` at every path of
a realistic object, sent to a real API server in-process. None may answer 500: kube-apiserver's
typed decoder turns these into a 400 (wrong type) or a zero value that validation judges (422),
or accepts them.

Paths come from ``kubelite.api.conformance``'s per-message field tables (the same tables the
server decodes with), so a field added to a schema is swept without touching this file.
"""
from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubelite.api import conformance as c
from kubelite.api.kinds import BUILTIN
from kubelite.api.registry import ResourceType
from kubelite.apiserver.request import LOOPBACK_MASTER, ApiRequest
from tests.inprocess import api_client

#: schema paths swept per kind (breadth first, so every top-level and spec-level field is in)
MAX_PATHS = 150
MAX_DEPTH = 7

POD_SPEC = {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                            "env": [{"name": "A", "value": "1"}],
                            "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}],
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "volumes": [{"name": "v", "emptyDir": {}}]}
TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": POD_SPEC}
SELECTOR = {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]}
#: realistic objects whose every existing path also gets a null
REALISTIC: dict[str, dict[str, Any]] = {
    "Pod": {"spec": POD_SPEC},
    "Deployment": {"spec": {"replicas": 1, "selector": SELECTOR, "template": TEMPLATE}},
    "DaemonSet": {"spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "StatefulSet": {"spec": {"serviceName": "s", "selector": SELECTOR, "template": TEMPLATE}},
    "ReplicaSet": {"spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "Job": {"spec": {"template": {"spec": {**POD_SPEC, "restartPolicy": "Never"}}}},
    "CronJob": {"spec": {"schedule": "* * * * *", "jobTemplate": {
        "spec": {"template": {"spec": {**POD_SPEC, "restartPolicy": "Never"}}}}}},
    "Service": {"spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    "RoleBinding": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                    "subjects": [{"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}]},
    "ClusterRole": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
                    "aggregationRule": {"clusterRoleSelectors": [SELECTOR]}},
    "NetworkPolicy": {"spec": {"podSelector": SELECTOR, "ingress": [{"from": [{"podSelector": SELECTOR}],
                                                                     "ports": [{"port": 80}]}]}},
    "PodDisruptionBudget": {"spec": {"minAvailable": 1, "selector": SELECTOR}},
    "Ingress": {"spec": {"rules": [{"host": "a.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}},
    "SubjectAccessReview": {"spec": {"user": "u", "groups": ["g"],
                                     "resourceAttributes": {"verb": "get", "resource": "pods"}}},
    "SelfSubjectAccessReview": {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}},
    "TokenReview": {"spec": {"token": "x", "audiences": ["a"]}},
    "EndpointSlice": {"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}],
                      "ports": [{"port": 80, "protocol": "TCP"}]},
    "HorizontalPodAutoscaler": {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d", "apiVersion": "apps/v1"},
                                         "maxReplicas": 3}},
    "ResourceQuota": {"spec": {"hard": {"pods": "10"}, "scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}},
    "LimitRange": {"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "default": {"cpu": "1"}}]}},
}

WRONG = {c._STR: 12345, c._INT32: "x", c._INT64: "x", c._BOOL: "x", c._NUM: "x", c._BYTES: 7,
         c._MSG: "x", c._LIST: "x", c._MAP: "x", c._QTY: {}, c._INTSTR: {}, c._TIME: 5, c._DUR: 5}

FieldPath = tuple[Any, ...]  # str = object member, 0 = first list item, ("k",) = a map value


def schema_paths(name: str) -> Iterator[tuple[FieldPath, c.Spec]]:
    """(path, spec) of the fields under message ``name``, breadth first."""
    queue: list[tuple[FieldPath, str]] = [((), name)]
    while queue:
        prefix, msg = queue.pop(0)
        if len(prefix) >= MAX_DEPTH:
            continue
        for key, spec in c._table(msg).items():
            if key in ("apiVersion", "kind"):
                continue
            path = (*prefix, key)
            yield path, spec
            kind, arg = spec[0], spec[1]
            if kind == c._MSG:
                queue.append((path, arg))
            elif kind in (c._LIST, c._MAP):
                item_path = (*path, 0) if kind == c._LIST else (*path, ("k",))
                yield item_path, arg
                if arg[0] == c._MSG:
                    queue.append((item_path, arg[1]))


def put(obj: Any, path: FieldPath, value: Any) -> None:
    """Set ``value`` at ``path`` in ``obj``, creating the containers on the way."""
    cur = obj
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        nxt = path[i + 1] if not last else None
        empty: Any = [] if isinstance(nxt, int) else {}
        if isinstance(seg, int):
            if not isinstance(cur, list):
                return
            if not cur:
                cur.append(empty)
            if last:
                cur[0] = value
            elif not isinstance(cur[0], type(empty)):
                cur[0] = empty
            cur = cur[0]
            continue
        key = seg[0] if isinstance(seg, tuple) else seg
        if not isinstance(cur, dict):
            return
        if last:
            cur[key] = value
            return
        if not isinstance(cur.get(key), type(empty)):
            cur[key] = empty
        cur = cur[key]


def existing_paths(obj: Any, prefix: FieldPath = ()) -> Iterator[FieldPath]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from existing_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from existing_paths(v, (*prefix, i))


def cases(rt: ResourceType) -> Iterator[tuple[str, dict[str, Any]]]:
    base = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {"name": "x"}, **REALISTIC.get(rt.kind, {})}
    for path in existing_paths({k: v for k, v in base.items() if k not in ("apiVersion", "kind")}):
        obj = copy.deepcopy(base)
        put(obj, path, None)
        yield f"null at existing {path}", obj
    for n, (path, spec) in enumerate(schema_paths(rt.schema)):
        if n >= MAX_PATHS:
            break
        for label, value in (("null", None), ("wrong type", WRONG.get(spec[0]))):
            if label == "wrong type" and value is None:
                continue
            obj = copy.deepcopy(base)
            put(obj, path, value)
            yield f"{label} at {path}", obj
            if spec[0] == c._LIST and label == "null":
                obj = copy.deepcopy(base)
                put(obj, path, [None])
                yield f"[null] at {path}", obj


KINDS = [rt for rt in BUILTIN if rt.schema and "create" in rt.verbs]


async def test_no_500_for_null_or_wrong_types_anywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="kubelite")
    failures: list[str] = []
    codes: dict[int, int] = {}
    sent = 0
    async with api_client(tmp_path) as (api, _):
        for rt in KINDS:
            base = "/api/v1" if not rt.group else f"/apis/{rt.group}/{rt.version}"
            url = f"{base}/namespaces/default/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
            for i, (what, obj) in enumerate(cases(rt)):
                if isinstance(obj.get("metadata"), dict) and "name" in obj["metadata"]:
                    obj["metadata"]["name"] = f"sweep-{i}"
                body = json.dumps(obj).encode()
                for method, path, ctype in (("POST", url, "application/json"),
                                            ("PATCH", f"{url}/sweep-{i}-a",
                                             "application/apply-patch+yaml")):
                    if rt.virtual and method == "PATCH":
                        continue
                    if method == "PATCH" and isinstance(obj.get("metadata"), dict):
                        obj["metadata"]["name"] = f"sweep-{i}-a"
                        body = json.dumps(obj).encode()
                    sent += 1
                    r = await api.handle(ApiRequest(method, path, {"fieldManager": "sweep"} if method == "PATCH" else {},
                                                    {"Content-Type": ctype}, body, LOOPBACK_MASTER))
                    codes[r.status] = codes.get(r.status, 0) + 1
                    if r.status >= 500:
                        failures.append(f"{rt.kind} {method} {what}: {r.status} {r.body[:200]!r}")
    print(f"{sent} requests over {len(KINDS)} kinds: {dict(sorted(codes.items()))}")
    assert codes.get(201, 0) > sent // 10, codes  # the sweep reaches past decoding, into storage
    assert not failures, f"{len(failures)} of {sent} answered 5xx:\n" + "\n".join(failures[:60])


@pytest.mark.parametrize("body", [
    {"preconditions": "x"}, {"gracePeriodSeconds": "x"}, {"preconditions": {"uid": 5}},
    {"propagationPolicy": 5}, {"dryRun": "All"}, {"orphanDependents": "yes"},
])
async def test_delete_options_of_the_wrong_type_are_400(tmp_path: Path, body: dict[str, Any]) -> None:
    """DeleteOptions are decoded against their type like any body: a wrong type is a 400 and
    deletes nothing (a string gracePeriodSeconds used to delete immediately)."""
    async with api_client(tmp_path) as (api, _):
        cm = "/api/v1/namespaces/default/configmaps"
        r = await api.handle(ApiRequest("POST", cm, {}, {"Content-Type": "application/json"},
                                        b'{"metadata": {"name": "a"}}', LOOPBACK_MASTER))
        assert r.status == 201
        for url in (f"{cm}/a", cm):
            r = await api.handle(ApiRequest("DELETE", url, {}, {"Content-Type": "application/json"},
                                            json.dumps(body).encode(), LOOPBACK_MASTER))
            assert r.status == 400, r.body
            assert json.loads(r.body)["kind"] == "Status"
        r = await api.handle(ApiRequest("GET", f"{cm}/a", {}, {}, b"", LOOPBACK_MASTER))
        assert r.status == 200


@pytest.mark.parametrize("query,code", [
    ({"limit": str(2 ** 63)}, 400), ({"limit": str(2 ** 64)}, 400), ({"limit": str(2 ** 63 - 1)}, 200),
    ({"limit": "-1"}, 400), ({"timeoutSeconds": str(2 ** 63), "watch": "true"}, 400),
])
async def test_integer_query_parameters_out_of_range(tmp_path: Path, query: dict[str, str], code: int) -> None:
    async with api_client(tmp_path) as (api, _):
        r = await api.handle(ApiRequest("GET", "/api/v1/namespaces/default/configmaps", query, {}, b"",
                                        LOOPBACK_MASTER))
        assert r.status == code, r.body
