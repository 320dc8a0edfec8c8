"""apiextensions.k8s.io/v1 CustomResourceDefinition: names, versions, schemas and status.

Validation follows apiextensions-apiserver: the object is named ``<plural>.<group>``; the
group is a DNS subdomain with a dot; exactly one version is the storage version; every
version has a structural ``openAPIV3Schema`` (checked by ``kubelite.api.structural``);
names are DNS-1035 labels (kind and listKind in any case); printer columns and scale paths
are simple JSON paths. Groups under ``k8s.io``/``kubernetes.io`` need the
``api-approved.kubernetes.io`` annotation. Group and plural never change; neither do scope
and kind once the CRD is established (here: always, see below).

kube-apiserver serves a new CRD as soon as it is stored, so the status written here is
already the truthful end state its naming and establishing controllers would reach:
``acceptedNames`` = ``spec.names``, ``NamesAccepted`` and ``Established`` True, and the
storage version recorded in ``storedVersions`` (which keeps every version that may still
have objects in storage). ``kubectl wait --for=condition=Established`` and helm rely on it.
Served through ``RESOURCE``; the Table is Kubernetes' default NAME / CREATED AT.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

from kubelite.api.helpers.times import format_time
from kubelite.api.kinds._shared import CREATED_AT_COLUMN, NAME_COLUMN, created_at_row, set_default
from kubelite.api.registry import ResourceType, Strategy
from kubelite.api.validation import is_dns1035_label, is_dns1123_subdomain, required, validate_immutable
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

try:  # the structural-schema checks (another module; CRDs still work without them)
    from kubelite.api.structural import validate_crd_schema
except ImportError:  # pragma: no cover - depends on the structural module being present
    validate_crd_schema = None  # type: ignore[assignment]

APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
PRINTER_COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
PRINTER_COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]
CONVERSION_REVIEW_VERSIONS = ("v1", "v1beta1")
MAX_DEPRECATION_WARNING = 256


def storage_version(crd: dict[str, Any]) -> str | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("storage"):
            return v.get("name")
    return None


class CustomResourceDefinitionStrategy(Strategy):
    has_status = True
    columns = (NAME_COLUMN, CREATED_AT_COLUMN)

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        names = set_default(spec, "names", {})
        if not names.get("singular") and names.get("kind"):
            names["singular"] = names["kind"].lower()
        if not names.get("listKind") and names.get("kind"):
            names["listKind"] = names["kind"] + "List"
        set_default(spec, "conversion", {"strategy": "None"})
        service = (((spec.get("conversion") or {}).get("webhook") or {}).get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            set_default(service, "port", 443)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        obj["status"] = {"acceptedNames": {}, "conditions": [], "storedVersions": []}
        self._accept(obj)

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(obj, old)
        self._accept(obj)

    def _accept(self, obj: dict[str, Any]) -> None:
        """What the naming and establishing controllers conclude for a CRD we serve at once."""
        status = obj.setdefault("status", {})
        status["acceptedNames"] = _accepted_names((obj.get("spec") or {}).get("names") or {})
        stored = status.setdefault("storedVersions", [])
        version = storage_version(obj)
        if version and version not in stored:
            stored.append(version)
        # Conditions need a time; a CRD's own creation time is the moment it became served.
        since = (obj.get("metadata") or {}).get("creationTimestamp") or format_time(dt.datetime.now(dt.timezone.utc))
        ours = ("NamesAccepted", "Established")
        conditions = [c for c in status.get("conditions") or [] if c.get("type") not in ours]
        previous = {c.get("type"): c for c in status.get("conditions") or []}
        for kind, reason, message in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                      ("Established", "InitialNamesAccepted", "the initial names have been accepted")):
            old = previous.get(kind) or {}
            keep = old.get("status") == "True" and old.get("lastTransitionTime")
            conditions.append({"lastTransitionTime": old["lastTransitionTime"] if keep else since,
                               "message": message, "reason": reason, "status": "True", "type": kind})
        status["conditions"] = conditions

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return _validate_crd(obj) + _validate_approval(obj)

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = _validate_crd(obj)
        # Like Kubernetes, only a change of the approval annotation is judged on update, so
        # CRDs accepted before keep updating.
        if _approval(obj) != _approval(old):
            errs += _validate_approval(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        names, old_names = spec.get("names") or {}, old_spec.get("names") or {}
        errs += validate_immutable(spec.get("group"), old_spec.get("group"), "spec.group")
        errs += validate_immutable(names.get("plural"), old_names.get("plural"), "spec.names.plural")
        if _established(old):
            # Stored objects are keyed by scope and read back by kind.
            errs += validate_immutable(spec.get("scope"), old_spec.get("scope"), "spec.scope")
            errs += validate_immutable(names.get("kind"), old_names.get("kind"), "spec.names.kind")
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return created_at_row(obj)


def _validate_crd(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    names = spec.get("names") or {}
    errs: list[FieldError] = []
    wanted = f"{names.get('plural', '')}.{spec.get('group', '')}"
    if meta.get("name") and meta["name"] != wanted:
        errs.append(invalid("metadata.name", meta["name"], 'must be spec.names.plural+"."+spec.group'))
    return errs + _validate_spec(spec) + _validate_stored_versions(obj)


def _approval(crd: dict[str, Any]) -> str | None:
    return ((crd.get("metadata") or {}).get("annotations") or {}).get(APPROVAL_ANNOTATION)


def _accepted_names(names: dict[str, Any]) -> dict[str, Any]:
    out = {k: names[k] for k in ("plural", "singular", "shortNames", "kind", "listKind", "categories") if names.get(k)}
    out.setdefault("plural", "")
    out.setdefault("kind", "")
    return out


def _established(crd: dict[str, Any]) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def _protected(crd: dict[str, Any]) -> bool:
    group = (crd.get("spec") or {}).get("group") or ""
    return group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))


def _validate_spec(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    group = spec.get("group")
    if not group:
        errs.append(required("spec.group"))
    else:
        msgs = is_dns1123_subdomain(group)
        if msgs:
            errs.append(invalid("spec.group", group, ",".join(msgs)))
        elif "." not in group:
            errs.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope")
    if not scope:
        errs.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    if spec.get("preserveUnknownFields"):
        errs.append(invalid("spec.preserveUnknownFields", True, "cannot set to true, set "
                            "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
    versions = spec.get("versions") or []
    seen: set[str] = set()
    unique = True
    storage = 0
    for i, version in enumerate(versions):
        errs += _validate_version(version, f"spec.versions[{i}]")
        name = version.get("name") or ""
        unique = unique and name not in seen
        seen.add(name)
        storage += 1 if version.get("storage") else 0
    if not unique:
        errs.append(invalid("spec.versions", sorted(seen), "must contain unique version names"))
    if storage != 1:
        errs.append(invalid("spec.versions", sorted(seen), "must have exactly one version marked as storage version"))
    errs += _validate_names(spec.get("names") or {}, "spec.names", required_=True)
    errs += _validate_conversion(spec.get("conversion"), "spec.conversion")
    return errs


def _validate_version(version: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = version.get("name") or ""
    msgs = is_dns1035_label(name)
    if msgs:
        errs.append(invalid(f"{path}.name", name, ",".join(msgs)))
    warning = version.get("deprecationWarning")
    if warning is not None:
        if not version.get("deprecated"):
            errs.append(invalid(f"{path}.deprecationWarning", warning, "can only be set for deprecated versions"))
        elif not warning:
            errs.append(invalid(f"{path}.deprecationWarning", warning, "must not be an empty string"))
        elif len(warning) > MAX_DEPRECATION_WARNING:
            errs.append(invalid(f"{path}.deprecationWarning", warning, "must be <= 256 characters long"))
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    spath = f"{path}.schema.openAPIV3Schema"
    if schema is None:
        errs.append(required(spath, "schemas are required"))
    elif validate_crd_schema is not None:
        errs += validate_crd_schema(schema, spath)
    scale = (version.get("subresources") or {}).get("scale")
    if scale is not None:
        errs += _validate_scale(scale, f"{path}.subresources")
    for i, col in enumerate(version.get("additionalPrinterColumns") or []):
        errs += _validate_column(col, f"{path}.additionalPrinterColumns[{i}]")
    return errs


def _simple_json_path(value: str, path: str) -> list[FieldError]:
    if not value:
        return [invalid(path, value, "must not be empty")]
    if not value.startswith("."):
        return [invalid(path, value, "must be a simple json path starting with .")]
    return []


def _validate_scale(scale: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for f, prefixes, where in (("specReplicasPath", (".spec.",), ".spec"),
                               ("statusReplicasPath", (".status.",), ".status")):
        value = scale.get(f) or ""
        fpath = f"{path}.scale.{f}"
        if not value:
            errs.append(required(fpath))
            continue
        bad = _simple_json_path(value, fpath)
        if bad:
            errs += bad
        elif not value.startswith(prefixes):
            errs.append(invalid(fpath, value, f"should be a json path under {where}"))
    selector = scale.get("labelSelectorPath")
    if selector:
        fpath = f"{path}.scale.labelSelectorPath"
        bad = _simple_json_path(selector, fpath)
        if bad:
            errs += bad
        elif not selector.startswith((".spec.", ".status.")):
            errs.append(invalid(fpath, selector, "should be a json path under either .spec or .status"))
    return errs


def _validate_column(col: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not col.get("name"):
        errs.append(required(f"{path}.name"))
    kind = col.get("type")
    allowed = ",".join(PRINTER_COLUMN_TYPES)
    if not kind:
        errs.append(required(f"{path}.type", f"must be one of {allowed}"))
    elif kind not in PRINTER_COLUMN_TYPES:
        errs.append(invalid(f"{path}.type", kind, f"must be one of {allowed}"))
    fmt = col.get("format")
    if fmt and fmt not in PRINTER_COLUMN_FORMATS:
        errs.append(invalid(f"{path}.format", fmt, f"must be one of {','.join(PRINTER_COLUMN_FORMATS)}"))
    json_path = col.get("jsonPath")
    if not json_path:
        errs.append(required(f"{path}.JSONPath"))
    else:
        errs += _simple_json_path(json_path, f"{path}.JSONPath")
    return errs


def _validate_names(names: dict[str, Any], path: str, *, required_: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if required_:
        for f in ("plural", "singular", "kind", "listKind"):
            if not names.get(f):
                errs.append(required(f"{path}.{f}"))
    for f in ("plural", "singular"):
        value = names.get(f)
        if value:
            msgs = is_dns1035_label(value)
            if msgs:
                errs.append(invalid(f"{path}.{f}", value, ",".join(msgs)))
    for f in ("kind", "listKind"):
        value = names.get(f)
        if value:
            msgs = is_dns1035_label(value.lower())
            if msgs:
                errs.append(invalid(f"{path}.{f}", value,
                                    "may have mixed case, but should otherwise match: " + ",".join(msgs)))
    for f in ("shortNames", "categories"):
        for i, value in enumerate(names.get(f) or []):
            msgs = is_dns1035_label(value)
            if msgs:
                errs.append(invalid(f"{path}.{f}[{i}]", value, ",".join(msgs)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    return errs


def _validate_conversion(conversion: Any, path: str) -> list[FieldError]:
    if conversion is None:
        return []
    strategy = conversion.get("strategy")
    if not strategy:
        return [required(f"{path}.strategy")]
    if strategy not in ("None", "Webhook"):
        return [not_supported(f"{path}.strategy", strategy, ["None", "Webhook"])]
    webhook = conversion.get("webhook")
    if strategy == "None":
        if webhook is not None:
            return [forbidden(f"{path}.webhookClientConfig", "should not be set when strategy is not set to Webhook")]
        return []
    errs: list[FieldError] = []
    client = (webhook or {}).get("clientConfig")
    if client is None:
        errs.append(required(f"{path}.webhookClientConfig", "required when strategy is set to Webhook"))
    elif (client.get("url") is None) == (client.get("service") is None):
        errs.append(required(f"{path}.webhookClientConfig", "exactly one of url or service is required"))
    elif client.get("url") is not None:
        url = urlparse(client["url"])
        if url.scheme != "https" or not url.hostname:
            errs.append(invalid(f"{path}.webhookClientConfig.url", client["url"],
                                "'https' is the only allowed URL scheme"))
    else:
        service = client["service"]
        for f in ("name", "namespace"):
            if not service.get(f):
                errs.append(required(f"{path}.webhookClientConfig.service.{f}", f"service {f} is required"))
    versions = (webhook or {}).get("conversionReviewVersions") or []
    if not versions:
        errs.append(required(f"{path}.conversionReviewVersions"))
    elif not any(v in CONVERSION_REVIEW_VERSIONS for v in versions):
        errs.append(invalid(f"{path}.conversionReviewVersions", versions, "must include at least one of v1, v1beta1"))
    return errs


def _validate_stored_versions(crd: dict[str, Any]) -> list[FieldError]:
    """``status.storedVersions`` must name the storage version and only versions still listed
    (removing a version whose objects may still be stored would orphan them)."""
    stored = (crd.get("status") or {}).get("storedVersions") or []
    path = "status.storedVersions"
    if not stored:
        return [invalid(path, stored, "must have at least one stored version")]
    listed = [v.get("name") for v in (crd.get("spec") or {}).get("versions") or []]
    errs: list[FieldError] = []
    version = storage_version(crd)
    if version and version not in stored:
        errs.append(invalid(path, stored, f"must have the storage version {version}"))
    for i, v in enumerate(stored):
        if v not in listed:
            errs.append(invalid(f"{path}[{i}]", v, "must appear in spec.versions"))
    return errs


def _validate_approval(crd: dict[str, Any]) -> list[FieldError]:
    if not _protected(crd):
        return []
    path = f"metadata.annotations[{APPROVAL_ANNOTATION}]"
    value = _approval(crd)
    detail = (f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", see '
              "https://github.com/kubernetes/enhancements/pull/1111")
    if not value:
        return [required(path, detail)]
    url = urlparse(value)
    if value.startswith("unapproved") or (url.scheme and url.netloc):
        return []
    return [invalid(path, value, detail)]


RESOURCE = ResourceType(
    group="apiextensions.k8s.io", version="v1", kind="CustomResourceDefinition", plural="customresourcedefinitions",
    singular="customresourcedefinition", namespaced=False, strategy=CustomResourceDefinitionStrategy(),
    schema="io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    short_names=("crd", "crds"), categories=("api-extensions",), subresources=("status",),
)
