"""The resource quota controller: keeps every ResourceQuota's ``status.hard`` (a copy of
``spec.hard``) and ``status.used`` current (kube-controller-manager's ``resourcequota``
controller). Enforcement -- refusing a create that would exceed ``hard`` -- is the API server's
admission; it reads what this controller writes.

Usage is computed only for the resources named in ``spec.hard``, by pure functions over the
namespace's objects (``quota_usage``):

- pods: ``pods`` / ``count/pods`` (pods not finished; a terminating pod counts until its
  deletion time plus grace period), ``requests.cpu`` (alias ``cpu``), ``requests.memory``
  (``memory``), ``requests.ephemeral-storage``, ``limits.*``, extended ``requests.<name>``.
  A pod's request is what the scheduler uses: containers and sidecars summed, an init container
  counted if it alone needs more, plus ``spec.overhead``;
- services: ``services``, ``services.nodeports`` (ports of NodePort/LoadBalancer Services),
  ``services.loadbalancers``;
- persistentvolumeclaims: ``persistentvolumeclaims``, ``requests.storage``, and per class
  ``<class>.storageclass.storage.k8s.io/requests.storage`` and ``/persistentvolumeclaims``;
- configmaps, secrets, replicationcontrollers, resourcequotas: counts;
- ``count/<resource>.<group>`` for any other resource, custom ones included (listed live).

Scopes (``Terminating``, ``NotTerminating``, ``BestEffort``, ``NotBestEffort``,
``PriorityClass``, ``CrossNamespacePodAffinity``, from ``spec.scopes`` or
``spec.scopeSelector``) narrow which pods count. Example: hard ``{pods: 4, requests.cpu: 2}``,
two running pods requesting 500m and 250m plus one Succeeded pod: used ``{pods: "2",
requests.cpu: "750m"}``.

Quotas are re-evaluated when an object they count changes and every
``options["resourcequota_resync_seconds"]`` (default 60), which catches resources counted by
listing.
"""
from __future__ import annotations

import datetime as dt
import logging
from fractions import Fraction
from typing import Any, Iterable, Mapping

from kubelite.api.helpers.times import try_parse_time
from kubelite.client import (BUILTINS, CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PODS, REPLICATIONCONTROLLERS,
                             RESOURCEQUOTAS, SECRETS, SERVICES, ApiError, ResourceRef, copy_object, split_key)
from kubelite.controllers.base import Controller
from kubelite.controllers.discovery import discover
from kubelite.controllers.endpoints import add_namespace_index
from kubelite.machinery.quantity import Quantity, parse_quantity

log = logging.getLogger(__name__)
Obj = dict[str, Any]

#: (plural, group) of the resources counted from informers, and their legacy quota names
WATCHED: dict[tuple[str, str], ResourceRef] = {
    ("pods", ""): PODS, ("services", ""): SERVICES, ("configmaps", ""): CONFIGMAPS, ("secrets", ""): SECRETS,
    ("persistentvolumeclaims", ""): PERSISTENTVOLUMECLAIMS, ("replicationcontrollers", ""): REPLICATIONCONTROLLERS,
    ("resourcequotas", ""): RESOURCEQUOTAS,
}
LEGACY_COUNTS = {"services": "services", "configmaps": "configmaps", "secrets": "secrets",
                 "persistentvolumeclaims": "persistentvolumeclaims", "replicationcontrollers": "replicationcontrollers",
                 "resourcequotas": "resourcequotas", "pods": "pods"}
POD_COMPUTE = ("cpu", "memory", "ephemeral-storage")
CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
ZERO = Fraction(0)


def _q(value: Any) -> Quantity:
    try:
        return parse_quantity(value if value is not None else "0")
    except ValueError:
        return parse_quantity("0")


# -- pods -------------------------------------------------------------------------------------

def _container_amounts(c: Mapping[str, Any], field: str) -> dict[str, Quantity]:
    return {k: _q(v) for k, v in ((c.get("resources") or {}).get(field) or {}).items()}


def _add(into: dict[str, Quantity], more: Mapping[str, Quantity]) -> None:
    for k, v in more.items():
        into[k] = into[k] + v if k in into else v


def pod_amounts(pod: Mapping[str, Any], field: str) -> dict[str, Quantity]:
    """The pod's effective ``requests`` or ``limits`` per resource (see module doc)."""
    spec = pod.get("spec") or {}
    total: dict[str, Quantity] = {}
    for c in spec.get("containers") or ():
        _add(total, _container_amounts(c, field))
    sidecars: dict[str, Quantity] = {}
    init_max: dict[str, Quantity] = {}
    for c in spec.get("initContainers") or ():
        amounts = _container_amounts(c, field)
        if c.get("restartPolicy") == "Always":
            _add(sidecars, amounts)
            _add(total, amounts)
            continue
        # A regular init container runs alongside the sidecars started before it.
        need = dict(sidecars)
        _add(need, amounts)
        for k, v in need.items():
            if k not in init_max or v > init_max[k]:
                init_max[k] = v
    for k, v in init_max.items():
        if k not in total or v > total[k]:
            total[k] = v
    _add(total, {k: _q(v) for k, v in (spec.get("overhead") or {}).items()})
    return total


