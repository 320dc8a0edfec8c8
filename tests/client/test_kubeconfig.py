"""Kubeconfig parsing: data and file variants, contexts, KUBECONFIG merging, errors."""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelite.client import KubeconfigError, load_incluster_config, load_kubeconfig


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def config(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "current-context": "admin@kubelite",
        "clusters": [{"name": "kubelite", "cluster": {
            "server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(b"CA PEM")}}],
        "users": [{"name": "admin", "user": {"client-certificate-data": b64(b"CERT PEM"),
                                             "client-key-data": b64(b"KEY PEM")}},
                  {"name": "bot", "user": {"token": "abc.def"}}],
        "contexts": [{"name": "admin@kubelite", "context": {"cluster": "kubelite", "user": "admin"}},
                     {"name": "bot", "context": {"cluster": "kubelite", "user": "bot", "namespace": "ci"}}],
    }
    doc.update(over)
    return doc


def test_data_variants(tmp_path: Path) -> None:
    cfg = load_kubeconfig(write(tmp_path / "c", config()))
    assert cfg.server == "https://127.0.0.1:6443" and cfg.context == "admin@kubelite"
    assert cfg.ca_data == b"CA PEM" and cfg.cert_data == b"CERT PEM" and cfg.key_data == b"KEY PEM"
    assert cfg.token is None and cfg.namespace == "default"


def test_explicit_context_with_token_and_namespace(tmp_path: Path) -> None:
    cfg = load_kubeconfig(write(tmp_path / "c", config()), context="bot")
    assert cfg.token == "abc.def" and cfg.namespace == "ci" and cfg.cert_data is None and cfg.user == "bot"


def test_file_variants_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    doc = config()
    doc["clusters"][0]["cluster"] = {"server": "https://h:1", "certificate-authority": "pki/ca.crt",
                                     "tls-server-name": "kubernetes", "insecure-skip-tls-verify": False}
    doc["users"][0]["user"] = {"client-certificate": "pki/admin.crt", "client-key": "/abs/admin.key"}
    cfg = load_kubeconfig(write(tmp_path / "c", doc))
    assert cfg.ca_file == str(tmp_path / "pki/ca.crt") and cfg.ca_data is None
    assert cfg.cert_file == str(tmp_path / "pki/admin.crt") and cfg.key_file == "/abs/admin.key"
    assert cfg.tls_server_name == "kubernetes"


def test_mixed_cert_data_and_key_file_reads_the_file(tmp_path: Path) -> None:
    (tmp_path / "k.key").write_bytes(b"KEY FROM FILE")
    doc = config()
    doc["users"][0]["user"] = {"client-certificate-data": b64(b"CERT"), "client-key": "k.key"}
    cfg = load_kubeconfig(write(tmp_path / "c", doc))
    assert cfg.cert_data == b"CERT" and cfg.key_data == b"KEY FROM FILE" and cfg.key_file is None


def test_kubeconfig_env_merges_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = write(tmp_path / "a", {"current-context": "bot", "users": [{"name": "bot", "user": {"token": "first"}}]})
    second = write(tmp_path / "b", config())
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing'}:{second}")
    cfg = load_kubeconfig()
    assert cfg.context == "bot" and cfg.token == "first" and cfg.server == "https://127.0.0.1:6443"


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.update({"current-context": ""}), "current-context is not set"),
    (lambda d: d.update({"current-context": "nope"}), 'context "nope" does not exist'),
    (lambda d: d["contexts"][0]["context"].update({"cluster": "gone"}), 'cluster "gone" does not exist'),
    (lambda d: d["contexts"][0]["context"].update({"user": "gone"}), 'user "gone" does not exist'),
    (lambda d: d["clusters"][0]["cluster"].pop("server"), "has no server"),
    (lambda d: d["users"][0]["user"].pop("client-key-data"), "without client key"),
    (lambda d: d["users"][0].update({"user": {"exec": {"command": "aws"}}}), "not supported"),
    (lambda d: d.update({"clusters": {"not": "a list"}}), "must be a list"),
    (lambda d: d["clusters"][0]["cluster"].update({"certificate-authority-data": 5}), "base64 string"),
])
def test_errors(tmp_path: Path, mutate: Any, message: str) -> None:
    doc = config()
    mutate(doc)
    with pytest.raises(KubeconfigError, match=message):
        load_kubeconfig(write(tmp_path / "c", doc))


def test_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="no kubeconfig found"):
        load_kubeconfig(str(tmp_path / "none"))
    (tmp_path / "bad").write_text("a: [")
    with pytest.raises(KubeconfigError, match="not valid YAML"):
        load_kubeconfig(str(tmp_path / "bad"))


def test_incluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeconfigError, match="not running in a cluster"):
        load_incluster_config(str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    (tmp_path / "token").write_text("t")
    (tmp_path / "namespace").write_text("apps\n")
    (tmp_path / "ca.crt").write_text("CA")
    cfg = load_incluster_config(str(tmp_path))
    assert cfg.server == "https://[fd00::1]:443" and cfg.namespace == "apps"
    assert cfg.token_file == str(tmp_path / "token") and cfg.ca_file == str(tmp_path / "ca.crt")
