"""The EndpointSlice controller: discovery.k8s.io/v1 EndpointSlices for every Service with a
selector (kube-controller-manager's ``endpointslice`` controller). kube-proxy-like consumers and
the cluster DNS read these rather than Endpoints.

For each Service it computes the desired endpoints -- one per selected pod with an IP of the
slice's address family, *including* terminating pods, each with conditions ``ready`` (serving
and not terminating, or always with ``publishNotReadyAddresses``), ``serving`` (pod Ready) and
``terminating`` (deletionTimestamp set), ``nodeName``, ``zone`` (the node's
``topology.kubernetes.io/zone``), ``hostname`` (for a pod whose subdomain names the headless
Service) and a ``targetRef`` to the pod. Endpoints are grouped by (addressType, resolved ports)
-- pods resolving a named targetPort differently land in different slices -- and each group is
cut into slices of at most ``MAX_ENDPOINTS_PER_SLICE``. Slices are labelled
``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by`` and owned by the
Service (so the garbage collector removes them with it).

Reconciling keeps churn low, like Kubernetes: an endpoint stays in the slice that already holds
it; new endpoints fill existing slices' free room before a new slice is created; slices left
empty are deleted; a Service with no endpoints at all keeps one empty *placeholder* slice.
Worked example with the limit at 100: 230 endpoints in slices A(100) B(100) C(30); 20 pods in B
go away and 50 new pods come: B keeps its 80 and takes 20, C takes 30 (now 60); nothing new is
created and only B and C are written.

The ``kubernetes`` Service in ``default`` gets one slice named ``kubernetes`` (not managed-by
this controller, as kube-apiserver writes it) pointing at the API server address.

``EndpointSliceMirroringController`` (Kubernetes' ``endpointslicemirroring``) covers the other
case: a Service *without* a selector whose Endpoints are written by hand gets slices managed by
``endpointslicemirroring-controller.k8s.io``, mirroring those Endpoints and owned by them.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from kubelite.client import (ENDPOINTS, ENDPOINTSLICES, NODES, PODS, SERVICES, copy_object, is_already_exists,
                             is_not_found, split_key)
from kubelite.controllers.base import Controller, Expectations
from kubelite.controllers.endpoints import (DEFAULT_APISERVER_ADDRESS, HEADLESS_LABEL, KUBERNETES_SERVICE,
                                            SKIP_MIRROR_LABEL, ip_family,
                                            add_namespace_index, apiserver_port, find_port, is_headless,
                                            is_pod_ready, pod_ip_for_family, selects, service_ip_families,
                                            service_selector, services_for_pod, should_pod_be_in_endpoints,
                                            should_set_hostname)

log = logging.getLogger(__name__)
Obj = dict[str, Any]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MIRROR_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100


# -- desired state (pure) ---------------------------------------------------------------------

def _slice_port(svc_port: Mapping[str, Any], number: int) -> Obj:
    port: Obj = {"name": svc_port.get("name") or "", "port": number, "protocol": svc_port.get("protocol") or "TCP"}
    if svc_port.get("appProtocol"):
        port["appProtocol"] = svc_port["appProtocol"]
    return port


def endpoint_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj] | None:
    """The slice ports for ``pod``; [] for a headless Service without ports; None when the
    Service has ports and the pod resolves none of them."""
    svc_ports = (svc.get("spec") or {}).get("ports") or []
    if not svc_ports:
        return [] if is_headless(svc) else None
    out = []
    for sp in svc_ports:
        n = find_port(pod, sp)
        if n is not None:
            out.append(_slice_port(sp, n))
    return out or None


def pod_to_endpoint(pod: Mapping[str, Any], svc: Mapping[str, Any], address: str,
                    node: Mapping[str, Any] | None) -> Obj:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    serving = is_pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: Obj = {"addresses": [address], "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, svc):
        ep["hostname"] = spec["hostname"]
    ep["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                       "uid": meta.get("uid", "")}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    zone = ((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL)
    if zone:
        ep["zone"] = zone
    return ep


def group_key(address_type: str, ports: list[Obj]) -> tuple[Any, ...]:
    """Identity of an endpoint group: its address type and its (order-insensitive) ports."""
    return (address_type, tuple(sorted((p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP",
                                        p.get("appProtocol") or "") for p in ports)))


def desired_groups(svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                   nodes: Mapping[str, Mapping[str, Any]]) -> dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]]:
    """group key -> (ports, endpoints sorted by address) for every selected pod."""
    groups: dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]] = {}
    families = service_ip_families(svc)
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        ports = endpoint_ports(svc, pod)
        if ports is None:
            continue
        node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        for family in families:
            ip = pod_ip_for_family(pod, family)
            if ip is None:
                continue
            key = group_key(family, ports)
            entry = groups.setdefault(key, (sorted(ports, key=lambda p: (p["name"], p["port"])), []))
            entry[1].append(pod_to_endpoint(pod, svc, ip, node))
    for _, eps in groups.values():
        eps.sort(key=_endpoint_id)
    return groups


def _endpoint_id(ep: Mapping[str, Any]) -> tuple[str, str]:
    return ((ep.get("addresses") or [""])[0], (ep.get("targetRef") or {}).get("uid", ""))


def slice_labels(svc: Mapping[str, Any]) -> dict[str, str]:
    """The Service's labels minus the reserved ones, plus service-name, managed-by and (for a
    headless Service) the headless marker."""
    reserved = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
    labels = {k: v for k, v in ((svc.get("metadata") or {}).get("labels") or {}).items() if k not in reserved}
    if is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = (svc.get("metadata") or {}).get("name", "")
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels


def owner_reference(svc: Mapping[str, Any]) -> Obj:
    meta = svc.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Service", "name": meta.get("name", ""), "uid": meta.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def _slice_group(sl: Mapping[str, Any]) -> tuple[Any, ...]:
    return group_key(sl.get("addressType") or "IPv4", list(sl.get("ports") or []))


def _normalise(eps: Iterable[Mapping[str, Any]]) -> list[Any]:
    out = []
    for ep in eps:
        e = copy_object(ep)
        (e.get("targetRef") or {}).pop("resourceVersion", None)
        out.append(e)
    return sorted(out, key=_endpoint_id)


def reconcile(svc: Mapping[str, Any], existing: list[Obj],
              groups: Mapping[tuple[Any, ...], tuple[list[Obj], list[Obj]]],
              max_per_slice: int = MAX_ENDPOINTS_PER_SLICE, *, labels: Mapping[str, str] | None = None,
              owner: Obj | None = None) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """(to_create, to_update, to_delete) turning ``existing`` slices into ``groups`` (see the
    module doc for the policy). Created slices carry ``generateName``; updated ones are copies.
    ``labels`` and ``owner`` default to the Service's (the mirroring controller passes its own)."""
    labels = dict(slice_labels(svc) if labels is None else labels)
    owner = owner or owner_reference(svc)
    owner_uid = owner.get("uid")
    meta = svc.get("metadata") or {}
    to_create: list[Obj] = []
    to_update: list[Obj] = []
    to_delete: list[Obj] = []
    by_group: dict[tuple[Any, ...], list[Obj]] = {}
    for sl in sorted(existing, key=lambda s: s["metadata"]["name"]):
        by_group.setdefault(_slice_group(sl), []).append(sl)

    def new_slice(address_type: str, ports: list[Obj], eps: list[Obj]) -> Obj:
        name = meta.get("name", "")
        prefix = f"{name}-" if len(name) < 253 else name
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"generateName": prefix, "namespace": meta.get("namespace", ""),
                             "labels": dict(labels), "ownerReferences": [dict(owner)]},
                "addressType": address_type, "ports": ports, "endpoints": eps}

    for key, (ports, endpoints) in groups.items():
        wanted = {_endpoint_id(ep): ep for ep in endpoints}
        slices = by_group.pop(key, [])
        placed: dict[str, list[Obj]] = {}
        for sl in slices:  # 1. endpoints stay where they are
            keep = []
            for ep in sl.get("endpoints") or ():
                ident = _endpoint_id(ep)
                if ident in wanted:
                    keep.append(wanted.pop(ident))
            placed[sl["metadata"]["name"]] = keep
        leftovers = sorted(wanted.values(), key=_endpoint_id)
        for sl in slices:  # 2. new endpoints fill free room
            room = max_per_slice - len(placed[sl["metadata"]["name"]])
            if room > 0 and leftovers:
                placed[sl["metadata"]["name"]].extend(leftovers[:room])
                leftovers = leftovers[room:]
        for sl in slices:
            eps = placed[sl["metadata"]["name"]]
            if not eps:
                to_delete.append(sl)
                continue
            changed = _normalise(sl.get("endpoints") or []) != _normalise(eps) or \
                (sl["metadata"].get("labels") or {}) != labels or \
                not any(o.get("uid") == owner_uid for o in sl["metadata"].get("ownerReferences") or ())
            if changed:
                upd = copy_object(sl)
                upd["endpoints"] = sorted(eps, key=_endpoint_id)
                upd["metadata"]["labels"] = dict(labels)
                refs = [o for o in upd["metadata"].get("ownerReferences") or () if o.get("kind") != owner.get("kind")]
                upd["metadata"]["ownerReferences"] = refs + [dict(owner)]
                to_update.append(upd)
        while leftovers:  # 3. new slices for the rest
            to_create.append(new_slice(key[0], ports, leftovers[:max_per_slice]))
            leftovers = leftovers[max_per_slice:]
    for slices in by_group.values():
        to_delete.extend(slices)

    if not groups:
        # No endpoints at all: keep (or make) exactly one empty placeholder slice.
        family = service_ip_families(svc)[0]
        placeholder_key = group_key(family, [])
        placeholder = next((s for s in to_delete if _slice_group(s) == placeholder_key and not s.get("endpoints")),
                           None)
        if placeholder is None:
            placeholder = next((s for s in to_delete if _slice_group(s) == placeholder_key), None)
        if placeholder is not None:
            to_delete.remove(placeholder)
            if placeholder.get("endpoints") or (placeholder["metadata"].get("labels") or {}) != labels:
                upd = copy_object(placeholder)
                upd["endpoints"] = []
                upd["metadata"]["labels"] = dict(labels)
                to_update.append(upd)
        else:
            to_create.append(new_slice(family, [], []))
    return to_create, to_update, to_delete


