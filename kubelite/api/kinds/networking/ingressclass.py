"""networking.k8s.io/v1 IngressClass: which controller implements a class of Ingresses.

``spec.controller`` is a domain-prefixed path (``k8s.io/ingress-nginx``) and cannot change
once set, since Ingresses already bound to the class would silently move. Parameters that are
given default to ``scope: Cluster``. Cluster-scoped, no status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell, set_default
from kubelite.api.kinds.networking.ingress import validate_typed_ref
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.api.validation import (
    is_dns1123_label, is_dns1123_subdomain, required, too_long, validate_immutable,
)
from kubelite.machinery.errors import FieldError, forbidden, invalid, not_supported

MAX_CONTROLLER_LENGTH = 250
_HTTP_PATH = re.compile(r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+")
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


def validate_domain_prefixed_path(value: str, path: str) -> list[FieldError]:
    """``IsDomainPrefixedPath``: ``<dns subdomain>/<http path>``."""
    if not value:
        return [required(path)]
    domain, sep, rest = value.partition("/")
    if not sep:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, domain, m) for m in is_dns1123_subdomain(domain)]
    if not rest or _HTTP_PATH.fullmatch(rest) is None:
        errs.append(invalid(path, rest, "must be a valid path"))
    return errs


class IngressClassStrategy(Strategy):
    has_status = False

    columns = (
        NAME_COLUMN,
        Column("Controller", description="Controller that is responsible for handling this class"),
        Column("Parameters", description="A reference to a resource with additional parameters"),
        AGE_COLUMN,
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        params = (obj.get("spec") or {}).get("parameters")
        if isinstance(params, dict):
            set_default(params, "scope", "Cluster")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        controller = spec.get("controller") or ""
        errs: list[FieldError] = []
        if len(controller) > MAX_CONTROLLER_LENGTH:
            errs.append(too_long("spec.controller", MAX_CONTROLLER_LENGTH))
        errs += validate_domain_prefixed_path(controller, "spec.controller")
        params = spec.get("parameters")
        if params is not None:
            errs += validate_typed_ref(params, "spec.parameters")
            scope, ns = params.get("scope"), params.get("namespace")
            if scope not in ("Cluster", "Namespace"):
                errs.append(not_supported("spec.parameters.scope", scope or "", ["Cluster", "Namespace"]))
            elif scope == "Namespace":
                if not ns:
                    errs.append(required("spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'"))
                else:
                    errs += [invalid("spec.parameters.namespace", ns, m) for m in is_dns1123_label(ns)]
            elif ns is not None:
                errs.append(forbidden("spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(obj) + validate_immutable((obj.get("spec") or {}).get("controller"),
                                                       (old.get("spec") or {}).get("controller"), "spec.controller")

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec = obj.get("spec") or {}
        params = spec.get("parameters")
        shown = "<none>"
        if params:
            shown = params.get("kind", "")
            if params.get("apiGroup"):
                shown += "." + params["apiGroup"]
            shown += "/" + params.get("name", "")
        return [obj["metadata"].get("name", ""), spec.get("controller", ""), shown, age_cell(obj, now)]


RESOURCE = ResourceType(
    group="networking.k8s.io", version="v1", kind="IngressClass", plural="ingressclasses", singular="ingressclass",
    namespaced=False, strategy=IngressClassStrategy(), schema="io.k8s.api.networking.v1.IngressClass",
)
