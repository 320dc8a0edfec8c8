"""The framework runtime: a profile's plugins, instantiated and called in phase order.

``Framework`` is built once per scheduler profile from the registry (``registry.py``) and a
``Profile`` (which plugins, their score weights and args). The scheduler loop calls
``run_pre_filter`` / ``filters`` / ``run_score`` / ... for every pod; plugins receive the
framework itself as their ``Handle`` (the cycle's snapshot, the nominator, namespace labels,
and ``run_filter_with_nominated_pods`` for preemption's what-if runs).

Hot-path notes: ``filters(state)`` returns the (name, bound method) pairs left after PreFilter
skips, computed once per cycle. Plugins may also offer batch forms (``filter_nodes``,
``score_nodes``: same results as calling ``filter``/``score`` per node) which the algorithm
and ``run_score`` prefer -- at 5,000 nodes a Python call per (pod, node, plugin) is most of a
cycle. Plugin exceptions become ``Error`` statuses carrying the plugin's name; they never
escape a cycle.
"""
from __future__ import annotations

import asyncio
import builtins
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from kubelite.scheduler.framework.interface import (
    MAX_NODE_SCORE, MIN_NODE_SCORE, ClusterEventWithHint, Code, CycleState, PostFilterResult, PreFilterResult, Status,
)
from kubelite.scheduler.framework.types import DEFAULT_SCHEDULER_NAME, NodeInfo, PodInfo

log = logging.getLogger(__name__)

FilterFn = Callable[[CycleState, PodInfo, NodeInfo], "Status | None"]


@dataclass(slots=True)
class PluginConfig:
    name: str
    weight: int = 1      # score weight (ignored for plugins without Score)
    args: Any = None


