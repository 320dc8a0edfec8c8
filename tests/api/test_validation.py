"""Name formats, ObjectMeta, labels/annotations and label selectors, with Kubernetes' wording."""
from __future__ import annotations

import pytest

from kubelite.api.validation import (
    child, index, is_config_map_key, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_env_var_name,
    is_qualified_name, is_valid_label_value, is_valid_port_name, key, quantity_value, selector_matches,
    validate_annotations, validate_label_selector, validate_labels, validate_object_meta, validate_object_meta_update,
    validate_quantity,
)

DNS_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                 "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


@pytest.mark.parametrize("value,errors", [
    ("web", []),
    ("web-1", []),
    ("1web", []),
    ("a" * 63, []),
    ("a" * 64, ["must be no more than 63 characters"]),
    ("Web", [DNS_LABEL_MSG]),
    ("web.svc", ["must not contain dots"]),
    ("-web", [DNS_LABEL_MSG]),
    ("", [DNS_LABEL_MSG]),
    ("web\n", [DNS_LABEL_MSG]),  # no trailing-newline loophole
])
def test_dns1123_label(value: str, errors: list[str]) -> None:
    assert is_dns1123_label(value) == errors


@pytest.mark.parametrize("value,ok", [
    ("example.com", True), ("a.b-c.d", True), ("a" * 253, True), ("a" * 254, False), ("Example.com", False),
    ("a..b", False), ("a.", False), ("a_b", False),
])
def test_dns1123_subdomain(value: str, ok: bool) -> None:
    assert (is_dns1123_subdomain(value) == []) is ok
    if not ok and len(value) <= 253:
        assert is_dns1123_subdomain(value) == [SUBDOMAIN_MSG]


def test_dns1035_label_requires_leading_letter() -> None:
    assert is_dns1035_label("web") == []
    assert is_dns1035_label("1web")[0].startswith("a DNS-1035 label must consist of lower case alphanumeric")


@pytest.mark.parametrize("value,expect", [
    ("app", []),
    ("app.kubernetes.io/name", []),
    ("Example.com/x", ["prefix part " + SUBDOMAIN_MSG]),
    ("/x", ["prefix part must be non-empty"]),
    ("x/", ["name part must be non-empty", "name part must consist of alphanumeric characters, '-', '_' or '.', "
                                           "and must start and end with an alphanumeric character (e.g. 'MyName',  "
                                           "or 'my.name',  or '123-abc', regex used for validation is "
                                           "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
    ("a/b/c", None),  # one combined message
    ("x" * 64, ["name part must be no more than 63 characters"]),
])
def test_qualified_name(value: str, expect: list[str] | None) -> None:
    errs = is_qualified_name(value)
    if expect is None:
        assert len(errs) == 1 and errs[0].endswith("with an optional DNS subdomain prefix and '/' (e.g. "
                                                   "'example.com/MyName')")
    else:
        assert errs == expect


def test_label_values_and_keys() -> None:
    assert is_valid_label_value("") == []
    assert is_valid_label_value("v1.2_3") == []
    assert is_valid_label_value("-bad") != []
    errs = validate_labels({"app": "web", "bad key": "x", "ok": "-bad"}, "metadata.labels")
    assert [e.field for e in errs] == ["metadata.labels", "metadata.labels"]
    assert errs[0].message.startswith('Invalid value: "bad key": name part must consist of')
    assert errs[1].message.startswith('Invalid value: "-bad": a valid label must be an empty string')


@pytest.mark.parametrize("k,ok", [("a.b", True), ("KEY_NAME", True), (".", False), ("..", False), ("..a", False),
                                  ("a/b", False), ("x" * 254, False)])
def test_config_map_key(k: str, ok: bool) -> None:
    assert (is_config_map_key(k) == []) is ok


def test_env_and_port_names() -> None:
    assert is_env_var_name("MY_ENV.NAME") == []
    assert is_env_var_name("1ABC") != []
    assert is_valid_port_name("http") == []
    assert is_valid_port_name("HTTP") == ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                                          "must contain at least one letter (a-z)"]
    assert "must not contain consecutive hyphens" in is_valid_port_name("a--b")
    assert "must be no more than 15 characters" in is_valid_port_name("a" * 16)


def test_paths() -> None:
    assert child("spec", "template", "spec") == "spec.template.spec"
    assert child("", "data") == "data"
    assert index(child("spec", "containers"), 0) == "spec.containers[0]"
    assert key("metadata.labels", "app") == "metadata.labels[app]"


def test_object_meta_create() -> None:
    assert validate_object_meta({"name": "web", "namespace": "default"}, namespaced=True) == []
    errs = validate_object_meta({}, namespaced=True)
    assert [(e.field, e.message) for e in errs] == [
        ("metadata.name", "Required value: name or generateName is required"),
        ("metadata.namespace", "Required value")]
    errs = validate_object_meta({"name": "x", "namespace": "default"}, namespaced=False)
    assert [(e.field, e.message) for e in errs] == [("metadata.namespace", "Forbidden: not allowed on this type")]
    # generateName may end with '-': the server appends a suffix.
    assert validate_object_meta({"generateName": "web-", "name": "web-abcde", "namespace": "d"}, namespaced=True) == []
    errs = validate_object_meta({"name": "Web", "namespace": "default"}, namespaced=True,
                                name_validator=is_dns1123_label)
    assert [e.field for e in errs] == ["metadata.name"]
    # None means "the default rule" (what the server passes for strategies without one).
    assert validate_object_meta({"name": "a.b", "namespace": "d"}, namespaced=True, name_validator=None) == []


def test_object_meta_labels_annotations_finalizers_owners() -> None:
    m = {
        "name": "web", "namespace": "default",
        "labels": {"app": "web"},
        "annotations": {"Example.com/Note": "x"},  # annotation keys are case-insensitive
        "finalizers": ["kubernetes.io/pv-protection", "bad finalizer"],
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "1", "controller": True},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs2", "uid": "2", "controller": True},
            {"apiVersion": "", "kind": "", "name": "", "uid": ""},
        ],
        "generation": -1,
    }
    errs = validate_object_meta(m, namespaced=True)
    got = [(e.field, e.message.split(":")[0]) for e in errs]
    assert ("metadata.generation", "Invalid value") in got
    assert ("metadata.finalizers", "Invalid value") in got
    assert [e.field for e in errs if e.field.startswith("metadata.ownerReferences")] == [
        "metadata.ownerReferences", "metadata.ownerReferences.apiVersion", "metadata.ownerReferences.kind",
        "metadata.ownerReferences.name", "metadata.ownerReferences.uid"]
    assert any("Only one reference can have Controller set to true" in e.message for e in errs)
    assert not any(e.field == "metadata.annotations" for e in errs)


