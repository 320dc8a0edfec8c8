"""CRD structural schemas: validation messages, pruning, defaulting, schema checks, columns."""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from kubelite.api import structural
from kubelite.api.registry import NAME_COLUMN
from kubelite.api.structural import (
    apply_defaults, printer_cells, printer_columns, prune, table_columns, validate, validate_crd_schema,
)
from kubelite.api.structural_columns import evaluate_jsonpath, parse_jsonpath, validate_printer_columns

# The CronTab CRD of the Kubernetes docs, grown a little: a pattern, a bounded integer, a
# required field, an enum, a defaulted field, an int-or-string, a map, a nested list of objects,
# an embedded resource and a preserve-unknown-fields subtree.
CRONTAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "cronSpec": {"type": "string", "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
                "image": {"type": "string", "minLength": 1, "maxLength": 64},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "policy": {"type": "string", "enum": ["Allow", "Forbid", "Replace"], "default": "Allow"},
                "port": {"x-kubernetes-int-or-string": True},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 2},
                "suspend": {"type": "boolean", "nullable": True},
                "started": {"type": "string", "format": "date-time"},
                "jobs": {
                    "type": "array", "maxItems": 3,
                    "items": {
                        "type": "object", "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "timeout": {"type": "integer", "default": 30},
                            "args": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                          "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "integer"}}},
    },
}


def crontab(**spec: Any) -> dict[str, Any]:
    """A valid CronTab; keyword arguments override (None deletes) spec fields."""
    obj: dict[str, Any] = {
        "apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "c1", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"cronSpec": "*/5 * * * *", "image": "busybox", "replicas": 3},
    }
    for k, v in spec.items():
        if v is None:
            obj["spec"].pop(k, None)
        else:
            obj["spec"][k] = v
    return obj


def test_valid_crontab_has_no_errors() -> None:
    obj = crontab(port="http", labels={"a": "b"}, jobs=[{"name": "j", "args": ["x"]}], ratio=0.5,
                  started="2024-05-01T10:00:00Z", template={"apiVersion": "v1", "kind": "Pod"})
    assert validate(obj, CRONTAB_SCHEMA) == []


@pytest.mark.parametrize("spec,field,reason,message", [
    ({"replicas": "string"}, "spec.replicas", "FieldValueTypeInvalid",
     'Invalid value: "string": spec.replicas in body must be of type integer: "string"'),
    ({"replicas": 11}, "spec.replicas", "FieldValueInvalid",
     "Invalid value: 11: spec.replicas in body should be less than or equal to 10"),
    ({"replicas": 0}, "spec.replicas", "FieldValueInvalid",
     "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"),
    ({"replicas": 2.5}, "spec.replicas", "FieldValueTypeInvalid",
     'Invalid value: "number": spec.replicas in body must be of type integer: "number"'),
    ({"replicas": True}, "spec.replicas", "FieldValueTypeInvalid",
     'Invalid value: "boolean": spec.replicas in body must be of type integer: "boolean"'),
    ({"image": None}, "spec.image", "FieldValueRequired", "Required value"),
    ({"image": ""}, "spec.image", "FieldValueInvalid",
     'Invalid value: "": spec.image in body should be at least 1 chars long'),
    ({"image": "x" * 65}, "spec.image", "FieldValueTooLong", "Too long: may not be more than 64 bytes"),
    ({"cronSpec": "every minute"}, "spec.cronSpec", "FieldValueInvalid",
     'Invalid value: "every minute": spec.cronSpec in body should match '
     "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'"),
    ({"policy": "Sometimes"}, "spec.policy", "FieldValueNotSupported",
     'Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"'),
    ({"port": 1.5}, "spec.port", "FieldValueTypeInvalid",
     'Invalid value: "number": spec.port in body must be of type integer,string: "number"'),
    ({"ratio": 0}, "spec.ratio", "FieldValueInvalid", "Invalid value: 0: spec.ratio in body should be greater than 0"),
    ({"labels": {"a": "1", "b": "2", "c": "3"}}, "spec.labels", "FieldValueTooMany",
     "Too many: 3: must have at most 2 items"),
    ({"labels": {"a": 1}}, "spec.labels.a", "FieldValueTypeInvalid",
     'Invalid value: "integer": spec.labels.a in body must be of type string: "integer"'),
    ({"suspend": "yes"}, "spec.suspend", "FieldValueTypeInvalid",
     'Invalid value: "string": spec.suspend in body must be of type boolean: "string"'),
    ({"started": "yesterday"}, "spec.started", "FieldValueTypeInvalid",
     'Invalid value: "yesterday": spec.started in body must be of type date-time: "yesterday"'),
    ({"jobs": [{"name": "a"}, {"timeout": 5}]}, "spec.jobs[1].name", "FieldValueRequired", "Required value"),
    ({"jobs": [{"name": "a", "args": ["x", 7]}]}, "spec.jobs[0].args[1]", "FieldValueTypeInvalid",
     'Invalid value: "integer": spec.jobs[0].args[1] in body must be of type string: "integer"'),
    ({"jobs": [{"name": str(i)} for i in range(4)]}, "spec.jobs", "FieldValueTooMany",
     "Too many: 4: must have at most 3 items"),
    ({"jobs": {"name": "a"}}, "spec.jobs", "FieldValueTypeInvalid",
     'Invalid value: "object": spec.jobs in body must be of type array: "object"'),
    ({"template": {"kind": "Pod"}}, "spec.template.apiVersion", "FieldValueRequired",
     "Required value: must not be empty"),
])
def test_validation_errors(spec: dict[str, Any], field: str, reason: str, message: str) -> None:
    errs = validate(crontab(**spec), CRONTAB_SCHEMA)
    assert [e.cause() for e in errs] == [{"reason": reason, "message": message, "field": field}]


