"""Protobuf request decoding: real kubectl 1.32 bodies, Go-style round trips, hand-built edge
cases, and malformed input (always a 400, never a Python error)."""
from __future__ import annotations

import base64
import copy
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubelite.api import schema
from kubelite.machinery.errors import StatusError
from kubelite.machinery.protobuf import MAGIC, decode, go_duration

from .protoenc import envelope, ld, marshal, tag, varint, vi

FIXTURES = Path(__file__).with_name("protobuf_fixtures")
_GROUP_PACKAGES = {
    "": "core", "apps": "apps", "batch": "batch", "autoscaling": "autoscaling", "policy": "policy",
    "networking.k8s.io": "networking", "rbac.authorization.k8s.io": "rbac",
    "authorization.k8s.io": "authorization", "authentication.k8s.io": "authentication",
    "scheduling.k8s.io": "scheduling", "coordination.k8s.io": "coordination", "events.k8s.io": "events",
}


def resolve(api_version: str, kind: str) -> str | None:
    """What the API server's resolver does: (apiVersion, kind) -> definition name."""
    group, _, version = api_version.rpartition("/")
    if group == "apiextensions.k8s.io":
        name = f"{schema.APIEXT}{kind}"
    elif group in _GROUP_PACKAGES:
        name = f"io.k8s.api.{_GROUP_PACKAGES[group]}.{version}.{kind}"
    else:
        return None
    return name if schema.has_message(name) else None


def body(api_version: str, kind: str, obj: dict[str, Any], **kw: Any) -> bytes:
    name = resolve(api_version, kind)
    assert name is not None
    return envelope(api_version, kind, marshal(obj, name, **kw))


def as_request(go_json: Any) -> Any:
    """kubectl's ``--dry-run=client -o json`` minus what Go's JSON adds for unset non-pointer
    structs (``"status": {}``, ``"creationTimestamp": null``); the decoder drops those."""
    if isinstance(go_json, dict):
        out = {k: as_request(v) for k, v in go_json.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}
    if isinstance(go_json, list):
        return [as_request(v) for v in go_json]
    return go_json


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


# --- real bodies captured from kubectl 1.32.4 ---------------------------------------------------
# Each .bin is the POST body of the command; each .json is the same command with
# `--dry-run=client -o json`, i.e. the JSON kubectl would have sent.
KUBECTL = {
    "deploy": "create deployment web --image=nginx --replicas=3",
    "deploy0": "create deployment zero --image=nginx --replicas=0 --port=8080",
    "deploy2": "create deployment multi --image=nginx --image=redis:7",
    "ns": "create namespace team-a",
    "cm": "create configmap cfg --from-literal=a=1 --from-literal=empty= --from-literal=b=two",
    "secret": "create secret generic sec --from-file=bin=<binary file> --from-literal=user=admin",
    "secret_dockercfg": "create secret docker-registry reg --docker-server=r.io --docker-username=u ...",
    "svc": "create service clusterip web --tcp=80:8080 --tcp=443:https",
    "svc_np": "create service nodeport np --tcp=80:8080 --node-port=30080",
    "svc_headless": "create service clusterip hl --clusterip=None",
    "job": "create job j --image=busybox -- echo hi",
    "cronjob": "create cronjob cj --image=busybox --schedule='*/5 * * * *' -- date",
    "sa": "create serviceaccount bot",
    "rb": "create rolebinding rb --role=r --user=alice --serviceaccount=default:bot",
    "ingress": "create ingress ing --rule='foo.com/bar*=svc:8080,tls=my-cert' --class=nginx --annotation=a=b",
    "pdb": "create poddisruptionbudget pdb --selector=app=web --min-available=50%",
    "pc": "create priorityclass high --value=1000 --preemption-policy=Never --description=hi",
    "quota": "create quota q --hard=cpu=1,memory=1Gi,pods=10 --scopes=BestEffort",
}


