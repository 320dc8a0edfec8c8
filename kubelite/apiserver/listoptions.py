"""The list and watch query options kube-apiserver checks before it reads: ``resourceVersionMatch``
and ``sendInitialEvents`` (streaming lists, KEP-3157, on by default in kube 1.34+ and used by
every client-go 1.35+ informer and by kubectl 1.35+ ``wait``/``rollout status``).

Pure: ``validate`` returns the field errors kube's ``ValidateListOptions`` reports (the handler
answers them as a 422 ``ListOptions`` Status), ``send_initial_events`` reads the tri-state flag.
"""
from __future__ import annotations

from collections.abc import Mapping

from kubelite.machinery import errors
from kubelite.machinery.errors import FieldError

NOT_OLDER_THAN = "NotOlderThan"
EXACT = "Exact"

#: Go's strconv.ParseBool, which the query-parameter converter uses
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def send_initial_events(query: Mapping[str, str]) -> bool | None:
    """``sendInitialEvents`` as kube reads it: None when absent; 400 when not a boolean."""
    raw = query.get("sendInitialEvents")
    if raw is None:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{raw}": invalid syntax')


def validate(query: Mapping[str, str], *, watch: bool) -> list[FieldError]:
    """The errors of kube's ``ValidateListOptions`` for a list (``watch=False``) or watch request."""
    match = query.get("resourceVersionMatch", "")
    initial = send_initial_events(query)
    errs: list[FieldError] = []
    if watch:
        if initial is not None and match != NOT_OLDER_THAN:
            errs.append(errors.forbidden("resourceVersionMatch",
                                         f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"))
        if match:
            if initial is None:
                errs.append(errors.forbidden(
                    "resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
            if match != NOT_OLDER_THAN:
                errs.append(errors.not_supported("resourceVersionMatch", match, [NOT_OLDER_THAN]))
            if query.get("continue"):
                errs.append(errors.forbidden("resourceVersionMatch",
                                             "resourceVersionMatch is forbidden when continue is provided"))
        return errs
    if match:
        rv = query.get("resourceVersion", "")
        if rv == "":
            errs.append(errors.forbidden("resourceVersionMatch",
                                         "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if query.get("continue"):
            errs.append(errors.forbidden("resourceVersionMatch",
                                         "resourceVersionMatch is forbidden when continue is provided"))
        if match not in (EXACT, NOT_OLDER_THAN):
            errs.append(errors.not_supported("resourceVersionMatch", match, [EXACT, NOT_OLDER_THAN, ""]))
        if match == EXACT and rv == "0":
            errs.append(errors.forbidden("resourceVersionMatch",
                                         'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if initial is not None:
        errs.append(errors.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return errs


def check(query: Mapping[str, str], *, watch: bool) -> None:
    """Raise kube's 422 (``ListOptions.meta.k8s.io "" is invalid: ...``) for invalid options."""
    errs = validate(query, watch=watch)
    if errs:
        raise errors.invalid_object("ListOptions", "meta.k8s.io", "", errs)
