"""Kubernetes ``Status`` errors: one exception type that carries the exact Status object.

Every layer raises ``StatusError``; the API server turns it into the HTTP reply unchanged, so
kubectl prints ``Error from server (<reason>): <message>``. Messages follow kube-apiserver's
wording (e.g. ``deployments.apps "web" not found``) because users and tools grep for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class FieldError:
    """One invalid field, as a ``details.causes`` entry (``field`` uses Kubernetes' paths:
    ``spec.template.spec.containers[0].image``, ``metadata.labels[app]``)."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"  # FieldValueRequired, FieldValueNotSupported, ...

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


def required(path: str) -> FieldError:
    return FieldError(path, "Required value", "FieldValueRequired")


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, f"Invalid value: {_fmt(value)}: {detail}", "FieldValueInvalid")


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    vals = ", ".join(f'"{s}"' for s in supported)
    return FieldError(path, f"Unsupported value: {_fmt(value)}: supported values: {vals}",
                      "FieldValueNotSupported")


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, f"Forbidden: {detail}", "FieldValueForbidden")


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, f"Duplicate value: {_fmt(value)}", "FieldValueDuplicate")


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class StatusError(Exception):
    """An error reply: HTTP ``code``, machine ``reason`` and human ``message``."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        """The Status as kube-apiserver writes it: its fields (and the details') in Go's struct
        order, since clients' tests compare the bytes (the official Python client's 409 text)."""
        out: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason,
        }
        # kube-apiserver's NotFound always names what was not found (an empty object for an
        # unknown path): clients tell the two apart by details.name, and kubectl debug reads
        # details without checking it is there.
        if self.details or self.reason == "NotFound":
            d = self.details
            out["details"] = {**{k: d[k] for k in _DETAILS_ORDER if k in d},
                              **{k: v for k, v in d.items() if k not in _DETAILS_ORDER}}
        out["code"] = self.code
        return out


#: metav1.StatusDetails' fields in struct order
_DETAILS_ORDER = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")


def qualified(resource: str, group: str) -> str:
    """``deployments.apps`` / ``pods``: how Kubernetes names a resource in messages."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, resource: str, group: str) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": resource}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    return d


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                       _details(name, resource, group))


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                       _details(name, resource, group))


def conflict(resource: str, group: str, name: str, detail: str) -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {detail}',
                       _details(name, resource, group))


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def invalid_object(kind: str, group: str, name: str, errors: list[FieldError]) -> StatusError:
    """422 Invalid: ``Deployment.apps "web" is invalid: [spec.replicas: Invalid value: ...]``."""
    qual = f"{kind}.{group}" if group else kind
    causes = [e.cause() for e in errors]
    msgs = [f"{e.field}: {e.message}" for e in errors]
    body = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return StatusError(422, "Invalid", f'{qual} "{name}" is invalid: {body}', details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def unsupported_media_type(ctype: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got "{ctype}")')


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def too_large_resource_version(requested: int, current: int) -> StatusError:
    """kube's answer when a read asks for a revision the store has not reached (after waiting
    ~3 s for it): 504 Timeout with a ResourceVersionTooLarge cause; clients retry after 1 s."""
    return StatusError(504, "Timeout", f"Timeout: Too large resource version: {requested}, current: {current}",
                       {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                        "retryAfterSeconds": 1})


def too_large() -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden_request(user: str, verb: str, resource: str, group: str, namespace: str) -> StatusError:
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return StatusError(403, "Forbidden",
                       f'{qualified(resource, group)} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{group}"{scope}')


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")
