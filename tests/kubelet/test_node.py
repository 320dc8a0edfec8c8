"""Node capacity, conditions and the registered object (pure), from synthetic readings."""
from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.kubelet.config import AgentConfig
from kubelite.kubelet.node import MachineFacts, Readings, build_node, capacity, conditions, read_readings

FACTS = MachineFacts(cpus=4, kernel="6.1.0", os_image="Debian GNU/Linux 12 (bookworm)", machine_id="a" * 32,
                     system_uuid="u", boot_id="b", arch="amd64")
GI = 1024 ** 3


def readings(mem_avail: int = 4 * GI, fs_avail: int = 50 * GI, pids: int = 300) -> Readings:
    return Readings(mem_total=8 * GI, mem_available=mem_avail, fs_total=100 * GI, fs_available=fs_avail,
                    pid_max=4194304, pids_used=pids)


def test_capacity_and_allocatable() -> None:
    cap, alloc = capacity(FACTS, readings(), 110)
    assert cap == {"cpu": "4", "memory": "8388608Ki", "pods": "110", "ephemeral-storage": "104857600Ki",
                   "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    assert alloc["memory"] == "8286208Ki"                       # minus memory.available<100Mi
    assert alloc["ephemeral-storage"] == str(int(100 * GI * 0.9))  # minus nodefs.available<10%


@pytest.mark.parametrize("r,pressure", [
    (readings(), set()),
    (readings(mem_avail=50 * 1024 * 1024), {"MemoryPressure"}),
    (readings(fs_avail=5 * GI), {"DiskPressure"}),
    (readings(pids=4194304 - 1000), {"PIDPressure"}),
])
def test_conditions_from_readings(r: Readings, pressure: set[str]) -> None:
    conds = {c["type"]: c for c in conditions(r, True, "NOW")}
    assert {t for t, c in conds.items() if t != "Ready" and c["status"] == "True"} == pressure
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
    if "MemoryPressure" in pressure:
        assert conds["MemoryPressure"]["reason"] == "KubeletHasInsufficientMemory"
    assert all(c["lastHeartbeatTime"] == "NOW" for c in conds.values())


def test_transition_time_kept() -> None:
    first = {c["type"]: c for c in conditions(readings(), True, "T1")}
    again = conditions(readings(), True, "T2", first)
    assert all(c["lastTransitionTime"] == "T1" and c["lastHeartbeatTime"] == "T2" for c in again)
    flipped = {c["type"]: c for c in conditions(readings(mem_avail=1), True, "T3", first)}
    assert flipped["MemoryPressure"]["lastTransitionTime"] == "T3"


def test_build_node(tmp_path: Path) -> None:
    cfg = AgentConfig(node_name="n1", root_dir=tmp_path, node_ip="10.0.0.5", kubelet_port=10255,
                      node_labels={"role": "edge"}, node_taints=[{"key": "k", "effect": "NoSchedule"}])
    node = build_node(cfg, FACTS, readings(), runtime_version="process://0.1.0", kubelet_version="v1.36.0+kubelite",
                      now="NOW")
    assert node["metadata"]["labels"] == {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                                          "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "n1",
                                          "kubernetes.io/os": "linux", "role": "edge"}
    assert node["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]
    st = node["status"]
    assert st["addresses"] == [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "n1"}]
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10255}}
    assert st["nodeInfo"]["containerRuntimeVersion"] == "process://0.1.0"
    assert st["nodeInfo"]["kubeletVersion"] == "v1.36.0+kubelite"
    assert st["nodeInfo"]["osImage"].startswith("Debian")


def test_real_readings(tmp_path: Path) -> None:
    r = read_readings(tmp_path)
    assert r.mem_total > r.mem_available > 0 and r.fs_total >= r.fs_available > 0 and r.pid_max > r.pids_used > 0


async def test_a_foreign_condition_without_reason_gets_no_event(tmp_path: Path) -> None:
    """Someone patched the node's status with a condition of their own and no reason: the
    kubelet's next report keeps it and emits its events for its own conditions only."""
    from kubelite.kubelet.node import NodeAgent

    class Client:
        async def patch(self, resource: object, name: str, body: dict, **kw: object) -> dict:
            conds = [*body["status"]["conditions"], {"type": "example.com/Foo", "status": "True"}]
            return {"metadata": {"name": name, "uid": "u1"}, "status": {**body["status"], "conditions": conds}}

    class Recorder:
        def __init__(self) -> None:
            self.events: list[tuple[str, str]] = []

        def event(self, obj: dict, type_: str, reason: str, message: str) -> None:
            self.events.append((reason, message))

    cfg = AgentConfig(node_name="n1", root_dir=tmp_path, node_ip="10.0.0.5", kubelet_port=10255)
    rec = Recorder()
    agent = NodeAgent(Client(), cfg, runtime_version="fake://1", recorder=rec)
    assert await agent.report_status(force=True)
    reasons = {r for r, _ in rec.events}
    assert {"NodeReady", "NodeHasSufficientMemory"} <= reasons
    assert all(r.startswith("Node") and r != "Node" for r in reasons)
