"""apimachinery util/validation name formats, table-driven (messages word for word)."""
from __future__ import annotations

from typing import Callable

import pytest

from kubelite.api.helpers import names as N
from kubelite.machinery.errors import StatusError
from kubelite.machinery.selectors import parse_label_selector

QNAME_RX = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


@pytest.mark.parametrize("fn,value,errors", [
    (N.is_qualified_name, "app", []),
    (N.is_qualified_name, "example.com/app.v1", []),
    (N.is_qualified_name, "a" * 63, []),
    (N.is_qualified_name, "a" * 64, ["name part must be no more than 63 characters"]),
    (N.is_qualified_name, "/app", ["prefix part must be non-empty"]),
    (N.is_qualified_name, "app\n", [QNAME_RX]),                       # no trailing newline (Go regexps)
    (N.is_qualified_name, "-app", [QNAME_RX]),
    (N.is_qualified_name, "", ["name part must be non-empty", QNAME_RX]),
    (N.is_qualified_name, "a/b/c", [
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
        "'example.com/MyName')"]),
    (N.is_qualified_name, "Example.com/app", [
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    (N.is_valid_label_value, "", []),
    (N.is_valid_label_value, "v1.2_x", []),
    (N.is_valid_label_value, "a" * 64, ["must be no more than 63 characters"]),
    (N.is_dns1123_label, "my-name", []),
    (N.is_dns1123_label, "a.b", ["must not contain dots"]),
    (N.is_dns1123_label, "a" * 64, ["must be no more than 63 characters"]),
    (N.is_dns1123_subdomain, "a.b-c.d", []),
    (N.is_dns1123_subdomain, "a" * 254, ["must be no more than 253 characters"]),
    (N.is_dns1035_label, "svc-1", []),
    (N.is_valid_port_name, "http", []),
    (N.is_valid_port_name, "80", ["must contain at least one letter (a-z)"]),
    (N.is_valid_port_name, "a--b", ["must not contain consecutive hyphens"]),
    (N.is_c_identifier, "_ok1", []),
    (N.is_config_map_key, "..x", ["must not start with '..'"]),
    (N.is_env_var_name, "MY_VAR.x-1", []),
])
def test_formats(fn: Callable[[str], list[str]], value: str, errors: list[str]) -> None:
    assert fn(value) == errors


def test_invalid_prefix_or_value_is_rejected_by_the_selector_parser_with_the_same_words() -> None:
    # The selector parser and API validation share one IsQualifiedName.
    with pytest.raises(StatusError) as e:
        parse_label_selector("-bad=x")
    assert "name part must consist of alphanumeric characters" in str(e.value.status)
    with pytest.raises(StatusError):
        parse_label_selector("app=bad value")
