"""Admission that needs cluster state: Service ClusterIP and NodePort allocation, and the pod
defaults kube-apiserver's admission plugins add (service account, priority).

Runs inside the store's write path (after defaulting, before validation). Allocations are
derived from the Services that exist -- no separate allocator table to drift out of sync --
plus the ones handed out in the last few seconds that are not yet visible in a list.
"""
from __future__ import annotations

import asyncio
import ipaddress
import random
import string
import time
from typing import Any

from kubelite.api.registry import ResourceType
from kubelite.machinery import errors

_PENDING_SECONDS = 30.0


class ServiceAllocator:
    def __init__(self, store: Any, registry: Any, cidr: str, node_ports: tuple[int, int]) -> None:
        self.store = store
        self.registry = registry
        self.network = ipaddress.ip_network(cidr)
        self.node_ports = node_ports
        self._lock = asyncio.Lock()
        self._pending_ips: dict[str, float] = {}
        self._pending_ports: dict[int, float] = {}

    @property
    def kubernetes_ip(self) -> str:
        """The first address: the ``kubernetes`` Service in ``default`` (as in Kubernetes)."""
        return str(self.network.network_address + 1)

    @property
    def dns_ip(self) -> str:
        """The tenth address, where k3s puts cluster DNS."""
        return str(self.network.network_address + 10)

    async def load(self) -> None:
        """Nothing to preload: usage is read from the Services themselves."""

    async def _used(self, exclude: tuple[str, str] | None) -> tuple[set[str], set[int]]:
        rt = self.registry.lookup("", "v1", "services")
        page = await self.store.list(rt, None)
        ips: set[str] = set()
        ports: set[int] = set()
        for svc in page.items:
            meta = svc["metadata"]
            if exclude and (meta.get("namespace"), meta.get("name")) == exclude:
                continue
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None":
                    ips.add(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    ports.add(int(p["nodePort"]))
        now = time.monotonic()
        self._pending_ips = {k: v for k, v in self._pending_ips.items() if now - v < _PENDING_SECONDS}
        self._pending_ports = {k: v for k, v in self._pending_ports.items() if now - v < _PENDING_SECONDS}
        return ips | set(self._pending_ips), ports | set(self._pending_ports)

    async def __call__(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, *, dry_run: bool) -> None:
        if rt.kind != "Service" or rt.group != "":
            return
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        stype = spec.get("type", "ClusterIP")
        meta = obj.get("metadata", {})
        name = meta.get("name", "")
        async with self._lock:
            ips, ports = await self._used((meta.get("namespace"), name) if old is not None else None)
            if stype == "ExternalName":
                return
            ip = spec.get("clusterIP")
            if old is not None and not ip:
                ip = (old.get("spec") or {}).get("clusterIP")
                if ip:
                    spec["clusterIP"] = ip
            if not ip:
                ip = self._next_ip(ips)
                spec["clusterIP"] = ip
                if not dry_run:
                    self._pending_ips[ip] = time.monotonic()
            elif ip != "None" and (old is None or (old.get("spec") or {}).get("clusterIP") != ip):
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    raise errors.invalid_object("Service", "", name, [errors.invalid("spec.clusterIPs[0]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]) from None
                if addr not in self.network:
                    raise errors.invalid_object("Service", "", name, [errors.invalid(
                        "spec.clusterIPs", [ip], f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.network}")])
                if ip in ips:
                    raise errors.invalid_object("Service", "", name, [errors.invalid(
                        "spec.clusterIPs", [ip], f"failed to allocate IP {ip}: provided IP is already allocated")])
            spec["clusterIPs"] = [spec["clusterIP"]]
            if stype in ("NodePort", "LoadBalancer"):
                old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                             for p in ((old or {}).get("spec") or {}).get("ports") or []}
                for i, p in enumerate(spec.get("ports") or []):
                    if not isinstance(p, dict):
                        continue
                    np = p.get("nodePort") or old_ports.get((p.get("port"), p.get("protocol", "TCP")))
                    if np:
                        if np != old_ports.get((p.get("port"), p.get("protocol", "TCP"))) and np in ports:
                            raise errors.invalid_object("Service", "", name, [errors.invalid(
                                f"spec.ports[{i}].nodePort", np, "provided port is already allocated")])
                        p["nodePort"] = np
                    else:
                        p["nodePort"] = np = self._next_port(ports)
                        if not dry_run:
                            self._pending_ports[np] = time.monotonic()
                    ports.add(int(np))
            else:
                for p in spec.get("ports") or []:
                    if isinstance(p, dict):
                        p.pop("nodePort", None)

    def _next_ip(self, used: set[str]) -> str:
        # Skip the network address, the kubernetes service (.1) and DNS (.10) unless asked for.
        reserved = {self.kubernetes_ip, self.dns_ip}
        for host in self.network.hosts():
            s = str(host)
            if s not in used and s not in reserved:
                return s
        raise errors.StatusError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full")

    def _next_port(self, used: set[int]) -> int:
        lo, hi = self.node_ports
        for port in range(lo, hi + 1):
            if port not in used:
                return port
        raise errors.StatusError(500, "InternalError", "Internal error occurred: failed to allocate a nodePort: range is full")


SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


class PodAdmission:
    """Pod admission plugins that need cluster state, on create (as kube-apiserver's):

    - ServiceAccount: a pod without one runs as ``default`` (spec.serviceAccountName and its
      deprecated alias spec.serviceAccount).
    - Priority: spec.priority (and preemptionPolicy) resolved from spec.priorityClassName, or
      from the globalDefault PriorityClass, else 0; an unknown class is rejected (403, as kube).
    PriorityClasses are read through a cache refreshed at most once a second."""

    def __init__(self, store: Any, registry: Any) -> None:
        self.store = store
        self.registry = registry
        self._classes: tuple[float, dict[str, dict[str, Any]]] | None = None

    async def _priority_classes(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        if self._classes is None or now - self._classes[0] > 1.0:
            rt = self.registry.lookup("scheduling.k8s.io", "v1", "priorityclasses")
            items = (await self.store.list(rt, None)).items if rt is not None else []
            self._classes = (now, {pc["metadata"]["name"]: pc for pc in items})
        return self._classes[1]

    async def _mount_service_account_token(self, spec: dict[str, Any], ns: str | None) -> None:
        """The ServiceAccount admission plugin's token volume: unless the pod or its service
        account opts out (automountServiceAccountToken: false), a projected
        ``kube-api-access-xxxxx`` volume (bound token, kube-root-ca.crt, namespace) mounted
        read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container that
        does not mount something there already."""
        if spec.get("automountServiceAccountToken") is False:
            return
        volumes = spec["volumes"] if isinstance(spec.get("volumes"), list) else []
        if any(isinstance(v, dict) and str(v.get("name", "")).startswith("kube-api-access-") for v in volumes):
            return
        if spec.get("automountServiceAccountToken") is None:
            rt = self.registry.lookup("", "v1", "serviceaccounts")
            if rt is not None and ns:
                sa = await self.store.try_get(rt, ns, spec.get("serviceAccountName") or "default")
                if sa is not None and sa.get("automountServiceAccountToken") is False:
                    return
        name = "kube-api-access-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        mounted = False
        for field in ("initContainers", "containers"):
            for c in spec.get(field) or ():
                if not isinstance(c, dict):
                    continue
                mounts = c["volumeMounts"] if isinstance(c.get("volumeMounts"), list) else []
                if any(isinstance(m, dict) and m.get("mountPath") == SA_MOUNT_PATH for m in mounts):
                    continue
                c["volumeMounts"] = [*mounts, {"name": name, "readOnly": True, "mountPath": SA_MOUNT_PATH}]
                mounted = True
        if not mounted:
            return
        spec["volumes"] = [*volumes, {"name": name, "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]}}]

    async def __call__(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, *, dry_run: bool) -> None:
        if old is not None or rt.kind != "Pod" or rt.group != "":
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        if not spec.get("serviceAccountName") and not spec.get("serviceAccount"):
            spec["serviceAccountName"] = spec["serviceAccount"] = "default"
        meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        await self._mount_service_account_token(spec, meta.get("namespace"))
        classes = await self._priority_classes()
        name = spec.get("priorityClassName")
        if name:
            pc = classes.get(name)
            if pc is None:
                raise errors.StatusError(403, "Forbidden", f'pods "{obj.get("metadata", {}).get("name", "")}" is forbidden: '
                                                           f"no PriorityClass with name {name} was found")
        else:
            pc = next((c for c in classes.values() if c.get("globalDefault")), None)
            if pc is not None:
                spec["priorityClassName"] = pc["metadata"]["name"]
        if pc is None:
            spec.setdefault("priority", 0)
            return
        if spec.get("priority") not in (None, pc.get("value", 0)):
            raise errors.StatusError(403, "Forbidden", "the integer value of priority must not be provided in pod spec; "
                                                       "priority admission controller computed "
                                                       f"{pc.get('value', 0)} from the given PriorityClass name")
        spec["priority"] = pc.get("value", 0)
        spec.setdefault("preemptionPolicy", pc.get("preemptionPolicy", "PreemptLowerPriority"))