def test_nullable_and_null() -> None:
    assert validate(crontab(suspend=None), CRONTAB_SCHEMA) == []
    obj = crontab()
    obj["spec"]["suspend"] = None  # nullable: fine
    assert validate(obj, CRONTAB_SCHEMA) == []
    obj["spec"]["replicas"] = None  # not nullable
    (e,) = validate(obj, CRONTAB_SCHEMA)
    assert e.field == "spec.replicas" and "must be of type integer" in e.message


def test_integer_valued_float_is_an_integer() -> None:
    assert validate(crontab(replicas=3.0), CRONTAB_SCHEMA) == []


@pytest.mark.parametrize("schema,value,message", [
    ({"type": "array", "items": {"type": "integer"}, "uniqueItems": True}, [1, 2, 1],
     'Invalid value: "": spec.x in body shouldn\'t contain duplicates'),
    ({"type": "array", "items": {"type": "string"}, "minItems": 1}, [],
     "Invalid value: 0: spec.x in body should have at least 1 items"),
    ({"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}, {},
     "Invalid value: 0: spec.x in body should have at least 1 properties"),
    ({"type": "number", "maximum": 1000000, "exclusiveMaximum": True}, 1e6 + 0.5,
     "Invalid value: 1.0000005e+06: spec.x in body should be less than 1e+06"),
    ({"type": "integer", "multipleOf": 5}, 12, "Invalid value: 12: spec.x in body should be a multiple of 5"),
    ({"type": "boolean", "enum": [True]}, False, 'Unsupported value: false: supported values: "true"'),
    ({"type": "string", "format": "ipv4"}, "300.1.1.1",
     'Invalid value: "300.1.1.1": spec.x in body must be of type ipv4: "300.1.1.1"'),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": "1"},
     'Invalid value: "b": spec.x.b in body is a forbidden property'),
])
def test_more_value_validations(schema: dict[str, Any], value: Any, message: str) -> None:
    root = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"x": schema}}}}
    errs = validate({"spec": {"x": value}}, root)
    assert [e.message for e in errs] == [message]


def test_enum_distinguishes_booleans_from_numbers() -> None:
    s = {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2]}}}
    assert validate({"n": 1}, s) == []
    assert validate({"n": 1.0}, s) == []
    assert [e.reason for e in validate({"n": 3}, s)] == ["FieldValueNotSupported"]


def test_any_of_and_one_of_report_under_nil_path() -> None:
    s = {"type": "object", "properties": {"v": {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]}}}
    assert validate({"v": "abc"}, s) == []
    errs = validate({"v": "zzz"}, s)
    assert errs[0].field == "<nil>"
    assert errs[0].message == 'Invalid value: "": "v" must validate at least one schema (anyOf)'
    one = {"type": "object", "properties": {"v": {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "c$"}]}}}
    assert validate({"v": "ab"}, one) == []
    assert "one and only one schema (oneOf). Found 2 valid alternatives" in validate({"v": "abc"}, one)[0].message
    neg = {"type": "object", "properties": {"v": {"type": "string", "not": {"pattern": "^x"}}}}
    assert validate({"v": "xy"}, neg)[0].message.endswith('"v" must not validate the schema (not)')


