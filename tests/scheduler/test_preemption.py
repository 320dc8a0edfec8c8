"""Preemption: victim selection on a node, choice among nodes, and the failure messages."""
from __future__ import annotations

import pytest

from kubelite.scheduler.cache import Snapshot
from kubelite.scheduler.framework.interface import Code, CycleState, Status
from kubelite.scheduler.plugins import defaultpreemption, noderesources, tainttoleration
from kubelite.scheduler.plugins.defaultpreemption import Candidate, pick_one_node_for_preemption
from tests.scheduler.builders import make_node, make_pod
from tests.scheduler.harness import framework


def _preempt(pod, nodes):
    fwk = framework(noderesources.FIT, tainttoleration.NAME, defaultpreemption.NAME, nodes=nodes)
    fwk.set_snapshot(Snapshot.from_nodes(nodes))
    state = CycleState()
    fwk.run_pre_filter(state, pod, nodes)
    statuses = {}
    for n in nodes:
        st = fwk.run_filter(state, pod, n)
        if st is not None:
            statuses[n.name] = st
    return fwk.run_post_filter(state, pod, statuses)


def _pods(*specs):
    """("name", cpu, priority, start) -> PodBuilders"""
    return [make_pod(name).req(cpu=cpu).priority(prio).start_time(start) for name, cpu, prio, start in specs]


def test_minimal_victims_highest_priority_reprieved():
    # 4-cpu node full with four 1-cpu pods; the preemptor needs 2 cpu.
    node = make_node("a").capacity(cpu="4", memory="8Gi", pods="10").info(*_pods(
        ("p10", "1", 10, "2025-01-01T00:00:01Z"), ("p20", "1", 20, "2025-01-01T00:00:01Z"),
        ("p500a", "1", 500, "2025-01-01T00:00:01Z"), ("p500b", "1", 500, "2025-01-01T00:00:02Z")))
    result, st = _preempt(make_pod("hi").req(cpu="2").priority(1000).info(), [node])
    assert st is None
    assert result.nominated_node_name == "a"
    # The two most important are reprieved first; the priority-10/20 pods go.
    assert sorted(v.name for v in result.victims) == ["p10", "p20"]


def test_pick_node_with_lowest_priority_victims():
    a = make_node("a").capacity(cpu="2", memory="8Gi", pods="10").info(*_pods(("a1", "2", 100, "t")))
    b = make_node("b").capacity(cpu="2", memory="8Gi", pods="10").info(*_pods(("b1", "1", 10, "t"), ("b2", "1", 10, "t")))
    result, st = _preempt(make_pod("hi").req(cpu="2").priority(1000).info(), [a, b])
    assert st is None and result.nominated_node_name == "b"
    assert sorted(v.name for v in result.victims) == ["b1", "b2"]


def test_only_lower_priority_pods_are_victims():
    a = make_node("a").capacity(cpu="2", memory="8Gi", pods="10").info(*_pods(("equal", "2", 1000, "t")))
    result, st = _preempt(make_pod("hi").req(cpu="2").priority(1000).info(), [a])
    assert st is not None and st.code == Code.UNSCHEDULABLE
    assert st.message == ("preemption: 0/1 nodes are available: "
                          "1 No preemption victims found for incoming pod.")
    assert result is not None and result.nominated_node_name == ""


def test_preemption_message_mixes_reasons():
    small = make_node("small").capacity(cpu="1", memory="8Gi", pods="10").info(*_pods(("s", "1", 0, "t")))
    tainted = make_node("tainted").taint("dedicated", "x").info()
    full = make_node("full").capacity(cpu="2", memory="8Gi", pods="10").info(*_pods(("f", "2", 5000, "t")))
    _result, st = _preempt(make_pod("hi").req(cpu="2").priority(1000).info(), [small, tainted, full])
    assert st.message == ("preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
                          "2 Preemption is not helpful for scheduling.")


def test_preemption_policy_never():
    a = make_node("a").capacity(cpu="1", memory="8Gi", pods="10").info(*_pods(("v", "1", 0, "t")))
    result, st = _preempt(make_pod("hi").req(cpu="1").priority(1000).preemption_policy("Never").info(), [a])
    assert result is None and st.message == "preemption: not eligible due to preemptionPolicy=Never."


def test_not_eligible_while_victim_terminates_on_nominated_node():
    victim = make_pod("v").req(cpu="1").priority(0).terminating()
    a = make_node("a").capacity(cpu="1", memory="8Gi", pods="10").info(victim)
    result, st = _preempt(make_pod("hi").req(cpu="1").priority(1000).nominated("a").info(), [a])
    assert result is None and st.message == "preemption: not eligible due to a terminating pod on the nominated node."


def _cand(name, *victims):
    return Candidate(name, [make_pod(v).priority(p).start_time(t).info() for v, p, t in victims])


@pytest.mark.parametrize("cands, winner", [
    # criterion 2: lowest highest-priority victim
    ([_cand("a", ("x", 100, "t1")), _cand("b", ("y", 50, "t1"), ("z", 50, "t1"))], "b"),
    # criterion 3: lowest sum of priorities
    ([_cand("a", ("x", 50, "t1"), ("y", 40, "t1")), _cand("b", ("z", 50, "t1"), ("w", 10, "t1"))], "b"),
    # criterion 4: fewest victims (same sum needs equal priorities and count tie-breaking)
    ([_cand("a", ("x", 0, "t1"), ("y", 0, "t1")), _cand("b", ("z", 0, "t1"))], "b"),
    # criterion 5: the most important victims started latest
    ([_cand("a", ("x", 7, "2025-01-01T00:00:00Z")), _cand("b", ("y", 7, "2025-06-01T00:00:00Z"))], "b"),
    # all equal: the first
    ([_cand("a", ("x", 7, "t")), _cand("b", ("y", 7, "t"))], "a"),
])
def test_pick_one_node_criteria(cands, winner):
    assert pick_one_node_for_preemption(cands).node_name == winner


def test_preemption_respects_nominated_pods_on_node():
    # A higher-priority pod is nominated to node a; evicting the low pod there would not leave
    # room for both, so preemption looks elsewhere.
    a = make_node("a").capacity(cpu="2", memory="8Gi", pods="10").info(*_pods(("a-low", "2", 0, "t")))
    b = make_node("b").capacity(cpu="2", memory="8Gi", pods="10").info(*_pods(("b-low", "2", 1, "t")))

    class Nominator:
        has_nominations = True

        def nominated_pods_for_node(self, name):
            return [make_pod("big").req(cpu="2").priority(5000).info()] if name == "a" else []

    nodes = [a, b]
    fwk = framework(noderesources.FIT, defaultpreemption.NAME, nominator=Nominator())
    fwk.set_snapshot(Snapshot.from_nodes(nodes))
    pod = make_pod("hi").req(cpu="2").priority(1000).info()
    state = CycleState()
    statuses = {n.name: Status(Code.UNSCHEDULABLE, "Insufficient cpu") for n in nodes}
    result, st = fwk.run_post_filter(state, pod, statuses)
    assert st is None and result.nominated_node_name == "b"