def kubernetes_slice(svc: Mapping[str, Any], address: str) -> Obj:
    """The ``kubernetes`` slice kube-apiserver maintains: one ready endpoint, the API port."""
    port = apiserver_port(svc)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {SERVICE_NAME_LABEL: "kubernetes"}},
            "addressType": "IPv6" if ":" in address else "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [{"name": port.get("name", "https"), "port": port["port"], "protocol": port["protocol"]}]}


# -- the controller ---------------------------------------------------------------------------

def _service_key_of_slice(sl: Obj) -> str | None:
    labels = (sl.get("metadata") or {}).get("labels") or {}
    name = labels.get(SERVICE_NAME_LABEL)
    if not name:
        return None
    return f"{(sl.get('metadata') or {}).get('namespace', '')}/{name}"


def _index_by_service(sl: Obj) -> list[str]:
    key = _service_key_of_slice(sl)
    return [key] if key else []


def add_service_index(informer: Any) -> None:
    try:
        informer.add_index("service", _index_by_service)
    except ValueError:
        pass  # the other slice controller sharing the informer added it


async def delete_slice(ctl: Any, key: str, sl: Obj) -> None:
    """Delete one slice this controller manages (uid precondition: never a namesake)."""
    meta = sl["metadata"]
    try:
        await ctl.client.delete(ENDPOINTSLICES, meta["name"], namespace=meta.get("namespace"),
                                preconditions={"uid": meta.get("uid", "")})
    except Exception as e:  # noqa: BLE001
        ctl.expectations.lower(key, deletes=1)
        if not is_not_found(e):
            raise


