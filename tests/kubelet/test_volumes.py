"""Volume payloads and the atomic writer."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from kubelite.kubelet.volumes import atomic, hostpath
from kubelite.kubelet.volumes.projection import (VolumeError, configmap_payload, downward_payload, projected_payload,
                                                 secret_payload)

POD = {"metadata": {"name": "web", "namespace": "ns1", "uid": "u1", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "32Mi"}}}]}}


def test_atomic_writer_swaps_data_and_links(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomic.write(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})
    assert (target / "a").read_text() == "1" and (target / "dir" / "b").read_text() == "2"
    assert os.readlink(target / "a") == "..data/a"
    first = os.readlink(target / "..data")
    assert oct((target / "dir" / "b").stat().st_mode & 0o777) == "0o600"
    assert not atomic.write(target, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)})   # unchanged: nothing written
    assert atomic.write(target, {"a": (b"changed", 0o644)})
    assert (target / "a").read_text() == "changed"
    assert not (target / "dir").exists()                                       # stale link removed
    assert os.readlink(target / "..data") != first and not (target / first).exists()


def test_atomic_writer_rejects_escaping_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        atomic.write(tmp_path / "v", {"../x": (b"", 0o644)})


def test_configmap_items_modes_and_optional() -> None:
    cm = {"data": {"a": "1", "b": "2"}, "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}
    assert configmap_payload(cm, {"name": "c"}) == {"a": (b"1", 0o644), "b": (b"2", 0o644), "bin": (b"\x00\x01", 0o644)}
    assert configmap_payload(cm, {"name": "c", "defaultMode": 0o400, "items": [{"key": "a", "path": "x/a.txt"},
                                                                              {"key": "b", "path": "b", "mode": 0o755}]}) \
        == {"x/a.txt": (b"1", 0o400), "b": (b"2", 0o755)}
    assert configmap_payload(None, {"name": "c", "optional": True}) == {}
    with pytest.raises(VolumeError, match='configmap "c" not found'):
        configmap_payload(None, {"name": "c"})
    with pytest.raises(VolumeError, match="non-existent config key: zz"):
        configmap_payload(cm, {"name": "c", "items": [{"key": "zz", "path": "z"}]})


def test_secret_payload_decodes() -> None:
    s = {"data": {"pw": base64.b64encode(b"hunter2").decode()}}
    assert secret_payload(s, {"secretName": "s"}) == {"pw": (b"hunter2", 0o644)}
    with pytest.raises(VolumeError, match='secret "s" not found'):
        secret_payload(None, {"secretName": "s"})


def test_downward_and_projected() -> None:
    src = {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                     {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                     {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory",
                                                          "divisor": "1Mi"}}]}
    assert downward_payload(POD, src, host_ip="h", pod_ip="p", node_allocatable={}) == {
        "labels": (b'app="web"', 0o644), "name": (b"web", 0o644), "mem": (b"32", 0o644)}
    proj = {"defaultMode": 0o444, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}
    objs = {("configmap", "kube-root-ca.crt"): {"data": {"ca.crt": "PEM"}}}
    out = projected_payload(POD, proj, lookup=lambda k, n: objs.get((k, n)), tokens={0: "jwt"}, host_ip="h",
                            pod_ip="p", node_allocatable={})
    assert out == {"token": (b"jwt", 0o444), "ca.crt": (b"PEM", 0o444), "namespace": (b"ns1", 0o444)}


@pytest.mark.parametrize("kind,prepare,ok", [
    ("DirectoryOrCreate", None, True), ("Directory", None, False), ("Directory", "dir", True),
    ("FileOrCreate", None, True), ("File", "dir", False), ("File", "file", True), ("", None, True),
    ("Socket", "file", False),
])
def test_hostpath_types(tmp_path: Path, kind: str, prepare: str | None, ok: bool) -> None:
    p = tmp_path / "x"
    if prepare == "dir":
        p.mkdir()
    elif prepare == "file":
        p.write_text("")
    if ok:
        hostpath.check(str(p), kind)
        if kind == "DirectoryOrCreate":
            assert p.is_dir()
        if kind == "FileOrCreate":
            assert p.is_file()
    else:
        with pytest.raises(hostpath.HostPathError, match="hostPath type check failed"):
            hostpath.check(str(p), kind)
