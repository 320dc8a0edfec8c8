"""The Secret kind: ``type: Opaque`` by default, ``stringData`` folded into ``data``, typed-secret keys.

Shares the key, 1 MiB and ``immutable`` rules of ConfigMaps (``configmap.py``). Kubernetes folds
``stringData`` into base64 ``data`` while converting v1 to its internal type, so stringData is
never stored; kubelite does it in ``defaults`` for the same effect on create and update. The
well-known types require their keys (``kubernetes.io/tls`` needs ``tls.crt`` and ``tls.key``),
``type`` never changes, and ``type`` is a field selector (helm lists its release secrets with
``type=helm.sh/release.v1``).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from kubelite.api.kinds.core.configmap import MAX_SIZE, decode_b64, validate_immutable_update, validate_keys
from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import key, required, too_long, validate_immutable
from kubelite.machinery.errors import FieldError, invalid

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"


def default_secret(secret: dict[str, Any]) -> None:
    """type Opaque; stringData merged into data (base64, overriding data) and dropped."""
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data")
        if not isinstance(data, dict):
            data = secret["data"] = {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()


def _validate_json_key(data: dict[str, Any], k: str, raw: dict[str, bytes]) -> list[FieldError]:
    p = key("data", k)
    if k not in data:
        return [required(p)]
    try:
        json.loads(raw.get(k, b"").decode() or "null")
    except (ValueError, UnicodeDecodeError) as e:
        return [invalid(p, "<secret contents redacted>", str(e))]
    return []


def validate_secret(secret: dict[str, Any]) -> list[FieldError]:
    data = secret.get("data") or {}
    errs = validate_keys(secret.get("data"), "data")
    if not isinstance(data, dict):
        return errs
    raw: dict[str, bytes] = {}
    total = 0
    for k, v in data.items():
        b = decode_b64(v)
        if b is None:
            errs.append(invalid(key("data", k), "<value omitted>", "must be base64-encoded bytes"))
            continue
        raw[k] = b
        total += len(b)
    if total > MAX_SIZE:
        errs.append(too_long("data", MAX_SIZE))
    stype = secret.get("type") or "Opaque"
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    if stype == SA_TOKEN_TYPE:
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif stype == "kubernetes.io/dockercfg":
        errs += _validate_json_key(data, ".dockercfg", raw)
    elif stype == "kubernetes.io/dockerconfigjson":
        errs += _validate_json_key(data, ".dockerconfigjson", raw)
    elif stype == "kubernetes.io/basic-auth":
        if not raw.get("username") and not raw.get("password"):
            errs += [required("data[username]"), required("data[password]")]
    elif stype == "kubernetes.io/ssh-auth":
        if not raw.get("ssh-privatekey"):
            errs.append(required("data[ssh-privatekey]"))
    elif stype == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in data:
                errs.append(required(key("data", k)))
    return errs


class SecretStrategy(Strategy):
    has_status = False
    columns = (
        NAME_COLUMN,
        Column("Type", description="Used to facilitate programmatic handling of secret data."),
        Column("Data", description="Data contains the secret data."),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        default_secret(obj)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate_secret(obj)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = validate_immutable(obj.get("type"), old.get("type"), "type")
        errs += validate_immutable_update(obj, old, ("data",))
        return errs + self.validate(obj)

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"type": obj.get("type", "")}

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), obj.get("type", ""), len(obj.get("data") or {}), age(obj, now)]


SECRET = ResourceType(
    group="", version="v1", kind="Secret", plural="secrets", singular="secret", namespaced=True,
    strategy=SecretStrategy(), schema="io.k8s.api.core.v1.Secret",
)

