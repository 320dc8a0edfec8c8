"""The endpoints controller: one core/v1 Endpoints object per Service with a selector, listing
the IPs and ports of the pods it selects (kube-controller-manager's ``endpoint`` controller).

It also owns the pod-to-endpoint rules shared with the EndpointSlice controller
(``endpointslice.py`` imports them): which pods count (``should_pod_be_in_endpoints``), when a
pod is ready, how a Service port's ``targetPort`` resolves on a pod (a number, or the *name*
of a container port -- ``find_port``), and when a pod gets a DNS hostname (``spec.hostname`` +
``spec.subdomain`` equal to a headless Service's name). The controller manager starts
``EndpointsController``; the DNS and the proxy read what it writes.

Worked example: Service ``web`` (selector app=web, ports ``http`` -> targetPort "http",
``metrics`` -> 9090) selecting pod a (ready, 10.42.0.5, container port http=8080) and pod b
(not ready, 10.42.0.6, no port named http) gives two subsets, because addresses are grouped by
the exact set of ports they serve::

    - addresses: [{ip: 10.42.0.5, ...}]       ports: [http 8080, metrics 9090]
    - notReadyAddresses: [{ip: 10.42.0.6, ...}] ports: [metrics 9090]

The ``kubernetes`` Service in ``default`` has no selector; its Endpoints are kept pointing at
the API server: one address (``ctx.options["apiserver_address"]``, default 127.0.0.1) and the
Service's ``targetPort``.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, Iterable, Mapping

from kubelite.api.helpers.podutil import is_pod_ready, is_pod_terminal
from kubelite.client import (ENDPOINTS, PODS, SERVICES, copy_object, index_by_namespace, is_already_exists,
                             is_not_found, object_key, split_key)
from kubelite.client.informer import Informer
from kubelite.controllers.base import Controller

log = logging.getLogger(__name__)
Obj = dict[str, Any]

HEADLESS_LABEL = "service.kubernetes.io/headless"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
KUBERNETES_SERVICE = "default/kubernetes"
DEFAULT_APISERVER_ADDRESS = "127.0.0.1"


# -- pods -------------------------------------------------------------------------------------

def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [str(p.get("ip")) for p in status.get("podIPs") or () if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return ips


def should_pod_be_in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    """Finished pods and pods without an IP never count; terminating ones only if asked."""
    if is_pod_terminal(pod) or not pod_ips(pod):
        return False
    if not include_terminating and (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return True


def should_set_hostname(pod: Mapping[str, Any], svc: Mapping[str, Any]) -> bool:
    spec, meta, smeta = pod.get("spec") or {}, pod.get("metadata") or {}, svc.get("metadata") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == smeta.get("name") \
        and meta.get("namespace") == smeta.get("namespace")


def find_port(pod: Mapping[str, Any], svc_port: Mapping[str, Any]) -> int | None:
    """The pod port a Service port targets: a numeric targetPort as is (unset: the port
    itself), a named one looked up among the containers' (and sidecars') named ports with the
    same protocol. None if the pod has no such port."""
    target = svc_port.get("targetPort")
    if target is None or target == "":
        target = svc_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = svc_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for c in containers:
        for p in c.get("ports") or ():
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                return int(p["containerPort"])
    return None


# -- services ---------------------------------------------------------------------------------

def service_selector(svc: Mapping[str, Any]) -> dict[str, str] | None:
    """The selector, or None for a Service whose endpoints are managed by hand (no selector)
    or that has none (ExternalName)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    sel = spec.get("selector")
    return dict(sel) if sel else None


