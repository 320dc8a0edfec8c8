"""coordination.k8s.io/v1 Lease: leader election locks and node heartbeats.

Holders renew ``renewTime`` every few seconds; the lease is theirs while
``renewTime + leaseDurationSeconds`` lies in the future. The server only checks the numbers
are sane (a duration must be positive) -- who may take a lease is decided by the clients
comparing times. No status. Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.kinds._shared import AGE_COLUMN, NAME_COLUMN, age_cell
from kubelite.api.registry import Column, ResourceType, Strategy
from kubelite.api.validation import is_qualified_name
from kubelite.machinery.errors import FieldError, forbidden, invalid

#: the coordinated leader election strategy Kubernetes 1.32 knows by name
OLDEST_EMULATION_VERSION = "OldestEmulationVersion"


class LeaseStrategy(Strategy):
    has_status = False

    columns = (
        NAME_COLUMN,
        Column("Holder", description="holderIdentity contains the identity of the holder of a current lease."),
        AGE_COLUMN,
    )

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
            errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
        strategy = spec.get("strategy")
        if strategy is not None and strategy != OLDEST_EMULATION_VERSION:
            # Custom strategies must be domain-qualified ("example.com/my-strategy").
            msgs = is_qualified_name(strategy) if "/" in strategy else [
                f"must be {OLDEST_EMULATION_VERSION} or a domain-qualified name"]
            errs += [invalid("spec.strategy", strategy, m) for m in msgs]
        if spec.get("preferredHolder") and not strategy:
            errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        holder = (obj.get("spec") or {}).get("holderIdentity") or ""
        return [obj["metadata"].get("name", ""), holder, age_cell(obj, now)]


RESOURCE = ResourceType(
    group="coordination.k8s.io", version="v1", kind="Lease", plural="leases", singular="lease",
    namespaced=True, strategy=LeaseStrategy(), schema="io.k8s.api.coordination.v1.Lease",
)
