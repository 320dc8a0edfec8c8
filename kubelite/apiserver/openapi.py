"""OpenAPI v3 documents (``/openapi/v3`` and ``/openapi/v3/<gv>``) generated from our schemas.

The HTTP layer owns one ``OpenAPIBuilder`` and hands it the resources being served right now
(built-ins plus CRD-backed ones, from ``ResourceRegistry.all()``):

* ``root(resources)`` answers ``GET /openapi/v3``: one ``serverRelativeURL`` per group-version,
  carrying ``?hash=`` of the exact bytes of that document, so clients may cache it forever
  (serve hash URLs with ``Cache-Control: public, immutable``).
* ``group_version_doc("apis/apps/v1", resources)`` answers ``GET /openapi/v3/apis/apps/v1``.

Documents are serialised once and cached per group-version, keyed by the identity of the
ResourceType objects (and CRD schemas) in it: serving a new CRD (``set_crd`` builds new
ResourceTypes) rebuilds only that group-version. ResourceTypes are treated as immutable.

What clients rely on (measured, see wire-contract §A3/§C4-C6): every operation carries
``x-kubernetes-group-version-kind`` and ``x-kubernetes-action``; every PATCH lists the
``fieldValidation`` query parameter (else kubectl falls back to client-side validation via
/openapi/v2) and the patch types json-patch, merge-patch and apply-patch -- not
strategic-merge-patch unless ``strategic_merge_patch=True`` (kubectl would then compute SMP
from these schemas). ``kubectl explain`` finds the kind's GVK on a path operation, then the
component carrying the same GVK in ``x-kubernetes-group-version-kind``, and walks
``properties``/``$ref``/``allOf``/``items``/``additionalProperties`` from there.

Component schemas come from kubelite.api.schema (field names, types, list and merge
semantics); descriptions are left empty (Kubernetes' prose is not ours to copy). A custom
resource's component comes from its CRD: the CR strategy's ``schema`` (the version's
openAPIV3Schema, converted by ``custom_resource_schema``) or a ready ``openapi_schema``.
"""
from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Iterable

import orjson

from kubelite.api import schema as api
from kubelite.api.registry import ResourceType
from kubelite.api.structural_crd import validate_crd_schema
from kubelite.machinery.errors import StatusError

REF = "#/components/schemas/"
OBJECT_META = api.META + "ObjectMeta"
LIST_META = api.META + "ListMeta"
STATUS = api.META + "Status"
PATCH = api.META + "Patch"
DELETE_OPTIONS = api.META + "DeleteOptions"
SCALE = "io.k8s.api.autoscaling.v1.Scale"
GVK_EXT = "x-kubernetes-group-version-kind"

_SCALARS: dict[str, dict[str, str]] = {
    "string": {"type": "string"}, "bool": {"type": "boolean"},
    "int32": {"type": "integer", "format": "int32"}, "int64": {"type": "integer", "format": "int64"},
    "double": {"type": "number", "format": "double"}, "float": {"type": "number", "format": "float"},
    "bytes": {"type": "string", "format": "byte"},
}
# How Kubernetes publishes the messages that have a scalar JSON form (OpenAPIV3OneOfTypes etc.).
_SPECIAL_SCHEMAS: dict[str, dict[str, Any]] = {
    "quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "int-or-string": {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    "date-time": {"type": "string", "format": "date-time"},
    "duration": {"type": "string"},
    "any": {"type": "object"},
}

