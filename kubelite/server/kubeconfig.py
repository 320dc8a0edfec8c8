"""Writing kubeconfigs: the admin's (certificate data inline, so the file works anywhere) and a
joined node's (file paths, so a renewed certificate is picked up without rewriting it)."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

from kubelite.server.tls import ClusterPKI


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, pki: ClusterPKI, server_url: str, *, name: str = "default") -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server_url,
                                                "certificate-authority-data": _b64(pki.ca_cert)}}],
        "users": [{"name": name, "user": {"client-certificate-data": _b64(pki.admin_cert),
                                          "client-key-data": _b64(pki.admin_key)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    _write(path, config)


def write_client_kubeconfig(path: Path, server_url: str, *, ca_file: Path, cert_file: Path, key_file: Path,
                            name: str = "default") -> None:
    """A kubeconfig naming the CA, client certificate and key by path (a node agent's)."""
    _write(path, {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server_url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": name, "user": {"client-certificate": str(cert_file), "client-key": str(key_file)}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    })


def _write(path: Path, config: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.replace(tmp, path)