@dataclass(slots=True)
class Profile:
    """A scheduler profile (KubeSchedulerConfiguration.profiles[i]): its name is the
    ``spec.schedulerName`` it answers to."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: list[PluginConfig] = field(default_factory=list)
    percentage_of_nodes_to_score: int = 0  # 0 = adaptive (50% - nodes/125, at least 5%)


class _EmptySnapshot:
    def list(self) -> builtins.list[NodeInfo]:
        return []

    def get(self, name: str) -> NodeInfo | None:
        return None

    def have_pods_with_affinity(self) -> builtins.list[NodeInfo]:
        return []

    def have_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]:
        return []


class _NoNominator:
    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return []


class WaitingPod:
    """A pod a Permit plugin told to WAIT: allowed when every waiting plugin allows it,
    rejected by any of them, or by the timeout."""

    def __init__(self, pod: PodInfo, plugins: dict[str, float]) -> None:
        self.pod = pod
        self.pending = set(plugins)
        self.timeout = min(plugins.values()) if plugins else 0.0
        self.future: asyncio.Future[Status | None] = asyncio.get_running_loop().create_future()

    def allow(self, plugin: str) -> None:
        self.pending.discard(plugin)
        if not self.pending and not self.future.done():
            self.future.set_result(None)

    def reject(self, plugin: str, message: str) -> None:
        if not self.future.done():
            self.future.set_result(Status(Code.UNSCHEDULABLE, message, plugin=plugin))


class Framework:
    """Instantiated plugins of one profile, grouped by extension point."""

    def __init__(self, profile: Profile, registry: Mapping[str, Callable[[Any, Any], Any]], *,
                 nominator: Any = None, binder: Any = None,
                 namespace_labels: Callable[[str], dict[str, str] | None] | None = None,
                 rng: random.Random | None = None,
                 default_selector: Callable[[PodInfo], Any] | None = None) -> None:
        self.profile = profile
        # Set before the plugins are built: their factories read them from the handle.
        self.rng = rng or random.Random()
        self.default_selector = default_selector
        self.scheduler_name = profile.scheduler_name
        self._snapshot: Any = _EmptySnapshot()
        self._nominator = nominator or _NoNominator()
        self._binder = binder
        self._namespace_labels = namespace_labels or (lambda ns: None)
        self.plugins: dict[str, Any] = {}
        self.weights: dict[str, int] = {}
        for cfg in profile.plugins:
            factory = registry.get(cfg.name)
            if factory is None:
                raise ValueError(f"profile {profile.scheduler_name!r}: plugin {cfg.name!r} is not in the registry")
            if cfg.name in self.plugins:
                raise ValueError(f"profile {profile.scheduler_name!r}: plugin {cfg.name!r} listed twice")
            self.plugins[cfg.name] = factory(cfg.args, self)
            self.weights[cfg.name] = cfg.weight

        def having(method: str) -> list[Any]:
            return [p for p in self.plugins.values() if callable(getattr(p, method, None))]

        sorts = having("less")
        self.queue_sort = sorts[0] if sorts else None
        self.pre_enqueue_plugins = having("pre_enqueue")
        self.pre_filter_plugins = having("pre_filter")
        self.filter_plugins = having("filter")
        self.post_filter_plugins = having("post_filter")
        self.pre_score_plugins = having("pre_score")
        self.score_plugins = having("score")
        self.reserve_plugins = having("reserve")
        self.permit_plugins = having("permit")
        self.pre_bind_plugins = having("pre_bind")
        self.bind_plugins = having("bind")
        self.post_bind_plugins = having("post_bind")
        self._extensions = [(p.name, p.pre_filter_extensions()) for p in self.pre_filter_plugins
                            if callable(getattr(p, "pre_filter_extensions", None))]
        self._extensions = [(n, e) for n, e in self._extensions if e is not None]
        self._all_filters: tuple[tuple[str, FilterFn], ...] = tuple((p.name, p.filter) for p in self.filter_plugins)
        # Optional many-nodes-at-once forms (BatchFilterPlugin / BatchScorePlugin).
        self.batch_filters: dict[str, Callable[..., list[Status | None]]] = {
            p.name: p.filter_nodes for p in self.filter_plugins if callable(getattr(p, "filter_nodes", None))}
        self.waiting_pods: dict[str, WaitingPod] = {}

    # -- Handle -----------------------------------------------------------------------------

    def set_snapshot(self, snapshot: Any) -> None:
        self._snapshot = snapshot

    def snapshot(self) -> Any:
        return self._snapshot

    @property
    def nominator(self) -> Any:
        return self._nominator

    def set_nominator(self, nominator: Any) -> None:
        self._nominator = nominator

    @property
    def binder(self) -> Any:
        return self._binder

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self._namespace_labels(namespace)

    def plugin(self, name: str) -> Any:
        return self.plugins.get(name)

    # -- queueing ---------------------------------------------------------------------------

    def run_pre_enqueue(self, pod: PodInfo) -> Status | None:
        for p in self.pre_enqueue_plugins:
            try:
                st = p.pre_enqueue(pod)
            except Exception as e:  # a plugin bug becomes an Error status
                return Status.as_error(e, p.name)
            if not Status.is_success(st):
                assert st is not None
                return st.with_plugin(p.name)
        return None

    def cluster_events(self) -> list[tuple[str, ClusterEventWithHint]]:
        """(plugin name, event + hint) for every event a plugin registered."""
        out: list[tuple[str, ClusterEventWithHint]] = []
        for p in self.plugins.values():
            reg = getattr(p, "events_to_register", None)
            if callable(reg):
                out.extend((p.name, ev) for ev in reg())
        return out

    # -- filtering --------------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: PodInfo,
                       nodes: list[NodeInfo]) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        """Returns (node-name narrowing, failure status, plugins that rejected the pod -- or,
        on success, the plugins that narrowed the node set)."""
        result: PreFilterResult | None = None
        narrowing: list[str] = []
        for p in self.pre_filter_plugins:
            try:
                r, st = p.pre_filter(state, pod, nodes)
            except Exception as e:
                log.exception("PreFilter plugin %s failed for %s", p.name, pod.key)
                return None, Status.as_error(e, p.name), set()
            if st is not None and st.code == Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            if not Status.is_success(st):
                assert st is not None
                st = st.with_plugin(p.name)
                return None, st, ({p.name} if st.rejected else set())
            if r is not None and not r.all_nodes():
                narrowing.append(p.name)
                result = r if result is None else result.merge(r)
                if result.node_names is not None and not result.node_names:
                    msg = (f"node(s) didn't satisfy plugin {narrowing[0]}" if len(narrowing) == 1 else
                           f"node(s) didn't satisfy plugin(s) [{' '.join(narrowing)}] simultaneously")
                    return result, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, msg, plugin=narrowing[0]), set(narrowing)
        return result, None, set(narrowing)

    def filters(self, state: CycleState) -> tuple[tuple[str, FilterFn], ...]:
        """The Filter methods to run this cycle (those whose PreFilter did not Skip)."""
        if not state.skip_filter:
            return self._all_filters
        return tuple((n, f) for n, f in self._all_filters if n not in state.skip_filter)

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                   filters: tuple[tuple[str, FilterFn], ...] | None = None) -> Status | None:
        """The first non-success status (tagged with its plugin), or None if the node fits."""
        for name, fn in (filters if filters is not None else self.filters(state)):
            try:
                st = fn(state, pod, node)
            except Exception as e:
                log.exception("Filter plugin %s failed for %s on %s", name, pod.key, node.name)
                return Status.as_error(e, name)
            if st is not None and st.code != Code.SUCCESS:
                return st.with_plugin(name)
        return None

    def run_filter_with_nominated_pods(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                                       filters: tuple[tuple[str, FilterFn], ...] | None = None) -> Status | None:
        """Filters, as if the pods nominated to this node with priority >= ours were running.

        Two passes, as kube: with the nominated pods (they hold their reservation), and, if
        that passes, without them (a pod with affinity to a nominated pod must not count on a
        pod that may never arrive)."""
        nominated = [p for p in self._nominator.nominated_pods_for_node(node.name)
                     if p.priority >= pod.priority and p.key != pod.key]
        if not nominated:
            return self.run_filter(state, pod, node, filters)
        state_with = state.clone()
        node_with = node.clone()
        for p in nominated:
            node_with.add_pod(p)
            st = self.run_pre_filter_extension_add_pod(state_with, pod, p, node_with)
            if not Status.is_success(st):
                return st
        st = self.run_filter(state_with, pod, node_with, filters)
        if not Status.is_success(st):
            return st
        return self.run_filter(state, pod, node, filters)

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo,
                                         node: NodeInfo) -> Status | None:
        return self._run_extensions("add_pod", state, pod, to_add, node)

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                                            node: NodeInfo) -> Status | None:
        return self._run_extensions("remove_pod", state, pod, to_remove, node)

    def _run_extensions(self, method: str, state: CycleState, pod: PodInfo, other: PodInfo,
                        node: NodeInfo) -> Status | None:
        """PreFilterExtensions.AddPod/RemovePod of every plugin not skipped this cycle."""
        for name, ext in self._extensions:
            if name in state.skip_filter:
                continue
            try:
                st = getattr(ext, method)(state, pod, other, node)
            except Exception as e:
                return Status.as_error(e, name)
            if not Status.is_success(st):
                return st
        return None

    def run_post_filter(self, state: CycleState, pod: PodInfo,
                        statuses: dict[str, Status]) -> tuple[PostFilterResult | None, Status | None]:
        """The first PostFilter that succeeds (or errors) decides; otherwise their messages
        are joined into the "preemption: ..." part of the FailedScheduling event."""
        messages: list[str] = []
        result: PostFilterResult | None = None
        for p in self.post_filter_plugins:
            try:
                r, st = p.post_filter(state, pod, statuses)
            except Exception as e:
                log.exception("PostFilter plugin %s failed for %s", p.name, pod.key)
                return None, Status.as_error(e, p.name)
            if Status.is_success(st):
                return r, None
            assert st is not None
            if st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return r, st.with_plugin(p.name)
            if not st.rejected:
                return None, st.with_plugin(p.name)
            if r is not None:
                result = r
            messages.extend(st.reasons)
        return result, Status(Code.UNSCHEDULABLE, *messages)

    # -- scoring ----------------------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        for p in self.pre_score_plugins:
            try:
                st = p.pre_score(state, pod, nodes)
            except Exception as e:
                log.exception("PreScore plugin %s failed for %s", p.name, pod.key)
                return Status.as_error(e, p.name)
            if st is not None and st.code == Code.SKIP:
                state.skip_score.add(p.name)
                continue
            if not Status.is_success(st):
                assert st is not None
                return st.with_plugin(p.name)
        return None

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Weighted sum of every Score plugin's normalised scores, parallel to ``nodes``.
        Raises ``ScoreError`` if a plugin fails or normalises out of 0..100."""
        totals: list[int] | None = None
        skip = state.skip_score
        for p in self.score_plugins:
            name = p.name
            if name in skip:
                continue
            fn = p.score
            batch = getattr(p, "score_nodes", None)
            try:
                scores = batch(state, pod, nodes) if batch is not None else [fn(state, pod, n) for n in nodes]
                normalize = getattr(p, "normalize_score", None)
                if normalize is not None:
                    normalize(state, pod, nodes, scores)
            except Exception as e:
                raise ScoreError(Status.as_error(e, name)) from e
            if scores and (min(scores) < MIN_NODE_SCORE or max(scores) > MAX_NODE_SCORE):
                i, s = next((i, s) for i, s in enumerate(scores) if not MIN_NODE_SCORE <= s <= MAX_NODE_SCORE)
                raise ScoreError(Status(Code.ERROR, f"plugin {name!r} returned an invalid score {s} for node "
                                                    f"{nodes[i].name!r}: must be in [0, 100]", plugin=name))
            weight = self.weights.get(name, 1)
            if totals is None:
                totals = list(scores) if weight == 1 else [s * weight for s in scores]
            elif weight == 1:
                totals = [t + s for t, s in zip(totals, scores)]
            else:
                totals = [t + s * weight for t, s in zip(totals, scores)]
        if totals is None:
            totals = [0] * len(nodes)
        return totals

    # -- reserve / permit / bind ------------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.reserve_plugins:
            try:
                st = p.reserve(state, pod, node_name)
            except Exception as e:
                return Status.as_error(e, p.name)
            if not Status.is_success(st):
                assert st is not None
                return st.with_plugin(p.name)
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in reversed(self.reserve_plugins):
            try:
                p.unreserve(state, pod, node_name)
            except Exception:  # unreserve is best effort
                log.exception("Unreserve plugin %s failed for %s", p.name, pod.key)

    def run_permit(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """None (allowed), a rejection, or WAIT (then ``wait_on_permit`` resolves it)."""
        waiting: dict[str, float] = {}
        for p in self.permit_plugins:
            try:
                st, timeout = p.permit(state, pod, node_name)
            except Exception as e:
                return Status.as_error(e, p.name)
            if Status.is_success(st):
                continue
            assert st is not None
            if st.code == Code.WAIT:
                waiting[p.name] = max(0.0, min(float(timeout), 15 * 60.0))
                continue
            return st.with_plugin(p.name)
        if waiting:
            self.waiting_pods[pod.uid or pod.key] = WaitingPod(pod, waiting)
            return Status(Code.WAIT)
        return None

    def get_waiting_pod(self, uid: str) -> WaitingPod | None:
        return self.waiting_pods.get(uid)

    async def wait_on_permit(self, pod: PodInfo) -> Status | None:
        wp = self.waiting_pods.get(pod.uid or pod.key)
        if wp is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(wp.future), wp.timeout)
        except TimeoutError:
            return Status(Code.UNSCHEDULABLE, "rejected due to timeout after waiting "
                          f"{wp.timeout:g}s at plugin {','.join(sorted(wp.pending))}")
        finally:
            self.waiting_pods.pop(pod.uid or pod.key, None)

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.pre_bind_plugins:
            try:
                st = await p.pre_bind(state, pod, node_name)
            except Exception as e:
                return Status.as_error(e, p.name)
            if not Status.is_success(st):
                assert st is not None
                return st.with_plugin(p.name)
        return None

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.bind_plugins:
            try:
                st = await p.bind(state, pod, node_name)
            except Exception as e:
                return Status.as_error(e, p.name)
            if st is not None and st.code == Code.SKIP:
                continue
            return None if Status.is_success(st) else st.with_plugin(p.name)  # type: ignore[union-attr]
        return Status(Code.ERROR, "no bind plugin bound the pod")

    def run_post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in self.post_bind_plugins:
            try:
                p.post_bind(state, pod, node_name)
            except Exception:  # post-bind is informational
                log.exception("PostBind plugin %s failed for %s", p.name, pod.key)


class ScoreError(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status.message)
        self.status = status
