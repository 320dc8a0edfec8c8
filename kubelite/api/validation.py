"""Validation building blocks shared by every kind: name formats, ObjectMeta, labels, selectors.

Kubernetes reports invalid objects as a list of field errors whose paths and messages users
and tools read (``metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must
consist of ...``). This module reproduces apimachinery's vocabulary: the ``is_*`` format checks
return lists of message strings (empty when valid), exactly as ``k8s.io/apimachinery/pkg/util/
validation`` words them, and the ``validate_*`` functions turn them into ``FieldError``\\ s at
Kubernetes field paths. The API server calls ``validate_object_meta``/``validate_object_meta_update``
for every object; the kind modules in ``kubelite/api/kinds/`` call the rest. Pure functions, no I/O.
"""
from __future__ import annotations

import ipaddress
from fractions import Fraction
from typing import Any, Callable, Iterable

from kubelite.api.helpers.names import (  # noqa: F401 -- re-exported: validation's vocabulary
    max_len_error, regex_error, inclusive_range_error, is_dns1123_label, is_dns1123_subdomain,
    is_dns1035_label, is_qualified_name, is_valid_label_value, is_config_map_key, is_env_var_name,
    is_c_identifier, is_valid_port_num, is_valid_port_name, EMPTY_ERROR, DNS1123_LABEL_FMT,
    DNS1123_SUBDOMAIN_FMT, DNS1035_LABEL_FMT, QUALIFIED_NAME_FMT, LABEL_VALUE_FMT, CONFIG_MAP_KEY_FMT,
    ENV_VAR_NAME_FMT, C_IDENTIFIER_FMT,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported
from kubelite.machinery.quantity import ERR_FORMAT, parse_quantity

NameValidator = Callable[[str], list[str]]

# --- message vocabulary (apimachinery/pkg/util/validation) ---------------------------------


IS_NEGATIVE_ERROR = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

# --- field path helpers --------------------------------------------------------------------


def child(path: str, *names: str) -> str:
    """``child("spec", "template", "spec")`` -> ``spec.template.spec`` (root-less when path is "")."""
    parts = [path] if path else []
    return ".".join(parts + list(names))


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


# --- FieldError helpers not in machinery.errors (they need a detail or a special form) -------


def required(path: str, detail: str = "") -> FieldError:
    msg = f"Required value: {detail}" if detail else "Required value"
    return FieldError(path, msg, "FieldValueRequired")


def not_found(path: str, value: Any) -> FieldError:
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return FieldError(path, f"Not found: {shown}", "FieldValueNotFound")


def invalid_shown(path: str, shown: str, detail: str) -> FieldError:
    """An Invalid error whose value is already rendered (e.g. Go's ``[]string{"None"}``)."""
    return FieldError(path, f"Invalid value: {shown}: {detail}", "FieldValueInvalid")


def too_long(path: str, max_bytes: int) -> FieldError:
    return FieldError(path, f"Too long: may not be more than {max_bytes} bytes", "FieldValueTooLong")


def too_many(path: str, actual: int, maximum: int) -> FieldError:
    return FieldError(path, f"Too many: {actual}: must have at most {maximum} items", "FieldValueTooMany")


def immutable(path: str, value: Any) -> FieldError:
    return invalid(path, value, FIELD_IMMUTABLE)


def validate_immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    return [] if new == old else [immutable(path, new)]


# --- string formats: kubelite.api.helpers.names ------------------------------------------


def is_valid_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def is_valid_ipv4(value: Any) -> bool:
    try:
        ipaddress.IPv4Address(value)
        return True
    except ValueError:
        return False


def validate_ip(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, str) and is_valid_ip(value):
        return []
    return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]


def validate_cidr(value: Any, path: str) -> list[FieldError]:
    try:
        ipaddress.ip_network(value, strict=False)
        if isinstance(value, str) and "/" in value:
            return []
    except (ValueError, TypeError):
        pass
    return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]


def validate_port_num_or_name(port: Any, path: str) -> list[FieldError]:
    """An IntOrString port (probes, targetPort): a number 1-65535 or an IANA service name."""
    if isinstance(port, int) and not isinstance(port, bool):
        return [invalid(path, port, m) for m in is_valid_port_num(port)]
    if isinstance(port, str):
        if not port:
            return [required(path)]
        return [invalid(path, port, m) for m in is_valid_port_name(port)]
    return [invalid(path, port, "must contain an int or string")]


