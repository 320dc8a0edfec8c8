"""Secrets encrypted at rest, through a real server and the real kubectl: no file of the data
dir holds a Secret's value; ``kubelite secrets-encrypt rotate-keys`` and ``reencrypt`` rewrite
every Secret online and each reads back; other resources are guarded through the same
EncryptionConfiguration."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, make_cluster


def grep_data_dir(data_dir: Path, *needles: bytes) -> list[str]:
    hits = []
    for f in data_dir.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            hits += [f"{f}: {n!r}" for n in needles if n in raw]
    return hits


def secrets_encrypt(c: Cluster, *args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "kubelite.cli.main", "secrets-encrypt", *args,
                          "--kubeconfig", str(c.kubeconfig)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory):
    c = make_cluster(tmp_path_factory.mktemp("encrypted"), ["--secrets-encryption"])
    c.start()
    yield c
    c.stop()


def test_secret_values_never_reach_the_disk(encrypted: Cluster) -> None:
    c = encrypted
    values = {f"s{i}": f"top-secret-{uuid.uuid4().hex}" for i in range(5)}
    for name, value in values.items():
        c.kubectl("create", "secret", "generic", name, f"--from-literal=password={value}")
    c.kubectl("patch", "secret", "s0", "-p", json.dumps({"stringData": {"more": values["s1"]}}))
    needles = [v.encode() for v in values.values()] + [base64.b64encode(v.encode()) for v in values.values()]
    assert grep_data_dir(c.data_dir, *needles) == []
    assert grep_data_dir(c.data_dir, b"k8s:enc:aescbc:v1:aescbckey:")  # kube's prefix, in the database
    cfg = c.data_dir / "cred" / "encryption-config.json"
    assert (cfg.stat().st_mode & 0o777) == 0o600
    assert "Encryption Status: Enabled" in secrets_encrypt(c, "status")

    # rotate: a new key first, every Secret rewritten under it, online
    out = secrets_encrypt(c, "rotate-keys")
    assert "reencrypt_finished" in out, out
    doc = json.loads(cfg.read_text())
    keys = doc["resources"][0]["providers"][0]["aescbc"]["keys"]
    assert len(keys) == 2 and keys[1]["name"] == "aescbckey"
    new_prefix = f"k8s:enc:aescbc:v1:{keys[0]['name']}:".encode()
    assert grep_data_dir(c.data_dir, new_prefix)
    status = secrets_encrypt(c, "status")
    assert f"aescbc:{keys[0]['name']}=" in status and "aescbc:aescbckey=" not in status.split("Stored objects")[1]
    assert "Objects re-encrypted: 0" in secrets_encrypt(c, "reencrypt")  # nothing left to do
    for name, value in values.items():
        data = c.json("get", "secret", name)["data"]
        assert base64.b64decode(data["password"]).decode() == value
    assert grep_data_dir(c.data_dir, *needles) == []


def test_configmaps_through_the_same_configuration(encrypted: Cluster) -> None:
    c = encrypted
    value = f"not-public-{uuid.uuid4().hex}"
    c.kubectl("create", "configmap", "cm", f"--from-literal=k={value}")
    assert grep_data_dir(c.data_dir, value.encode())  # configmaps are not guarded yet
    cfg = c.data_dir / "cred" / "encryption-config.json"
    doc = json.loads(cfg.read_text())
    doc["resources"].append({"resources": ["configmaps"], "providers": [
        {"aesgcm": {"keys": [{"name": "gcm1", "secret": base64.b64encode(b"g" * 32).decode()}]}}, {"identity": {}}]})
    cfg.write_text(json.dumps(doc))
    # the server reloads the edited file by itself; reencrypt then rewrites the old configmap
    deadline = time.monotonic() + 15
    while "configmaps" not in secrets_encrypt(c, "status"):
        assert time.monotonic() < deadline, "configuration not reloaded"
        time.sleep(0.5)
    out = secrets_encrypt(c, "reencrypt")
    assert "reencrypt_finished" in out
    assert c.json("get", "configmap", "cm")["data"]["k"] == value
    assert grep_data_dir(c.data_dir, b"k8s:enc:aesgcm:v1:gcm1:")
    c.kubectl("create", "configmap", "cm2", f"--from-literal=k={value}-2")
    assert not grep_data_dir(c.data_dir, f"{value}-2".encode())


def test_plain_install_then_encryption(tmp_path: Path) -> None:
    """Secrets written before --secrets-encryption are read through identity, and reencrypt
    moves them under the key."""
    c = make_cluster(tmp_path)
    c.start()
    try:
        c.kubectl("create", "secret", "generic", "old", "--from-literal=a=before")
    finally:
        c.stop()
    c.extra_args = ["--secrets-encryption"]
    c.start()
    try:
        assert base64.b64decode(c.json("get", "secret", "old")["data"]["a"]) == b"before"
        assert "identity=1" in secrets_encrypt(c, "status")
        out = secrets_encrypt(c, "reencrypt")
        assert "Objects re-encrypted: 1" in out and "reencrypt_finished" in out
        assert base64.b64decode(c.json("get", "secret", "old")["data"]["a"]) == b"before"
    finally:
        c.stop()


def test_bad_configuration_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "enc.yaml"
    bad.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                   "- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: c2hvcnQ=}]}\n")
    res = subprocess.run([sys.executable, "-m", "kubelite.cli.main", "server", "--disable-agent",
                          "--data-dir", str(tmp_path / "data"), "--https-listen-port", "0",
                          "--encryption-provider-config", str(bad)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "aescbc keys are 16 or 24 or 32 bytes, got 5" in res.stderr
