"""The node half of the agent: registers this machine's Node, renews its Lease, reports status.

``NodeAgent.register()`` creates the Node (or, when it exists -- a restarted agent -- refreshes
its labels, annotations and status; taints only at creation, like ``--register-with-taints``)
with what this machine really has (``machine_facts``: CPUs, MemTotal from /proc/meminfo,
ephemeral storage from statvfs of the agent's root dir, /etc/os-release, /etc/machine-id,
boot id) and creates its Lease in ``kube-node-lease``. ``run()`` then renews the Lease every
``lease_interval`` (10 s) and computes the conditions every ``status_interval`` from real
readings against the kubelet's default hard eviction thresholds (memory.available < 100Mi,
nodefs.available < 10%, pid.available < 10% of pid_max); the status is patched when a
condition changed or a minute passed since the last report (kubelet's nodeStatusReportFrequency
behaviour), with ``lastHeartbeatTime`` = now.

Pure parts (``machine_facts`` readers aside) are ``capacity``, ``conditions`` and
``build_node``; the loops are the only I/O besides reading /proc.
"""
from __future__ import annotations

import asyncio
import logging
import os
import platform
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import kubelite
from kubelite.api.helpers.conditions import transition_time
from kubelite.api.helpers.times import now_micro_time, now_time
from kubelite.client import LEASES, NAMESPACES, NODES, ApiError, Client, is_already_exists, is_conflict, is_not_found
from kubelite.kubelet.config import AgentConfig

log = logging.getLogger("kubelite.kubelet.node")

NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
STATUS_REPORT_EVERY = 60.0
MEMORY_THRESHOLD = 100 * 1024 * 1024          # memory.available<100Mi
NODEFS_THRESHOLD = 0.10                       # nodefs.available<10%
PID_THRESHOLD = 0.10


@dataclass(frozen=True)
class Readings:
    mem_total: int          # bytes
    mem_available: int
    fs_total: int
    fs_available: int
    pid_max: int
    pids_used: int


@dataclass(frozen=True)
class MachineFacts:
    cpus: int
    kernel: str
    os_image: str
    machine_id: str
    system_uuid: str
    boot_id: str
    arch: str


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in _read("/proc/meminfo").splitlines():
        k, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[k] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def read_readings(root_dir: Path) -> Readings:
    """Blocking (reads /proc, statvfs): call in a thread."""
    mi = meminfo()
    st = os.statvfs(root_dir if root_dir.exists() else "/")
    pid_max = int(_read("/proc/sys/kernel/pid_max", "32768") or 32768)
    try:
        procs = int(_read("/proc/loadavg").split()[3].split("/")[1])
    except (IndexError, ValueError):
        procs = 0
    return Readings(mi.get("MemTotal", 0), mi.get("MemAvailable", mi.get("MemFree", 0)),
                    st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize, pid_max, procs)


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def machine_facts() -> MachineFacts:
    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")
    system_uuid = _read("/sys/class/dmi/id/product_uuid").lower()
    if not system_uuid and len(machine_id) == 32:
        system_uuid = str(uuid.UUID(machine_id))
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(platform.machine(), platform.machine())
    return MachineFacts(os.cpu_count() or 1, platform.release(), os_image(), machine_id, system_uuid,
                        _read("/proc/sys/kernel/random/boot_id"), arch)