async def apply_plan(ctl: Any, key: str, ns: str, to_create: list[Obj], to_update: list[Obj],
                     to_delete: list[Obj]) -> None:
    """Carry out ``reconcile``'s plan for one Service: deletes, updates, then creates, with
    the controller's expectations recorded first (shared by both slice controllers)."""
    ctl.expectations.expect(key, adds=len(to_create), deletes=len(to_delete))
    for sl in to_delete:
        await delete_slice(ctl, key, sl)
    for sl in to_update:
        await ctl.client.update(ENDPOINTSLICES, sl, namespace=ns)
    for sl in to_create:
        try:
            await ctl.client.create(ENDPOINTSLICES, sl, namespace=ns)
        except Exception as e:  # noqa: BLE001
            ctl.expectations.lower(key, adds=1)
            if getattr(e, "code", None) in (403, 404):  # namespace terminating or gone
                log.debug("endpointslices for %s: %s", key, e)
                continue
            raise


class EndpointSliceController(Controller):
    """Keeps each selector Service's managed EndpointSlices equal to ``reconcile(...)``."""

    name = "endpointslice"
    workers = 2

    def setup(self) -> None:
        self.services = self.ctx.factory.informer(SERVICES)
        self.pods = self.ctx.factory.informer(PODS)
        self.nodes = self.ctx.factory.informer(NODES)
        self.slices = self.ctx.factory.informer(ENDPOINTSLICES)
        for inf in (self.services, self.pods):
            add_namespace_index(inf)
        add_service_index(self.slices)
        self.apiserver_address = str(self.ctx.options.get("apiserver_address") or DEFAULT_APISERVER_ADDRESS)
        self.max_per_slice = int(self.ctx.options.get("max_endpoints_per_slice") or MAX_ENDPOINTS_PER_SLICE)
        self.expectations = Expectations(self.clock)
        self.services.add_handler(**self.enqueue_handlers())
        self.pods.add_handler(on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed)
        self.slices.add_handler(on_add=self._slice_added, on_update=lambda o, n: self._slice_event(n),
                                on_delete=self._slice_deleted)

    def _pod_changed(self, pod: Obj) -> None:
        ns = (pod.get("metadata") or {}).get("namespace", "")
        for key in services_for_pod(self.services.list(ns), pod):
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get("resourceVersion"):
            return
        ns = (new.get("metadata") or {}).get("namespace", "")
        keys = set(services_for_pod(self.services.list(ns), new)) | set(services_for_pod(self.services.list(ns), old))
        for key in keys:
            self.queue.add(key)

    def _slice_added(self, sl: Obj) -> None:
        key = _service_key_of_slice(sl)
        if key:
            self.expectations.observed_add(key)
            self.queue.add(key)

    def _slice_deleted(self, sl: Obj) -> None:
        key = _service_key_of_slice(sl)
        if key:
            self.expectations.observed_delete(key)
            self.queue.add(key)

    def _slice_event(self, sl: Obj) -> None:
        key = _service_key_of_slice(sl)
        if key:
            self.queue.add(key)

    def _managed_slices(self, key: str, svc: Obj | None) -> list[Obj]:
        uid = ((svc or {}).get("metadata") or {}).get("uid")
        out = []
        for sl in self.slices.by_index("service", key):
            labels = (sl.get("metadata") or {}).get("labels") or {}
            if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME:
                continue
            if uid is not None and not any(o.get("uid") == uid for o in sl["metadata"].get("ownerReferences") or ()):
                # A slice of an earlier Service of the same name: the GC removes it.
                continue
            out.append(sl)
        return out

    async def sync(self, key: str) -> None:
        ns, _ = split_key(key)
        svc = self.services.get(key)
        if key == KUBERNETES_SERVICE:
            if svc is not None:
                await self._sync_kubernetes(svc)
            return
        if svc is None or service_selector(svc) is None:
            # Gone (the GC deletes owned slices) or selector-less: nothing of ours may remain.
            for sl in self._managed_slices(key, None) if svc is None else self._managed_slices(key, svc):
                await delete_slice(self, key, sl)
            return
        if not self.expectations.satisfied(key):
            return  # our own creations/deletions are not in the cache yet; their events requeue us
        selector = service_selector(svc) or {}
        pods = [p for p in self.pods.list(ns) if selects(selector, (p.get("metadata") or {}).get("labels"))]
        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        groups = desired_groups(svc, pods, nodes)
        to_create, to_update, to_delete = reconcile(svc, self._managed_slices(key, svc), groups, self.max_per_slice)
        if (svc.get("metadata") or {}).get("deletionTimestamp"):
            to_create = []  # a Service being deleted gets no new slices
        await apply_plan(self, key, ns, to_create, to_update, to_delete)

    async def _sync_kubernetes(self, svc: Obj) -> None:
        desired = kubernetes_slice(svc, self.apiserver_address)
        current = self.slices.get("default/kubernetes")
        if current is None:
            try:
                await self.client.create(ENDPOINTSLICES, desired, namespace="default")
            except Exception as e:  # noqa: BLE001
                if not is_already_exists(e):
                    raise
            return
        same = all(current.get(f) == desired[f] for f in ("addressType", "endpoints", "ports")) and \
            (current["metadata"].get("labels") or {}) == desired["metadata"]["labels"]
        if same:
            return
        new = copy_object(current)
        for f in ("addressType", "endpoints", "ports"):
            new[f] = desired[f]
        new["metadata"]["labels"] = desired["metadata"]["labels"]
        if new.get("addressType") != current.get("addressType"):
            # addressType is immutable: replace the slice.
            await self.client.delete(ENDPOINTSLICES, "kubernetes", namespace="default")
            return
        await self.client.update(ENDPOINTSLICES, new, namespace="default")


