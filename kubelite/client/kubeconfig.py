"""Kubeconfig loading: from kubectl's YAML file to a server URL plus TLS and auth material.

``HTTPTransport.from_kubeconfig`` and the ``kubelite`` CLI call ``load_kubeconfig``; the server
package writes kubeconfigs that this module must read back. Supported: the ``KUBECONFIG``
path list (merged, first file to define a name wins, as kubectl does), ``current-context`` or an
explicit context, ``certificate-authority[-data]``, ``client-certificate[-data]``,
``client-key[-data]``, ``token``/``tokenFile``, basic auth, ``insecure-skip-tls-verify``,
``tls-server-name`` and the context's namespace. File paths are relative to the kubeconfig that
names them. Also ``load_incluster_config`` for code running inside a pod. Exec and
auth-provider plugins are not supported and are reported as such.
"""
from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Any

import yaml


class KubeconfigError(ValueError):
    """The kubeconfig is missing, malformed, or lacks what the selected context needs."""


@dataclass(slots=True)
class KubeConfig:
    """The resolved connection settings of one context."""

    server: str
    context: str = ""
    cluster: str = ""
    user: str = ""
    namespace: str = "default"
    ca_data: bytes | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    cert_data: bytes | None = None
    cert_file: str | None = None
    key_data: bytes | None = None
    key_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None