@pytest.mark.parametrize("pattern,value,ok", [
    (r"[[:digit:]]+\z", "abc123", True),  # unanchored at the start, like Go's MatchString
    (r"[[:digit:]]+\z", "123abc", False),
    (r"^[a-z]+$", "abc\n", False),  # Go's $ is the end of the text
    (r"(?m)^[a-z]+$", "abc\nd", True),
    (r"^\d+$", "\u0663", False),  # \d is ASCII in Go
    (r"^(?<year>\d{4})-", "2024-01", True),
    (r"^\Qa.b\E$", "a.b", True),
    (r"^\Qa.b\E$", "axb", False),
    (r"^[]a]+$", "a]a", True),
    (r"^\p{L}+$", "123", True),  # Unicode classes: accepted, not enforced
])
def test_go_pattern_semantics(pattern: str, value: str, ok: bool) -> None:
    s = {"type": "object", "properties": {"v": {"type": "string", "pattern": pattern}}}
    assert (validate({"v": value}, s) == []) is ok
    assert validate_crd_schema(s, P) == []


# ------------------------------------------------------------------ pruning

@pytest.mark.parametrize("obj,expect_unknown,expect_spec", [
    ({"spec": {"image": "b", "bogus": 1}}, ["spec.bogus"], {"image": "b"}),
    ({"spec": {"image": "b", "jobs": [{"name": "a", "x": 1}, {"name": "b", "y": {"z": 1}}]}},
     ["spec.jobs[0].x", "spec.jobs[1].y"], {"image": "b", "jobs": [{"name": "a"}, {"name": "b"}]}),
    ({"spec": {"image": "b", "labels": {"k": "v"}}}, [], {"image": "b", "labels": {"k": "v"}}),
    ({"spec": {"image": "b", "extra": {"anything": {"goes": 1}, "known": {"a": "x", "b": "dropped"}}}},
     ["spec.extra.known.b"], {"image": "b", "extra": {"anything": {"goes": 1}, "known": {"a": "x"}}}),
    ({"spec": {"image": "b", "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1},
                                          "spec": {"x": 1}}}},
     ["spec.template.metadata.junk"],
     {"image": "b", "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}}}),
])
def test_prune(obj: dict[str, Any], expect_unknown: list[str], expect_spec: dict[str, Any]) -> None:
    full = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "c", "odd": 1}, **obj}
    assert prune(full, CRONTAB_SCHEMA) == expect_unknown
    assert full["spec"] == expect_spec
    assert full["metadata"] == {"name": "c", "odd": 1}  # root metadata is the server's business
    assert full["apiVersion"] == "stable.example.com/v1" and full["kind"] == "CronTab"


def test_prune_top_level_unknown_and_nested_without_schema() -> None:
    obj = {"apiVersion": "x/v1", "kind": "X", "metadata": {}, "foo": 1, "status": {"ready": 1, "z": 2}}
    assert prune(obj, CRONTAB_SCHEMA) == ["foo", "status.z"]
    s = {"type": "object", "properties": {"list": {"type": "array"}}}  # no items: objects inside lose fields
    obj2 = {"list": [{"a": 1}, 2]}
    assert prune(obj2, s) == ["list[0].a"]
    assert obj2 == {"list": [{}, 2]}


# ------------------------------------------------------------------ defaulting

def test_defaults_apply_where_parent_exists() -> None:
    obj = crontab(replicas=None, jobs=[{"name": "a"}, {"name": "b", "timeout": 5}])
    apply_defaults(obj, CRONTAB_SCHEMA)
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["policy"] == "Allow"
    assert obj["spec"]["jobs"] == [{"name": "a", "timeout": 30}, {"name": "b", "timeout": 5}]
    assert "status" not in obj  # no default for status itself: nothing below it is created
    bare = {"metadata": {"name": "x"}}
    apply_defaults(bare, CRONTAB_SCHEMA)
    assert bare == {"metadata": {"name": "x"}}


def test_defaults_replace_non_nullable_null_and_drop_others() -> None:
    obj = crontab()
    obj["spec"]["replicas"] = None   # non-nullable with default: defaulted
    obj["spec"]["image"] = None      # non-nullable without default: dropped (then Required)
    obj["spec"]["suspend"] = None    # nullable: kept
    apply_defaults(obj, CRONTAB_SCHEMA)
    assert obj["spec"]["replicas"] == 1 and "image" not in obj["spec"] and obj["spec"]["suspend"] is None
    assert [e.field for e in validate(obj, CRONTAB_SCHEMA)] == ["spec.image"]


