"""ConfigMaps and Secrets: keys, size, immutability, stringData, typed secrets, columns."""
from __future__ import annotations

import base64
import copy

import pytest

from kubelite.api.kinds.core.configmap import CONFIG_MAP
from kubelite.api.kinds.core.secret import SECRET
from tests.api.kinds.core.builders import NOW, create, fields, meta, update


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def cm(**body: object) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cfg"), **body}


def secret(**body: object) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta("s"), **body}


@pytest.mark.parametrize("body,expected", [
    ({"data": {"app.properties": "a=1", "KEY_NAME": "x"}}, []),
    ({"data": {"bad/key": "x", "..": "y"}}, ["data[bad/key]", "data[..]"]),
    ({"data": {"k": "x"}, "binaryData": {"k": b64("y")}}, ["data[k]"]),
    ({"binaryData": {"k": "%%%"}}, ["binaryData[k]"]),
    ({"data": {"big": "x" * (1024 * 1024 + 1)}}, [""]),
])
def test_config_map_validation(body: dict, expected: list[str]) -> None:
    assert fields(create(CONFIG_MAP, cm(**body))) == expected


def test_config_map_size_message() -> None:
    (err,) = create(CONFIG_MAP, cm(data={"big": "x" * (1024 * 1024 + 1)}))
    assert (err.message, err.reason) == ("Too long: may not be more than 1048576 bytes", "FieldValueTooLong")


def test_immutable_config_map() -> None:
    old = cm(data={"a": "1"}, immutable=True)
    create(CONFIG_MAP, old)
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    errs = update(CONFIG_MAP, new, old)
    assert [(e.field, e.message) for e in errs] == [("data", "Forbidden: field is immutable when `immutable` is set")]
    new = copy.deepcopy(old)
    new["immutable"] = False
    assert fields(update(CONFIG_MAP, new, old)) == ["immutable"]
    # metadata (labels) may still change
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"x": "y"}
    assert update(CONFIG_MAP, new, old) == []
    # a mutable ConfigMap may become immutable
    mutable = cm(data={"a": "1"})
    create(CONFIG_MAP, mutable)
    assert update(CONFIG_MAP, dict(copy.deepcopy(mutable), immutable=True), mutable) == []


def test_config_map_row() -> None:
    c = cm(data={"a": "1", "b": "2"}, binaryData={"c": b64("x")})
    assert [col.name for col in CONFIG_MAP.strategy.columns] == ["Name", "Data", "Age"]
    assert CONFIG_MAP.strategy.row(c, NOW) == ["cfg", 3, "5m"]
    assert CONFIG_MAP.short_names == ("cm",) and CONFIG_MAP.strategy.has_status is False


def test_secret_defaults_and_string_data() -> None:
    s = secret(data={"a": b64("old"), "keep": b64("k")}, stringData={"a": "new", "b": "plain"})
    assert create(SECRET, s) == []
    assert s["type"] == "Opaque"
    assert "stringData" not in s
    assert s["data"] == {"a": b64("new"), "keep": b64("k"), "b": b64("plain")}


@pytest.mark.parametrize("body,expected", [
    ({"data": {"ok": b64("x")}}, []),
    ({"data": {"bad key": b64("x")}}, ["data[bad key]"]),
    ({"data": {"k": "not base64!"}}, ["data[k]"]),
    ({"data": {"k": b64("x" * (1024 * 1024 + 1))}}, ["data"]),
    ({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}}, ["data[tls.key]"]),
    ({"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c"), "tls.key": b64("k")}}, []),
    ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64("{not json")}},
     ["data[.dockerconfigjson]"]),
    ({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64('{"auths": {}}')}}, []),
    ({"type": "kubernetes.io/basic-auth", "data": {}}, ["data[username]", "data[password]"]),
    ({"type": "kubernetes.io/service-account-token"},
     ["metadata.annotations[kubernetes.io/service-account.name]"]),
    ({"type": "helm.sh/release.v1", "data": {"release": b64("H4sI")}}, []),
])
def test_secret_validation(body: dict, expected: list[str]) -> None:
    assert fields(create(SECRET, secret(**body))) == expected


def test_secret_update_rules() -> None:
    old = secret(data={"a": b64("1")})
    create(SECRET, old)
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/tls"
    new["data"] = {"tls.crt": b64("c"), "tls.key": b64("k")}
    assert [(e.field, e.message) for e in update(SECRET, new, old)] == [
        ("type", 'Invalid value: "kubernetes.io/tls": field is immutable')]
    frozen = secret(data={"a": b64("1")}, immutable=True)
    create(SECRET, frozen)
    new = copy.deepcopy(frozen)
    new["stringData"] = {"a": "2"}
    assert fields(update(SECRET, new, frozen)) == ["data"]


def test_secret_field_selector_and_row() -> None:
    s = secret(type="helm.sh/release.v1", data={"release": b64("x")})
    create(SECRET, s)
    assert SECRET.strategy.field_labels(s) == {"type": "helm.sh/release.v1"}
    assert [c.name for c in SECRET.strategy.columns] == ["Name", "Type", "Data", "Age"]
    assert SECRET.strategy.row(s, NOW) == ["s", "helm.sh/release.v1", 1, "5m"]
