"""Is a CRD's ``openAPIV3Schema`` usable? Structural-schema checks for the CRD strategy.

The CRD strategy calls ``validate_crd_schema(schema, "spec.versions[0].schema.openAPIV3Schema")``
on create and update and rejects the CRD with 422 when anything comes back. The rules are
apiextensions-apiserver's (ValidateCustomResourceDefinitionOpenAPISchema and
ValidateStructural): every specified field has a ``type`` (unless int-or-string or
preserve-unknown-fields), arrays have ``items``, the root is an object without
``additionalProperties``, root ``metadata`` may only restrict name/generateName, value
validations (allOf/anyOf/oneOf/not) carry no structure, unsupported JSON-Schema keywords are
forbidden, and ``default`` values must validate and be pruned. Field paths are Kubernetes'
(``...openAPIV3Schema.properties[spec].properties[replicas].type``).

Not checked: x-kubernetes-validations (CEL) rules are accepted without compiling them.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_FORBIDDEN_KEYWORDS = {
    "id": "id is not supported", "additionalItems": "additionalItems is not supported",
    "patternProperties": "patternProperties is not supported", "definitions": "definitions is not supported",
    "dependencies": "dependencies is not supported", "$ref": "$ref is not supported",
}
_BOOL = ("nullable", "uniqueItems", "exclusiveMinimum", "exclusiveMaximum", "x-kubernetes-int-or-string",
         "x-kubernetes-embedded-resource", "x-kubernetes-preserve-unknown-fields")
_STR = ("type", "format", "pattern", "description", "title", "x-kubernetes-list-type", "x-kubernetes-map-type")
_NUM = ("minimum", "maximum", "multipleOf")
_COUNT = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_META = ("apiVersion", "kind", "metadata")

ROOT, ITEM, FIELD = "root", "item", "field"


def validate_crd_schema(schema: Any, path: str) -> list[FieldError]:
    """Field errors that make ``schema`` (a CRD version's openAPIV3Schema) unusable."""
    errs: list[FieldError] = []
    if not isinstance(schema, dict):
        return [invalid(path, _show(schema), "must be an object")]
    _check(schema, path, ROOT, errs, inside_meta=False, no_default="")
    return errs


def _check(s: Any, path: str, level: str, errs: list[FieldError], *, inside_meta: bool, no_default: str) -> None:
    if not isinstance(s, dict):
        errs.append(invalid(path, _show(s), "must be an object"))
        return
    if not _keyword_types(s, path, errs):
        return
    t = s.get("type", "")
    ios = bool(s.get("x-kubernetes-int-or-string"))
    preserve = s.get("x-kubernetes-preserve-unknown-fields")
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    props: dict[str, Any] = s.get("properties") or {}
    extra = s.get("additionalProperties")

    if t == "null":
        errs.append(forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
    elif t and t not in TYPES:
        errs.append(not_supported(f"{path}.type", t, TYPES))
    for key, detail in _FORBIDDEN_KEYWORDS.items():
        if key in s:
            errs.append(forbidden(f"{path}.{key}", detail))
    if s.get("uniqueItems") is True:
        errs.append(forbidden(f"{path}.uniqueItems",
                              "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
    if "default" in s and no_default:
        errs.append(forbidden(f"{path}.default", f"must not be set {no_default}".rstrip()))
    if inside_meta and embedded:
        errs.append(forbidden(f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta"))

    if extra is not None:
        if props and (extra is False or isinstance(extra, dict)):
            errs.append(forbidden(f"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive"))
        if level == ROOT:
            errs.append(forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if embedded:
            errs.append(forbidden(f"{path}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"))

    # Structure: every node says what it is.
    if embedded and t != "object":
        if not t:
            errs.append(_required(f"{path}.type", "must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(invalid(f"{path}.type", t, "must be object if x-kubernetes-embedded-resource is true"))
    elif not t and not ios and not preserve:
        detail = {ROOT: "must not be empty at the root", ITEM: "must not be empty for specified array items",
                  FIELD: "must not be empty for specified object fields"}[level]
        errs.append(_required(f"{path}.type", detail))
    if level == ROOT and t and t != "object":
        errs.append(invalid(f"{path}.type", t, "must be object at the root"))
    if t == "array" and "items" not in s:
        errs.append(_required(f"{path}.items", "must be specified"))
    if embedded and not preserve and not props:
        errs.append(_required(f"{path}.properties",
                             "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"))
    if preserve is False:
        errs.append(invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    if ios and preserve:
        errs.append(invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True, "must be false if x-kubernetes-int-or-string is true"))
    if ios and embedded:
        errs.append(invalid(f"{path}.x-kubernetes-embedded-resource", True, "must be false if x-kubernetes-int-or-string is true"))

    check_meta = level == ROOT or embedded
    if check_meta:
        for key in ("kind", "apiVersion"):
            sub = props.get(key)
            if isinstance(sub, dict) and sub.get("type") != "string":
                errs.append(invalid(f"{path}.properties[{key}].type", sub.get("type", ""), "must be string"))
    if isinstance(props.get("metadata"), dict):
        _check_metadata(props["metadata"], f"{path}.properties[metadata]", level, check_meta, errs)

    _check_lists_and_maps(s, path, errs)
    pattern = s.get("pattern")
    if pattern:
        from kubelite.api.structural import UnsupportedPattern, go_regexp

        try:
            go_regexp(pattern)
        except UnsupportedPattern:
            pass  # valid in Go; accepted, not enforced
        except re.error as e:
            errs.append(invalid(f"{path}.pattern", pattern, f"must be a valid regular expression, but isn't: {e}"))
    if "default" in s and not no_default:
        _check_default(s, path, errs)

    for k, sub in props.items():
        meta = (level == ROOT or embedded) and k in _META
        sub_no_default = no_default or (f"in top-level {k}" if level == ROOT and k in _META else "")
        _check(sub, f"{path}.properties[{k}]", FIELD, errs, inside_meta=inside_meta or meta, no_default=sub_no_default)
    if isinstance(s.get("items"), dict):
        _check(s["items"], f"{path}.items", ITEM, errs, inside_meta=inside_meta, no_default=no_default)
    if isinstance(extra, dict):
        sub_no_default = no_default or ("inside additionalProperties applying to object metadata" if inside_meta else "")
        _check(extra, f"{path}.additionalProperties", FIELD, errs, inside_meta=inside_meta, no_default=sub_no_default)
    _check_value_validations(s, path, errs)


def _keyword_types(s: dict[str, Any], path: str, errs: list[FieldError]) -> bool:
    """Keywords of the wrong JSON type (Kubernetes rejects these while decoding the CRD)."""
    before = len(errs)

    def bad(key: str, what: str) -> None:
        errs.append(invalid(f"{path}.{key}", _show(s[key]), f"must be {what}"))

    for key in _BOOL:
        if key in s and not isinstance(s[key], bool):
            bad(key, "a boolean")
    for key in _STR:
        if key in s and not isinstance(s[key], str):
            bad(key, "a string")
    for key in _NUM:
        if key in s and (isinstance(s[key], bool) or not isinstance(s[key], (int, float))):
            bad(key, "a number")
    for key in _COUNT:
        if key in s and (isinstance(s[key], bool) or not isinstance(s[key], int) or s[key] < 0):
            bad(key, "a non-negative integer")
    if "required" in s and not (isinstance(s["required"], list) and all(isinstance(r, str) for r in s["required"])):
        bad("required", "a list of strings")
    if "x-kubernetes-list-map-keys" in s and not (
            isinstance(s["x-kubernetes-list-map-keys"], list) and all(isinstance(r, str) for r in s["x-kubernetes-list-map-keys"])):
        bad("x-kubernetes-list-map-keys", "a list of strings")
    if "enum" in s and not isinstance(s["enum"], list):
        bad("enum", "a list")
    if "properties" in s and not (isinstance(s["properties"], dict) and all(isinstance(v, dict) for v in s["properties"].values())):
        bad("properties", "an object of schemas")
    if "items" in s:
        if isinstance(s["items"], list):
            errs.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
        elif not isinstance(s["items"], dict):
            bad("items", "a schema object")
    if "additionalProperties" in s and not isinstance(s["additionalProperties"], (bool, dict)):
        bad("additionalProperties", "a boolean or a schema object")
    for key in ("allOf", "anyOf", "oneOf"):
        if key in s and not (isinstance(s[key], list) and all(isinstance(v, dict) for v in s[key])):
            bad(key, "a list of schema objects")
    if "not" in s and not isinstance(s["not"], dict):
        bad("not", "a schema object")
    if "x-kubernetes-validations" in s and not isinstance(s["x-kubernetes-validations"], list):
        bad("x-kubernetes-validations", "a list")
    return len(errs) == before


def _check_metadata(m: dict[str, Any], path: str, level: str, check_meta: bool, errs: list[FieldError]) -> None:
    if check_meta and m.get("type") != "object":
        errs.append(invalid(f"{path}.type", m.get("type", ""), "must be object"))
    if level == ROOT:
        allowed = {"type", "description", "properties", "default"}
        props = m.get("properties") or {}
        if set(m) - allowed or not isinstance(props, dict) or set(props) - {"name", "generateName"}:
            errs.append(forbidden(path, "must not specify anything other than name and generateName, "
                                        "but metadata is implicitly specified"))


def _check_lists_and_maps(s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    t = s.get("type", "")
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None:
        if t != "object":
            if not t:
                errs.append(_required(f"{path}.type", "must be object if x-kubernetes-map-type is specified"))
            else:
                errs.append(invalid(f"{path}.type", t, "must be object if x-kubernetes-map-type is specified"))
        if map_type not in ("atomic", "granular"):
            errs.append(not_supported(f"{path}.x-kubernetes-map-type", map_type, ["atomic", "granular"]))
    list_type = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys") or []
    if list_type is not None:
        if t != "array":
            if not t:
                errs.append(_required(f"{path}.type", "must be array if x-kubernetes-list-type is specified"))
            else:
                errs.append(invalid(f"{path}.type", t, "must be array if x-kubernetes-list-type is specified"))
        if list_type not in ("atomic", "set", "map"):
            errs.append(not_supported(f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]))
    if keys:
        if list_type is None:
            errs.append(_required(f"{path}.x-kubernetes-list-type", "must be map if x-kubernetes-list-map-keys is non-empty"))
        elif list_type != "map":
            errs.append(invalid(f"{path}.x-kubernetes-list-type", list_type, "must be map if x-kubernetes-list-map-keys is non-empty"))
    if list_type == "map":
        items = s.get("items")
        if not keys:
            errs.append(_required(f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"))
        if not isinstance(items, dict):
            errs.append(_required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
            return
        if items.get("type") != "object":
            errs.append(invalid(f"{path}.items.type", items.get("type", ""), "must be object if parent array's x-kubernetes-list-type is map"))
            return
        item_props = items.get("properties") or {}
        seen: set[str] = set()
        for k in keys:
            sub = item_props.get(k)
            if sub is None:
                errs.append(invalid(f"{path}.x-kubernetes-list-map-keys", _show(keys), "entries must all be names of item properties"))
            elif sub.get("type") in ("array", "object"):
                errs.append(invalid(f"{path}.items.properties[{k}].type", "object",
                                    "must be a scalar type if parent array's x-kubernetes-list-type is map"))
            if k in seen:
                errs.append(invalid(f"{path}.x-kubernetes-list-map-keys", _show(keys), "must not contain duplicate entries"))
            seen.add(k)


def _check_default(s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    """A default must itself be valid and pruned (it is applied after pruning)."""
    from kubelite.api.structural import _prune, validate

    value = s["default"]
    dpath = f"{path}.default"
    for e in validate(value, s):
        e.field = dpath if e.field == "<nil>" else f"{dpath}.{e.field}"
        errs.append(e)
    pruned = copy.deepcopy(value)
    _prune(pruned, s, "", [])
    if pruned != value:
        errs.append(invalid(dpath, _show(value), "must not have unknown fields"))


def _int_or_string_any_of(options: Any) -> bool:
    return (isinstance(options, list) and len(options) == 2
            and options[0] == {"type": "integer"} and options[1] == {"type": "string"})


def _check_value_validations(s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    ios = bool(s.get("x-kubernetes-int-or-string"))
    skip_any_of = ios and _int_or_string_any_of(s.get("anyOf"))
    all_of = s.get("allOf") or []
    skip_first_all_of = ios and bool(all_of) and isinstance(all_of[0], dict) and _int_or_string_any_of(all_of[0].get("anyOf"))
    if not skip_any_of:
        for i, sub in enumerate(s.get("anyOf") or []):
            _nested(sub, f"{path}.anyOf[{i}]", errs)
    for i, sub in enumerate(all_of):
        _nested(sub, f"{path}.allOf[{i}]", errs, skip_any_of=skip_first_all_of and i == 0)
    for i, sub in enumerate(s.get("oneOf") or []):
        _nested(sub, f"{path}.oneOf[{i}]", errs)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], f"{path}.not", errs)


_NESTED_FORBIDDEN = [
    ("type", "must be empty to be structural"), ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"), ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"), ("additionalProperties", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
]


def _nested(v: Any, path: str, errs: list[FieldError], skip_any_of: bool = False) -> None:
    """Inside allOf/anyOf/oneOf/not only value validations may appear: no types, no structure."""
    if not isinstance(v, dict):
        errs.append(invalid(path, _show(v), "must be an object"))
        return
    for key, detail in _NESTED_FORBIDDEN:
        if key in v and v[key] not in (False, None, "", []):
            errs.append(forbidden(f"{path}.{key}", detail))
    props = v.get("properties") or {}
    if isinstance(props, dict):
        if "metadata" in props:
            errs.append(forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))
        for k, sub in props.items():
            _nested(sub, f"{path}.properties[{k}]", errs)
    if isinstance(v.get("items"), dict):
        _nested(v["items"], f"{path}.items", errs)
    if not skip_any_of:
        for i, sub in enumerate(v.get("anyOf") or []):
            _nested(sub, f"{path}.anyOf[{i}]", errs)
    for key in ("allOf", "oneOf"):
        for i, sub in enumerate(v.get(key) or []):
            _nested(sub, f"{path}.{key}[{i}]", errs)
    if isinstance(v.get("not"), dict):
        _nested(v["not"], f"{path}.not", errs)


def _required(path: str, detail: str) -> FieldError:
    return FieldError(path, f"Required value: {detail}" if detail else "Required value", "FieldValueRequired")


def _show(v: Any) -> Any:
    """Values for messages: scalars as they are, structures as compact JSON text."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    import json

    return json.dumps(v, separators=(",", ":"), sort_keys=True)