# -- mirroring ---------------------------------------------------------------------------------

def mirror_groups(ep: Mapping[str, Any]) -> dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]]:
    """Slice groups for a hand-written Endpoints object: one group per (family, subset ports);
    ``addresses`` are ready, ``notReadyAddresses`` are not."""
    groups: dict[tuple[Any, ...], tuple[list[Obj], list[Obj]]] = {}
    for subset in ep.get("subsets") or ():
        ports = []
        for p in subset.get("ports") or ():
            port: Obj = {"name": p.get("name") or "", "port": int(p.get("port") or 0),
                         "protocol": p.get("protocol") or "TCP"}
            if p.get("appProtocol"):
                port["appProtocol"] = p["appProtocol"]
            ports.append(port)
        ports.sort(key=lambda p: (p["name"], p["port"]))
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for addr in subset.get(field) or ():
                ip = str(addr.get("ip") or "")
                if not ip:
                    continue
                e: Obj = {"addresses": [ip], "conditions": {"ready": ready}}
                for src, dst in (("hostname", "hostname"), ("nodeName", "nodeName"), ("targetRef", "targetRef")):
                    if addr.get(src):
                        e[dst] = copy_object(addr[src])
                key = group_key(ip_family(ip), ports)
                groups.setdefault(key, (ports, []))[1].append(e)
    for _, eps in groups.values():
        eps.sort(key=_endpoint_id)
    return groups


