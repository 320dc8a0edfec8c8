"""Writing the admin kubeconfig (certificate data inline, so the file works anywhere)."""
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.replace(tmp, path)