# Fields Kubernetes marks required, for the kinds people explain and write most. The proto
# "optional" markers over-approximate (status fields, defaulted pointers), so we list them.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "io.k8s.api.core.v1.PodSpec": ("containers",),
    "io.k8s.api.core.v1.Container": ("name",),
    "io.k8s.api.core.v1.EphemeralContainer": ("name",),
    "io.k8s.api.core.v1.ContainerPort": ("containerPort",),
    "io.k8s.api.core.v1.ServicePort": ("port",),
    "io.k8s.api.core.v1.EnvVar": ("name",),
    "io.k8s.api.core.v1.VolumeMount": ("name", "mountPath"),
    "io.k8s.api.core.v1.Volume": ("name",),
    "io.k8s.api.core.v1.KeyToPath": ("key", "path"),
    "io.k8s.api.core.v1.ConfigMapKeySelector": ("key",),
    "io.k8s.api.core.v1.SecretKeySelector": ("key",),
    "io.k8s.api.core.v1.ObjectFieldSelector": ("fieldPath",),
    "io.k8s.api.core.v1.ResourceFieldSelector": ("resource",),
    "io.k8s.api.core.v1.HTTPGetAction": ("port",),
    "io.k8s.api.core.v1.TCPSocketAction": ("port",),
    "io.k8s.api.core.v1.NodeSelector": ("nodeSelectorTerms",),
    "io.k8s.api.core.v1.NodeSelectorRequirement": ("key", "operator"),
    "io.k8s.api.core.v1.TopologySpreadConstraint": ("maxSkew", "topologyKey", "whenUnsatisfiable"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement": ("key", "operator"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference": ("apiVersion", "kind", "name", "uid"),
    "io.k8s.apimachinery.pkg.apis.meta.v1.Condition": ("type", "status", "lastTransitionTime", "reason", "message"),
    "io.k8s.api.apps.v1.DeploymentSpec": ("selector", "template"),
    "io.k8s.api.apps.v1.ReplicaSetSpec": ("selector",),
    "io.k8s.api.apps.v1.DaemonSetSpec": ("selector", "template"),
    "io.k8s.api.apps.v1.StatefulSetSpec": ("selector", "template"),
    "io.k8s.api.batch.v1.JobSpec": ("template",),
    "io.k8s.api.batch.v1.CronJobSpec": ("schedule", "jobTemplate"),
    "io.k8s.api.networking.v1.HTTPIngressRuleValue": ("paths",),
    "io.k8s.api.networking.v1.HTTPIngressPath": ("pathType", "backend"),
    "io.k8s.api.networking.v1.IngressServiceBackend": ("name",),
    "io.k8s.api.rbac.v1.PolicyRule": ("verbs",),
    "io.k8s.api.rbac.v1.Subject": ("kind", "name"),
    "io.k8s.api.rbac.v1.RoleRef": ("apiGroup", "kind", "name"),
    "io.k8s.api.rbac.v1.RoleBinding": ("roleRef",),
    "io.k8s.api.rbac.v1.ClusterRoleBinding": ("roleRef",),
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec": ("scaleTargetRef", "maxReplicas"),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": ("scaleTargetRef", "maxReplicas"),
    "io.k8s.api.autoscaling.v1.CrossVersionObjectReference": ("kind", "name"),
    "io.k8s.api.autoscaling.v2.CrossVersionObjectReference": ("kind", "name"),
    api.APIEXT + "CustomResourceDefinitionSpec": ("group", "names", "scope", "versions"),
    api.APIEXT + "CustomResourceDefinitionNames": ("plural", "kind"),
    api.APIEXT + "CustomResourceDefinitionVersion": ("name", "served", "storage"),
}
# Top-level types without a metadata field that still carry apiVersion/kind on the wire.
_TYPED = frozenset({DELETE_OPTIONS, STATUS})

_JSON, _YAML, _PB = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_SMP = "application/strategic-merge-patch+json"


# ------------------------------------------------------------------ component schemas

def _is_wrapper(name: str) -> bool:
    """Proto wrappers of a string list (Verbs, ExtraValue) are plain JSON arrays."""
    if not api.has_message(name) or name.endswith("List"):
        return False
    fields = api.message(name).fields
    return list(fields) == ["items"] and fields["items"].repeated and fields["items"].type == "string"


def _is_any(name: str) -> bool:
    # apiextensions' JSON / JSONSchemaPropsOr{Array,Bool,StringArray}: any JSON value.
    return name == api.CRD_JSON or (name.startswith(api.APIEXT) and "JSONSchemaPropsOr" in name)


def _value_schema(t: str) -> dict[str, Any]:
    if t in _SCALARS:
        return dict(_SCALARS[t])
    if _is_wrapper(t):
        return {"type": "array", "items": {"type": "string"}}
    return {"$ref": REF + t}