def selects(selector: Mapping[str, str], labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def services_for_pod(services: Iterable[Mapping[str, Any]], pod: Mapping[str, Any]) -> list[str]:
    """Keys of the Services (already filtered to the pod's namespace) selecting ``pod``."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    out = []
    for svc in services:
        sel = service_selector(svc)
        if sel is not None and selects(sel, labels):
            out.append(object_key(svc))
    return out


def is_headless(svc: Mapping[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP")
    return not ip or ip == "None"


def ip_family(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return "IPv4"


def service_ip_families(svc: Mapping[str, Any]) -> list[str]:
    """The Service's IP families (spec.ipFamilies; else from the ClusterIP; a headless Service
    without families is treated as dual-stack, as Kubernetes does for old objects)."""
    spec = svc.get("spec") or {}
    fams = [f for f in spec.get("ipFamilies") or () if f in ("IPv4", "IPv6")]
    if fams:
        return fams
    if not is_headless(svc):
        return [ip_family(str(spec["clusterIP"]))]
    return ["IPv4", "IPv6"]


def pod_ip_for_family(pod: Mapping[str, Any], family: str) -> str | None:
    for ip in pod_ips(pod):
        if ip_family(ip) == family:
            return ip
    return None


# -- the Endpoints object ---------------------------------------------------------------------

def _pod_address(pod: Mapping[str, Any], svc: Mapping[str, Any], ip: str) -> Obj:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, svc):
        addr["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        addr["nodeName"] = spec["nodeName"]
    addr["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                         "uid": meta.get("uid", "")}
    return addr


def _endpoint_port(svc_port: Mapping[str, Any], number: int) -> Obj:
    port: Obj = {"port": number, "protocol": svc_port.get("protocol") or "TCP"}
    if svc_port.get("name"):
        port["name"] = svc_port["name"]
    if svc_port.get("appProtocol"):
        port["appProtocol"] = svc_port["appProtocol"]
    return port


def _port_key(port: Mapping[str, Any]) -> tuple[str, int, str, str]:
    return (port.get("name") or "", int(port.get("port") or 0), port.get("protocol") or "TCP",
            port.get("appProtocol") or "")


def compute_subsets(svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The Endpoints subsets for ``svc`` from the pods it selects (see the module example):
    addresses grouped by the exact set of ports they serve, ready ones in ``addresses``, the
    rest in ``notReadyAddresses``; sorted so equal inputs give equal output."""
    spec = svc.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    svc_ports = list(spec.get("ports") or ())
    family = service_ip_families(svc)[0]
    # address identity (ip, pod uid) -> [address, ready, {port keys}]
    by_addr: dict[tuple[str, str], list[Any]] = {}
    ports_by_key: dict[tuple[str, int, str, str], Obj] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, publish_not_ready):
            continue
        ip = pod_ip_for_family(pod, family)
        if ip is None:
            continue
        ready = publish_not_ready or is_pod_ready(pod)
        keys: set[tuple[str, int, str, str]] = set()
        if not svc_ports:
            if not is_headless(svc):
                continue  # a ClusterIP Service without ports has no endpoints
        else:
            for sp in svc_ports:
                number = find_port(pod, sp)
                if number is None:
                    continue
                ep = _endpoint_port(sp, number)
                k = _port_key(ep)
                ports_by_key[k] = ep
                keys.add(k)
            if not keys:
                continue
        ident = (ip, (pod.get("metadata") or {}).get("uid", ""))
        by_addr[ident] = [_pod_address(pod, svc, ip), ready, keys]
    groups: dict[frozenset[tuple[str, int, str, str]], tuple[list[Obj], list[Obj]]] = {}
    for _, (addr, ready, port_keys) in sorted(by_addr.items()):
        ready_list, not_ready = groups.setdefault(frozenset(port_keys), ([], []))
        (ready_list if ready else not_ready).append(addr)
    subsets: list[Obj] = []
    for group in sorted(groups, key=lambda ks: sorted(ks)):
        ready_list, not_ready = groups[group]
        subset: Obj = {}
        if ready_list:
            subset["addresses"] = ready_list
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if group:
            subset["ports"] = [ports_by_key[k] for k in sorted(group)]
        subsets.append(subset)
    return subsets


def desired_labels(svc: Mapping[str, Any]) -> dict[str, str]:
    labels = {k: v for k, v in ((svc.get("metadata") or {}).get("labels") or {}).items() if k != HEADLESS_LABEL}
    if is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    return labels


def apiserver_port(svc: Mapping[str, Any]) -> Obj:
    """The kubernetes Service's first port as an EndpointPort, numbered by its targetPort."""
    ports = (svc.get("spec") or {}).get("ports") or [{"name": "https", "port": 443, "targetPort": 6443}]
    sp = ports[0]
    number = find_port({}, sp) or int(sp.get("port") or 443)
    return _endpoint_port({"name": sp.get("name") or "https", "protocol": sp.get("protocol") or "TCP"}, number)


def kubernetes_subsets(svc: Mapping[str, Any], address: str) -> list[Obj]:
    return [{"addresses": [{"ip": address}], "ports": [apiserver_port(svc)]}]


def _strip_target_rv(subsets: Any) -> Any:
    # Pod resourceVersions in targetRef must not cause rewrites (we never write them anyway,
    # but Endpoints written by others may carry them).
    out = copy_object(subsets or [])
    for s in out:
        for f in ("addresses", "notReadyAddresses"):
            for a in s.get(f) or ():
                (a.get("targetRef") or {}).pop("resourceVersion", None)
        for p in s.get("ports") or ():
            p.setdefault("protocol", "TCP")
    return out


def subsets_equal(a: Any, b: Any) -> bool:
    return bool(_strip_target_rv(a) == _strip_target_rv(b))


