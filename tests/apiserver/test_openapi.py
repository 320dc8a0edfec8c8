"""OpenAPI v3 documents: what kubectl's explain, validation probe and apply read from them."""
from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson
import pytest

from kubelite.api import schema as api
from kubelite.api.registry import ResourceType, Strategy
from kubelite.apiserver.openapi import (
    GVK_EXT, OpenAPIBuilder, crd_definition_name, crd_resource_schema, message_schema,
)
from kubelite.machinery.errors import StatusError

REF = "#/components/schemas/"


class CRStrategy(Strategy):
    """The part of a custom-resource strategy the builder reads: the version's schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema


def make_rt(group: str, version: str, kind: str, plural: str, *, namespaced: bool = True,
            subresources: tuple[str, ...] = (), schema: str | None = None, strategy: Strategy | None = None,
            verbs: tuple[str, ...] | None = None) -> ResourceType:
    extra: dict[str, Any] = {"verbs": verbs} if verbs is not None else {}
    return ResourceType(group=group, version=version, kind=kind, plural=plural, singular=kind.lower(),
                        namespaced=namespaced, strategy=strategy or Strategy(), schema=schema,
                        subresources=subresources, **extra)


def builtins() -> list[ResourceType]:
    core, apps = "io.k8s.api.core.v1.", "io.k8s.api.apps.v1."
    return [
        make_rt("", "v1", "Pod", "pods", subresources=("status",), schema=core + "Pod"),
        make_rt("", "v1", "Namespace", "namespaces", namespaced=False, subresources=("status",),
                schema=core + "Namespace"),
        make_rt("", "v1", "ConfigMap", "configmaps", schema=core + "ConfigMap"),
        make_rt("apps", "v1", "Deployment", "deployments", subresources=("status", "scale"), schema=apps + "Deployment"),
        make_rt("apps", "v1", "ReplicaSet", "replicasets", subresources=("status", "scale"), schema=apps + "ReplicaSet"),
        make_rt("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", namespaced=False,
                schema="io.k8s.api.authorization.v1.SelfSubjectAccessReview", verbs=("create",)),
        make_rt("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                namespaced=False, subresources=("status",),
                schema=api.APIEXT + "CustomResourceDefinition"),
    ]


CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "required": ["image"], "properties": {
            "cronSpec": {"type": "string", "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
            "image": {"type": "string"},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
            "port": {"x-kubernetes-int-or-string": True},
            "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                         "x-kubernetes-preserve-unknown-fields": True},
        }},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
    },
}
CRONTAB_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {"group": "stable.example.com", "scope": "Namespaced",
             "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "listKind": "CronTabList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": CRONTAB_SCHEMA},
                           "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                    "statusReplicasPath": ".status.replicas"}}}]},
}


def crontab_rt(schema: dict[str, Any] = CRONTAB_SCHEMA) -> ResourceType:
    return make_rt("stable.example.com", "v1", "CronTab", "crontabs", subresources=("status", "scale"),
                   strategy=CRStrategy(schema))


def doc_of(builder: OpenAPIBuilder, gv: str, resources: list[ResourceType]) -> dict[str, Any]:
    return orjson.loads(builder.group_version_doc(gv, resources))


# ------------------------------------------------------------------ kubectl's view

def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return doc["components"]["schemas"][ref[len(REF):]]
    return schema


def explain(doc: dict[str, Any], gvr: tuple[str, str, str], field_path: list[str]) -> dict[str, Any]:
    """What ``kubectl explain`` (plaintext.tmpl) does: GVK from the first operation found on the
    resource's paths, the component whose GVK list contains it, then one field at a time through
    properties, items, additionalProperties and allOf."""
    group, version, resource = gvr
    prefix = f"/apis/{group}" if group else "/api"
    gvk = None
    for p in (f"{prefix}/{version}/{resource}", f"{prefix}/{version}/{resource}/{{name}}",
              f"{prefix}/{version}/namespaces/{{namespace}}/{resource}",
              f"{prefix}/{version}/namespaces/{{namespace}}/{resource}/{{name}}"):
        item = doc["paths"].get(p) or {}
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item and GVK_EXT in item[method]:
                gvk = item[method][GVK_EXT]
                break
        if gvk:
            break
    assert gvk, f"GVR {gvr} not found in OpenAPI schema"
    schema = next(s for s in doc["components"]["schemas"].values() if gvk in (s.get(GVK_EXT) or []))

    def walk(s: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
        s = resolve(doc, s)
        if not path:
            return s
        props = s.get("properties") or {}
        if path[0] in props:
            return walk(props[path[0]], path[1:])
        if "items" in s:
            return walk(s["items"], path)
        if isinstance(s.get("additionalProperties"), dict):
            return walk(s["additionalProperties"], path)
        for sub in s.get("allOf") or []:
            found = walk(sub, path)
            if found is not None:
                return found
        return None

    found = walk(schema, field_path)
    assert found is not None, f"field {field_path[-1]!r} does not exist"
    # the field list of an array field is that of its items, of a ref that of the target
    while True:
        found = resolve(doc, found)
        if "items" in found:
            found = found["items"]
        elif len(found.get("allOf") or []) == 1 and not found.get("properties"):
            found = found["allOf"][0]
        else:
            return found


def type_guess(doc: dict[str, Any], s: dict[str, Any]) -> str:
    """kubectl explain's "<type>" column."""
    if "items" in s:
        return "[]" + type_guess(doc, s["items"])
    if isinstance(s.get("additionalProperties"), dict):
        return "map[string]" + type_guess(doc, s["additionalProperties"])
    if len(s.get("allOf") or []) == 1 and not s.get("properties"):
        return type_guess(doc, s["allOf"][0])
    if "$ref" in s:
        target = resolve(doc, s)
        if not target.get("type") or target["type"] == "object":
            return s["$ref"].rsplit(".", 1)[-1]
        return str(target["type"])
    return "Object" if s.get("type") == "object" else str(s.get("type") or "Object")