def _field_schema(f: api.Field) -> dict[str, Any]:
    if f.type == "map":
        s: dict[str, Any] = {"type": "object", "additionalProperties": _value_schema(f.value_type or "string")}
    else:
        s = _value_schema(f.type)
    if f.repeated:
        s = {"type": "array", "items": s}
        if f.list_type:
            s["x-kubernetes-list-type"] = f.list_type
        if f.list_map_keys:
            s["x-kubernetes-list-map-keys"] = list(f.list_map_keys)
    if f.merge_key:
        s["x-kubernetes-patch-merge-key"] = f.merge_key
    if f.patch_strategy:
        s["x-kubernetes-patch-strategy"] = f.patch_strategy
    if "$ref" in s and len(s) > 1:
        # OpenAPI 3.0 ignores siblings of $ref; Kubernetes wraps the ref in allOf.
        s = {"allOf": [{"$ref": s.pop("$ref")}], **s}
    return s


@cache
def message_schema(name: str) -> dict[str, Any]:
    """The component schema of a built-in message (without GVK; shared, do not mutate)."""
    msg = api.message(name)
    special = api.SPECIAL.get(name)
    if _is_any(name):
        return {}
    if special and name != api.CRD_SCHEMA_PROPS:
        return copy.deepcopy(_SPECIAL_SCHEMAS[special])
    if _is_wrapper(name):
        return {"type": "array", "items": {"type": "string"}}
    props = {fname: _field_schema(f) for fname, f in msg.fields.items()}
    if _is_kind(name):
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
    out: dict[str, Any] = {"type": "object", "properties": dict(sorted(props.items()))}
    req = [r for r in _REQUIRED.get(name, ()) if r in msg.fields]
    if name.endswith("List") and "items" in msg.fields and msg.fields["items"].repeated:
        req = ["items"]
    if req:
        out["required"] = req
    return out


def _is_kind(name: str) -> bool:
    """Whether a message is a top-level object with apiVersion/kind on the wire: a kind that
    has a list, a list of a kind, or one of the list-less kinds (reviews, Scale, Status...)
    -- not merely something with metadata (PodTemplateSpec)."""
    if name in _TYPED:
        return True
    if name.endswith("List"):
        return api.has_message(name[:-4]) and "items" in api.message(name).fields
    return api.has_message(name + "List")


def _with_type_meta(s: dict[str, Any]) -> dict[str, Any]:
    props = s.get("properties")
    if props is None or ("apiVersion" in props and "kind" in props):
        return s
    return {**s, "properties": dict(sorted({**props, "apiVersion": {"type": "string"},
                                            "kind": {"type": "string"}}.items()))}


@cache
def _direct_refs(name: str) -> frozenset[str]:
    return frozenset(_refs_in(message_schema(name)))


def _refs_in(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str) and ref.startswith(REF):
                found.add(ref[len(REF):])
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return found


def closure(names: Iterable[str]) -> set[str]:
    """Every built-in message reachable from ``names`` (themselves included)."""
    seen: set[str] = set()
    todo = [n for n in names if api.has_message(n)]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(r for r in _direct_refs(n) if r not in seen and api.has_message(r))
    return seen


# ------------------------------------------------------------------ CRD schemas

def crd_definition_name(group: str, version: str, kind: str) -> str:
    """``stable.example.com``/v1/CronTab -> ``com.example.stable.v1.CronTab`` (as Kubernetes)."""
    return ".".join([*reversed(group.split(".")), version, kind])


def crd_resource_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    """The component schema of a CRD's custom resource at ``version`` (see
    ``custom_resource_schema``); 400 if the CRD does not define that version."""
    spec = crd.get("spec") or {}
    entry = next((v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("name") == version), None)
    if entry is None:
        name = (crd.get("metadata") or {}).get("name", "")
        raise StatusError(400, "BadRequest", f'version "{version}" is not defined in CustomResourceDefinition "{name}"')
    return custom_resource_schema((entry.get("schema") or {}).get("openAPIV3Schema"), spec.get("group", ""),
                                  version, (spec.get("names") or {}).get("kind", ""))


