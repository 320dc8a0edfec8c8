"""Label and field selectors: Kubernetes grammar, matching, printing, error wording."""
from __future__ import annotations

import pytest

from kubelite.machinery.errors import StatusError
from kubelite.machinery.selectors import (
    LabelSelector,
    escape_field_value,
    from_label_selector,
    parse_field_selector,
    parse_label_selector,
    selector_from_labels,
    selector_to_string,
)

WEB = {"app": "web", "tier": "frontend", "version": "3"}
DB = {"app": "db", "tier": "backend"}
NONE: dict[str, str] = {}


@pytest.mark.parametrize("sel,web,db,none", [
    ("", True, True, True),
    ("app=web", True, False, False),
    ("app==web", True, False, False),
    ("app!=web", False, True, True),
    ("app in (web,db)", True, True, False),
    ("app in (web, db)", True, True, False),
    ("app notin (web)", False, True, True),
    ("tier", True, True, False),
    ("!tier", False, False, True),
    ("app=web,tier=frontend", True, False, False),
    ("app=web,tier=backend", False, False, False),
    ("  app = web ,  tier  ", True, False, False),
    ("version>2", True, False, False),
    ("version<3", False, False, False),
    ("app in (web),!missing,tier notin (backend)", True, False, False),
    ("app=", False, False, False),          # empty value: the label must exist and be ""
    ("app in ()", False, False, False),
    ("x in (foo,,baz)", False, False, False),
])
def test_matching(sel, web, db, none):
    s = parse_label_selector(sel)
    assert (s.matches(WEB), s.matches(DB), s.matches(NONE)) == (web, db, none)


def test_empty_value_matches_empty_label():
    assert parse_label_selector("app=").matches({"app": ""})
    assert parse_label_selector("app in (,x)").matches({"app": ""})


@pytest.mark.parametrize("sel,printed", [
    ("tier in (b,a),app=web", "app=web,tier in (a,b)"),
    ("a==b, c!=d", "a==b,c!=d"),
    ("!a,b", "!a,b"),
    ("x in (foo,,baz)", "x in (,baz,foo)"),
    ("a>5", "a>5"),
    ("in in (in, notin)", "in in (in,notin)"),  # keywords are values inside parentheses
])
def test_string_form(sel, printed):
    assert str(parse_label_selector(sel)) == printed
    assert str(parse_label_selector(printed)) == printed  # the printed form re-parses


@pytest.mark.parametrize("sel,message", [
    ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ("a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a,", "found '', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"),
    ("-a", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters"),
    ("a=-x", "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a valid label must be an empty string"),
    ("a/b/c", "a qualified name must consist of"),
    ("Example.com/a=b", "prefix part a lowercase RFC 1123 subdomain"),
    ("a=" + "x" * 64, "must be no more than 63 characters"),
])
def test_parse_errors(sel, message):
    with pytest.raises(StatusError) as ei:
        parse_label_selector(sel)
    assert ei.value.code == 400 and ei.value.reason == "BadRequest"
    assert message in ei.value.message


def test_full_error_message_wording():
    with pytest.raises(StatusError) as ei:
        parse_label_selector("-a")
    assert ei.value.message == (
        "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric "
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  "
        "or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


# --- metav1.LabelSelector -------------------------------------------------------------------

def test_from_label_selector():
    sel = from_label_selector({"matchLabels": {"app": "web"},
                               "matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend", "x"]},
                                                    {"key": "canary", "operator": "DoesNotExist"},
                                                    {"key": "version", "operator": "Exists"},
                                                    {"key": "zone", "operator": "NotIn", "values": ["z1"]}]})
    assert sel.matches(WEB)
    assert not sel.matches({**WEB, "canary": "1"})
    assert not sel.matches(DB)
    assert str(sel) == "app=web,!canary,tier in (frontend,x),version,zone notin (z1)"


def test_empty_and_none_selectors():
    assert from_label_selector({}).matches(DB) and from_label_selector({}).empty
    assert from_label_selector({"matchLabels": {}, "matchExpressions": []}).matches(NONE)
    nothing = from_label_selector(None)
    assert not nothing.matches(NONE) and not nothing.matches(WEB) and not nothing.empty
    assert selector_to_string(None) == "" and selector_to_string({}) == ""


def test_selector_to_string_is_scale_form():
    assert selector_to_string({"matchLabels": {"tier": "a", "app": "web"}}) == "app=web,tier=a"
    assert selector_to_string({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}],
                               "matchLabels": {"app": "web"}}) == "app=web,tier in (a,b)"


@pytest.mark.parametrize("obj,fragment", [
    ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}, '"Equals" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "values set must be empty for exists and does not exist"),
    ({"matchLabels": {"-bad": "x"}}, "key: Invalid value: \"-bad\""),
])
def test_invalid_label_selector_objects(obj, fragment):
    with pytest.raises(StatusError) as ei:
        from_label_selector(obj)
    assert ei.value.code == 400 and fragment in ei.value.message


def test_selector_from_labels_and_exact_match():
    s = selector_from_labels({"app": "web", "pod-template-hash": "abc"})
    assert s.matches({**WEB, "pod-template-hash": "abc"}) and not s.matches(WEB)
    assert s.requires_exact_match("app") == "web"
    assert parse_label_selector("app in (a,b)").requires_exact_match("app") is None
    assert LabelSelector.everything().matches(NONE)


# --- field selectors ------------------------------------------------------------------------

EVENT_FIELDS = {"metadata.name": "e1", "involvedObject.name": "web", "involvedObject.namespace": "default",
                "involvedObject.kind": "Deployment", "status.phase": "Running"}


@pytest.mark.parametrize("sel,expected", [
    ("", True),
    ("metadata.name=e1", True),
    ("metadata.name==e1", True),
    ("metadata.name!=e1", False),
    ("involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Deployment", True),
    ("involvedObject.name=web,involvedObject.kind=Pod", False),
    ("status.phase!=Pending", True),
    ("spec.nodeName=", True),        # a missing field reads as ""
    ("spec.nodeName!=", False),
    ("a=b,,", False),
])
def test_field_matching(sel, expected):
    assert parse_field_selector(sel).matches(EVENT_FIELDS) is expected


def test_field_requirements_and_string():
    s = parse_field_selector("status.phase!=Running,metadata.name=web")
    assert [(r.field, r.operator, r.value) for r in s.requirements] == [
        ("metadata.name", "=", "web"), ("status.phase", "!=", "Running")]
    assert s.fields() == {"metadata.name", "status.phase"}
    assert s.requires_exact_match("metadata.name") == "web"
    assert str(s) == "metadata.name=web,status.phase!=Running"


def test_field_value_escaping():
    value = r"a,b=c\d"
    escaped = escape_field_value(value)
    assert escaped == r"a\,b\=c\\d"
    s = parse_field_selector(f"metadata.name={escaped},x=y")
    assert s.requires_exact_match("metadata.name") == value
    assert s.matches({"metadata.name": value, "x": "y"})
    assert parse_field_selector(str(s)) == s


@pytest.mark.parametrize("sel,message", [
    ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    (r"a=b\x", "invalid field selector: invalid escape sequence: \\x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
])
def test_field_parse_errors(sel, message):
    with pytest.raises(StatusError) as ei:
        parse_field_selector(sel)
    assert ei.value.code == 400 and ei.value.message == message
