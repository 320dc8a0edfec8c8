"""EncryptionConfiguration parsing and the providers' wire format (kube's prefixes), pure."""
from __future__ import annotations

import base64
import json

import pytest

from kubelite.apiserver.encryption import EncryptionConfig, EncryptionConfigError, default_config_doc
from kubelite.storage import StorageError

KEY32 = base64.b64encode(b"k" * 32).decode()
OTHER = base64.b64encode(b"o" * 32).decode()


def config(*providers: dict, resources: list[str] | None = None) -> EncryptionConfig:
    return EncryptionConfig.parse(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": resources or ["secrets"], "providers": list(providers)}]}).encode())


@pytest.mark.parametrize("ptype", ["aescbc", "aesgcm", "secretbox"])
def test_round_trip_with_kube_prefix(ptype: str) -> None:
    c = config({ptype: {"keys": [{"name": "k1", "secret": KEY32}]}}, {"identity": {}})
    key = "/registry/core/secrets/default/s"
    stored = c.encrypt(key, b'{"data":{"a":"c2VjcmV0"}}')
    assert stored.startswith(f"k8s:enc:{ptype}:v1:k1:".encode()) and b"c2VjcmV0" not in stored
    assert c.decrypt(key, stored)[0] == b'{"data":{"a":"c2VjcmV0"}}'
    assert c.decrypt(key, b'{"old":"plain"}')[0] == b'{"old":"plain"}'  # identity reads old data
    # configmaps are not guarded by this configuration
    assert c.encrypt("/registry/core/configmaps/default/c", b"x") == b"x"


def test_aesgcm_binds_the_value_to_its_key() -> None:
    c = config({"aesgcm": {"keys": [{"name": "k1", "secret": KEY32}]}})
    stored = c.encrypt("/registry/core/secrets/a/s", b"v")
    with pytest.raises(StorageError):
        c.decrypt("/registry/core/secrets/b/s", stored)


def test_old_keys_read_and_unknown_keys_fail() -> None:
    old = config({"aescbc": {"keys": [{"name": "k1", "secret": KEY32}]}})
    stored = old.encrypt("/registry/core/secrets/a/s", b"v")
    rotated = config({"aescbc": {"keys": [{"name": "k2", "secret": OTHER}, {"name": "k1", "secret": KEY32}]}})
    plain, provider = rotated.decrypt("/registry/core/secrets/a/s", stored)
    assert plain == b"v" and provider is not None and provider.key_name == "k1"
    without = config({"aescbc": {"keys": [{"name": "k2", "secret": OTHER}]}})
    with pytest.raises(StorageError, match="no provider"):
        without.decrypt("/registry/core/secrets/a/s", stored)
    with pytest.raises(StorageError):  # unencrypted data and no identity provider
        without.decrypt("/registry/core/secrets/a/s", b"{}")


@pytest.mark.parametrize("resources,key,guarded", [
    (["configmaps"], "/registry/core/configmaps/ns/c", True),
    (["*."], "/registry/core/pods/ns/p", True),
    (["*.apps"], "/registry/apps/deployments/ns/d", True),
    (["*.apps"], "/registry/core/pods/ns/p", False),
    (["widgets.example.com"], "/registry/example.com/widgets/ns/w", True),
    (["*.*"], "/registry/example.com/widgets/ns/w", True),
])
def test_resource_matching(resources: list[str], key: str, guarded: bool) -> None:
    c = config({"aescbc": {"keys": [{"name": "k", "secret": KEY32}]}}, resources=resources)
    assert (c.encrypt(key, b"v") != b"v") is guarded


@pytest.mark.parametrize("providers,message", [
    ([{"aescbc": {"keys": [{"name": "k", "secret": base64.b64encode(b"short").decode()}]}}], "bytes, got 5"),
    ([{"kms": {}}], "unsupported provider"),
    ([{"aescbc": {"keys": []}}], "at least one key"),
    ([], "at least one provider"),
])
def test_invalid_configurations(providers: list, message: str) -> None:
    with pytest.raises(EncryptionConfigError, match=message):
        config(*providers)


def test_default_config_is_aescbc_then_identity() -> None:
    c = EncryptionConfig.parse(json.dumps(default_config_doc()).encode())
    assert [p.type for p in c.rules[0].providers] == ["aescbc", "identity"]
    assert c.rules[0].providers[0].key_name == "aescbckey" and len(c.rules[0].providers[0].key) == 32
