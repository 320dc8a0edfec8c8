"""Pod volumes: their server-side defaults and their validation.

Called by ``kinds/core/pod.py`` for ``spec.volumes``. Mirrors Kubernetes' SetDefaults_Volume
(no source means ``emptyDir: {}``), the defaultMode 420 (0644) of configMap / secret /
downwardAPI / projected sources, and validateVolumes: names are unique DNS labels and each
volume has exactly one source (the list of possible sources comes from the schema's
VolumeSource message, so a source added upstream is recognised without editing this file).
"""
from __future__ import annotations

from functools import cache
from typing import Any

from kubelite.api import schema
from kubelite.api.validation import (
    child, index, is_config_map_key, is_dns1123_label, required, validate_enum, validate_name_ref,
    validate_quantity,
)
from kubelite.machinery.errors import FieldError, duplicate, forbidden, invalid

DEFAULT_MODE = 0o644  # 420: what kubectl shows as defaultMode
HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
                   "BlockDevice")


@cache
def volume_sources() -> tuple[str, ...]:
    """JSON names of the VolumeSource members (emptyDir, configMap, secret, hostPath, ...)."""
    return tuple(schema.message("io.k8s.api.core.v1.VolumeSource").fields)


def _default_items_field_refs(items: Any) -> None:
    for item in items or []:
        ref = (item or {}).get("fieldRef")
        if isinstance(ref, dict) and not ref.get("apiVersion"):
            ref["apiVersion"] = "v1"


def default_volume(vol: dict[str, Any]) -> None:
    """SetDefaults_Volume and the per-source defaults that show in ``kubectl get -o yaml``."""
    if not any(vol.get(s) is not None for s in volume_sources()):
        vol["emptyDir"] = {}
    for src in ("configMap", "secret", "downwardAPI", "projected"):
        if isinstance(vol.get(src), dict) and vol[src].get("defaultMode") is None:
            vol[src]["defaultMode"] = DEFAULT_MODE
    if isinstance(vol.get("hostPath"), dict) and vol["hostPath"].get("type") is None:
        vol["hostPath"]["type"] = ""
    if isinstance(vol.get("downwardAPI"), dict):
        _default_items_field_refs(vol["downwardAPI"].get("items"))
    for source in (vol.get("projected") or {}).get("sources") or []:
        if not isinstance(source, dict):
            continue
        if isinstance(source.get("downwardAPI"), dict):
            _default_items_field_refs(source["downwardAPI"].get("items"))
        token = source.get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600
    tmpl = (vol.get("ephemeral") or {}).get("volumeClaimTemplate")
    if isinstance(tmpl, dict) and isinstance(tmpl.get("spec"), dict) and not tmpl["spec"].get("volumeMode"):
        tmpl["spec"]["volumeMode"] = "Filesystem"


# --- validation ----------------------------------------------------------------------------------