def default_paths() -> list[str]:
    """``$KUBECONFIG`` split on the OS path separator, else ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except FileNotFoundError as e:
        raise KubeconfigError(f"kubeconfig {path} does not exist") from e
    except yaml.YAMLError as e:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML: {e}") from e
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path}: top level must be a mapping")
    return doc


def _named(doc: dict[str, Any], section: str, inner: str, path: str,
           into: dict[str, tuple[dict[str, Any], str]]) -> None:
    """Collect ``doc[section][*]`` entries by name into ``into`` (first definition wins),
    remembering the directory of the file each came from for relative paths."""
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"kubeconfig {path}: {section} must be a list")
    base = os.path.dirname(os.path.abspath(path))
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KubeconfigError(f"kubeconfig {path}: every entry of {section} needs a name")
        body = entry.get(inner) or {}
        if not isinstance(body, dict):
            raise KubeconfigError(f"kubeconfig {path}: {section}[{entry['name']}].{inner} must be a mapping")
        into.setdefault(entry["name"], (body, base))


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise KubeconfigError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value.strip(), validate=False)
    except (binascii.Error, ValueError) as e:
        raise KubeconfigError(f"{what} is not valid base64: {e}") from e


def _path(value: Any, base: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise KubeconfigError(f"{what} must be a file path")
    p = os.path.expanduser(value)
    return p if os.path.isabs(p) else os.path.join(base, p)


def load_kubeconfig(path: str | list[str] | None = None, *, context: str | None = None) -> KubeConfig:
    """Resolve ``context`` (default: ``current-context``) from the kubeconfig file(s)."""
    paths = default_paths() if path is None else ([path] if isinstance(path, str) else list(path))
    existing = [p for p in paths if os.path.exists(p)]
    if not existing:
        raise KubeconfigError(f"no kubeconfig found (looked at {', '.join(paths)})")
    clusters: dict[str, tuple[dict[str, Any], str]] = {}
    users: dict[str, tuple[dict[str, Any], str]] = {}
    contexts: dict[str, tuple[dict[str, Any], str]] = {}
    current = ""
    for p in existing:
        doc = _read(p)
        _named(doc, "clusters", "cluster", p, clusters)
        _named(doc, "users", "user", p, users)
        _named(doc, "contexts", "context", p, contexts)
        if not current and isinstance(doc.get("current-context"), str):
            current = doc["current-context"]
    name = context or current
    if not name:
        raise KubeconfigError("no context selected: current-context is not set")
    if name not in contexts:
        raise KubeconfigError(f'context "{name}" does not exist')
    ctx, _ = contexts[name]
    cluster_name = ctx.get("cluster", "")
    if cluster_name not in clusters:
        raise KubeconfigError(f'context "{name}": cluster "{cluster_name}" does not exist')
    cluster, cbase = clusters[cluster_name]
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError(f'cluster "{cluster_name}" has no server')
    cfg = KubeConfig(server=server.rstrip("/"), context=name, cluster=cluster_name,
                     user=ctx.get("user", "") or "", namespace=ctx.get("namespace") or "default")
    cfg.insecure_skip_tls_verify = bool(cluster.get("insecure-skip-tls-verify", False))
    cfg.tls_server_name = cluster.get("tls-server-name") or None
    if "certificate-authority-data" in cluster:
        cfg.ca_data = _b64(cluster["certificate-authority-data"],
                           f'cluster "{cluster_name}" certificate-authority-data')
    elif cluster.get("certificate-authority"):
        cfg.ca_file = _path(cluster["certificate-authority"], cbase, "certificate-authority")

    if cfg.user:
        if cfg.user not in users:
            raise KubeconfigError(f'context "{name}": user "{cfg.user}" does not exist')
        user, ubase = users[cfg.user]
        if "exec" in user or "auth-provider" in user:
            raise KubeconfigError(f'user "{cfg.user}": exec and auth-provider credential plugins are not supported')
        if "client-certificate-data" in user:
            cfg.cert_data = _b64(user["client-certificate-data"], f'user "{cfg.user}" client-certificate-data')
        elif user.get("client-certificate"):
            cfg.cert_file = _path(user["client-certificate"], ubase, "client-certificate")
        if "client-key-data" in user:
            cfg.key_data = _b64(user["client-key-data"], f'user "{cfg.user}" client-key-data')
        elif user.get("client-key"):
            cfg.key_file = _path(user["client-key"], ubase, "client-key")
        if (cfg.cert_data or cfg.cert_file) and not (cfg.key_data or cfg.key_file):
            raise KubeconfigError(f'user "{cfg.user}": client certificate without client key')
        if (cfg.key_data or cfg.key_file) and not (cfg.cert_data or cfg.cert_file):
            raise KubeconfigError(f'user "{cfg.user}": client key without client certificate')
        # Mixed forms (cert as data, key as file) cannot be handed to one loader: read files.
        if cfg.cert_data is not None and cfg.key_file is not None:
            cfg.key_data, cfg.key_file = _read_file(cfg.key_file), None
        if cfg.key_data is not None and cfg.cert_file is not None:
            cfg.cert_data, cfg.cert_file = _read_file(cfg.cert_file), None
        if user.get("token"):
            cfg.token = str(user["token"])
        elif user.get("tokenFile"):
            cfg.token_file = _path(user["tokenFile"], ubase, "tokenFile")
        if user.get("username") is not None:
            cfg.username = str(user["username"])
            cfg.password = str(user.get("password") or "")
    return cfg


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise KubeconfigError(f"cannot read {path}: {e}") from e


SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def load_incluster_config(sa_dir: str = SERVICE_ACCOUNT_DIR) -> KubeConfig:
    """Settings for a process running in a pod: ``KUBERNETES_SERVICE_HOST``/``_PORT`` and the
    mounted service-account token (re-read on rotation), CA and namespace."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeconfigError("not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set")
    token_file = os.path.join(sa_dir, "token")
    if not os.path.exists(token_file):
        raise KubeconfigError(f"service account token {token_file} does not exist")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    ns_file = os.path.join(sa_dir, "namespace")
    namespace = "default"
    if os.path.exists(ns_file):
        namespace = _read_file(ns_file).decode().strip() or "default"
    ca_file = os.path.join(sa_dir, "ca.crt")
    return KubeConfig(server=f"https://{host}:{port}", context="in-cluster", namespace=namespace,
                      ca_file=ca_file if os.path.exists(ca_file) else None, token_file=token_file)