# -- the controller ---------------------------------------------------------------------------

def add_namespace_index(informer: Informer) -> None:
    try:
        informer.add_index("namespace", index_by_namespace)
    except ValueError:
        pass  # another controller sharing this informer added it


class EndpointsController(Controller):
    """Keeps ``Endpoints/<svc>`` equal to ``compute_subsets(svc, selected pods)``."""

    name = "endpoint"
    workers = 2

    def setup(self) -> None:
        self.services = self.ctx.factory.informer(SERVICES)
        self.pods = self.ctx.factory.informer(PODS)
        self.endpoints = self.ctx.factory.informer(ENDPOINTS)
        for inf in (self.services, self.pods):
            add_namespace_index(inf)
        self.apiserver_address = str(self.ctx.options.get("apiserver_address") or DEFAULT_APISERVER_ADDRESS)
        self.services.add_handler(**self.enqueue_handlers())
        self.pods.add_handler(on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed)
        # Someone deleting or editing our Endpoints: put them back.
        self.endpoints.add_handler(on_update=lambda old, new: self._endpoints_changed(new),
                                   on_delete=self._endpoints_changed)

    def _pod_changed(self, pod: Obj) -> None:
        ns = (pod.get("metadata") or {}).get("namespace", "")
        for key in services_for_pod(self.services.list(ns), pod):
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get("resourceVersion"):
            return  # a resync: services are resynced themselves
        keys = set(services_for_pod(self.services.list((new.get("metadata") or {}).get("namespace", "")), new))
        if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
            keys |= set(services_for_pod(self.services.list((old.get("metadata") or {}).get("namespace", "")), old))
        for key in keys:
            self.queue.add(key)

    def _endpoints_changed(self, ep: Obj) -> None:
        key = object_key(ep)
        if self.services.get(key) is not None:
            self.queue.add(key)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        svc = self.services.get(key)
        if svc is None:
            if key == KUBERNETES_SERVICE:
                return
            # The Service is gone: its Endpoints go too.
            if self.endpoints.get(key) is not None:
                try:
                    await self.client.delete(ENDPOINTS, name, namespace=ns)
                except Exception as e:  # noqa: BLE001 - NotFound is success
                    if not is_not_found(e):
                        raise
            return
        if key == KUBERNETES_SERVICE:
            try:
                await self._write(svc, kubernetes_subsets(svc, self.apiserver_address), {SKIP_MIRROR_LABEL: "true"})
            except Exception as e:  # noqa: BLE001
                if getattr(e, "code", None) != 422:
                    raise
                # Endpoints validation refuses loopback addresses: retrying cannot help, the
                # address must be configured (options["apiserver_address"]).
                log.warning("endpoints %s: the API server address %s was rejected: %s",
                            key, self.apiserver_address, e)
            return
        selector = service_selector(svc)
        if selector is None:
            return  # endpoints of selector-less Services are written by their owners
        pods = [p for p in self.pods.list(ns) if selects(selector, (p.get("metadata") or {}).get("labels"))]
        await self._write(svc, compute_subsets(svc, pods), desired_labels(svc))

    async def _write(self, svc: Obj, subsets: list[Obj], labels: dict[str, str]) -> None:
        key = object_key(svc)
        ns, name = split_key(key)
        current = self.endpoints.get(key)
        if current is None:
            metadata: Obj = {"name": name, "namespace": ns}
            if labels:
                metadata["labels"] = labels
            ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata, "subsets": subsets}
            try:
                await self.client.create(ENDPOINTS, ep, namespace=ns)
            except Exception as e:  # noqa: BLE001
                if is_already_exists(e):
                    raise RuntimeError(f"endpoints {key} exist but are not in the cache yet") from e
                if getattr(e, "code", None) in (403, 404):  # namespace terminating or gone
                    log.debug("endpoints %s: %s", key, e)
                    return
                self._report_write_failure(svc, e)
                raise
            return
        if subsets_equal(current.get("subsets"), subsets) and \
                ((current.get("metadata") or {}).get("labels") or {}) == labels:
            return
        new = copy_object(current)
        new["subsets"] = subsets
        new["metadata"]["labels"] = labels
        try:
            await self.client.update(ENDPOINTS, new, namespace=ns)
        except Exception as e:  # noqa: BLE001
            self._report_write_failure(svc, e)
            raise

    def _report_write_failure(self, svc: Obj, err: BaseException) -> None:
        if getattr(err, "code", None) == 422:
            self.recorder.event(svc, "Warning", "FailedToUpdateEndpoint",
                                f"Failed to update endpoint {object_key(svc)}: {err}")