@pytest.mark.parametrize("name", sorted(KUBECTL))
def test_kubectl_body_decodes_to_what_kubectl_sends_as_json(name: str) -> None:
    expected = as_request(orjson.loads((FIXTURES / f"{name}.json").read_bytes()))
    assert decode(fixture(name), resolve) == expected


def test_explicit_zero_replicas_survives_and_go_zeros_do_not() -> None:
    spec = decode(fixture("deploy0"), resolve)["spec"]
    assert spec["replicas"] == 0  # *int32 set to 0: kept
    assert "minReadySeconds" not in spec and "paused" not in spec  # written by Go, unset
    assert spec["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]


def test_secret_binary_data_is_base64_of_the_exact_bytes() -> None:
    data = decode(fixture("secret"), resolve)["data"]
    assert base64.b64decode(data["bin"]) == b"hello\x00\xff\xfebinary"
    assert base64.b64decode(data["user"]) == b"admin"


def test_service_target_port_int_and_named() -> None:
    ports = decode(fixture("svc"), resolve)["spec"]["ports"]
    assert [p["targetPort"] for p in ports] == [8080, "https"]


def test_inline_and_renamed_fields() -> None:
    rule = decode(fixture("ingress"), resolve)["spec"]["rules"][0]
    assert set(rule) == {"host", "http"}  # IngressRuleValue is inline in Go
    ref = decode(fixture("token"), resolve)["spec"]["boundObjectRef"]
    assert ref == {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "1234"}  # proto: uID


@pytest.mark.parametrize("name, expected", [
    ("ssar", {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": "default", "verb": "create",
                                              "resource": "deployments.apps", "subresource": "scale"}},
              "status": {"allowed": False}}),
    ("ssar_list", {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                   "spec": {"namespace": "default"}, "status": {"incomplete": False}}),
    ("token", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"audiences": ["api"], "expirationSeconds": 600,
                        "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "1234"}},
               "status": {"token": ""}}),
    ("whoami", {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
])
def test_kubectl_auth_bodies(name: str, expected: dict[str, Any]) -> None:
    # Non-omitempty status fields (allowed, incomplete, token) stay, as in Go's JSON.
    assert decode(fixture(name), resolve) == expected


# --- Go-style round trips of shapes the captures do not cover ------------------------------------

HPA = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
       "metadata": {"name": "web", "namespace": "default"},
       "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80}}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "labels": {"a": "b"}},
       "spec": {"backoffLimit": 0, "completions": 3, "parallelism": 0, "manualSelector": False,
                "ttlSecondsAfterFinished": 100,
                "template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "pi", "image": "perl", "command": ["perl", "-e", "print 1"],
                     "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}}]}}}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "generateName": "p-",
       "creationTimestamp": "2024-01-02T03:04:05Z", "deletionGracePeriodSeconds": 0,
       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1",
                            "controller": True, "blockOwnerDeletion": False}],
       "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                          "time": "2024-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                          "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]},
       "spec": {"priority": -5, "automountServiceAccountToken": False,
                "securityContext": {"runAsUser": 0, "supplementalGroups": [1, 2, -3]},
                "volumes": [{"name": "scratch", "emptyDir": {}},
                            {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}],
                "containers": [{"name": "c", "image": "i", "stdin": True,
                                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
                                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
                                "ports": [{"containerPort": 0, "hostPort": 8080}]}],
                "ephemeralContainers": [{"name": "dbg", "image": "busybox", "targetContainerName": "c"}]},
       "status": {"phase": "Running", "startTime": "2024-01-02T03:04:06Z",
                  "conditions": [{"type": "Ready", "status": "True",
                                  "lastTransitionTime": "1970-01-01T00:00:00Z"}]}}
DEPLOY_STRATEGY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                   "spec": {"strategy": {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
                            "selector": {}, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}
SAR = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
       "spec": {"user": "alice", "groups": ["dev"], "uid": "42",
                "extra": {"scopes": ["a", "b"], "empty": []},
                "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}
SSAR = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "group": "apps",
                                        "resource": "deployments"}}}
LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
         "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                  "acquireTime": "2024-01-02T03:04:05.123456Z", "renewTime": "2024-01-02T03:04:06.000000Z",
                  "leaseTransitions": 0}}
CONTROLLER_REVISION = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "cr"},
                       "revision": 2, "data": {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": True, "storage": True,
                              "subresources": {"status": {}},
                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                  "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                           "required": ["size"],
                                           "properties": {
                                               "size": {"type": "integer", "minimum": 1.5, "default": 3},
                                               "tags": {"type": "array", "items": {"type": "string"}},
                                               "labels": {"type": "object",
                                                          "additionalProperties": {"type": "string"}},
                                               "mode": {"type": "string", "enum": ["a", "b"]}}}}}}}]}}


# Go's JSON keeps non-omitempty fields even at zero (HPA status.currentReplicas, SAR
# status.allowed, CRD status.acceptedNames.plural); so does the decoder.
GO_STATUS = {
    "HorizontalPodAutoscaler": {"currentReplicas": 0, "desiredReplicas": 0},
    "SubjectAccessReview": {"allowed": False},
    "SelfSubjectAccessReview": {"allowed": False},
    "CustomResourceDefinition": {"acceptedNames": {"plural": "", "kind": ""}},
}


@pytest.mark.parametrize("obj", [HPA, JOB, POD, DEPLOY_STRATEGY, SAR, SSAR, LEASE, CONTROLLER_REVISION, CRD],
                         ids=lambda o: o["kind"])
def test_go_marshalled_object_round_trips(obj: dict[str, Any]) -> None:
    expected = copy.deepcopy(obj)
    if obj["kind"] in GO_STATUS:
        expected["status"] = GO_STATUS[obj["kind"]]
    assert decode(body(obj["apiVersion"], obj["kind"], obj), resolve) == expected


def test_pointer_false_and_zero_survive() -> None:
    spec = decode(body("batch/v1", "Job", JOB), resolve)["spec"]
    assert spec["manualSelector"] is False and spec["parallelism"] == 0 and spec["backoffLimit"] == 0


def test_round_trip_facts_that_matter() -> None:
    pod = decode(body("v1", "Pod", POD), resolve)
    assert pod["spec"]["volumes"][0] == {"name": "scratch", "emptyDir": {}}  # pointer {} kept
    assert pod["spec"]["securityContext"]["runAsUser"] == 0  # *int64 zero kept
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 0, "hostPort": 8080}]
    assert pod["status"]["conditions"][0]["lastTransitionTime"] == "1970-01-01T00:00:00Z"
    assert pod["metadata"]["managedFields"][0]["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
    deploy = decode(body("apps/v1", "Deployment", DEPLOY_STRATEGY), resolve)
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": "25%"}
    assert deploy["spec"]["selector"] == {}  # *LabelSelector: set, empty


def test_packed_repeated_numbers_decode_like_unpacked() -> None:
    assert decode(body("v1", "Pod", POD, packed=True), resolve) == decode(body("v1", "Pod", POD), resolve)


def test_without_go_zeros_the_result_is_the_same() -> None:
    for obj in (HPA, JOB, POD):
        assert decode(body(obj["apiVersion"], obj["kind"], obj, go_zeros=False), resolve) == obj


def test_embedded_protobuf_raw_extension() -> None:
    inner = body("v1", "ConfigMap", {"metadata": {"name": "c"}, "data": {"k": "v"}})
    outer = ld(1, ld(1, b"cr")) + ld(2, ld(1, inner)) + vi(3, 1)
    got = decode(envelope("apps/v1", "ControllerRevision", outer), resolve)
    assert got["data"] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}


# --- DeleteOptions (helm deletes its release Secrets with a protobuf body) ----------------------

@pytest.mark.parametrize("api_version", ["v1", "meta.k8s.io/v1", "apps/v1"])
def test_empty_delete_options(api_version: str) -> None:
    # resolve() knows no DeleteOptions: the decoder falls back to meta/v1's message.
    got = decode(envelope(api_version, "DeleteOptions", b""), resolve)
    assert got == {"apiVersion": api_version, "kind": "DeleteOptions"}