def mirror_labels(ep: Mapping[str, Any]) -> dict[str, str]:
    reserved = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, SKIP_MIRROR_LABEL)
    labels = {k: v for k, v in ((ep.get("metadata") or {}).get("labels") or {}).items() if k not in reserved}
    labels[SERVICE_NAME_LABEL] = (ep.get("metadata") or {}).get("name", "")
    labels[MANAGED_BY_LABEL] = MIRROR_CONTROLLER_NAME
    return labels


class EndpointSliceMirroringController(Controller):
    """Mirrors hand-written Endpoints of selector-less Services into EndpointSlices (Kubernetes'
    ``endpointslicemirroring`` controller), so consumers reading only slices -- the proxy, the
    DNS -- see Services whose endpoints are managed by hand. Endpoints labelled
    ``endpointslice.kubernetes.io/skip-mirror: "true"`` (the ``kubernetes`` Service's) are not
    mirrored; the slices are owned by the Endpoints object."""

    name = "endpointslicemirroring"
    workers = 1

    def setup(self) -> None:
        f = self.ctx.factory
        self.services = f.informer(SERVICES)
        self.endpoints = f.informer(ENDPOINTS)
        self.slices = f.informer(ENDPOINTSLICES)
        add_service_index(self.slices)
        self.expectations = Expectations(self.clock)
        self.max_per_slice = int(self.ctx.options.get("max_endpoints_per_slice") or MAX_ENDPOINTS_PER_SLICE)
        self.services.add_handler(**self.enqueue_handlers())
        self.endpoints.add_handler(**self.enqueue_handlers())
        self.slices.add_handler(on_add=self._slice_added, on_update=lambda o, n: self._slice_event(n),
                                on_delete=self._slice_deleted)

    @staticmethod
    def _mirrored(sl: Obj) -> bool:
        return ((sl.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MIRROR_CONTROLLER_NAME

    def _slice_added(self, sl: Obj) -> None:
        key = _service_key_of_slice(sl)
        if key and self._mirrored(sl):
            self.expectations.observed_add(key)
            self.queue.add(key)

    def _slice_deleted(self, sl: Obj) -> None:
        key = _service_key_of_slice(sl)
        if key and self._mirrored(sl):
            self.expectations.observed_delete(key)
            self.queue.add(key)

    def _slice_event(self, sl: Obj) -> None:
        key = _service_key_of_slice(sl)
        if key and self._mirrored(sl):
            self.queue.add(key)

    async def sync(self, key: str) -> None:
        ns, _ = split_key(key)
        svc, ep = self.services.get(key), self.endpoints.get(key)
        existing = [sl for sl in self.slices.by_index("service", key) if self._mirrored(sl)]
        wanted = svc is not None and ep is not None and service_selector(svc) is None \
            and (svc.get("spec") or {}).get("type") != "ExternalName" \
            and ((ep.get("metadata") or {}).get("labels") or {}).get(SKIP_MIRROR_LABEL) != "true"
        groups = mirror_groups(ep) if wanted and ep is not None else {}
        if not groups:
            for sl in existing:
                await delete_slice(self, key, sl)
            return
        assert svc is not None and ep is not None
        if not self.expectations.satisfied(key):
            return
        emeta = ep.get("metadata") or {}
        owner = {"apiVersion": "v1", "kind": "Endpoints", "name": emeta.get("name", ""), "uid": emeta.get("uid", ""),
                 "controller": True, "blockOwnerDeletion": True}
        to_create, to_update, to_delete = reconcile(svc, existing, groups, self.max_per_slice,
                                                    labels=mirror_labels(ep), owner=owner)
        await apply_plan(self, key, ns, to_create, to_update, to_delete)


__all__ = ["EndpointSliceController", "EndpointSliceMirroringController", "mirror_groups", "reconcile", "desired_groups", "pod_to_endpoint", "kubernetes_slice",
           "slice_labels", "SERVICE_NAME_LABEL", "MANAGED_BY_LABEL", "CONTROLLER_NAME"]