def custom_resource_schema(schema: Any, group: str, version: str, kind: str) -> dict[str, Any]:
    """A custom resource's component schema from its openAPIV3Schema: int-or-string unfolded
    to anyOf, embedded resources given apiVersion/kind/metadata, the root given apiVersion,
    kind and a metadata ref, plus the GVK extension. A missing or non-structural schema
    gives a bare object, as Kubernetes publishes it."""
    out: dict[str, Any] = {"type": "object"}
    if isinstance(schema, dict) and not validate_crd_schema(schema, "openAPIV3Schema"):
        out = _publishable(copy.deepcopy(schema))
        props = out.setdefault("properties", {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        props["metadata"] = {"$ref": REF + OBJECT_META}
        out["type"] = "object"
    out[GVK_EXT] = [{"group": group, "kind": kind, "version": version}]
    return out


def crd_list_schema(group: str, version: str, kind: str, list_kind: str) -> dict[str, Any]:
    return {
        "description": _description(_gvk(group, version, list_kind)),
        "type": "object", "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": REF + crd_definition_name(group, version, kind)}},
            "kind": {"type": "string"},
            "metadata": {"$ref": REF + LIST_META},
        },
        GVK_EXT: [{"group": group, "kind": list_kind, "version": version}],
    }


def _publishable(s: dict[str, Any]) -> dict[str, Any]:
    int_or_string = [{"type": "integer"}, {"type": "string"}]
    if s.get("x-kubernetes-int-or-string"):
        any_of = s.get("anyOf")
        all_of = s.get("allOf") or []
        already = any_of == int_or_string or (all_of and isinstance(all_of[0], dict) and all_of[0].get("anyOf") == int_or_string)
        if not already:
            if any_of is None:
                s["anyOf"] = copy.deepcopy(int_or_string)
            else:
                s["allOf"] = [{"anyOf": copy.deepcopy(int_or_string)}, *all_of]
    if s.get("x-kubernetes-embedded-resource"):
        props = s.setdefault("properties", {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        props["metadata"] = {"$ref": REF + OBJECT_META}
        req = s.setdefault("required", [])
        for k in ("kind", "apiVersion"):
            if k not in req:
                req.append(k)
    for sub in (s.get("properties") or {}).values():
        if isinstance(sub, dict):
            _publishable(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            _publishable(s[key])
    return s


# ------------------------------------------------------------------ paths

def gv_path(rt: ResourceType) -> str:
    """``api/v1`` or ``apis/<group>/<version>``: the key in /openapi/v3's ``paths``."""
    return f"apis/{rt.group}/{rt.version}" if rt.group else f"api/{rt.version}"


def _q(name: str, typ: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": typ}}


def _p(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_LIST_PARAMS = [_q("allowWatchBookmarks", "boolean"), _q("continue"), _q("fieldSelector"), _q("labelSelector"),
                _q("limit", "integer"), _q("resourceVersion"), _q("resourceVersionMatch"),
                _q("sendInitialEvents", "boolean"), _q("timeoutSeconds", "integer"), _q("watch", "boolean")]
_WRITE_PARAMS = [_q("dryRun"), _q("fieldManager"), _q("fieldValidation")]
_PATCH_PARAMS = [*_WRITE_PARAMS, _q("force", "boolean")]
_DELETE_PARAMS = [_q("dryRun"), _q("gracePeriodSeconds", "integer"),
                  _q("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean"),
                  _q("orphanDependents", "boolean"), _q("propagationPolicy")]


def _camel_gv(group: str, version: str) -> str:
    g = group.removesuffix(".k8s.io") if group else "core"
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.-]", g)) + version[:1].upper() + version[1:]


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What every operation of one resource shares."""

    gvk: dict[str, str]
    tag: str
    content: tuple[str, ...]
    patch_types: tuple[str, ...]


def _op(ctx: _Ctx, action: str, op_id: str, returns: str, *, params: list[dict[str, Any]] | None = None,
        body: str | None = None, body_types: tuple[str, ...] = ("*/*",), codes: tuple[str, ...] = ("200",),
        gvk: dict[str, str] | None = None) -> dict[str, Any]:
    reply = {ct: {"schema": {"$ref": REF + returns}} for ct in ctx.content}
    names = {"200": "OK", "201": "Created", "202": "Accepted"}
    op: dict[str, Any] = {
        "operationId": op_id,
        "responses": {**{c: {"description": names[c], "content": reply} for c in codes},
                      "401": {"description": "Unauthorized"}},
        "tags": [ctx.tag],
        "x-kubernetes-action": action,
        GVK_EXT: dict(gvk or ctx.gvk),
    }
    if params:
        op["parameters"] = [dict(p) for p in params]
    if body:
        op["requestBody"] = {"content": {ct: {"schema": {"$ref": REF + body}} for ct in body_types},
                             "required": action != "delete"}
    return op


def resource_paths(rt: ResourceType, kind_def: str, list_def: str | None, *, custom: bool,
                   strategic_merge_patch: bool = False) -> dict[str, dict[str, Any]]:
    """Path items of one resource: collection, item, all-namespaces list, status and scale."""
    prefix = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    content = (_JSON, _YAML) if custom else (_JSON, _YAML, _PB)
    patch_types = _PATCH_TYPES if custom or not strategic_merge_patch else (*_PATCH_TYPES, _SMP)
    ctx = _Ctx({"group": rt.group, "kind": rt.kind, "version": rt.version},
               f"{rt.group.replace('.', '_') if rt.group else 'core'}_{rt.version}", content, patch_types)
    gvc, kind = _camel_gv(rt.group, rt.version), rt.kind
    ns = "Namespaced" if rt.namespaced else ""
    verbs = set(rt.verbs)
    pretty = _q("pretty")
    scope = [_p("namespace")] if rt.namespaced else []
    collection = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
    item = f"{collection}/{{name}}"
    listed = list_def or kind_def
    out: dict[str, dict[str, Any]] = {}

    coll: dict[str, Any] = {}
    if "list" in verbs:
        coll["get"] = _op(ctx, "list", f"list{gvc}{ns}{kind}", listed, params=_LIST_PARAMS)
    if "create" in verbs:
        coll["post"] = _op(ctx, "post", f"create{gvc}{ns}{kind}", kind_def, params=_WRITE_PARAMS,
                           body=kind_def, codes=("200", "201", "202"))
    if "deletecollection" in verbs:
        coll["delete"] = _op(ctx, "deletecollection", f"deletecollection{gvc}{ns}{kind}", STATUS,
                             params=[*_LIST_PARAMS, *_DELETE_PARAMS], body=DELETE_OPTIONS)
    if coll:
        out[collection] = {**coll, "parameters": [*scope, pretty]}
    if rt.namespaced and "list" in verbs:
        out[f"{prefix}/{rt.plural}"] = {
            "get": _op(ctx, "list", f"list{gvc}{kind}ForAllNamespaces", listed, params=_LIST_PARAMS),
            "parameters": [pretty]}

    one: dict[str, Any] = {}
    if "get" in verbs:
        one["get"] = _op(ctx, "get", f"read{gvc}{ns}{kind}", kind_def)
    if "update" in verbs:
        one["put"] = _op(ctx, "put", f"replace{gvc}{ns}{kind}", kind_def, params=_WRITE_PARAMS,
                         body=kind_def, codes=("200", "201"))
    if "patch" in verbs:
        one["patch"] = _op(ctx, "patch", f"patch{gvc}{ns}{kind}", kind_def, params=_PATCH_PARAMS,
                           body=PATCH, body_types=ctx.patch_types, codes=("200", "201"))
    if "delete" in verbs:
        one["delete"] = _op(ctx, "delete", f"delete{gvc}{ns}{kind}", STATUS, params=_DELETE_PARAMS,
                            body=DELETE_OPTIONS, codes=("200", "202"))
    if one:
        out[item] = {**one, "parameters": [_p("name"), *scope, pretty]}

    for sub, ref, gvk in (("status", kind_def, None),
                          ("scale", SCALE, {"group": "autoscaling", "kind": "Scale", "version": "v1"})):
        if sub not in rt.subresources:
            continue
        suffix = sub.capitalize()
        out[f"{item}/{sub}"] = {
            "get": _op(ctx, "get", f"read{gvc}{ns}{kind}{suffix}", ref, gvk=gvk),
            "put": _op(ctx, "put", f"replace{gvc}{ns}{kind}{suffix}", ref, params=_WRITE_PARAMS, body=ref,
                       codes=("200", "201"), gvk=gvk),
            "patch": _op(ctx, "patch", f"patch{gvc}{ns}{kind}{suffix}", ref, params=_PATCH_PARAMS, body=PATCH,
                         body_types=ctx.patch_types, codes=("200", "201"), gvk=gvk),
            "parameters": [_p("name"), *scope, pretty],
        }
    return out


# ------------------------------------------------------------------ documents

def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _description(gvk: dict[str, str]) -> str:
    """Our own one-line description of a top-level kind (``kubectl explain`` shows it)."""
    api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
    kind = gvk["kind"]
    if kind.endswith("List") and len(kind) > 4:
        return f"{kind} is a list of {kind[:-4]} objects ({api_version})."
    return f"{kind} is an object of the {api_version} API."


def _custom_source(rt: ResourceType) -> dict[str, Any] | None:
    """Where a custom resource's schema lives: the strategy's ready ``openapi_schema``
    component, else its ``schema`` (the CRD version's openAPIV3Schema)."""
    for attr in ("openapi_schema", "schema"):
        value = getattr(rt.strategy, attr, None)
        if isinstance(value, dict):
            return value
    return None


def custom_component(rt: ResourceType) -> dict[str, Any]:
    """The component schema of a CRD-backed resource, from its strategy (see ``_custom_source``)."""
    ready = getattr(rt.strategy, "openapi_schema", None)
    if isinstance(ready, dict):
        return {**ready, GVK_EXT: [_gvk(rt.group, rt.version, rt.kind)]}
    return custom_resource_schema(_custom_source(rt), rt.group, rt.version, rt.kind)


def build_document(resources: list[ResourceType], *, strategic_merge_patch: bool = False) -> dict[str, Any]:
    """The OpenAPI v3 document of one group-version (``resources`` all share it)."""
    paths: dict[str, Any] = {}
    builtin_roots: set[str] = {STATUS, PATCH, DELETE_OPTIONS}
    gvks: dict[str, list[dict[str, str]]] = {STATUS: [_gvk("", "v1", "Status")]}
    custom_components: dict[str, dict[str, Any]] = {}

    def add_gvk(name: str, gvk: dict[str, str]) -> None:
        entries = gvks.setdefault(name, [])
        if gvk not in entries:
            entries.append(gvk)

    for rt in resources:
        if rt.schema and _is_builtin(rt):
            kind_def = rt.schema
            list_def: str | None = f"{kind_def.rsplit('.', 1)[0]}.{rt.list_kind}"
            if not api.has_message(list_def or ""):
                list_def = None
            builtin_roots.update(d for d in (kind_def, list_def) if d)
            add_gvk(kind_def, _gvk(rt.group, rt.version, rt.kind))
            if list_def:
                add_gvk(list_def, _gvk(rt.group, rt.version, rt.list_kind))
            custom = False
        else:
            kind_def = crd_definition_name(rt.group, rt.version, rt.kind)
            list_def = crd_definition_name(rt.group, rt.version, rt.list_kind)
            schema = custom_component(rt)
            if not schema.get("description"):
                schema = {"description": _description(_gvk(rt.group, rt.version, rt.kind)), **schema}
            custom_components[kind_def] = schema
            custom_components[list_def] = crd_list_schema(rt.group, rt.version, rt.kind, rt.list_kind)
            builtin_roots.update(r for r in _refs_in(schema) if api.has_message(r))
            builtin_roots.add(LIST_META)
            custom = True
        if "scale" in rt.subresources:
            builtin_roots.add(SCALE)
            add_gvk(SCALE, _gvk("autoscaling", "v1", "Scale"))
        paths.update(resource_paths(rt, kind_def, list_def, custom=custom,
                                    strategic_merge_patch=strategic_merge_patch))
        add_gvk(DELETE_OPTIONS, _gvk(rt.group, rt.version, "DeleteOptions"))
    add_gvk(DELETE_OPTIONS, _gvk("", "v1", "DeleteOptions"))

    components: dict[str, Any] = {}
    for name in sorted(closure(builtin_roots)):
        s = message_schema(name)
        if name in gvks:
            kinds = sorted(gvks[name], key=lambda g: (g["group"], g["version"]))
            s = {"description": _description(kinds[0]), **_with_type_meta(s), GVK_EXT: kinds}
        components[name] = s
    components.update(custom_components)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(components.items()))},
    }


@dataclass(slots=True)
class _Doc:
    key: tuple[tuple[int, int], ...]
    keep: list[Any]  # holds the keyed objects so their ids cannot be reused while cached
    body: bytes
    hash: str


class OpenAPIBuilder:
    """Serves /openapi/v3 from the current resources, caching each group-version document.

    ``generation`` (ResourceRegistry.generation) is optional: when it is unchanged since the
    last call the cached documents are returned without looking at the resources; otherwise
    each group-version's cache entry is checked against the identity of its ResourceTypes.
    """

    def __init__(self, *, strategic_merge_patch: bool = False) -> None:
        self.strategic_merge_patch = strategic_merge_patch
        self._docs: dict[str, _Doc] = {}
        self._root: dict[str, Any] | None = None
        self._generation: int | None = None

    def root(self, resources: Iterable[ResourceType], generation: int | None = None) -> dict[str, Any]:
        """``GET /openapi/v3``: every group-version with its hashed URL."""
        if generation is not None and generation == self._generation and self._root is not None:
            return self._root
        groups = _by_group_version(resources)
        for gone in set(self._docs) - set(groups):
            del self._docs[gone]
        root = {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={self._doc(gv, rts).hash}"}
                          for gv, rts in sorted(groups.items())}}
        self._root, self._generation = root, generation
        return root

    def group_version_doc(self, gv: str, resources: Iterable[ResourceType], generation: int | None = None) -> bytes:
        """``GET /openapi/v3/<gv>`` (``gv`` like ``api/v1`` or ``apis/apps/v1``); 404 if not served."""
        return self._lookup(gv, resources, generation).body

    def hash_of(self, gv: str, resources: Iterable[ResourceType], generation: int | None = None) -> str:
        """The ``hash`` of a group-version document (what the root's URL carries)."""
        return self._lookup(gv, resources, generation).hash

    def _lookup(self, gv: str, resources: Iterable[ResourceType], generation: int | None) -> _Doc:
        gv = gv.strip("/").removeprefix("openapi/v3/")
        if generation is not None and generation == self._generation and gv in self._docs:
            return self._docs[gv]
        rts = [rt for rt in resources if gv_path(rt) == gv and not _hidden(rt)]
        if not rts:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        return self._doc(gv, rts)

    def _doc(self, gv: str, rts: list[ResourceType]) -> _Doc:
        rts = sorted(rts, key=lambda rt: (rt.plural, rt.kind))
        sources = [None if _is_builtin(rt) else _custom_source(rt) for rt in rts]
        key = tuple((id(rt), id(src)) for rt, src in zip(rts, sources))
        cached = self._docs.get(gv)
        if cached is not None and cached.key == key:
            return cached
        body = orjson.dumps(build_document(rts, strategic_merge_patch=self.strategic_merge_patch))
        entry = _Doc(key, [rts, sources], body, hashlib.sha512(body).hexdigest().upper())
        self._docs[gv] = entry
        return entry


def _is_builtin(rt: ResourceType) -> bool:
    return bool(rt.schema) and api.has_message(rt.schema or "")


def _hidden(rt: ResourceType) -> bool:
    return not rt.verbs


def _by_group_version(resources: Iterable[ResourceType]) -> dict[str, list[ResourceType]]:
    out: dict[str, list[ResourceType]] = {}
    for rt in resources:
        if not _hidden(rt):
            out.setdefault(gv_path(rt), []).append(rt)
    return out