def test_delete_options_fields() -> None:
    raw = (vi(1, 0) + ld(2, ld(1, b"uid-1") + ld(2, b"7")) + vi(3, 0) + ld(4, b"Background")
           + ld(5, b"All"))
    got = decode(envelope("v1", "DeleteOptions", raw), lambda av, k: None)
    assert got == {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": "uid-1", "resourceVersion": "7"},
                   "orphanDependents": False, "propagationPolicy": "Background", "dryRun": ["All"]}


# --- hand-built wire details ---------------------------------------------------------------------

def test_negative_int32_as_ten_byte_varint() -> None:
    raw = ld(1, ld(1, b"low")) + tag(2, 0) + varint(-5)  # PriorityClass.value
    assert len(varint(-5)) == 10
    assert decode(envelope("scheduling.k8s.io/v1", "PriorityClass", raw), resolve)["value"] == -5


def test_unknown_field_numbers_of_every_wire_type_are_skipped() -> None:
    raw = (ld(1, ld(1, b"ns") + vi(900, 7)) + vi(99, 1) + tag(98, 5) + b"abcd"
           + tag(97, 1) + b"12345678" + ld(96, b"\x00\xff"))
    assert decode(envelope("v1", "Namespace", raw), resolve) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}


def test_map_entry_without_value_and_last_value_wins() -> None:
    raw = ld(1, ld(1, b"a") + ld(1, b"b")) + ld(2, ld(1, b"k")) + ld(2, ld(1, b"j") + ld(2, b"v"))
    got = decode(envelope("v1", "ConfigMap", raw), resolve)
    assert got["metadata"] == {"name": "b"}
    assert got["data"] == {"k": "", "j": "v"}


@pytest.mark.parametrize("seconds, nanos, kind, expected", [
    (1704164645, 0, "Time", "2024-01-02T03:04:05Z"),
    (1704164645, 999_999_999, "Time", "2024-01-02T03:04:05Z"),  # Time drops sub-seconds
    (1704164645, 123_456_789, "MicroTime", "2024-01-02T03:04:05.123456Z"),
    (0, 0, "MicroTime", "1970-01-01T00:00:00.000000Z"),
    (-1, 0, "Time", "1969-12-31T23:59:59Z"),
])
def test_timestamps(seconds: int, nanos: int, kind: str, expected: str) -> None:
    ts = vi(1, seconds) + vi(2, nanos)
    if kind == "Time":  # ObjectMeta.creationTimestamp (8)
        raw = ld(1, ld(8, ts))
        got = decode(envelope("v1", "ConfigMap", raw), resolve)["metadata"]["creationTimestamp"]
    else:  # Lease.spec.renewTime (4)
        raw = ld(2, ld(4, ts))
        got = decode(envelope("coordination.k8s.io/v1", "Lease", raw), resolve)["spec"]["renewTime"]
    assert got == expected


def num(message: str, field: str) -> int:
    return schema.message(message).fields[field].number


def crd_with_schema(props: bytes) -> bytes:
    """A CRD whose only version carries JSONSchemaProps ``props``."""
    ext = schema.APIEXT
    validation = ld(num(ext + "CustomResourceValidation", "openAPIV3Schema"), props)
    version = (ld(num(ext + "CustomResourceDefinitionVersion", "name"), b"v1")
               + ld(num(ext + "CustomResourceDefinitionVersion", "schema"), validation))
    spec = ld(num(ext + "CustomResourceDefinitionSpec", "versions"), version)
    return envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                    ld(num(ext + "CustomResourceDefinition", "spec"), spec))


def test_double_via_fixed64() -> None:
    props = schema.CRD_SCHEMA_PROPS
    raw = ld(num(props, "type"), b"number") + tag(num(props, "minimum"), 1) + struct.pack("<d", 0.25)
    got = decode(crd_with_schema(raw), resolve)
    assert got["spec"]["versions"][0]["schema"]["openAPIV3Schema"] == {"type": "number", "minimum": 0.25}