def _validate_mode(mode: Any, path: str) -> list[FieldError]:
    if mode is None:
        return []
    if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o777:
        return [invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive")]
    return []


def _validate_local_path(p: Any, path: str) -> list[FieldError]:
    """A relative file path inside the volume: no absolute path, no '..' element, not starting with '..'."""
    if not p:
        return [required(path)]
    s = str(p)
    if s.startswith("/"):
        return [invalid(path, s, "must be a relative path")]
    if ".." in s.split("/"):
        return [invalid(path, s, "must not contain '..'")]
    if s.startswith(".."):
        return [invalid(path, s, "must not start with '..'")]
    return []


def _validate_key_to_paths(items: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate(items or []):
        p = index(path, i)
        if not isinstance(item, dict):
            errs.append(invalid(p, item, "must be an object"))
            continue
        if not item.get("key"):
            errs.append(required(child(p, "key")))
        errs += _validate_local_path(item.get("path"), child(p, "path"))
        errs += _validate_mode(item.get("mode"), child(p, "mode"))
    return errs


def _validate_downward_items(items: Any, path: str) -> list[FieldError]:
    from kubelite.api.kinds.core.container import validate_field_ref  # same downward-API rules

    errs: list[FieldError] = []
    for i, item in enumerate(items or []):
        p = index(path, i)
        if not isinstance(item, dict):
            errs.append(invalid(p, item, "must be an object"))
            continue
        errs += _validate_local_path(item.get("path"), child(p, "path"))
        errs += _validate_mode(item.get("mode"), child(p, "mode"))
        if item.get("fieldRef") is not None and item.get("resourceFieldRef") is not None:
            errs.append(invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
        elif isinstance(item.get("fieldRef"), dict):
            errs += validate_field_ref(item["fieldRef"], child(p, "fieldRef"))
        elif item.get("resourceFieldRef") is None:
            errs.append(required(p, "one of fieldRef and resourceFieldRef is required"))
    return errs


def _validate_projected(src: dict[str, Any], path: str) -> list[FieldError]:
    errs = _validate_mode(src.get("defaultMode"), child(path, "defaultMode"))
    for i, s in enumerate(src.get("sources") or []):
        p = index(child(path, "sources"), i)
        if not isinstance(s, dict):
            errs.append(invalid(p, s, "must be an object"))
            continue
        kinds = [k for k in ("secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle")
                 if s.get(k) is not None]
        if len(kinds) != 1:
            errs.append(forbidden(p, "may not specify more than 1 volume type per source") if kinds
                        else required(p, "must specify one volume projection type"))
        for k in kinds:
            v = s[k] or {}
            if k in ("secret", "configMap"):
                errs += _validate_key_to_paths(v.get("items"), child(p, k, "items"))
            elif k == "downwardAPI":
                errs += _validate_downward_items(v.get("items"), child(p, k, "items"))
            elif k == "serviceAccountToken":
                errs += _validate_local_path(v.get("path"), child(p, k, "path"))
                exp = v.get("expirationSeconds")
                if isinstance(exp, int) and exp < 600:
                    errs.append(invalid(child(p, k, "expirationSeconds"), exp,
                                        "may not specify a duration less than 10 minutes"))
    return errs


def _validate_source(name: str, src: Any, path: str) -> list[FieldError]:
    """Per-source checks for the sources kubelite's kubelet uses; the rest only need to be objects."""
    if not isinstance(src, dict):
        return [invalid(path, src, "must be an object")]
    errs: list[FieldError] = []
    if name == "configMap":
        errs += validate_name_ref(src.get("name"), child(path, "name"))
        errs += _validate_mode(src.get("defaultMode"), child(path, "defaultMode"))
        errs += _validate_key_to_paths(src.get("items"), child(path, "items"))
    elif name == "secret":
        errs += validate_name_ref(src.get("secretName"), child(path, "secretName"))
        errs += _validate_mode(src.get("defaultMode"), child(path, "defaultMode"))
        errs += _validate_key_to_paths(src.get("items"), child(path, "items"))
    elif name == "emptyDir":
        if src.get("medium"):
            errs += validate_enum(src["medium"], child(path, "medium"), ("Memory", "HugePages"))
        if src.get("sizeLimit") is not None:
            errs += validate_quantity(src["sizeLimit"], child(path, "sizeLimit"))
    elif name == "hostPath":
        if not src.get("path"):
            errs.append(required(child(path, "path")))
        elif ".." in str(src["path"]).split("/"):
            errs.append(invalid(child(path, "path"), src["path"], "must not contain '..'"))
        if src.get("type"):
            errs += validate_enum(src["type"], child(path, "type"), HOST_PATH_TYPES)
    elif name == "persistentVolumeClaim":
        if not src.get("claimName"):
            errs.append(required(child(path, "claimName")))
    elif name == "downwardAPI":
        errs += _validate_mode(src.get("defaultMode"), child(path, "defaultMode"))
        errs += _validate_downward_items(src.get("items"), child(path, "items"))
    elif name == "projected":
        errs += _validate_projected(src, path)
    elif name == "nfs":
        for f in ("server", "path"):
            if not src.get(f):
                errs.append(required(child(path, f)))
    elif name == "ephemeral":
        if not isinstance(src.get("volumeClaimTemplate"), dict):
            errs.append(required(child(path, "volumeClaimTemplate")))
    elif name == "csi":
        if not src.get("driver"):
            errs.append(required(child(path, "driver")))
    elif name == "image":
        if not src.get("reference"):
            errs.append(required(child(path, "reference")))
    return errs


def validate_volumes(volumes: Any, path: str) -> tuple[list[FieldError], set[str]]:
    """Errors of ``spec.volumes`` and the set of volume names (volumeMounts must refer to them)."""
    if not volumes:
        return [], set()
    if not isinstance(volumes, list):
        return [invalid(path, volumes, "must be a list")], set()
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, vol in enumerate(volumes):
        p = index(path, i)
        if not isinstance(vol, dict):
            errs.append(invalid(p, vol, "must be an object"))
            continue
        name = vol.get("name")
        if not name:
            errs.append(required(child(p, "name")))
        elif name in names:
            errs.append(duplicate(child(p, "name"), name))
        else:
            errs += [invalid(child(p, "name"), name, m) for m in is_dns1123_label(str(name))]
            names.add(name)
        present = [s for s in volume_sources() if vol.get(s) is not None]
        if not present:
            errs.append(required(p, "must specify a volume type"))
        for extra in present[1:]:
            errs.append(forbidden(child(p, extra), "may not specify more than 1 volume type"))
        if present:
            errs += _validate_source(present[0], vol[present[0]], child(p, present[0]))
    return errs, names


def config_key_errors(k: str, path: str) -> list[FieldError]:
    """A data key of a ConfigMap/Secret (also used for items[].key checks by other kinds)."""
    return [invalid(path, k, m) for m in is_config_map_key(k)]