def patch_ops(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["patch"] for item in doc["paths"].values() if "patch" in item]


def test_explain_deployment_spec_template_spec_containers() -> None:
    b = OpenAPIBuilder()
    rts = builtins()
    root = b.root(rts)
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    gv = url.split("?")[0].removeprefix("/openapi/v3/")
    doc = doc_of(b, gv, rts)
    containers = explain(doc, ("apps", "v1", "deployments"), ["spec", "template", "spec", "containers"])
    assert set(containers["properties"]) == set(api.message("io.k8s.api.core.v1.Container").fields)
    assert containers["required"] == ["name"]
    props = containers["properties"]
    assert type_guess(doc, props["ports"]) == "[]ContainerPort"
    assert type_guess(doc, props["env"]) == "[]EnvVar"
    assert type_guess(doc, props["image"]) == "string"
    assert type_guess(doc, props["resources"]) == "ResourceRequirements"
    limits = resolve(doc, props["resources"])["properties"]["limits"]
    assert type_guess(doc, limits) == "map[string]Quantity"
    template = explain(doc, ("apps", "v1", "deployments"), ["spec", "template"])
    assert set(template["properties"]) == {"metadata", "spec"}
    spec = explain(doc, ("apps", "v1", "deployments"), ["spec"])
    assert spec["required"] == ["selector", "template"]
    pod_spec = explain(doc_of(b, "api/v1", rts), ("", "v1", "pods"), ["spec"])
    assert "containers" in pod_spec["required"]


