"""Schema checks of built-in objects: unknown fields (Strict/Warn/Ignore), pruning, type errors."""
from __future__ import annotations

import copy
import timeit
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelite.api import conformance
from kubelite.api.conformance import (base64_error, cannot_handle, duration_error, prune_unknown,
                                      quantity_error, strict_message, time_error, type_errors,
                                      unknown_fields, warnings)

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"


def deployment(**spec: Any) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx"}]}
    pod_spec.update(spec.pop("pod", {}))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}, **spec}}


def container(**fields: Any) -> dict[str, Any]:
    return {"pod": {"containers": [{"name": "web", "image": "nginx", **fields}]}}


# A realistic 3-4 KB Pod as the API server stores it (the benchmark object, and a clean case).
BIG_POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "name": "web-7d4b9c8f6d-x2k9p", "generateName": "web-7d4b9c8f6d-", "namespace": "default",
        "uid": "2f1c6a7e-8b1d-4c55-9e0f-1a2b3c4d5e6f", "resourceVersion": "12345",
        "creationTimestamp": "2024-01-02T03:04:05Z",
        "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6d", "tier": "frontend"},
        "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f6d",
                             "uid": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "controller": True,
                             "blockOwnerDeletion": True}]},
    "spec": {
        "volumes": [
            {"name": "config", "configMap": {"name": "web-config", "defaultMode": 420}},
            {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}],
        "containers": [{
            "name": "web", "image": "nginx:1.25", "command": ["nginx"], "args": ["-g", "daemon off;"],
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"},
                      {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "production"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
            "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/nginx/conf.d", "readOnly": True},
                             {"name": "cache", "mountPath": "/var/cache/nginx"},
                             {"name": "kube-api-access-abcde", "readOnly": True,
                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                              "initialDelaySeconds": 10, "timeoutSeconds": 1, "periodSeconds": 10,
                              "successThreshold": 1, "failureThreshold": 3},
            "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 1, "periodSeconds": 5,
                               "successThreshold": 1, "failureThreshold": 3},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}}}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default", "serviceAccount": "default", "nodeName": "node-1",
        "securityContext": {"fsGroup": 101}, "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300}],
        "priority": 0, "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"},
    "status": {
        "phase": "Running",
        "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                        "lastTransitionTime": "2024-01-02T03:04:15Z"}
                       for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "hostIP": "10.0.0.11", "hostIPs": [{"ip": "10.0.0.11"}], "podIP": "10.244.1.7",
        "podIPs": [{"ip": "10.244.1.7"}], "startTime": "2024-01-02T03:04:05Z",
        "containerStatuses": [{
            "name": "web", "state": {"running": {"startedAt": "2024-01-02T03:04:08Z"}}, "lastState": {},
            "ready": True, "restartCount": 0, "image": "docker.io/library/nginx:1.25",
            "imageID": "docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
            "containerID": "containerd://8f2a9d6c1b3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a",
            "started": True}],
        "qosClass": "Burstable"}}


# --- unknown fields ------------------------------------------------------------------------------

