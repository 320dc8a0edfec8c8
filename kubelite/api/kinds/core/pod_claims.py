"""A pod's dynamic resource claims (``spec.resourceClaims``, resource.k8s.io/v1 GA in 1.34):
each names one ResourceClaim (``resourceClaimName``) or a template a claim is made from per
pod (``resourceClaimTemplateName``), and containers use them by name in
``resources.claims``. kube's ``validatePodResourceClaims`` and ``validateResourceClaimNames``
rules, with their messages. Pure."""
from __future__ import annotations

from typing import Any

from kubelite.api.validation import (
    child, index, invalid_shown, is_dns1123_label, is_dns1123_subdomain, not_found, required,
)
from kubelite.machinery.errors import FieldError, duplicate, invalid

MAX_CLAIMS = 32


def _go_claim(claim: dict[str, Any]) -> str:
    """How Go's ``%#v`` shows a core.PodResourceClaim in the error (nil pointers as nil)."""
    def ptr(v: Any) -> str:
        return f'"{v}"' if isinstance(v, str) else "(*string)(nil)"
    return (f'core.PodResourceClaim{{Name:"{claim.get("name") or ""}", ResourceClaimName:{ptr(claim.get("resourceClaimName"))}, '
            f'ResourceClaimTemplateName:{ptr(claim.get("resourceClaimTemplateName"))}}}')


def validate(spec: dict[str, Any], path: str) -> list[FieldError]:
    claims = spec.get("resourceClaims") or []
    if not isinstance(claims, list):
        return [invalid(child(path, "resourceClaims"), claims, "must be a list")]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, claim in enumerate(claims):
        p = index(child(path, "resourceClaims"), i)
        claim = claim if isinstance(claim, dict) else {}
        name = claim.get("name")
        if not name:
            errs.append(required(child(p, "name")))
        elif name in names:
            errs.append(duplicate(child(p, "name"), name))
        else:
            errs += [invalid(child(p, "name"), name, m) for m in is_dns1123_label(str(name))]
            names.add(str(name))
        by_name, by_template = claim.get("resourceClaimName"), claim.get("resourceClaimTemplateName")
        if by_name is not None and by_template is not None:
            errs.append(invalid_shown(p, _go_claim(claim),
                                      "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
        if by_name is None and by_template is None:
            errs.append(invalid_shown(p, _go_claim(claim), "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
        for field, value in (("resourceClaimName", by_name), ("resourceClaimTemplateName", by_template)):
            if value is not None:
                errs += [invalid(child(p, field), value, m) for m in is_dns1123_subdomain(str(value))]
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or ()):
            resources = c.get("resources") if isinstance(c, dict) else None
            used = (resources or {}).get("claims") if isinstance(resources, dict) else None
            errs += _container_claims(used or [], names, child(index(child(path, field), i), "resources", "claims"))
    return errs


def _container_claims(claims: list[Any], pod_claims: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, claim in enumerate(claims):
        p = index(path, i)
        name = claim.get("name") if isinstance(claim, dict) else None
        if not name:
            errs.append(required(p))
            continue
        key = f"{name}/{claim.get('request')}" if claim.get("request") else str(name)
        if key in seen:
            errs.append(duplicate(p, name))
        seen.add(key)
        if name not in pod_claims:
            err = not_found(p, name)
            detail = "which is empty" if not pod_claims else ": " + ", ".join(sorted(pod_claims))
            sep = " " if not pod_claims else ""
            errs.append(FieldError(err.field, f"{err.message}: must be one of the names in pod.spec.resourceClaims"
                                              f"{sep}{detail}", err.reason))
    return errs