def validate_port_number(port: Any, path: str) -> list[FieldError]:
    return [invalid(path, port, m) for m in is_valid_port_num(port)]


# --- numbers and quantities --------------------------------------------------------------------


def validate_nonnegative(value: Any, path: str) -> list[FieldError]:
    if value is None:
        return []
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return [invalid(path, value, "must be an integer")]
    return [invalid(path, value, IS_NEGATIVE_ERROR)] if value < 0 else []


def validate_positive(value: Any, path: str) -> list[FieldError]:
    if value is None:
        return []
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        return [invalid(path, value, "must be greater than 0")]
    return []


QUANTITY_REGEX_MSG = ERR_FORMAT


def quantity_value(q: Any) -> Fraction:
    """The exact value of a resource.Quantity ("100m" -> 1/10, "1Gi" -> 2**30); ValueError if malformed."""
    return parse_quantity(q).value


def validate_quantity(value: Any, path: str, *, nonnegative: bool = True) -> list[FieldError]:
    try:
        v = quantity_value(value)
    except ValueError as e:
        return [invalid(path, value, str(e) or QUANTITY_REGEX_MSG)]
    if nonnegative and v < 0:
        return [invalid(path, value, IS_NEGATIVE_ERROR)]
    return []


# --- labels, annotations, selectors ------------------------------------------------------------


