"""The structural schema of every built-in Kubernetes type, loaded from ``types.json``.

``types.json`` is derived (by ``tools/gen_api_types.py``) from the wire definitions of
k8s.io/api 0.36: for each message its fields with JSON name, protobuf field number, type and
list/merge semantics. Everything schema-driven in kubelite reads it through this module:
protobuf decoding, OpenAPI documents, pruning and strict field validation, strategic merge keys.

Type names are OpenAPI definition names (``io.k8s.api.apps.v1.Deployment``). A field's ``type``
is a scalar (``string int32 int64 bool double float bytes``), ``map`` (string keys, value type
in ``value_type``) or a message name; a few messages are *special* and have a scalar JSON form
(Quantity, IntOrString, Time, RawExtension, ...), see ``SPECIAL``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
TIME = META + "Time"
MICRO_TIME = META + "MicroTime"
DURATION = META + "Duration"
FIELDS_V1 = META + "FieldsV1"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
CRD_JSON = APIEXT + "JSON"
CRD_SCHEMA_PROPS = APIEXT + "JSONSchemaProps"

# Messages whose JSON form is not an object of their fields.
#   quantity: "100m";  int-or-string: 80 or "http";  date-time: RFC 3339 string;
#   duration: "1h0m0s";  any: arbitrary JSON (embedded raw JSON on the protobuf wire).
SPECIAL: dict[str, str] = {
    QUANTITY: "quantity",
    INT_OR_STRING: "int-or-string",
    TIME: "date-time",
    MICRO_TIME: "date-time",
    DURATION: "duration",
    FIELDS_V1: "any",
    RAW_EXTENSION: "any",
    CRD_JSON: "any",
    # A CRD's openAPIV3Schema is validated by the CRD strategy, not field by field here.
    CRD_SCHEMA_PROPS: "any",
}
SCALARS = frozenset({"string", "int32", "int64", "bool", "double", "float", "bytes"})


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message: JSON name, protobuf number, type and list/merge semantics."""

    name: str
    number: int
    type: str
    value_type: str | None = None  # for maps
    repeated: bool = False
    optional: bool = False
    merge_key: str | None = None  # strategic merge patch key (x-kubernetes-patch-merge-key)
    patch_strategy: str | None = None  # "merge", "retainKeys", "merge,retainKeys", "replace"
    list_type: str | None = None  # "atomic", "set", "map"
    list_map_keys: tuple[str, ...] = ()

    @property
    def is_message(self) -> bool:
        return self.type not in SCALARS and self.type != "map" and self.type not in SPECIAL

    @property
    def special(self) -> str | None:
        return SPECIAL.get(self.type)


class Message:
    """The fields of one message type.

    ``proto_fields`` is the protobuf view (proto names, inline members unexpanded) and
    ``by_number`` indexes it; ``fields`` is the JSON view clients see: Go's inline embeddings
    (``Volume.volumeSource``, ``Probe.handler``...) flattened into the parent and the few
    renamed fields (``uID`` -> ``uid``) under their JSON names (facts from ``gofields.json``).
    """

    __slots__ = ("name", "proto_fields", "by_number", "_json")

    def __init__(self, name: str, fields: dict[str, Field]) -> None:
        self.name = name
        self.proto_fields = fields
        self.by_number = {f.number: f for f in fields.values()}
        self._json: dict[str, Field] | None = None

    @property
    def fields(self) -> dict[str, Field]:
        if self._json is None:
            self._json = _json_view(self)
        return self._json

    def __repr__(self) -> str:
        return f"Message({self.name}, {len(self.fields)} fields)"


# Proto field names that differ from the JSON names (only in JSONSchemaProps and FieldsV1).
_JSON_NAMES = {
    "ref": "$ref",
    "schema": "$schema",
    "xKubernetesPreserveUnknownFields": "x-kubernetes-preserve-unknown-fields",
    "xKubernetesEmbeddedResource": "x-kubernetes-embedded-resource",
    "xKubernetesIntOrString": "x-kubernetes-int-or-string",
    "xKubernetesListMapKeys": "x-kubernetes-list-map-keys",
    "xKubernetesListType": "x-kubernetes-list-type",
    "xKubernetesMapType": "x-kubernetes-map-type",
    "xKubernetesValidations": "x-kubernetes-validations",
}


@cache
def _table() -> dict[str, Message]:
    raw = json.loads((Path(__file__).parent / "types.json").read_text())
    out: dict[str, Message] = {}
    for mname, fields in raw.items():
        parsed: dict[str, Field] = {}
        for pname, f in fields.items():
            name = _JSON_NAMES.get(pname, pname) if mname == CRD_SCHEMA_PROPS else pname
            parsed[name] = Field(
                name=name,
                number=f["n"],
                type=f["t"],
                value_type=f.get("v"),
                repeated=bool(f.get("r")),
                optional=bool(f.get("opt")),
                merge_key=f.get("pmk"),
                patch_strategy=f.get("ps"),
                list_type=f.get("lt"),
                list_map_keys=tuple(f.get("lmk", ())),
            )
        out[mname] = Message(mname, parsed)
    return out


@cache
def _go_facts() -> dict[str, dict[str, str]]:
    path = Path(__file__).parent / "gofields.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _json_view(msg: Message) -> dict[str, Field]:
    facts = _go_facts().get(msg.name, {})
    own: dict[str, Field] = {}
    inline: list[Field] = []
    for pname, f in msg.proto_fields.items():
        code = facts.get(pname)
        flags, _, jname = code.partition("=") if isinstance(code, str) else ("", "", "")
        if "i" in flags and has_message(f.type):
            inline.append(f)
        elif jname and jname != pname:
            own[jname] = Field(jname, f.number, f.type, f.value_type, f.repeated, f.optional, f.merge_key,
                               f.patch_strategy, f.list_type, f.list_map_keys)
        else:
            own[pname] = f
    for f in inline:  # Go prefers the shallower field on a name clash
        for key, member in message(f.type).fields.items():
            own.setdefault(key, member)
    return own


def message(name: str) -> Message:
    """The message type ``name`` (an OpenAPI definition name); KeyError if unknown."""
    return _table()[name]


def has_message(name: str) -> bool:
    return name in _table()


def all_messages() -> dict[str, Message]:
    return _table()


def field_at(root: str, path: list[str]) -> Field | None:
    """The field reached from message ``root`` by JSON names, or None. List items and map
    values are stepped through transparently: ``["spec", "containers", "ports"]``."""
    msg = message(root)
    f: Field | None = None
    for i, part in enumerate(path):
        f = msg.fields.get(part)
        if f is None:
            return None
        if i == len(path) - 1:
            return f
        target = f.value_type if f.type == "map" else f.type
        if target is None or not has_message(target) or target in SPECIAL:
            return None
        msg = message(target)
    return f
