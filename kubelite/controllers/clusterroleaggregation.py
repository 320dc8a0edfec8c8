"""The ClusterRole aggregation controller (kube-controller-manager's ``clusterrole-aggregation``).

A ClusterRole with an ``aggregationRule`` owns no rules of its own: its ``rules`` are the union
of the rules of every *other* ClusterRole whose labels match one of its ``clusterRoleSelectors``
(how ``admin``/``edit``/``view`` pick up a CRD's permissions from a labelled ClusterRole). Keys
are aggregating ClusterRole names; any ClusterRole change enqueues every aggregating role, since
a label change may move a role in or out of any of them. Worked example: ``monitoring`` selects
``rbac.example.com/aggregate-to-monitoring=true``; ``pods-reader`` (get pods) and ``svc-reader``
(list services) carry the label → ``monitoring.rules`` = [get pods, list services], in
source-name order, duplicates dropped; removing the label from ``svc-reader`` shrinks it.
"""
from __future__ import annotations

from typing import Any

from kubelite.client import CLUSTERROLES
from kubelite.controllers.base import Controller
from kubelite.machinery.selectors import from_label_selector

Obj = dict[str, Any]


def aggregated_rules(role: Obj, all_roles: list[Obj]) -> list[Obj]:
    """The rules ``role``'s aggregationRule gathers from ``all_roles`` (pure)."""
    selectors = [from_label_selector(s) for s in ((role.get("aggregationRule") or {}).get("clusterRoleSelectors") or [])]
    name = role["metadata"]["name"]
    rules: list[Obj] = []
    for other in sorted(all_roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == name:
            continue
        labels = other["metadata"].get("labels") or {}
        if not any(sel.matches(labels) for sel in selectors):
            continue
        for rule in other.get("rules") or []:
            if rule not in rules:
                rules.append(rule)
    return rules


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"
    workers = 1

    def setup(self) -> None:
        self.roles = self.ctx.factory.informer(CLUSTERROLES)
        self.roles.add_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new),
                               on_delete=self._changed)

    def _changed(self, _role: Obj) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule") is not None:
                self.queue.add(role["metadata"]["name"])

    async def sync(self, key: str) -> None:
        role = self.roles.get(key)
        if role is None or role.get("aggregationRule") is None:
            return
        rules = aggregated_rules(role, self.roles.list())
        if rules == (role.get("rules") or []):
            return
        await self.client.patch(CLUSTERROLES, key, {"rules": rules}, type="merge")
