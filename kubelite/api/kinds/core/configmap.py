"""The ConfigMap kind, and the key/size/immutability rules it shares with Secrets (``secret.py``).

Follows Kubernetes' ValidateConfigMap: every key of ``data`` and ``binaryData`` matches
``[-._a-zA-Z0-9]+`` (keys become file names in volumes), a key may not be in both maps, the
values total at most 1 MiB, and once ``immutable: true`` is stored neither the data nor the
flag may change ("Forbidden: field is immutable when `immutable` is set").
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import is_config_map_key, key, too_long
from kubelite.machinery.errors import FieldError, forbidden, invalid

MAX_SIZE = 1024 * 1024  # core.MaxSecretSize, shared by ConfigMaps
IMMUTABLE_MSG = "field is immutable when `immutable` is set"


def decode_b64(value: Any) -> bytes | None:
    """Decoded bytes of a base64 JSON value, or None when it is not valid base64."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def validate_keys(data: Any, path: str) -> list[FieldError]:
    if data is None:
        return []
    if not isinstance(data, dict):
        return [invalid(path, data, "must be a map of keys to values")]
    errs: list[FieldError] = []
    for k in data:
        errs += [invalid(key(path, k), k, m) for m in is_config_map_key(str(k))]
    return errs


def validate_immutable_update(obj: dict[str, Any], old: dict[str, Any], fields: tuple[str, ...]) -> list[FieldError]:
    if old.get("immutable") is not True:
        return []
    errs: list[FieldError] = []
    if obj.get("immutable") is not True:
        errs.append(forbidden("immutable", IMMUTABLE_MSG))
    for f in fields:
        if (obj.get(f) or {}) != (old.get(f) or {}):
            errs.append(forbidden(f, IMMUTABLE_MSG))
    return errs


# --- ConfigMap -----------------------------------------------------------------------------------


def validate_config_map(cm: dict[str, Any]) -> list[FieldError]:
    errs = validate_keys(cm.get("data"), "data") + validate_keys(cm.get("binaryData"), "binaryData")
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    if not isinstance(data, dict) or not isinstance(binary, dict):
        return errs
    total = 0
    for k, v in data.items():
        if not isinstance(v, str):
            errs.append(invalid(key("data", k), v, "must be a string"))
            continue
        total += len(v.encode())
        if k in binary:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
    for k, v in binary.items():
        raw = decode_b64(v)
        if raw is None:
            errs.append(invalid(key("binaryData", k), "<value omitted>", "must be base64-encoded bytes"))
            continue
        total += len(raw)
    if total > MAX_SIZE:
        errs.append(too_long("", MAX_SIZE))
    return errs


class ConfigMapStrategy(Strategy):
    has_status = False
    columns = (
        NAME_COLUMN,
        Column("Data", description="Data contains the configuration data."),
        AGE_COLUMN,
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_config_map(obj)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return validate_immutable_update(obj, old, ("data", "binaryData")) + self.validate(obj)

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
                age(obj, now)]


CONFIG_MAP = ResourceType(
    group="", version="v1", kind="ConfigMap", plural="configmaps", singular="configmap", namespaced=True,
    strategy=ConfigMapStrategy(), schema="io.k8s.api.core.v1.ConfigMap", short_names=("cm",),
)