def pod_counts_for_quota(pod: Mapping[str, Any], now: dt.datetime) -> bool:
    """Finished pods never count; a terminating one counts until deletion time + grace."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    deletion = try_parse_time(meta.get("deletionTimestamp"))
    grace = meta.get("deletionGracePeriodSeconds")
    if deletion is not None and grace is not None and now > deletion + dt.timedelta(seconds=int(grace)):
        return False
    return True


def is_best_effort(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or ()) + list(spec.get("initContainers") or ()):
        res = c.get("resources") or {}
        for field in ("requests", "limits"):
            if any(k in POD_COMPUTE[:2] for k in (res.get(field) or {})):
                return False
    return True


def _uses_cross_namespace_affinity(pod: Mapping[str, Any]) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        a = affinity.get(kind) or {}
        terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or ())
        terms += [w.get("podAffinityTerm") or {} for w in a.get("preferredDuringSchedulingIgnoredDuringExecution") or ()]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def _scope_holds(scope: str, pod: Mapping[str, Any]) -> bool | None:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        return spec.get("activeDeadlineSeconds") is not None
    if scope == "NotTerminating":
        return spec.get("activeDeadlineSeconds") is None
    if scope == "BestEffort":
        return is_best_effort(pod)
    if scope == "NotBestEffort":
        return not is_best_effort(pod)
    if scope == "CrossNamespacePodAffinity":
        return _uses_cross_namespace_affinity(pod)
    return None


def pod_matches_scopes(pod: Mapping[str, Any], scopes: Iterable[str], selector: Mapping[str, Any] | None) -> bool:
    for scope in scopes:
        if not _scope_holds(scope, pod):
            return False
    for expr in (selector or {}).get("matchExpressions") or ():
        name, op, values = expr.get("scopeName"), expr.get("operator"), list(expr.get("values") or ())
        if name == "PriorityClass":
            pc = (pod.get("spec") or {}).get("priorityClassName") or ""
            ok = {"In": pc in values, "NotIn": pc not in values, "Exists": bool(pc),
                  "DoesNotExist": not pc}.get(str(op), False)
        else:
            holds = bool(_scope_holds(str(name), pod))
            ok = holds if op in ("Exists", "In") else (not holds if op in ("DoesNotExist", "NotIn") else False)
        if not ok:
            return False
    return True


def pod_usage(pod: Mapping[str, Any]) -> dict[str, Quantity]:
    usage: dict[str, Quantity] = {"pods": _q(1), "count/pods": _q(1)}
    for name, q in pod_amounts(pod, "requests").items():
        usage[f"requests.{name}"] = q
        if name in POD_COMPUTE:
            usage[name] = q
    for name, q in pod_amounts(pod, "limits").items():
        usage[f"limits.{name}"] = q
    return usage


# -- other kinds ------------------------------------------------------------------------------

def service_usage(svc: Mapping[str, Any]) -> dict[str, Quantity]:
    spec = svc.get("spec") or {}
    usage = {"services": _q(1), "count/services": _q(1)}
    stype = spec.get("type") or "ClusterIP"
    ports = spec.get("ports") or []
    if stype == "NodePort" or (stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False):
        usage["services.nodeports"] = _q(len(ports))
    if stype == "LoadBalancer":
        usage["services.loadbalancers"] = _q(1)
    return usage


def pvc_usage(pvc: Mapping[str, Any]) -> dict[str, Quantity]:
    spec = pvc.get("spec") or {}
    storage = _q(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    usage = {"persistentvolumeclaims": _q(1), "count/persistentvolumeclaims": _q(1), "requests.storage": storage}
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    cls = annotations.get("volume.beta.kubernetes.io/storage-class", spec.get("storageClassName"))
    if cls:
        usage[f"{cls}{CLASS_SUFFIX}requests.storage"] = storage
        usage[f"{cls}{CLASS_SUFFIX}persistentvolumeclaims"] = _q(1)
    return usage


def count_name(plural: str, group: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def object_usage(plural: str, group: str, obj: Mapping[str, Any]) -> dict[str, Quantity]:
    if (plural, group) == ("pods", ""):
        return pod_usage(obj)
    if (plural, group) == ("services", ""):
        return service_usage(obj)
    if (plural, group) == ("persistentvolumeclaims", ""):
        return pvc_usage(obj)
    usage = {count_name(plural, group): _q(1)}
    if not group and plural in LEGACY_COUNTS:
        usage[LEGACY_COUNTS[plural]] = _q(1)
    return usage


def parse_count_name(name: str) -> tuple[str, str] | None:
    """``count/deployments.apps`` -> ("deployments", "apps"); ``count/pods`` -> ("pods", "")."""
    if not name.startswith("count/"):
        return None
    plural, _, group = name[len("count/"):].partition(".")
    return plural, group


def quota_usage(hard: Mapping[str, Any], objects: Mapping[tuple[str, str], Iterable[Mapping[str, Any]]], *,
                now: dt.datetime, scopes: Iterable[str] = (), scope_selector: Mapping[str, Any] | None = None
                ) -> dict[str, str]:
    """``status.used`` for ``hard`` from the namespace's objects, keyed by (plural, group)."""
    scopes = list(scopes)
    scoped = bool(scopes or (scope_selector or {}).get("matchExpressions"))
    used: dict[str, Quantity] = {name: _q(0) for name in hard}
    for (plural, group), items in objects.items():
        for obj in items:
            if (plural, group) == ("pods", ""):
                if not pod_counts_for_quota(obj, now):
                    continue
                if scoped and not pod_matches_scopes(obj, scopes, scope_selector):
                    continue
            for name, q in object_usage(plural, group, obj).items():
                if name in used:
                    used[name] = used[name] + q
    return {name: str(q) for name, q in used.items()}