def validate_label_name(name: Any, path: str) -> list[FieldError]:
    if not isinstance(name, str):
        return [invalid(path, name, "must be a string")]
    return [invalid(path, name, m) for m in is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    """Label keys are qualified names and values label values (both reported at ``path``, as Kubernetes does)."""
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(path, labels, "must be a map of string keys to string values")]
    errs: list[FieldError] = []
    for k, v in labels.items():
        errs += validate_label_name(k, path)
        if not isinstance(v, str):
            errs.append(invalid(path, v, "must be a string"))
            continue
        errs += [invalid(path, v, m) for m in is_valid_label_value(v)]
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    """Keys are qualified names (case-insensitively); keys plus values total at most 256 KiB."""
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [invalid(path, annotations, "must be a map of string keys to string values")]
    errs: list[FieldError] = []
    total = 0
    for k, v in annotations.items():
        errs += [invalid(path, k, m) for m in is_qualified_name(k.lower())]
        total += len(k.encode()) + len(str(v).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(sel: Any, path: str) -> list[FieldError]:
    """A metav1.LabelSelector: matchLabels plus matchExpressions with In/NotIn/Exists/DoesNotExist."""
    if sel is None:
        return []
    if not isinstance(sel, dict):
        return [invalid(path, sel, "must be a label selector object")]
    errs = validate_labels(sel.get("matchLabels"), child(path, "matchLabels"))
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        p = index(child(path, "matchExpressions"), i)
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(child(p, "values"),
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(child(p, "operator"), op, "not a valid selector operator"))
        errs += validate_label_name(expr.get("key", ""), child(p, "key"))
        for j, v in enumerate(values):
            errs += [invalid(index(child(p, "values"), j), v, m) for m in is_valid_label_value(str(v))]
    return errs


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """Whether a metav1.LabelSelector selects ``labels`` (an empty selector selects everything)."""
    labels = labels or {}
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        k, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(k) not in values:
            return False
        if op == "NotIn" and k in labels and labels[k] in values:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


# --- ObjectMeta ---------------------------------------------------------------------------------


def _mask_trailing_dash(name: str) -> str:
    # generateName is a prefix the server appends to, so a trailing '-' is fine (as Kubernetes'
    # maskTrailingDash, which replaces the last two characters by "a").
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    if finalizers is None:
        return []
    if not isinstance(finalizers, list):
        return [invalid(path, finalizers, "must be a list of strings")]
    errs: list[FieldError] = []
    for f in finalizers:
        if not isinstance(f, str):
            errs.append(invalid(path, f, "must be a string"))
            continue
        errs += [invalid(path, f, m) for m in is_qualified_name(f)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def validate_owner_references(refs: Any, path: str) -> list[FieldError]:
    if refs is None:
        return []
    if not isinstance(refs, list):
        return [invalid(path, refs, "must be a list of owner references")]
    errs: list[FieldError] = []
    first_controller = ""
    for ref in refs:
        if not isinstance(ref, dict):
            errs.append(invalid(path, ref, "must be an owner reference object"))
            continue
        api_version, kind = ref.get("apiVersion", "") or "", ref.get("kind", "") or ""
        version = api_version.rsplit("/", 1)[-1]
        if not version:
            errs.append(invalid(child(path, "apiVersion"), api_version, "version must not be empty"))
        if not kind:
            errs.append(invalid(child(path, "kind"), kind, "kind must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(child(path, "name"), ref.get("name", ""), "name must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(child(path, "uid"), ref.get("uid", ""), "uid must not be empty"))
        if api_version == "v1" and kind == "Event":
            errs.append(invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            name = f"{kind}/{ref.get('name', '')}"
            if first_controller:
                errs.append(invalid(path, refs, "Only one reference can have Controller set to true. Found "
                                                f'"true" in references for {first_controller} and {name}'))
            else:
                first_controller = name
    return errs


def validate_object_meta(meta: dict[str, Any], *, namespaced: bool, path: str = "metadata",
                         name_validator: NameValidator | None = is_dns1123_subdomain) -> list[FieldError]:
    """ObjectMeta of a new object: name (or generateName), namespace, labels, annotations, ...

    ``name_validator`` is the kind's name rule (``is_dns1123_subdomain`` for most kinds,
    ``is_dns1123_label`` for namespaces, ``is_dns1035_label`` for services); strategies expose
    theirs as ``Strategy.name_validator``; None means the default (DNS subdomain).
    """
    if name_validator is None:
        name_validator = is_dns1123_subdomain
    if not isinstance(meta, dict):
        return [invalid(path, meta, "must be an object")]
    errs: list[FieldError] = []
    gen = meta.get("generateName")
    if gen:
        errs += [invalid(child(path, "generateName"), gen, m) for m in name_validator(_mask_trailing_dash(gen))]
    name = meta.get("name")
    if not name:
        errs.append(required(child(path, "name"), "name or generateName is required"))
    elif not isinstance(name, str):
        errs.append(invalid(child(path, "name"), name, "must be a string"))
    else:
        errs += [invalid(child(path, "name"), name, m) for m in name_validator(name)]
    ns = meta.get("namespace")
    if namespaced:
        if not ns:
            errs.append(required(child(path, "namespace")))
        else:
            errs += [invalid(child(path, "namespace"), ns, m) for m in is_dns1123_label(str(ns))]
    elif ns:
        errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    errs += validate_nonnegative(meta.get("generation"), child(path, "generation"))
    errs += validate_labels(meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += validate_owner_references(meta.get("ownerReferences"), child(path, "ownerReferences"))
    errs += validate_finalizers(meta.get("finalizers"), child(path, "finalizers"))
    return errs


def validate_object_meta_update(meta: dict[str, Any], old: dict[str, Any], path: str = "metadata") -> list[FieldError]:
    """ObjectMeta of an update: identity fields immutable, no new finalizers while deleting."""
    errs: list[FieldError] = []
    if old.get("deletionTimestamp"):
        extra = sorted(set(meta.get("finalizers") or []) - set(old.get("finalizers") or []))
        if extra:
            listed = ", ".join(f'"{f}"' for f in extra)
            errs.append(forbidden(child(path, "finalizers"),
                                  "no new finalizers can be added if the object is being deleted, "
                                  f"found new finalizers []string{{{listed}}}"))
    if (meta.get("generation") or 0) < (old.get("generation") or 0):
        errs.append(invalid(child(path, "generation"), meta.get("generation"), "must not be decremented"))
    for f in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        errs += validate_immutable(meta.get(f), old.get(f), child(path, f))
    errs += validate_labels(meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += validate_owner_references(meta.get("ownerReferences"), child(path, "ownerReferences"))
    errs += validate_finalizers(meta.get("finalizers"), child(path, "finalizers"))
    return errs


# --- small generic checks kinds share ---------------------------------------------------------


def validate_enum(value: Any, path: str, supported: Iterable[str], *, required_: bool = True) -> list[FieldError]:
    """Required (when ``required_``) and one of ``supported`` (listed sorted, as Kubernetes' sets do)."""
    if value is None or value == "":
        return [required(path)] if required_ else []
    allowed = sorted(supported)
    return [] if value in allowed else [not_supported(path, value, allowed)]


def validate_name_ref(value: Any, path: str, validator: NameValidator = is_dns1123_subdomain) -> list[FieldError]:
    """A reference to another object by name (e.g. a ConfigMap in a volume): required, well-formed."""
    if not value:
        return [required(path)]
    if not isinstance(value, str):
        return [invalid(path, value, "must be a string")]
    return [invalid(path, value, m) for m in validator(value)]