def test_explain_top_level_kind_and_crd() -> None:
    b = OpenAPIBuilder()
    rts = [*builtins(), crontab_rt()]
    top = explain(doc_of(b, "apis/apps/v1", rts), ("apps", "v1", "deployments"), [])
    assert set(top["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert "required" not in top  # apiVersion/kind/metadata are never required
    crd_doc = doc_of(b, "apis/stable.example.com/v1", rts)
    spec = explain(crd_doc, ("stable.example.com", "v1", "crontabs"), ["spec"])
    assert set(spec["properties"]) == {"cronSpec", "image", "replicas", "port", "template"}
    meta = explain(crd_doc, ("stable.example.com", "v1", "crontabs"), ["metadata", "labels"])
    assert meta == {"type": "object", "additionalProperties": {"type": "string"}}
    # the CRD's own schema explains down into openAPIV3Schema
    ext = doc_of(b, "apis/apiextensions.k8s.io/v1", rts)
    props = explain(ext, ("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                    ["spec", "versions", "schema", "openAPIV3Schema"])
    assert {"type", "properties", "x-kubernetes-preserve-unknown-fields", "$ref"} <= set(props["properties"])


def test_field_validation_probe_like_kubectl() -> None:
    """kubectl's query-param verifier: some PATCH operation with the object's GVK must list
    fieldValidation (otherwise it falls back to /openapi/v2 and fails)."""
    b = OpenAPIBuilder()
    rts = [*builtins(), crontab_rt()]
    for gv, gvk in [("apis/apps/v1", {"group": "apps", "version": "v1", "kind": "Deployment"}),
                    ("api/v1", {"group": "", "version": "v1", "kind": "Namespace"}),
                    ("apis/stable.example.com/v1", {"group": "stable.example.com", "version": "v1", "kind": "CronTab"})]:
        doc = doc_of(b, gv, rts)
        ops = [op for op in patch_ops(doc) if op[GVK_EXT] == gvk]
        assert ops, gv
        for op in ops:
            assert {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}} in op["parameters"]


# ------------------------------------------------------------------ document shape

def test_operations_carry_action_and_gvk() -> None:
    b = OpenAPIBuilder()
    rts = builtins()
    doc = doc_of(b, "apis/apps/v1", rts)
    assert doc["openapi"] == "3.0.0" and doc["info"]["title"] == "Kubernetes"
    actions = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert op[GVK_EXT]["version"] == "v1", path
            actions.add((method, op["x-kubernetes-action"]))
    assert actions == {("get", "list"), ("post", "post"), ("delete", "deletecollection"), ("get", "get"),
                       ("put", "put"), ("patch", "patch"), ("delete", "delete")}
    assert "/apis/apps/v1/deployments" in doc["paths"]  # list across namespaces
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale[GVK_EXT] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert {"group": "autoscaling", "kind": "Scale", "version": "v1"} in \
        doc["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"][GVK_EXT]
    status = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"]["put"]
    assert status[GVK_EXT]["kind"] == "Deployment" and status["operationId"] == "replaceAppsV1NamespacedDeploymentStatus"


def test_patch_content_types_leave_out_strategic_merge_patch() -> None:
    rts = [*builtins(), crontab_rt()]
    expected = {"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"}
    b = OpenAPIBuilder()
    for gv in ("api/v1", "apis/apps/v1", "apis/stable.example.com/v1"):
        for op in patch_ops(doc_of(b, gv, rts)):
            assert set(op["requestBody"]["content"]) == expected
            assert op["requestBody"]["content"]["application/merge-patch+json"]["schema"]["$ref"] == \
                REF + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    smp = OpenAPIBuilder(strategic_merge_patch=True)
    assert all("application/strategic-merge-patch+json" in op["requestBody"]["content"]
               for op in patch_ops(doc_of(smp, "apis/apps/v1", rts)))
    # custom resources never take strategic merge patches
    assert all("application/strategic-merge-patch+json" not in op["requestBody"]["content"]
               for op in patch_ops(doc_of(smp, "apis/stable.example.com/v1", rts)))


def test_cluster_scoped_and_create_only_paths() -> None:
    b = OpenAPIBuilder()
    rts = builtins()
    core = doc_of(b, "api/v1", rts)
    assert "/api/v1/namespaces/{name}" in core["paths"]
    assert "/api/v1/namespaces/{namespace}/namespaces" not in core["paths"]
    assert [p["name"] for p in core["paths"]["/api/v1/namespaces/{name}"]["parameters"]] == ["name", "pretty"]
    authz = doc_of(b, "apis/authorization.k8s.io/v1", rts)
    assert list(authz["paths"]) == ["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(authz["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]) == {"post", "parameters"}


def test_every_ref_resolves() -> None:
    b = OpenAPIBuilder()
    rts = [*builtins(), crontab_rt()]

    def check(node: Any, names: set[str], where: str) -> None:
        if isinstance(node, list):
            for n in node:
                check(n, names, where)
        elif isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    assert v.startswith(REF) and v[len(REF):] in names, (where, v)
                elif k == "properties" and isinstance(v, dict):
                    for sub in v.values():  # keys here are field names ("$ref" is one in JSONSchemaProps)
                        check(sub, names, where)
                else:
                    check(v, names, where)

    for gv in b.root(rts)["paths"]:
        doc = doc_of(b, gv, rts)
        check(doc, set(doc["components"]["schemas"]), gv)


def test_component_schemas() -> None:
    b = OpenAPIBuilder()
    rts = builtins()
    schemas = doc_of(b, "api/v1", rts)["components"]["schemas"]
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {"oneOf": [{"type": "string"}, {"type": "number"}]}
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"] == {"type": "string", "format": "date-time"}
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["description"] == "Pod is an object of the v1 API."
    assert "description" not in schemas["io.k8s.api.core.v1.PodSpec"]
    assert all("description" not in p for p in pod["properties"].values())
    assert pod[GVK_EXT] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert schemas["io.k8s.api.core.v1.PodList"][GVK_EXT] == [{"group": "", "kind": "PodList", "version": "v1"}]
    assert schemas["io.k8s.api.core.v1.PodList"]["required"] == ["items"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers == {"type": "array", "items": {"$ref": REF + "io.k8s.api.core.v1.Container"},
                          "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}
    node_selector = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["nodeSelector"]
    assert node_selector == {"type": "object", "additionalProperties": {"type": "string"}}
    assert schemas["io.k8s.api.core.v1.ConfigMap"]["properties"]["binaryData"]["additionalProperties"] == \
        {"type": "string", "format": "byte"}
    assert schemas["io.k8s.api.core.v1.Container"]["properties"]["terminationMessagePath"] == {"type": "string"}
    assert schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["activeDeadlineSeconds"] == \
        {"type": "integer", "format": "int64"}
    assert "x-kubernetes-group-version-kind" not in schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    # proto wrappers of string lists are plain arrays
    verbs = message_schema("io.k8s.apimachinery.pkg.apis.meta.v1.APIResource")["properties"]["verbs"]
    assert verbs == {"type": "array", "items": {"type": "string"}}
    status = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Status"]
    assert status[GVK_EXT] == [{"group": "", "kind": "Status", "version": "v1"}]


# ------------------------------------------------------------------ CRDs and caching

def test_crd_component_schema() -> None:
    s = crd_resource_schema(CRONTAB_CRD, "v1")
    assert s[GVK_EXT] == [{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}]
    assert s["properties"]["metadata"] == {"$ref": REF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    assert s["properties"]["apiVersion"] == {"type": "string"} and s["properties"]["kind"] == {"type": "string"}
    spec = s["properties"]["spec"]
    assert spec["properties"]["replicas"] == {"type": "integer", "minimum": 1, "maximum": 10}
    assert spec["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    template = spec["properties"]["template"]
    assert {"apiVersion", "kind", "metadata"} <= set(template["properties"])
    assert template["required"] == ["kind", "apiVersion"]
    assert CRONTAB_SCHEMA["properties"]["spec"]["properties"]["port"] == {"x-kubernetes-int-or-string": True}
    assert crd_definition_name("stable.example.com", "v1", "CronTab") == "com.example.stable.v1.CronTab"
    broken = copy.deepcopy(CRONTAB_CRD)
    del broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["image"]["type"]
    assert crd_resource_schema(broken, "v1") == {"type": "object", GVK_EXT: s[GVK_EXT]}
    with pytest.raises(StatusError) as e:
        crd_resource_schema(CRONTAB_CRD, "v9")
    assert e.value.code == 400


def test_crd_document() -> None:
    b = OpenAPIBuilder()
    rts = [*builtins(), crontab_rt()]
    doc = doc_of(b, "apis/stable.example.com/v1", rts)
    schemas = doc["components"]["schemas"]
    assert schemas["com.example.stable.v1.CronTabList"][GVK_EXT] == [
        {"group": "stable.example.com", "kind": "CronTabList", "version": "v1"}]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas
    assert "io.k8s.api.core.v1.Pod" not in schemas
    paths = doc["paths"]
    assert set(paths) == {
        "/apis/stable.example.com/v1/crontabs",
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs",
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}",
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status",
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale",
    }
    get = paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["get"]
    assert set(get["responses"]["200"]["content"]) == {"application/json", "application/yaml"}


def test_root_hash_is_of_the_document_and_changes_with_crds() -> None:
    b = OpenAPIBuilder()
    rts = builtins()
    root1 = b.root(rts)
    assert "apis/stable.example.com/v1" not in root1["paths"]
    for gv, entry in root1["paths"].items():
        body = b.group_version_doc(gv, rts)
        assert entry["serverRelativeURL"] == f"/openapi/v3/{gv}?hash={hashlib.sha512(body).hexdigest().upper()}"
        assert b.hash_of(gv, rts) == hashlib.sha512(body).hexdigest().upper()

    with_crd = [*rts, crontab_rt()]
    root2 = b.root(with_crd)
    assert "apis/stable.example.com/v1" in root2["paths"]
    for gv in root1["paths"]:  # other group-versions keep their documents
        assert root1["paths"][gv] == root2["paths"][gv]

    # the CRD changes (new ResourceType, new schema): only its group-version's hash moves
    changed = copy.deepcopy(CRONTAB_SCHEMA)
    changed["properties"]["spec"]["properties"]["suspend"] = {"type": "boolean"}
    root3 = b.root([*rts, crontab_rt(changed)])
    gv = "apis/stable.example.com/v1"
    assert root3["paths"][gv] != root2["paths"][gv]
    assert root3["paths"]["apis/apps/v1"] == root2["paths"]["apis/apps/v1"]
    # a second CRD in the same group-version changes that document too
    widget = make_rt("stable.example.com", "v1", "Widget", "widgets", strategy=CRStrategy({"type": "object"}))
    root4 = b.root([*rts, crontab_rt(changed), widget])
    assert root4["paths"][gv] != root3["paths"][gv]
    # and removing the CRD removes its group-version
    assert gv not in b.root(rts)["paths"]


def test_documents_are_cached() -> None:
    b = OpenAPIBuilder()
    rts = builtins()
    first = b.group_version_doc("apis/apps/v1", rts)
    assert b.group_version_doc("apis/apps/v1", rts) is first
    assert b.group_version_doc("/openapi/v3/apis/apps/v1", rts) is first
    # same generation: served without looking at the resources again
    root = b.root(rts, generation=7)
    assert b.root([], generation=7) is root
    assert b.group_version_doc("apis/apps/v1", [], generation=7) is first
    # an identical but new ResourceType object rebuilds, with the same bytes and hash
    again = [*builtins()]
    rebuilt = b.group_version_doc("apis/apps/v1", again)
    assert rebuilt == first and rebuilt is not first


def test_unknown_group_version_is_404() -> None:
    b = OpenAPIBuilder()
    with pytest.raises(StatusError) as e:
        b.group_version_doc("apis/nope.example.com/v1", builtins())
    assert e.value.code == 404
