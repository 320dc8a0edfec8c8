"""The Summary API document: shape, CPU rates from successive cumulative readings, pod totals
from the runtime's pod accounting, volume usage from the pod's directories."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from kubelite.kubelet.runtime.interface import ContainerState, ContainerStats, ContainerStatus
from kubelite.kubelet.server import stats


class StubRuntime:
    def __init__(self) -> None:
        self.cpu = 0
        self.t0 = time.time()

    async def list_containers(self, sandbox_id=None):  # noqa: ANN001, ANN201
        return [ContainerStatus("c1", "sb1", "app", 0, "img", ContainerState.RUNNING, created_at=self.t0,
                                started_at=self.t0),
                ContainerStatus("c0", "sb1", "old", 0, "img", ContainerState.EXITED, created_at=self.t0)]

    async def container_stats(self, cid: str) -> ContainerStats:
        self.cpu += 50_000_000          # 50 ms of CPU per reading
        return ContainerStats(cid, time.time(), cpu_usage_core_nanoseconds=self.cpu, memory_usage_bytes=2000,
                              memory_working_set_bytes=1500, memory_rss_bytes=1000, rootfs_used_bytes=10,
                              logs_used_bytes=20)

    async def pod_sandbox_stats(self, sid: str) -> ContainerStats:
        return ContainerStats(sid, time.time(), cpu_usage_core_nanoseconds=self.cpu + 1, memory_working_set_bytes=4096,
                              memory_usage_bytes=5000, memory_rss_bytes=3000)


def test_summary(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_bytes(b"x" * 10_000)

    async def go():  # noqa: ANN202
        p = stats.SummaryProvider(StubRuntime(), "n1", str(tmp_path))
        pods = [stats.PodInfo("d", "web", "u1", "sb1", {"data": str(vol)})]
        return await p.summary(pods), await p.summary(pods)

    first, second = asyncio.run(go())
    for doc in (first, second):
        node = doc["node"]
        assert node["nodeName"] == "n1" and node["cpu"]["usageCoreNanoSeconds"] > 0
        assert node["memory"]["workingSetBytes"] > 0 and node["fs"]["capacityBytes"] > 0
        assert node["runtime"]["imageFs"]["usedBytes"] == 0
        [pod] = doc["pods"]
        assert pod["podRef"] == {"name": "web", "namespace": "d", "uid": "u1"}
        [c] = pod["containers"]                                   # exited containers are not measured
        assert c["name"] == "app" and c["memory"]["workingSetBytes"] == 1500 and c["logs"]["usedBytes"] == 20
        assert c["cpu"]["usageNanoCores"] > 0                     # a rate even on the first request
        assert pod["memory"]["workingSetBytes"] == 4096            # the pod cgroup, not the sum
        [v] = pod["volume"]
        assert v["name"] == "data" and v["usedBytes"] >= 10_000 and v["inodesUsed"] == 1
        assert pod["ephemeral-storage"]["usedBytes"] >= 10_030


def test_parsers() -> None:
    text = "cpu  100 0 50 1000 20 0 0 0 0 0\ncpu0 1 2 3 4\n"
    assert stats.parse_proc_stat(text) == 150 * 1_000_000_000 // stats.USER_HZ
    info = stats.parse_meminfo("MemTotal: 1000 kB\nMemFree: 200 kB\nInactive(file): 100 kB\nHugePages_Total: 0\n")
    assert info["MemTotal"] == 1_024_000 and info["HugePages_Total"] == 0
    mem = stats.node_memory(info, 0)
    assert mem["usageBytes"] == 800 * 1024 and mem["workingSetBytes"] == 700 * 1024


def test_rate_tracker() -> None:
    r = stats.RateTracker()
    assert r.observe("a", 10.0, 1_000) is None
    assert r.observe("a", 12.0, 2_000_001_000) == 1_000_000_000    # one core
    assert r.observe("a", 12.01, 3_000_000_000) == 1_000_000_000   # too close: the last rate
    assert r.observe("a", 13.0, 5) == 1_000_000_000                 # a restart resets the baseline