def test_annotation_total_size() -> None:
    assert validate_annotations({"a": "x" * (256 * 1024 - 1)}, "metadata.annotations") == []
    errs = validate_annotations({"a": "x" * (256 * 1024)}, "metadata.annotations")
    assert [(e.field, e.message, e.reason) for e in errs] == [
        ("metadata.annotations", "Too long: may not be more than 262144 bytes", "FieldValueTooLong")]


def test_object_meta_update() -> None:
    old = {"name": "web", "namespace": "default", "uid": "u1", "finalizers": ["a/b"],
           "deletionTimestamp": "2024-01-01T00:00:00Z"}
    new = dict(old, uid="u2", finalizers=["a/b", "c/d"])
    errs = validate_object_meta_update(new, old)
    assert [e.field for e in errs] == ["metadata.finalizers", "metadata.uid"]
    assert errs[1].message == 'Invalid value: "u2": field is immutable'


def test_label_selector() -> None:
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": []},
        {"key": "env", "operator": "Exists", "values": ["x"]},
        {"key": "x", "operator": "Near"},
        {"key": "bad key", "operator": "NotIn", "values": ["-v"]},
    ]}
    errs = validate_label_selector(sel, "spec.selector")
    assert [(e.field, e.reason) for e in errs] == [
        ("spec.selector.matchExpressions[0].values", "FieldValueRequired"),
        ("spec.selector.matchExpressions[1].values", "FieldValueForbidden"),
        ("spec.selector.matchExpressions[2].operator", "FieldValueInvalid"),
        ("spec.selector.matchExpressions[3].key", "FieldValueInvalid"),
        ("spec.selector.matchExpressions[3].values[0]", "FieldValueInvalid"),
    ]
    assert errs[0].message == "Required value: must be specified when `operator` is 'In' or 'NotIn'"


@pytest.mark.parametrize("sel,labels,match", [
    (None, {"a": "1"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
])
def test_selector_matches(sel: dict | None, labels: dict, match: bool) -> None:
    assert selector_matches(sel, labels) is match


def test_quantities() -> None:
    assert quantity_value("100m") * 10 == 1
    assert quantity_value("1Gi") == 2**30
    assert quantity_value("1e3") == 1000
    assert validate_quantity("1.5Gi", "x") == []
    assert validate_quantity("-1", "x")[0].message == 'Invalid value: "-1": must be greater than or equal to 0'
    assert "quantities must match the regular expression" in validate_quantity("ten", "x")[0].message
