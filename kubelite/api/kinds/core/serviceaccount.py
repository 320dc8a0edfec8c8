"""The ServiceAccount kind: pods' identities (``kubectl get sa`` shows how many secrets each lists).

Kubernetes validates nothing beyond metadata for service accounts except the shape of their
secret references; tokens are minted through the ``token`` subresource (TokenRequest), which
the API server serves, not this strategy.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.registry import AGE_COLUMN, NAME_COLUMN, Column, ResourceType, Strategy, age
from kubelite.api.validation import child, index, required
from kubelite.machinery.errors import FieldError, invalid


class ServiceAccountStrategy(Strategy):
    has_status = False
    columns = (
        NAME_COLUMN,
        Column("Secrets", description="Secrets is a list of the secrets in the same namespace that pods running "
                                      "using this ServiceAccount are allowed to use."),
        AGE_COLUMN,
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs: list[FieldError] = []
        for field_name in ("secrets", "imagePullSecrets"):
            refs = obj.get(field_name)
            if refs is None:
                continue
            if not isinstance(refs, list):
                errs.append(invalid(field_name, refs, "must be a list"))
                continue
            for i, ref in enumerate(refs):
                if not isinstance(ref, dict):
                    errs.append(invalid(index(field_name, i), ref, "must be an object"))
                elif field_name == "imagePullSecrets" and not ref.get("name"):
                    errs.append(required(child(index(field_name, i), "name")))
        auto = obj.get("automountServiceAccountToken")
        if auto is not None and not isinstance(auto, bool):
            errs.append(invalid("automountServiceAccountToken", auto, "must be a boolean"))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        return [obj["metadata"].get("name", ""), len(obj.get("secrets") or []), age(obj, now)]


SERVICE_ACCOUNT = ResourceType(
    group="", version="v1", kind="ServiceAccount", plural="serviceaccounts", singular="serviceaccount",
    namespaced=True, strategy=ServiceAccountStrategy(), schema="io.k8s.api.core.v1.ServiceAccount",
    short_names=("sa",), subresources=("token",),
)
