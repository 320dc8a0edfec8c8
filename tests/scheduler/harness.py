"""Run one profile's phases against a hand-built snapshot, for table-driven plugin tests."""
from __future__ import annotations

import random
from typing import Any

from kubelite.scheduler.cache import Snapshot
from kubelite.scheduler.framework.interface import CycleState, Status
from kubelite.scheduler.framework.registry import REGISTRY, default_profile
from kubelite.scheduler.framework.runtime import Framework, PluginConfig, Profile
from kubelite.scheduler.framework.types import NodeInfo, PodInfo


def framework(*plugins: str | PluginConfig, nodes: list[NodeInfo] | None = None, **kw: Any) -> Framework:
    """A Framework with only ``plugins`` (all of the default profile when none are named)."""
    if plugins:
        cfgs = [p if isinstance(p, PluginConfig) else PluginConfig(p) for p in plugins]
        profile = Profile(plugins=cfgs)
    else:
        profile = default_profile()
    fwk = Framework(profile, REGISTRY, rng=kw.pop("rng", random.Random(1)), **kw)
    fwk.set_snapshot(Snapshot.from_nodes(nodes or []))
    return fwk


def filter_all(fwk: Framework, pod: PodInfo, nodes: list[NodeInfo]) -> dict[str, str]:
    """node name -> "" (fits) or the rejecting status message; "PreFilter: <msg>" if PreFilter
    rejected the pod outright."""
    fwk.set_snapshot(Snapshot.from_nodes(nodes))
    state = CycleState()
    result, st, _ = fwk.run_pre_filter(state, pod, nodes)
    if st is not None:
        return {n.name: f"PreFilter: {st.message}" for n in nodes}
    out = {}
    for n in nodes:
        if result is not None and result.node_names is not None and n.name not in result.node_names:
            out[n.name] = "excluded by PreFilterResult"
            continue
        s = fwk.run_filter_with_nominated_pods(state, pod, n)
        out[n.name] = "" if Status.is_success(s) else s.message  # type: ignore[union-attr]
    return out


def filter_status(fwk: Framework, pod: PodInfo, node: NodeInfo) -> Status | None:
    fwk.set_snapshot(Snapshot.from_nodes([node]))
    state = CycleState()
    _, st, _ = fwk.run_pre_filter(state, pod, [node])
    if st is not None:
        return st
    return fwk.run_filter(state, pod, node)


def scores(fwk: Framework, pod: PodInfo, nodes: list[NodeInfo], snapshot_nodes: list[NodeInfo] | None = None) -> dict[str, int]:
    """node name -> weighted total score (PreScore + Score + NormalizeScore)."""
    fwk.set_snapshot(Snapshot.from_nodes(snapshot_nodes or nodes))
    state = CycleState()
    fwk.run_pre_filter(state, pod, nodes)
    st = fwk.run_pre_score(state, pod, nodes)
    assert st is None, st
    return dict(zip((n.name for n in nodes), fwk.run_score(state, pod, nodes)))
