"""The kubelet's Summary API (``/stats/summary``, ``stats/v1alpha1``): node, pod and container
CPU, memory and filesystem usage, the document metrics-server and ``kubectl top`` read.

The runtime measures containers (``container_stats``, ``pod_sandbox_stats``: cumulative CPU
nanoseconds, memory bytes, writable-layer and log bytes); the node's figures come from /proc and
statvfs. CPU *rates* (``usageNanoCores``) are the consumer's business in CRI, so this module
keeps the previous cumulative reading per container and derives the rate between two requests
(or over a short first interval), as cAdvisor does between housekeeping samples.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

from kubelite.api.helpers.times import format_unix_time
from kubelite.kubelet.runtime.interface import ContainerState, ContainerStats, RuntimeService

USER_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
FIRST_SAMPLE_GAP = 0.1        # seconds between two readings when a rate has no earlier sample
MAX_SAMPLE_AGE = 120.0        # an older sample is too stale to rate against


class RateTracker:
    """Nanocores from successive cumulative CPU readings, keyed by container id."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}
        self._rate: dict[str, int] = {}

    def has_recent(self, key: str, now: float) -> bool:
        last = self._last.get(key)
        return last is not None and now - last[0] < MAX_SAMPLE_AGE

    def observe(self, key: str, t: float, cumulative_ns: int) -> int | None:
        last = self._last.get(key)
        if last is not None and t - last[0] >= 0.05 and cumulative_ns >= last[1]:
            self._rate[key] = int((cumulative_ns - last[1]) / (t - last[0]))
            self._last[key] = (t, cumulative_ns)
        elif last is None or cumulative_ns < last[1]:
            self._last[key] = (t, cumulative_ns)
        return self._rate.get(key)

    def forget_except(self, keep: set[str]) -> None:
        for k in list(self._last):
            if k not in keep:
                self._last.pop(k, None)
                self._rate.pop(k, None)


# -- node readings (pure parsers + one blocking reader) ---------------------------------------

def parse_proc_stat(text: str) -> int:
    """Cumulative busy CPU time of the machine in nanoseconds (all but idle and iowait)."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            busy = sum(v[:8]) - v[3] - (v[4] if len(v) > 4 else 0)
            return busy * 1_000_000_000 // USER_HZ
    return 0


def parse_meminfo(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            out[key] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return out


def node_memory(info: dict[str, int], t: float) -> dict[str, Any]:
    """The kubelet's node memory: usage = total - free, working set = usage - inactive file."""
    total = info.get("MemTotal", 0)
    usage = total - info.get("MemFree", 0)
    working = max(0, usage - info.get("Inactive(file)", 0))
    return {"time": format_unix_time(t), "availableBytes": max(0, total - working), "usageBytes": usage,
            "workingSetBytes": working, "rssBytes": info.get("AnonPages", 0), "pageFaults": 0, "majorPageFaults": 0}


def fs_stats(path: str, t: float, used: int | None = None) -> dict[str, Any]:
    st = os.statvfs(path)
    cap, avail = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    return {"time": format_unix_time(t), "availableBytes": avail, "capacityBytes": cap,
            "usedBytes": (cap - st.f_bfree * st.f_frsize) if used is None else used,
            "inodesFree": st.f_ffree, "inodes": st.f_files, "inodesUsed": st.f_files - st.f_ffree}


def dir_usage(path: str) -> tuple[int, int]:
    """(bytes, inodes) under ``path`` (du: allocated blocks, not apparent sizes)."""
    total, inodes = 0, 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_blocks * 512
            inodes += 1
    return total, inodes


def _node_readings(root: str) -> dict[str, Any]:
    with open("/proc/stat") as f:
        cpu = parse_proc_stat(f.read())
    with open("/proc/meminfo") as f:
        mem = parse_meminfo(f.read())
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            maxpid = int(f.read())
    except OSError:
        maxpid = 0
    procs = sum(1 for d in os.listdir("/proc") if d.isdigit())
    with open("/proc/uptime") as f:
        boot = time.time() - float(f.read().split()[0])
    return {"cpu": cpu, "mem": mem, "maxpid": maxpid, "procs": procs, "boot": boot, "root": root}


# -- the document ---------------------------------------------------------------------------

def cpu_block(t: float, cumulative: int, rate: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"time": format_unix_time(t), "usageCoreNanoSeconds": cumulative}
    if rate is not None:
        out["usageNanoCores"] = rate
    return out


def memory_block(t: float, s: ContainerStats, limit: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"time": format_unix_time(t), "usageBytes": s.memory_usage_bytes,
                           "workingSetBytes": s.memory_working_set_bytes, "rssBytes": s.memory_rss_bytes,
                           "pageFaults": 0, "majorPageFaults": 0}
    if limit:
        out["availableBytes"] = max(0, limit - s.memory_working_set_bytes)
    return out


@dataclass
class PodInfo:
    namespace: str
    name: str
    uid: str
    sandbox_id: str
    volumes: dict[str, str]        # volume name -> host directory (emptyDir & co.)