def test_invalid_utf8_is_replaced_like_go_json() -> None:
    got = decode(envelope("v1", "Namespace", ld(1, ld(1, b"a\xffb"))), resolve)
    assert got["metadata"]["name"] == "a\ufffdb"


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (1_500_000, "1.5ms"), (1_000_000_000, "1s"),
    (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"), (3723 * 10**9 + 5 * 10**8, "1h2m3.5s"),
    (-2 * 10**9, "-2s"), (100 * 3600 * 10**9, "100h0m0s"),
])
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


# --- malformed input: 400 (or 415), never an exception of another type ---------------------------

def _status(data: bytes, resolver: Any = resolve) -> StatusError:
    with pytest.raises(StatusError) as e:
        decode(data, resolver)
    return e.value


@pytest.mark.parametrize("data, code, words", [
    (b"", 400, "magic"),
    (b'{"kind":"Pod"}', 400, "magic"),
    (MAGIC + b"\x0a", 400, "truncated"),
    (MAGIC + b"\x0a\x7f", 400, "past the end"),
    (envelope("", "", b""), 400, "kind"),
    (envelope("v1", "Nope", b""), 400, 'no kind "Nope" is registered for version "v1"'),
    (envelope("example.com/v1", "Widget", b""), 400, 'no kind "Widget"'),
    (envelope("v1", "Namespace", b"", encoding="gzip"), 415, "gzip"),
    (envelope("v1", "Namespace", tag(1, 0) + varint(5)), 400, "wire type 0"),  # metadata as varint
    (envelope("v1", "Namespace", tag(1, 3)), 400, "wire type 3"),  # group: unsupported
    (envelope("v1", "Namespace", tag(99, 4)), 400, "wire type 4"),
    (envelope("v1", "Namespace", b"\x00\x01"), 400, "field number 0"),
    (envelope("v1", "Namespace", ld(1, ld(1, b"abc")[:-1])), 400, "past the end"),
    (envelope("v1", "Namespace", b"\x0a\x02\x0a"), 400, "past the end"),
    (envelope("v1", "Namespace", tag(1, 1) + b"\x00"), 400, "wire type 1"),
    (envelope("v1", "Namespace", ld(1, tag(7, 0) + b"\xff" * 11)), 400, "varint"),  # generation
    (envelope("apps/v1", "ControllerRevision", ld(2, ld(1, b"{nope"))), 400, "not valid JSON"),
    (envelope("v1", "ConfigMap", ld(1, ld(8, vi(1, 1 << 62)))), 400, "out of range"),
    (crd_with_schema(tag(11, 1) + struct.pack("<d", float("nan"))), 400, "finite"),  # minimum
    (crd_with_schema(tag(11, 1) + b"\x00\x00"), 400, "truncated"),
])
def test_malformed(data: bytes, code: int, words: str) -> None:
    err = _status(data)
    assert err.code == code
    assert words in err.message


def test_every_truncation_of_a_real_body_is_handled() -> None:
    data = fixture("deploy0")
    for n in range(len(data)):
        try:
            decode(data[:n], resolve)
        except StatusError as e:
            assert e.code == 400
        # A cut at a field boundary may decode to a smaller object; that's fine.


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_object_bytes_never_crash(raw: bytes) -> None:
    try:
        out = decode(envelope("apps/v1", "Deployment", raw), resolve)
    except StatusError as e:
        assert e.code == 400
    else:
        orjson.dumps(out)  # whatever decodes is JSON


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=200))
def test_random_mutations_of_a_real_body_never_crash(noise: bytes, at: int) -> None:
    data = bytearray(fixture("deploy"))
    at = len(MAGIC) + at % (len(data) - len(MAGIC))
    data[at:at + len(noise)] = noise
    try:
        orjson.dumps(decode(bytes(data), resolve))
    except StatusError as e:
        assert e.code in (400, 415)
