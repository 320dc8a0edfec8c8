"""What a configMap, secret, downwardAPI or projected volume holds: payloads (path -> bytes and
mode) built from the referenced objects (pure; ``atomic.write`` puts them on disk).

Modes: ``items[].mode`` else the volume's ``defaultMode`` else 0644. ``optional`` makes a
missing object (or key) an empty volume instead of a mount failure. Errors carry the kubelet's
wording, e.g. ``configmap "app-config" not found`` or ``configmap references non-existent
config key: port``.
"""
from __future__ import annotations

import base64
from typing import Any, Callable, Mapping

from kubelite.kubelet.pods.envvars import ConfigError, field_value, resource_value

Obj = Mapping[str, Any]
Payload = dict[str, tuple[bytes, int]]
DEFAULT_MODE = 0o644


class VolumeError(Exception):
    pass


def _mode(item: Obj, default: int) -> int:
    m = item.get("mode")
    return int(m) if m is not None else default


def _keyed(data: Mapping[str, bytes], source: Obj, default_mode: int, what: str, name: str) -> Payload:
    items = source.get("items")
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    out: Payload = {}
    for it in items:
        key = it.get("key", "")
        if key not in data:
            if source.get("optional"):
                continue
            raise VolumeError(f"{what} references non-existent {'config' if what == 'configmap' else 'secret'} "
                              f"key: {key}")
        out[it.get("path") or key] = (data[key], _mode(it, default_mode))
    return out


def configmap_data(cm: Obj) -> dict[str, bytes]:
    data = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    for k, v in (cm.get("binaryData") or {}).items():
        data[k] = base64.b64decode(v)
    return data


def secret_data(secret: Obj) -> dict[str, bytes]:
    data = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            data[k] = base64.b64decode(v)
        except (ValueError, TypeError):
            continue
    return data


def configmap_payload(cm: Obj | None, source: Obj, default_mode: int | None = None) -> Payload:
    mode = default_mode if default_mode is not None else int(source.get("defaultMode") or DEFAULT_MODE)
    name = source.get("name", "")
    if cm is None:
        if source.get("optional"):
            return {}
        raise VolumeError(f'configmap "{name}" not found')
    return _keyed(configmap_data(cm), source, mode, "configmap", name)


def secret_payload(secret: Obj | None, source: Obj, default_mode: int | None = None) -> Payload:
    mode = default_mode if default_mode is not None else int(source.get("defaultMode") or DEFAULT_MODE)
    name = source.get("secretName") or source.get("name") or ""
    if secret is None:
        if source.get("optional"):
            return {}
        raise VolumeError(f'secret "{name}" not found')
    return _keyed(secret_data(secret), source, mode, "secret", name)


def downward_payload(pod: Obj, source: Obj, *, host_ip: str, pod_ip: str, node_allocatable: Mapping[str, str],
                     default_mode: int | None = None) -> Payload:
    """``items[].fieldRef`` (metadata.name, labels, annotations, ...) and ``resourceFieldRef``.

    Example: ``{path: labels, fieldRef: {fieldPath: metadata.labels}}`` with labels app=web ->
    ``labels`` containing ``app="web"``.
    """
    mode = default_mode if default_mode is not None else int(source.get("defaultMode") or DEFAULT_MODE)
    out: Payload = {}
    for it in source.get("items") or ():
        try:
            if it.get("fieldRef"):
                value = field_value(pod, it["fieldRef"].get("fieldPath", ""), host_ip=host_ip, pod_ip=pod_ip)
            elif it.get("resourceFieldRef"):
                rf = it["resourceFieldRef"]
                value = resource_value(pod, rf.get("containerName", ""), rf.get("resource", ""), rf.get("divisor"),
                                       node_allocatable)
            else:
                continue
        except ConfigError as e:
            raise VolumeError(str(e)) from None
        out[it.get("path", "")] = (value.encode(), _mode(it, mode))
    return out


def projected_payload(pod: Obj, source: Obj, *, lookup: Callable[[str, str], Obj | None],
                      tokens: Mapping[int, str], host_ip: str, pod_ip: str,
                      node_allocatable: Mapping[str, str]) -> Payload:
    """All sources of a projected volume merged; ``tokens`` maps the index of each
    serviceAccountToken source to the token already requested for it."""
    mode = int(source.get("defaultMode") or DEFAULT_MODE)
    out: Payload = {}
    for i, src in enumerate(source.get("sources") or ()):
        if src.get("configMap") is not None:
            cs = src["configMap"]
            out.update(configmap_payload(lookup("configmap", cs.get("name", "")), cs, mode))
        elif src.get("secret") is not None:
            ss = src["secret"]
            out.update(secret_payload(lookup("secret", ss.get("name", "")), ss, mode))
        elif src.get("downwardAPI") is not None:
            out.update(downward_payload(pod, src["downwardAPI"], host_ip=host_ip, pod_ip=pod_ip,
                                        node_allocatable=node_allocatable, default_mode=mode))
        elif src.get("serviceAccountToken") is not None:
            t = src["serviceAccountToken"]
            if i in tokens:
                out[t.get("path") or "token"] = (tokens[i].encode(), mode)
    return out