def usage_equal(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    a, b = a or {}, b or {}
    if set(a) != set(b):
        return False
    return all(_q(a[k]).value == _q(b[k]).value for k in a)


def needed_resources(hard: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(plural, group) of every resource whose objects the usage of ``hard`` depends on."""
    out: set[tuple[str, str]] = set()
    for name in hard:
        parsed = parse_count_name(name)
        if parsed is not None:
            out.add(parsed)
        elif name in LEGACY_COUNTS:
            out.add((LEGACY_COUNTS[name], ""))
        elif name.startswith("services."):
            out.add(("services", ""))
        elif name == "requests.storage" or CLASS_SUFFIX in name:
            out.add(("persistentvolumeclaims", ""))
        else:  # cpu, memory, requests.*, limits.*, hugepages, extended resources
            out.add(("pods", ""))
    return out


# -- the controller ---------------------------------------------------------------------------

class ResourceQuotaController(Controller):
    name = "resourcequota"
    workers = 2

    def setup(self) -> None:
        self.quotas = self.ctx.factory.informer(RESOURCEQUOTAS)
        add_namespace_index(self.quotas)
        self.watched = {key: self.ctx.factory.informer(ref) for key, ref in WATCHED.items()}
        for inf in self.watched.values():
            add_namespace_index(inf)
            inf.add_handler(on_add=self._object_changed, on_update=self._object_updated,
                            on_delete=self._object_changed)
        self.quotas.add_handler(on_add=self.enqueue, on_update=self._quota_updated, on_delete=None)
        self.resync = float(self.ctx.options.get("resourcequota_resync_seconds") or 60.0)
        self._refs: dict[tuple[str, str], ResourceRef] = {(r.plural, r.group): r for r in BUILTINS.values()}

    def _object_changed(self, obj: Obj) -> None:
        ns = (obj.get("metadata") or {}).get("namespace")
        if ns:
            for q in self.quotas.list(ns):
                self.enqueue(q)

    def _object_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") != (new.get("metadata") or {}).get("resourceVersion"):
            self._object_changed(new)

    def _quota_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("spec") or {}) != (new.get("spec") or {}) or \
                (new.get("status") or {}).get("hard") != (new.get("spec") or {}).get("hard"):
            self.enqueue(new)

    async def _ref_for(self, plural: str, group: str) -> ResourceRef | None:
        ref = self._refs.get((plural, group))
        if ref is None:
            disc = await discover(self.client)
            for r in disc.resources:
                self._refs.setdefault((r.ref.plural, r.ref.group), r.ref)
            ref = self._refs.get((plural, group))
        return ref

    async def objects_for(self, namespace: str, hard: Mapping[str, Any]) -> dict[tuple[str, str], list[Obj]]:
        out: dict[tuple[str, str], list[Obj]] = {}
        for plural, group in needed_resources(hard):
            inf = self.watched.get((plural, group))
            if inf is not None:
                out[(plural, group)] = inf.list(namespace)
                continue
            ref = await self._ref_for(plural, group)
            if ref is None or not ref.namespaced:
                out[(plural, group)] = []
                continue
            try:
                out[(plural, group)] = (await self.client.list_all(ref, namespace=namespace)).items
            except ApiError as e:
                log.info("resourcequota: cannot count %s in %s: %s", ref.qualified, namespace, e)
                out[(plural, group)] = []
        return out

    async def sync(self, key: str) -> None:
        quota = self.quotas.get(key)
        if quota is None:
            return
        ns, _ = split_key(key)
        spec = quota.get("spec") or {}
        hard = dict(spec.get("hard") or {})
        objects = await self.objects_for(ns, hard)
        used = quota_usage(hard, objects, now=self.clock.wall(), scopes=spec.get("scopes") or (),
                           scope_selector=spec.get("scopeSelector"))
        status = quota.get("status") or {}
        if status.get("hard") != hard or not usage_equal(status.get("used"), used):
            new = copy_object(quota)
            new["status"] = {"hard": hard, "used": used}
            await self.client.update_status(RESOURCEQUOTAS, new)
        self.queue.add_after(key, self.resync)