def capacity(facts: MachineFacts, r: Readings, max_pods: int) -> tuple[dict[str, str], dict[str, str]]:
    """(capacity, allocatable): allocatable is capacity minus the hard eviction thresholds, as
    the kubelet computes it without reservations. Example: 4 CPUs, 8 GiB -> memory capacity
    8388608Ki, allocatable 8286208Ki."""
    mem_ki = r.mem_total // 1024
    cap = {"cpu": str(facts.cpus), "memory": f"{mem_ki}Ki", "pods": str(max_pods),
           "ephemeral-storage": f"{r.fs_total // 1024}Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    alloc = dict(cap)
    alloc["memory"] = f"{max(0, mem_ki - MEMORY_THRESHOLD // 1024)}Ki"
    alloc["ephemeral-storage"] = str(int(r.fs_total * (1 - NODEFS_THRESHOLD)))
    return cap, alloc


CONDITION_TEXT = {
    # type -> ((status, reason, message) when fine, (…) under pressure)
    "MemoryPressure": (("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                       ("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
    "DiskPressure": (("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                     ("True", "KubeletHasDiskPressure", "kubelet has disk pressure")),
    "PIDPressure": (("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    ("True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
    "Ready": (("True", "KubeletReady", "kubelet is posting ready status"),
              ("False", "KubeletNotReady", "container runtime is down")),
}


def pressures(r: Readings) -> dict[str, bool]:
    return {
        "MemoryPressure": r.mem_available < MEMORY_THRESHOLD,
        "DiskPressure": r.fs_total > 0 and r.fs_available < r.fs_total * NODEFS_THRESHOLD,
        "PIDPressure": r.pid_max > 0 and (r.pid_max - r.pids_used) < r.pid_max * PID_THRESHOLD,
    }


def conditions(r: Readings, runtime_ok: bool, now: str,
               previous: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The four kubelet conditions; lastTransitionTime kept from ``previous`` when the status
    did not change."""
    prev = previous or {}
    bad = pressures(r)
    bad["Ready"] = not runtime_ok
    out = []
    for ctype, (fine, pressure) in CONDITION_TEXT.items():
        status, reason, message = pressure if bad[ctype] else fine
        out.append({"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": transition_time(prev.get(ctype), status, now)})
    return out


def _summary(conds: Any) -> dict[str, tuple[str, str]]:
    return {c["type"]: (str(c.get("status") or ""), str(c.get("reason") or "")) for c in conds or ()
            if isinstance(c, dict) and isinstance(c.get("type"), str)}




def build_node(cfg: AgentConfig, facts: MachineFacts, r: Readings, *, runtime_version: str, kubelet_version: str,
               now: str) -> dict[str, Any]:
    cap, alloc = capacity(facts, r, cfg.max_pods)
    labels = {"beta.kubernetes.io/arch": facts.arch, "beta.kubernetes.io/os": "linux",
              "kubernetes.io/arch": facts.arch, "kubernetes.io/hostname": cfg.node_name,
              "kubernetes.io/os": "linux", **cfg.node_labels}
    spec: dict[str, Any] = {}
    if cfg.node_taints:
        spec["taints"] = [dict(t) for t in cfg.node_taints]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": cfg.node_name, "labels": labels,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "capacity": cap, "allocatable": alloc,
            "conditions": conditions(r, True, now),
            "addresses": [{"type": "InternalIP", "address": cfg.node_ip}, {"type": "Hostname", "address": cfg.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.kubelet_port}},
            "nodeInfo": {"machineID": facts.machine_id, "systemUUID": facts.system_uuid, "bootID": facts.boot_id,
                         "kernelVersion": facts.kernel, "osImage": facts.os_image,
                         "containerRuntimeVersion": runtime_version, "kubeletVersion": kubelet_version,
                         "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": facts.arch},
        },
    }


class NodeAgent:
    def __init__(self, client: Client, cfg: AgentConfig, *, runtime_version: str, runtime: Any = None,
                 recorder: Any = None) -> None:
        self.client = client
        self.recorder = recorder        # node events (Starting, NodeReady, NodeHasDiskPressure...)
        self.cfg = cfg
        self.runtime_version = runtime_version
        self.runtime = runtime          # asked for its sandboxes each report: Ready=False when it fails
        self.facts = machine_facts()
        self.kubelet_version = kubelite.KUBERNETES_VERSION  # the API level the server reports
        self.uid: str | None = None
        self._lease_rv: str | None = None
        self._conditions: dict[str, Any] = {}
        self._last_report = 0.0
        self._last_summary: dict[str, tuple[str, str]] = {}
        self.lease_renewals = 0
        self.status_reports = 0

    async def _readings(self) -> Readings:
        return await asyncio.to_thread(read_readings, self.cfg.root_dir)

    async def register(self) -> None:
        try:
            version = await self.client.request("GET", "/version")
            self.kubelet_version = str(version.get("gitVersion") or self.kubelet_version)
        except ApiError:
            pass
        r = await self._readings()
        obj = build_node(self.cfg, self.facts, r, runtime_version=self.runtime_version,
                         kubelet_version=self.kubelet_version, now=now_time())
        try:
            created = await self.client.create(NODES, obj)
            self._remember(created)
        except ApiError as e:
            if not is_already_exists(e):
                raise
            meta = obj["metadata"]
            await self.client.patch(NODES, self.cfg.node_name, {"metadata": {"labels": meta["labels"],
                                                                          "annotations": meta["annotations"]}})
            current = await self.client.get(NODES, self.cfg.node_name)
            prev = {c.get("type"): c for c in (current.get("status") or {}).get("conditions") or ()}
            obj["status"]["conditions"] = conditions(r, True, now_time(), prev)
            updated = await self.client.patch(NODES, self.cfg.node_name, {"status": obj["status"]}, subresource="status")
            self._remember(updated)
        self._last_report = asyncio.get_running_loop().time()
        self._event("Starting", "Starting kubelet.")
        for ctype, (status, reason) in self._last_summary.items():
            self._condition_event(ctype, status, reason)
        await self.renew_lease()
        log.info("node %s registered (%s CPUs, %s memory)", self.cfg.node_name, obj["status"]["capacity"]["cpu"],
                 obj["status"]["capacity"]["memory"])

    def _event(self, reason: str, message: str, type_: str = "Normal") -> None:
        if self.recorder is not None:
            # kubelet's node reference: the node's name doubles as its uid
            self.recorder.event({"apiVersion": "v1", "kind": "Node",
                                 "metadata": {"name": self.cfg.node_name, "uid": self.cfg.node_name}},
                                type_, reason, message)

    def _condition_event(self, ctype: str, status: str, reason: str) -> None:
        """The kubelet's NodeHasSufficientMemory / NodeHasDiskPressure / NodeReady ... events."""
        if ctype == "Ready":
            name = "NodeReady" if status == "True" else "NodeNotReady"
        elif not reason:  # a condition someone else wrote without a reason: no kubelet event for it
            return
        else:
            name = "Node" + reason.removeprefix("Kubelet")
        self._event(name, f"Node {self.cfg.node_name} status is now: {name}")

    def _remember(self, node: Mapping[str, Any]) -> None:
        self.uid = (node.get("metadata") or {}).get("uid")
        conds = (node.get("status") or {}).get("conditions") or ()
        self._conditions = {c["type"]: c for c in conds if isinstance(c, dict) and isinstance(c.get("type"), str)}
        self._last_summary = _summary(conds)

    def _lease(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.cfg.node_name, "namespace": NODE_LEASE_NAMESPACE}
        if self.uid:
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.cfg.node_name,
                                        "uid": self.uid}]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": self.cfg.node_name, "leaseDurationSeconds": LEASE_DURATION,
                         "renewTime": now_micro_time()}}

    async def renew_lease(self) -> None:
        lease = self._lease()
        if self._lease_rv is None:
            try:
                created = await self.client.create(LEASES, lease)
                self._lease_rv = created["metadata"].get("resourceVersion")
                self.lease_renewals += 1
                return
            except ApiError as e:
                if is_not_found(e):  # no kube-node-lease namespace yet
                    try:
                        await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": NODE_LEASE_NAMESPACE}})
                    except ApiError as e2:
                        if not is_already_exists(e2):
                            raise
                    return await self.renew_lease()
                if not is_already_exists(e):
                    raise
            current = await self.client.get(LEASES, self.cfg.node_name, namespace=NODE_LEASE_NAMESPACE)
            self._lease_rv = current["metadata"].get("resourceVersion")
        lease["metadata"]["resourceVersion"] = self._lease_rv
        try:
            renewed = await self.client.update(LEASES, lease)
        except ApiError as e:
            if is_not_found(e) or is_conflict(e):
                self._lease_rv = None
                return await self.renew_lease()
            raise
        self._lease_rv = renewed["metadata"].get("resourceVersion")
        self.lease_renewals += 1

    async def _runtime_ok(self) -> bool:
        if self.runtime is None:
            return True
        try:
            await asyncio.wait_for(self.runtime.list_pod_sandboxes(), 10)
        except Exception as e:  # noqa: BLE001 - any failure means the runtime is down
            log.warning("node %s: container runtime check failed: %s", self.cfg.node_name, e)
            return False
        return True

    async def report_status(self, *, force: bool = False) -> bool:
        """Patch the conditions if one changed or a report is due; True if written."""
        r = await self._readings()
        conds = conditions(r, await self._runtime_ok(), now_time(), self._conditions)
        now = asyncio.get_running_loop().time()
        changed = _summary(conds) != self._last_summary
        if not (force or changed or now - self._last_report >= STATUS_REPORT_EVERY):
            return False
        cap, alloc = capacity(self.facts, r, self.cfg.max_pods)
        try:
            updated = await self.client.patch(NODES, self.cfg.node_name,
                                              {"status": {"conditions": conds, "capacity": cap, "allocatable": alloc}},
                                              subresource="status")
        except ApiError as e:
            if is_not_found(e):  # deleted: register again, as a kubelet does on restart
                self._lease_rv = None
                await self.register()
                return True
            raise
        old = self._last_summary
        self._remember(updated)
        for ctype, (status, reason) in self._last_summary.items():
            if old.get(ctype) != (status, reason):
                self._condition_event(ctype, status, reason)
        self._last_report = now
        self.status_reports += 1
        return True

    async def run(self) -> None:
        """The lease and status loops, until cancelled; failures retry at the next tick."""
        async def loop(interval: float, fn: Any, what: str) -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await fn()
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - keep beating
                    log.warning("node %s: %s failed: %s", self.cfg.node_name, what, e)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(loop(self.cfg.lease_interval, self.renew_lease, "lease renewal"), name="kubelet-lease")
            tg.create_task(loop(self.cfg.status_interval, self.report_status, "status update"), name="kubelet-node-status")
