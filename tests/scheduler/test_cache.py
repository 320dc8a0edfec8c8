"""Cache accounting, assumed pods, and incremental snapshots."""
from __future__ import annotations

import pytest

from kubelite.scheduler.cache import Cache, CacheError, Snapshot
from kubelite.scheduler.framework.types import PodInfo
from tests.scheduler.builders import make_node, make_pod


def _cache(*names: str) -> Cache:
    c = Cache()
    for n in names:
        c.add_node(make_node(n).obj())
    return c


def test_assume_confirm_forget():
    c = _cache("n1")
    pod = make_pod("p").req(cpu="1").info()
    c.assume_pod(pod.assumed("n1"))
    assert c.node("n1").req_cpu == 1000 and c.is_assumed("default/p")
    with pytest.raises(CacheError):
        c.assume_pod(pod.assumed("n1"))
    c.forget_pod(pod.assumed("n1"))
    assert c.node("n1").req_cpu == 0 and c.get_pod("default/p") is None
    # Assume, then the informer reports it bound: confirmed, counted once.
    c.assume_pod(pod.assumed("n1"))
    c.add_pod(PodInfo(make_pod("p").req(cpu="1").node("n1").obj()))
    assert not c.is_assumed("default/p") and c.node("n1").req_cpu == 1000 and len(c.node("n1").pods) == 1
    c.remove_pod("default/p")
    assert c.node("n1").req_cpu == 0


def test_bound_elsewhere_than_assumed_moves_accounting():
    c = _cache("n1", "n2")
    c.assume_pod(make_pod("p").req(cpu="1").info().assumed("n1"))
    c.add_pod(make_pod("p").req(cpu="1").node("n2").info())
    assert c.node("n1").req_cpu == 0 and c.node("n2").req_cpu == 1000


def test_pod_on_unknown_node_is_accounted_but_not_listed():
    c = _cache("n1")
    c.add_pod(make_pod("p").req(cpu="1").node("ghost").info())
    s = Snapshot()
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["n1"]
    c.add_node(make_node("ghost").obj())
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["n1", "ghost"] and s.get("ghost").req_cpu == 1000
    c.remove_pod("default/p")
    c.remove_node(make_node("ghost").obj())
    c.update_snapshot(s)
    assert [n.name for n in s.list()] == ["n1"] and c.node("ghost") is None


def test_snapshot_is_incremental_and_immutable():
    c = _cache(*(f"n{i}" for i in range(100)))
    s = Snapshot()
    c.update_snapshot(s)
    before = {n.name: n for n in s.list()}
    c.assume_pod(make_pod("p").req(cpu="1").info().assumed("n7"))
    c.update_snapshot(s)
    after = {n.name: n for n in s.list()}
    changed = [name for name in before if before[name] is not after[name]]
    assert changed == ["n7"]
    assert before["n7"].req_cpu == 0 and after["n7"].req_cpu == 1000  # the old clone is untouched
    assert s.get("n7") is after["n7"] and [n.name for n in s.list()][:3] == ["n0", "n1", "n2"]
    # No change: nothing is cloned.
    c.update_snapshot(s)
    assert all(after[n.name] is n for n in s.list())


def test_snapshot_counters_and_affinity_lists():
    c = _cache("a", "b")
    s = Snapshot()
    c.update_snapshot(s)
    assert s.unschedulable_nodes == 0 and s.prefer_no_schedule_nodes == 0
    c.update_node(None, make_node("a").unschedulable().taint("x", effect="PreferNoSchedule").obj())
    c.update_snapshot(s)
    assert s.unschedulable_nodes == 1 and s.prefer_no_schedule_nodes == 1
    c.add_pod(make_pod("anti").pod_anti_affinity("zone", app="x").node("b").info())
    c.update_snapshot(s)
    assert [n.name for n in s.have_pods_with_required_anti_affinity()] == ["b"]
    assert [n.name for n in s.have_pods_with_affinity()] == ["b"]
    c.remove_pod("default/anti")
    c.update_snapshot(s)
    assert s.have_pods_with_affinity() == []


def test_node_info_ports_and_scalars():
    ni = make_node().extra(**{"nvidia.com/gpu": "2"}).info(make_pod("g").req(**{"nvidia.com/gpu": "1"}).host_port(80))
    assert ni.alloc_scalar == {"nvidia.com/gpu": 2} and ni.req_scalar == {"nvidia.com/gpu": 1}
    assert ni.port_conflict("0.0.0.0", "TCP", 80) and not ni.port_conflict("0.0.0.0", "UDP", 80)
    clone = ni.clone()
    clone.remove_pod(make_pod("g").info())
    assert not clone.port_conflict("0.0.0.0", "TCP", 80) and ni.port_conflict("0.0.0.0", "TCP", 80)
    assert clone.req_scalar == {"nvidia.com/gpu": 0} and ni.req_scalar == {"nvidia.com/gpu": 1}


def test_node_heartbeat_keeps_generation():
    c = _cache("n1")
    old = make_node("n1").obj()
    gen = c.node("n1").generation
    beat = make_node("n1").obj()
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2025-01-01T00:00:10Z"
    c.update_node(old, beat)
    assert c.node("n1").generation == gen and c.node("n1").node is beat
    c.update_node(beat, make_node("n1").label(zone="b").obj())
    assert c.node("n1").generation > gen and c.node("n1").labels["zone"] == "b"