def test_default_values_are_copied() -> None:
    s = {"type": "object", "properties": {"m": {"type": "object", "default": {"a": 1},
                                                 "properties": {"a": {"type": "integer"}}}}}
    o1: dict[str, Any] = {}
    o2: dict[str, Any] = {}
    apply_defaults(o1, s)
    apply_defaults(o2, s)
    o1["m"]["a"] = 5
    assert o2["m"] == {"a": 1} and s["properties"]["m"]["default"] == {"a": 1}


def test_defaulted_object_gets_nested_defaults() -> None:
    s = {"type": "object", "properties": {"spec": {"type": "object", "default": {},
                                                    "properties": {"n": {"type": "integer", "default": 7}}}}}
    obj: dict[str, Any] = {}
    apply_defaults(obj, s)
    assert obj == {"spec": {"n": 7}}


# ------------------------------------------------------------------ CRD schema checks

P = "spec.versions[0].schema.openAPIV3Schema"


def test_good_schema_passes() -> None:
    assert validate_crd_schema(CRONTAB_SCHEMA, P) == []
    assert validate_crd_schema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, P) == []
    meta_ok = {"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 10}}}}}
    assert validate_crd_schema(meta_ok, P) == []


@pytest.mark.parametrize("mutate,field,message", [
    (lambda s: s["properties"]["spec"]["properties"]["image"].pop("type"),
     f"{P}.properties[spec].properties[image].type", "Required value: must not be empty for specified object fields"),
    (lambda s: s["properties"]["spec"]["properties"]["jobs"]["items"].pop("type"),
     f"{P}.properties[spec].properties[jobs].items.type", "Required value: must not be empty for specified array items"),
    (lambda s: s["properties"]["spec"]["properties"]["jobs"].pop("items"),
     f"{P}.properties[spec].properties[jobs].items", "Required value: must be specified"),
    (lambda s: s.update(type="array", items={"type": "string"}),
     f"{P}.type", 'Invalid value: "array": must be object at the root'),
    (lambda s: s["properties"]["spec"]["properties"]["image"].update(type="str"),
     f"{P}.properties[spec].properties[image].type",
     'Unsupported value: "str": supported values: "array", "boolean", "integer", "number", "object", "string"'),
    (lambda s: s["properties"]["spec"]["properties"]["replicas"].update(minimum="1"),
     f"{P}.properties[spec].properties[replicas].minimum", 'Invalid value: "1": must be a number'),
    (lambda s: s["properties"]["spec"].update(required="image"),
     f"{P}.properties[spec].required", 'Invalid value: "image": must be a list of strings'),
    (lambda s: s["properties"]["spec"]["properties"]["image"].update(pattern="(unclosed"),
     f"{P}.properties[spec].properties[image].pattern", None),
    (lambda s: s["properties"]["spec"].update(additionalProperties={"type": "string"}),
     f"{P}.properties[spec].additionalProperties", "Forbidden: additionalProperties and properties are mutual exclusive"),
    (lambda s: s["properties"]["spec"]["properties"]["jobs"].update(uniqueItems=True),
     f"{P}.properties[spec].properties[jobs].uniqueItems",
     "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"),
    (lambda s: s["properties"]["spec"]["properties"]["image"].update({"$ref": "#/x"}),
     f"{P}.properties[spec].properties[image].$ref", "Forbidden: $ref is not supported"),
    (lambda s: s["properties"].update(metadata={"type": "object", "properties": {"labels": {"type": "object"}}}),
     f"{P}.properties[metadata]",
     "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"),
    (lambda s: s["properties"]["spec"]["properties"]["replicas"].update(default=20),
     f"{P}.properties[spec].properties[replicas].default",
     "Invalid value: 20:  in body should be less than or equal to 10"),
    (lambda s: s["properties"]["spec"]["properties"]["port"].update(anyOf=[{"type": "integer"}, {"type": "number"}]),
     f"{P}.properties[spec].properties[port].anyOf[0].type", "Forbidden: must be empty to be structural"),
    (lambda s: s["properties"]["spec"]["properties"]["jobs"].update(**{"x-kubernetes-list-type": "map"}),
     f"{P}.properties[spec].properties[jobs].x-kubernetes-list-map-keys",
     "Required value: must not be empty if x-kubernetes-list-type is map"),
    (lambda s: s["properties"]["spec"]["properties"]["extra"].update(
        **{"x-kubernetes-preserve-unknown-fields": False}),
     f"{P}.properties[spec].properties[extra].x-kubernetes-preserve-unknown-fields",
     "Invalid value: false: must be true or undefined"),
])
def test_broken_schemas_are_rejected(mutate: Any, field: str, message: str | None) -> None:
    schema = copy.deepcopy(CRONTAB_SCHEMA)
    mutate(schema)
    errs = validate_crd_schema(schema, P)
    assert field in [e.field for e in errs], errs
    if message is not None:
        assert message in [e.message for e in errs if e.field == field]


def test_int_or_string_any_of_pattern_is_allowed() -> None:
    s = {"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True,
                                                   "anyOf": [{"type": "integer"}, {"type": "string"}]}}}
    assert validate_crd_schema(s, P) == []