class SummaryProvider:
    def __init__(self, runtime: RuntimeService, node_name: str, root_dir: str) -> None:
        self.runtime = runtime
        self.node_name = node_name
        self.root_dir = root_dir
        self.rates = RateTracker()
        self._no_pod_stats: set[str] = set()   # sandboxes the runtime keeps no pod totals for

    async def _pod_stats(self, sandbox_id: str) -> ContainerStats | None:
        if sandbox_id in self._no_pod_stats:
            return None
        try:
            ps = await self.runtime.pod_sandbox_stats(sandbox_id)
        except Exception:  # noqa: BLE001 - no pod-level accounting in this runtime
            ps = None
        if ps is None or not (ps.cpu_usage_core_nanoseconds or ps.memory_working_set_bytes):
            self._no_pod_stats.add(sandbox_id)
            return None
        return ps

    async def _container_readings(self, ids: list[str]) -> dict[str, ContainerStats]:
        out: dict[str, ContainerStats] = {}
        for cid in ids:
            try:
                out[cid] = await self.runtime.container_stats(cid)
            except Exception:  # noqa: BLE001 - a container that just went away has no stats
                continue
        return out

    async def summary(self, pods: list[PodInfo]) -> dict[str, Any]:
        sandboxes = {p.sandbox_id: p for p in pods if p.sandbox_id}
        containers = [c for c in await self.runtime.list_containers() if c.sandbox_id in sandboxes
                      and c.state == ContainerState.RUNNING]
        ids = [c.id for c in containers]
        node = await asyncio.to_thread(_node_readings, self.root_dir)
        now = time.time()
        readings = await self._container_readings(ids)
        pod_keys = ["pod:" + sid for sid in sandboxes if sid not in self._no_pod_stats]
        if any(not self.rates.has_recent(k, now) for k in ["node", *readings, *pod_keys]):
            # no earlier sample to rate against: take one now and another shortly after
            self.rates.observe("node", now, node["cpu"])
            for cid, s in readings.items():
                self.rates.observe(cid, s.timestamp or now, s.cpu_usage_core_nanoseconds)
            for sid in sandboxes:
                ps = await self._pod_stats(sid)
                if ps is not None:
                    self.rates.observe("pod:" + sid, ps.timestamp or now, ps.cpu_usage_core_nanoseconds)
            await asyncio.sleep(FIRST_SAMPLE_GAP)
            node = await asyncio.to_thread(_node_readings, self.root_dir)
            now = time.time()
            readings = await self._container_readings(ids)
        node_rate = self.rates.observe("node", now, node["cpu"])
        self.rates.forget_except({"node", *readings, *("pod:" + sid for sid in sandboxes)})
        fs = await asyncio.to_thread(fs_stats, self.root_dir, now)
        doc_node = {
            "nodeName": self.node_name, "startTime": format_unix_time(node["boot"]),
            "cpu": cpu_block(now, node["cpu"], node_rate),
            "memory": node_memory(node["mem"], now),
            "fs": fs,
            # the process runtime runs host binaries: no image store, the node's filesystem
            "runtime": {"imageFs": {**fs, "usedBytes": 0}, "containerFs": fs},
            "rlimit": {"time": format_unix_time(now), "maxpid": node["maxpid"], "curproc": node["procs"]},
        }
        by_pod: dict[str, list[Any]] = {}
        for c in containers:
            by_pod.setdefault(c.sandbox_id, []).append(c)
        out_pods = []
        for sid, p in sandboxes.items():
            out_pods.append(await self._pod(p, by_pod.get(sid, []), readings, now, fs))
        return {"node": doc_node, "pods": out_pods}

    async def _pod(self, p: PodInfo, containers: list[Any], readings: dict[str, ContainerStats],
                   now: float, node_fs: dict[str, Any]) -> dict[str, Any]:
        items = []
        cpu_total, working, usage, rss, ephemeral = 0, 0, 0, 0, 0
        rate_total: int | None = None
        start = min((c.started_at for c in containers if c.started_at), default=now)
        for c in sorted(containers, key=lambda c: c.name):
            s = readings.get(c.id)
            if s is None:
                continue
            rate = self.rates.observe(c.id, s.timestamp or now, s.cpu_usage_core_nanoseconds)
            cpu_total += s.cpu_usage_core_nanoseconds
            if rate is not None:
                rate_total = (rate_total or 0) + rate
            working += s.memory_working_set_bytes
            usage += s.memory_usage_bytes
            rss += s.memory_rss_bytes
            ephemeral += s.rootfs_used_bytes + s.logs_used_bytes
            items.append({
                "name": c.name, "startTime": format_unix_time(c.started_at or c.created_at),
                "cpu": cpu_block(now, s.cpu_usage_core_nanoseconds, rate),
                "memory": memory_block(now, s),
                "rootfs": {**node_fs, "usedBytes": s.rootfs_used_bytes},
                "logs": {**node_fs, "usedBytes": s.logs_used_bytes},
            })
        volumes = []
        for name, path in sorted(p.volumes.items()):
            try:
                used, inodes = await asyncio.to_thread(dir_usage, path)
                vfs = await asyncio.to_thread(fs_stats, path, now, used)
            except OSError:
                continue
            vfs["inodesUsed"] = inodes
            ephemeral += used
            volumes.append({**vfs, "name": name})
        pod_cpu = cpu_block(now, cpu_total, rate_total)
        pod_mem: dict[str, Any] = {"time": format_unix_time(now), "usageBytes": usage, "workingSetBytes": working,
                                   "rssBytes": rss, "pageFaults": 0, "majorPageFaults": 0}
        # the pod's own cgroup where the runtime has one (it also counts exec'd processes), as
        # the kubelet reads it; else the sum of its containers
        ps = await self._pod_stats(p.sandbox_id)
        if ps is not None:
            key = "pod:" + p.sandbox_id
            pod_cpu = cpu_block(now, ps.cpu_usage_core_nanoseconds,
                                self.rates.observe(key, ps.timestamp or now, ps.cpu_usage_core_nanoseconds))
            pod_mem = memory_block(now, ps)
        pod: dict[str, Any] = {
            "podRef": {"name": p.name, "namespace": p.namespace, "uid": p.uid},
            "startTime": format_unix_time(start),
            "containers": items,
            "cpu": pod_cpu,
            "memory": pod_mem,
            "ephemeral-storage": {**node_fs, "usedBytes": ephemeral},
        }
        if volumes:
            pod["volume"] = volumes
        return pod