@pytest.mark.parametrize("obj, name, expected", [
    (deployment(), DEPLOYMENT, []),
    (BIG_POD, POD, []),
    (deployment(foo=1), DEPLOYMENT, ["spec.foo"]),
    ({**deployment(), "extra": True}, DEPLOYMENT, ["extra"]),
    (deployment(**container(imagePullPolcy="Always")), DEPLOYMENT,
     ["spec.template.spec.containers[0].imagePullPolcy"]),
    # Inline Go embeddings: VolumeSource, LocalObjectReference, ProbeHandler, IngressRuleValue.
    (deployment(pod={"volumes": [{"name": "a", "configMap": {"name": "c", "items": [{"key": "k", "path": "p"}]}},
                                 {"name": "b", "emptyDir": {}, "volumeSource": {}}]}), DEPLOYMENT,
     ["spec.template.spec.volumes[1].volumeSource"]),
    (deployment(**container(env=[{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k", "nope": 1}}}],
                            livenessProbe={"exec": {"command": ["true"]}, "handler": {}})), DEPLOYMENT,
     ["spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.nope",
      "spec.template.spec.containers[0].livenessProbe.handler"]),
    ({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
      "spec": {"rules": [{"host": "a", "http": {"paths": [{"path": "/", "pathType": "Prefix",
               "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}},
     "io.k8s.api.networking.v1.Ingress", []),
    # Maps take any key, special types are leaves, "any" takes anything.
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"x/y": "z"}},
      "data": {"any.key": "v"}, "binaryData": {"b": "AA=="}}, "io.k8s.api.core.v1.ConfigMap", []),
    ({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "r"}, "revision": 1,
      "data": {"whatever": {"deep": [1, {"x": 2}]}}}, "io.k8s.api.apps.v1.ControllerRevision", []),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "managedFields": [
        {"manager": "m", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:x": {}}}}]},
      "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}, POD, []),
    ({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"},
      "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": "object", "anything": 1}}}]}},
     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition", []),
    # TypeMeta: accepted where the Go struct embeds it (volumeClaimTemplates), not elsewhere.
    ({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
      "spec": {"serviceName": "s", "selector": {}, "template": {},
               "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                         "metadata": {"name": "data"}}]}},
     "io.k8s.api.apps.v1.StatefulSet", []),
    (deployment(apiVersion="v1"), DEPLOYMENT, ["spec.apiVersion"]),
    ({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {"schedule": "* * * * *",
      "jobTemplate": {"kind": "Job", "spec": {"template": {}}}}},
     "io.k8s.api.batch.v1.CronJob", ["spec.jobTemplate.kind"]),
    # Renamed fields: the JSON name is accepted, the proto name is not.
    ({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
      "spec": {"audiences": [], "boundObjectRef": {"kind": "Pod", "name": "p", "uid": "1", "uID": "1"}}},
     "io.k8s.api.authentication.v1.TokenRequest", ["spec.boundObjectRef.uID"]),
    # Wrong types are not unknown fields: they are skipped here, type_errors reports them.
    (deployment(template="oops", selector=[1]), DEPLOYMENT, []),
    (deployment(pod={"containers": ["x", None, {"name": "c", "bad": 1}]}), DEPLOYMENT,
     ["spec.template.spec.containers[2].bad"]),
    # Document order, every level.
    ({"zz": 1, "metadata": {"q": 1, "name": "a"}, "spec": {"replicas": 1, "r": 2}, "aa": 3}, DEPLOYMENT,
     ["zz", "metadata.q", "spec.r", "aa"]),
], ids=lambda v: None)
def test_unknown_fields(obj: dict[str, Any], name: str, expected: list[str]) -> None:
    before = copy.deepcopy(obj)
    assert unknown_fields(obj, name) == expected
    assert obj == before  # read-only


@pytest.mark.parametrize("obj, name", [
    (deployment(foo=1, **container(imagePullPolcy="x", ports=[{"containerPort": 80, "hostPorts": 1}])), DEPLOYMENT),
    ({"zz": 1, "metadata": {"q": 1, "name": "a"}, "spec": {"r": {"deep": 1}}}, DEPLOYMENT),
    (BIG_POD, POD),
])
def test_prune_unknown_removes_exactly_the_unknown_fields(obj: dict[str, Any], name: str) -> None:
    obj = copy.deepcopy(obj)
    reported = unknown_fields(obj, name)
    kept_before = _leaves(obj)
    assert prune_unknown(obj, name) is None
    assert unknown_fields(obj, name) == []
    removed = kept_before - _leaves(obj)
    assert {path for path, _ in removed} == {p for p in _leaf_paths_under(reported, kept_before)}


def _leaves(obj: Any, prefix: str = "") -> set[tuple[str, str]]:
    if isinstance(obj, dict):
        return {leaf for k, v in obj.items() for leaf in _leaves(v, f"{prefix}.{k}" if prefix else k)}
    if isinstance(obj, list):
        return {leaf for i, v in enumerate(obj) for leaf in _leaves(v, f"{prefix}[{i}]")}
    return {(prefix, repr(obj))}


def _leaf_paths_under(roots: list[str], leaves: set[tuple[str, str]]) -> set[str]:
    return {p for p, _ in leaves for r in roots if p == r or p.startswith(r + ".") or p.startswith(r + "[")}


def test_strict_and_warn_wording() -> None:
    paths = unknown_fields(deployment(foo=1, bar=2), DEPLOYMENT)
    assert strict_message(paths) == 'strict decoding error: unknown field "spec.foo", unknown field "spec.bar"'
    assert warnings(paths) == ['unknown field "spec.foo"', 'unknown field "spec.bar"']
    err = cannot_handle("Deployment", "v1", strict_message(paths[:1]))
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == ('Deployment in version "v1" cannot be handled as a Deployment: '
                           'strict decoding error: unknown field "spec.foo"')


def test_unknown_schema_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        unknown_fields({}, "io.k8s.api.apps.v1.Nope")


# --- type errors ---------------------------------------------------------------------------------

PODSPEC = "spec.template.spec"


@pytest.mark.parametrize("obj, field, message", [
    (deployment(replicas="3"), "spec.replicas",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (deployment(replicas=1.5), "spec.replicas",
     "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (deployment(replicas=2**31), "spec.replicas",
     "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (deployment(replicas=True), "spec.replicas",
     "json: cannot unmarshal bool into Go struct field DeploymentSpec.spec.replicas of type int32"),
    (deployment(paused="yes"), "spec.paused",
     "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"),
    ({"spec": "x"}, "spec", "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"),
    ({"metadata": {"labels": {"a": 1}}}, "metadata.labels[a]",
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    ({"metadata": {"labels": ["a"]}}, "metadata.labels",
     "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    ({"metadata": {"generation": 2**63}}, "metadata.generation",
     "json: cannot unmarshal number 9223372036854775808 into Go struct field ObjectMeta.metadata.generation of type int64"),
    (deployment(pod={"containers": {}}), f"{PODSPEC}.containers",
     "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"),
    (deployment(pod={"containers": ["x"]}), f"{PODSPEC}.containers[0]",
     "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.containers of type v1.Container"),
    (deployment(**container(ports=[{"containerPort": "80"}])), f"{PODSPEC}.containers[0].ports[0].containerPort",
     "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"),
    (deployment(**container(ports=["x"])), f"{PODSPEC}.containers[0].ports[0]",
     "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.ports of type v1.ContainerPort"),
    (deployment(**container(command="sleep 1")), f"{PODSPEC}.containers[0].command",
     "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.command of type []string"),
    (deployment(**container(args=["a", 1])), f"{PODSPEC}.containers[0].args[1]",
     "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.args of type string"),
    # Inline members: Go names the outer struct.
    (deployment(pod={"volumes": [{"name": "v", "emptyDir": "x"}]}), f"{PODSPEC}.volumes[0].emptyDir",
     "json: cannot unmarshal string into Go struct field Volume.spec.template.spec.volumes.emptyDir of type v1.EmptyDirVolumeSource"),
    # Special leaves: their UnmarshalJSON wording.
    (deployment(**container(resources={"limits": {"cpu": "1GB"}})), f"{PODSPEC}.containers[0].resources.limits[cpu]",
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    (deployment(**container(resources={"requests": {"memory": "1iG"}})), f"{PODSPEC}.containers[0].resources.requests[memory]",
     "unable to parse quantity's suffix"),
    (deployment(**container(resources={"limits": {"cpu": True}})), f"{PODSPEC}.containers[0].resources.limits[cpu]",
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    (deployment(strategy={"rollingUpdate": {"maxSurge": 1.5}}), "spec.strategy.rollingUpdate.maxSurge",
     "json: cannot unmarshal number 1.5 into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32"),
    (deployment(strategy={"rollingUpdate": {"maxSurge": {}}}), "spec.strategy.rollingUpdate.maxSurge",
     "json: cannot unmarshal object into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32"),
    ({"metadata": {"creationTimestamp": "yesterday"}}, "metadata.creationTimestamp",
     'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'),
    ({"metadata": {"creationTimestamp": 5}}, "metadata.creationTimestamp",
     "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
    ({"apiVersion": "v1", "kind": "Secret", "data": {"k": "abc"}}, "data[k]", "illegal base64 data at input byte 0"),
    ({"apiVersion": "v1", "kind": "Secret", "data": {"k": "YWJj!"}}, "data[k]", "illegal base64 data at input byte 4"),
    ({"apiVersion": "v1", "kind": "Secret", "data": {"k": 1}}, "data[k]",
     "json: cannot unmarshal number into Go struct field Secret.data of type []uint8"),
    ({"apiVersion": "v1", "kind": 3}, "kind", "json: cannot unmarshal number into Go struct field Deployment.kind of type string"),
    ({"spec": {"extra": {"scopes": "a"}}}, "spec.extra[scopes]",
     "json: cannot unmarshal string into Go struct field SubjectAccessReviewSpec.spec.extra of type v1.ExtraValue"),
], ids=lambda v: None)
def test_type_errors(obj: dict[str, Any], field: str, message: str) -> None:
    name = {"Secret": "io.k8s.api.core.v1.Secret"}.get(obj.get("kind"), DEPLOYMENT)  # type: ignore[arg-type]
    if field.startswith("spec.extra"):
        name = "io.k8s.api.authorization.v1.SubjectAccessReview"
    errors = type_errors(obj, name)
    assert [(e.field, e.message, e.reason) for e in errors] == [(field, message, "FieldValueTypeInvalid")]


@pytest.mark.parametrize("obj, name", [
    (deployment(), DEPLOYMENT),
    (BIG_POD, POD),
    # null is Go's "leave it at zero" everywhere.
    (deployment(replicas=None, strategy=None, pod={"containers": [None, {"name": None, "ports": None}]}), DEPLOYMENT),
    # Numbers are valid Quantities; names and numbers both valid IntOrStrings; "any" takes anything.
    (deployment(**container(resources={"limits": {"cpu": 1, "memory": 0.5}}),
                strategy={"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}), DEPLOYMENT),
    ({"apiVersion": "apps/v1", "kind": "ControllerRevision", "data": [1, "x"], "revision": 3},
     "io.k8s.api.apps.v1.ControllerRevision"),
    ({"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"type": 5, "properties": []}}}]}},
     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"),
    # Unknown fields are not type errors.
    (deployment(foo="bar", **container(bogus=[1])), DEPLOYMENT),
    ({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
      "spec": {"renewTime": "2024-01-02T03:04:05.123456Z", "leaseDurationSeconds": 15}}, "io.k8s.api.coordination.v1.Lease"),
])
def test_no_type_errors(obj: dict[str, Any], name: str) -> None:
    assert type_errors(obj, name) == []


def test_type_errors_come_in_document_order() -> None:
    obj = deployment(replicas="x", paused=1, **container(ports=[{"containerPort": "a"}]))
    assert [e.field for e in type_errors(obj, DEPLOYMENT)] == [
        "spec.replicas", f"{PODSPEC}.containers[0].ports[0].containerPort", "spec.paused"]


# --- leaf parsers --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, offset", [
    ("", None), ("YWJj", None), ("YWI=", None), ("YQ==", None), ("YW\nJj\r\n", None),
    ("YWJ", 0), ("YQ", 0), ("YWJjY", 4), ("YQ=", 3), ("Y===", 1), ("YWJj!", 4), ("YQ==YQ==", 4), ("YW-j", 2),
])
def test_base64(text: str, offset: int | None) -> None:
    assert base64_error(text) == offset


@pytest.mark.parametrize("text, ok", [
    ("100m", True), ("1Gi", True), ("1e3", True), ("0.5", True), (".5", True), ("-1", True), ("+1Ki", True),
    ("1E", True), (" 2 ", True), ("1GB", False), ("1iG", False), ("abc", False), ("", False), ("1e", False),
    ("1.2.3", False), (".", False), ("1Ki5", False), ("5e-3", True), ("1.", True),
])
def test_quantity(text: str, ok: bool) -> None:
    assert (quantity_error(text) is None) == ok


@pytest.mark.parametrize("text, error", [
    ("2024-01-02T03:04:05Z", None),
    ("2024-01-02T03:04:05.5+01:00", None),
    ("2024-13-02T03:04:05Z", 'parsing time "2024-13-02T03:04:05Z": month out of range'),
    ("2024-01-02 03:04:05Z",
     'parsing time "2024-01-02 03:04:05Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 03:04:05Z" as "T"'),
    ("2024-01-02T03:04:05Zjunk", 'parsing time "2024-01-02T03:04:05Zjunk": extra text: "junk"'),
])
def test_time(text: str, error: str | None) -> None:
    assert time_error(text) == error


@pytest.mark.parametrize("text, error", [
    ("1h30m", None), ("1.5s", None), ("-2m", None), ("0", None), ("300ms", None), ("2µs", None),
    ("", 'time: invalid duration ""'), ("1", 'time: missing unit in duration "1"'),
    ("1x", 'time: unknown unit "x" in duration "1x"'), ("h", 'time: invalid duration "h"'),
])
def test_duration(text: str, error: str | None) -> None:
    assert duration_error(text) == error


# --- speed: these run on every write -----------------------------------------------------------

@pytest.mark.parametrize("check", [unknown_fields, type_errors])
def test_a_big_pod_is_checked_quickly(check: Any) -> None:
    check(BIG_POD, POD)  # warm the per-message tables
    best = min(timeit.repeat(lambda: check(BIG_POD, POD), number=50, repeat=5)) / 50
    # About 30-60 µs on the dev box; the bound only catches an accidental slow path.
    assert best < 400e-6, f"{check.__name__} took {best * 1e6:.0f} µs"


# --- the fast pass never disagrees with the detailed one -----------------------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(["", "x", "1Gi", "YQ==", "2024-01-02T03:04:05Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "name", "port"]), inner, max_size=3),
    max_leaves=6)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


_POD_PATHS = _paths(BIG_POD)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_POD_PATHS), _JSON_VALUES)
def test_fast_pass_agrees_with_detailed_pass(path: tuple[Any, ...], value: Any) -> None:
    obj = copy.deepcopy(BIG_POD)
    cur: Any = obj
    for part in path[:-1]:
        cur = cur[part]
    cur[path[-1]] = value
    detailed: list[Any] = []
    conformance._check_message(obj, POD, "Pod", "", "", detailed)
    assert [e.field for e in type_errors(obj, POD)] == [e.field for e in detailed]
    unknown_fields(obj, POD)  # never raises on any shape