def test_default_with_unknown_fields_is_rejected() -> None:
    s = {"type": "object", "properties": {"spec": {"type": "object", "default": {"a": 1, "zz": 2},
                                                    "properties": {"a": {"type": "integer"}}}}}
    errs = validate_crd_schema(s, P)
    assert [(e.field, e.message.split(": ")[-1]) for e in errs] == [
        (f"{P}.properties[spec].default", "must not have unknown fields")]


def test_non_dict_schema() -> None:
    assert validate_crd_schema("nope", P)[0].field == P


# ------------------------------------------------------------------ printer columns

NOW = dt.datetime(2024, 1, 1, 0, 5, 0, tzinfo=dt.timezone.utc)


def test_default_columns_are_name_and_age() -> None:
    assert printer_columns({"name": "v1"}) == []
    cols = table_columns({"name": "v1"})
    assert [c.name for c in cols] == ["Name", "Age"]
    assert cols[1].type == "date"
    assert printer_cells(crontab(), cols, NOW) == ["c1", "5m"]


def test_listed_columns() -> None:
    version = {"name": "v1", "additionalPrinterColumns": [
        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "First", "type": "string", "jsonPath": ".spec.jobs[0].name", "priority": 1},
        {"name": "Args", "type": "string", "jsonPath": ".spec.jobs[-1].args"},
        {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
        {"name": "Started", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspend"},
        {"name": "Deep", "type": "string", "jsonPath": "..name"},
    ]}
    cols = table_columns(version)
    assert [c.name for c in cols][:3] == ["Name", "Spec", "Replicas"]
    assert "Age" not in [c.name for c in cols]
    assert cols[4].definition()["priority"] == 1
    assert cols[1].definition()["description"] == "Custom resource definition column (in JSONPath format): .spec.cronSpec"
    obj = crontab(jobs=[{"name": "j1", "args": ["a", "b"]}], suspend=False)
    obj["status"] = {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}
    assert printer_cells(obj, cols, NOW) == ["c1", "*/5 * * * *", 3, "True", "j1", "[a b]", None, "5m", False, None]
    # the strategy shape: NAME cell itself, then only the listed columns
    assert printer_cells(obj, printer_columns(version)[:2], NOW) == ["*/5 * * * *", 3]


@pytest.mark.parametrize("path,obj,found", [
    (".a.b", {"a": {"b": 1}}, [1]),
    ("{.a['x.y']}", {"a": {"x.y": 2}}, [2]),
    (".items[*].n", {"items": [{"n": 1}, {"n": 2}]}, [1, 2]),
    (".items[1:]", {"items": [1, 2, 3]}, [2, 3]),
    (".items[?(@.n > 1)].n", {"items": [{"n": 1}, {"n": 2}, {"n": 3}]}, [2, 3]),
    (".items[?(@.ok)].n", {"items": [{"n": 1, "ok": True}, {"n": 2}]}, [1]),
    (".items[?(@.flag==true)].n", {"items": [{"n": 1, "flag": True}, {"n": 2, "flag": 1}]}, [1]),
    (".a", {"b": 1}, []),
])
def test_jsonpath_subset(path: str, obj: Any, found: list[Any]) -> None:
    assert evaluate_jsonpath(parse_jsonpath(path), obj) == found


def test_unsupported_jsonpath_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_jsonpath("..name")
    with pytest.raises(ValueError):
        parse_jsonpath(".a[1,2]")


def test_validate_printer_columns() -> None:
    errs = validate_printer_columns({"additionalPrinterColumns": [
        {"name": "A", "type": "text", "jsonPath": "spec.a"}, {"type": "string", "jsonPath": ".a", "format": "weird"}]},
        "spec.versions[0]")
    assert [e.field for e in errs] == [
        "spec.versions[0].additionalPrinterColumns[0].type", "spec.versions[0].additionalPrinterColumns[0].JSONPath",
        "spec.versions[0].additionalPrinterColumns[1].name", "spec.versions[0].additionalPrinterColumns[1].format"]


def test_name_column_is_shared() -> None:
    assert table_columns({})[0] is NAME_COLUMN
    assert structural.printer_columns is printer_columns
