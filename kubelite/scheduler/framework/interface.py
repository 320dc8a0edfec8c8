"""The scheduling framework's contracts: Status, CycleState, extension points, cluster events.

Every plugin (``kubelite/scheduler/plugins/``) implements one or more of the extension points
declared here; the runtime (``runtime.py``) calls them in phase order for each pod; the
scheduler loop (``scheduler.py``) and the queue (``queue.py``) read the ``Status`` codes to
decide what happens to a pod that did not fit. The phases, in order::

    PreEnqueue  -> (queue) -> PreFilter -> Filter (per node) -> PostFilter (only if no node fits)
                -> PreScore -> Score (per node) + NormalizeScore -> Reserve -> Permit
                -> (binding cycle, asynchronous) PreBind -> Bind -> PostBind

Conventions (Python spellings of kube-scheduler's Go ones):

- A successful ``Status`` is ``None`` (Go's nil ``*Status``): filters are called thousands of
  times per pod, so success allocates nothing. ``Status.is_success(None)`` is True.
- ``Score`` returns an ``int`` (0..100 after normalisation); a plugin error raises, and the
  runtime turns the exception into an ``Error`` status.
- ``Code`` says how the queue reacts: ``UNSCHEDULABLE`` (retry when a relevant cluster event
  arrives; preemption may help), ``UNSCHEDULABLE_AND_UNRESOLVABLE`` (as Unschedulable, but
  preemption on that node cannot help), ``ERROR`` (back off and retry), ``SKIP`` (from
  PreFilter/PreScore: this plugin has nothing to say about this pod; its Filter/Score is not
  called -- e.g. NodeAffinity for a pod without selector or affinity).
- ``CycleState`` carries data between the phases of one pod's cycle (PreFilter computes, Filter
  reads). Entries that PreFilter extensions mutate (AddPod/RemovePod, used by preemption and by
  nominated pods) implement ``clone()``.
"""
from __future__ import annotations

import builtins
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubelite.scheduler.framework.types import NodeInfo, PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
MAX_TOTAL_SCORE = 2**63 - 1


class Code(enum.IntEnum):
    """A Status code (framework.Code)."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6


class Status:
    """The outcome of a plugin call: a code, human-readable reasons, and the plugin that said it.

    ``reasons`` are the strings counted in the "0/3 nodes are available: 2 Insufficient cpu"
    histogram, so a filter returns one reason per distinct problem ("Insufficient cpu",
    "Insufficient memory"), never a sentence that embeds node names.
    """

    __slots__ = ("code", "reasons", "plugin", "error")

    def __init__(self, code: Code, *reasons: str, plugin: str = "", error: BaseException | None = None) -> None:
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin
        self.error = error

    @classmethod
    def as_error(cls, err: BaseException, plugin: str = "") -> "Status":
        # API errors carry the server's message; their str() adds code and reason.
        msg = getattr(err, "message", None)
        if not isinstance(msg, str) or not msg:
            msg = str(err) or type(err).__name__
        return cls(Code.ERROR, msg, plugin=plugin, error=err)

    def with_plugin(self, plugin: str) -> "Status":
        if self.plugin == plugin:
            return self
        return Status(self.code, *self.reasons, plugin=plugin, error=self.error)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def rejected(self) -> bool:
        """Unschedulable or UnschedulableAndUnresolvable: the pod does not fit (not an error)."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    @staticmethod
    def is_success(status: "Status | None") -> bool:
        return status is None or status.code == Code.SUCCESS

    @staticmethod
    def is_skip(status: "Status | None") -> bool:
        return status is not None and status.code == Code.SKIP

    def __repr__(self) -> str:
        who = f" {self.plugin}" if self.plugin else ""
        return f"Status({self.code.name}{who}: {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Status) and self.code == other.code and self.reasons == other.reasons)

    def __hash__(self) -> int:
        return hash((self.code, self.reasons))


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, *reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)


SKIP = Status(Code.SKIP)


class StateData(Protocol):
    def clone(self) -> "StateData": ...


class CycleState:
    """Per-pod scratch space shared by the plugins during one scheduling cycle.

    ``skip_filter`` / ``skip_score`` hold the names of plugins whose PreFilter / PreScore
    returned Skip; the runtime does not call their Filter / Score for this pod.
    """

    __slots__ = ("_data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The value written under ``key``; KeyError if PreFilter/PreScore did not write it."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> "CycleState":
        """A copy whose mutable entries are cloned (values without ``clone()`` are shared:
        they are read-only by contract)."""
        out = CycleState()
        for k, v in self._data.items():
            c = getattr(v, "clone", None)
            out._data[k] = c() if c is not None else v
        out.skip_filter = set(self.skip_filter)
        out.skip_score = set(self.skip_score)
        return out


# -- results ------------------------------------------------------------------------------------


@dataclass(slots=True)
class PreFilterResult:
    """``node_names`` narrows the nodes Filter runs on (None = all nodes). NodeAffinity uses it
    for ``matchFields: metadata.name In [...]`` so a DaemonSet pod filters one node, not 5,000."""

    node_names: frozenset[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: "PreFilterResult | None") -> "PreFilterResult":
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


@dataclass(slots=True)
class PostFilterResult:
    """What PostFilter (preemption) decided: the node the pod is nominated to and the pods that
    must go for it to fit there. The plugin only decides; the scheduler carries it out through
    the binder (delete victims, set ``status.nominatedNodeName``)."""

    nominated_node_name: str = ""
    victims: list["PodInfo"] = field(default_factory=list)


# -- cluster events (what makes an unschedulable pod worth retrying) ----------------------------


class ActionType(enum.IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_NODE_ANNOTATION = 64
    UPDATE_POD_LABEL = 128
    UPDATE_POD_SCALE_DOWN = 256
    UPDATE_POD_TOLERATIONS = 512
    UPDATE_POD_SCHEDULING_GATES = 1024
    UPDATE_POD_OTHER = 2048
    UPDATE = (UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT | UPDATE_NODE_CONDITION
              | UPDATE_NODE_ANNOTATION | UPDATE_POD_LABEL | UPDATE_POD_SCALE_DOWN | UPDATE_POD_TOLERATIONS
              | UPDATE_POD_SCHEDULING_GATES | UPDATE_POD_OTHER)
    ALL = ADD | DELETE | UPDATE


# Event resources. ASSIGNED_POD is a pod bound to a node (it uses resources, it can be an
# affinity target); UNSCHEDULED_POD is the pending pod itself (its own spec was updated).
NODE = "Node"
ASSIGNED_POD = "AssignedPod"
UNSCHEDULED_POD = "UnscheduledPod"
WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: str
    action: ActionType
    label: str = ""

    def matches(self, other: "ClusterEvent") -> bool:
        """Whether this registered event covers the incoming event ``other``."""
        if self.resource == WILDCARD:
            return True
        return self.resource == other.resource and bool(self.action & other.action)

    def __str__(self) -> str:
        return self.label or f"{self.resource}{self.action!r}"


class QueueingHint(enum.IntEnum):
    QUEUE_SKIP = 0
    QUEUE = 1


# hint(pod being retried, old object, new object) -> QUEUE | QUEUE_SKIP. Old is None for adds,
# new is None for deletes. Objects are the informer's dicts (read-only).
QueueingHintFn = Callable[["PodInfo", Any, Any], QueueingHint]


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHintFn | None = None


# Well-known events, named as kube-scheduler logs them.
EVENT_NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
EVENT_NODE_DELETE = ClusterEvent(NODE, ActionType.DELETE, "NodeDelete")
EVENT_ASSIGNED_POD_ADD = ClusterEvent(ASSIGNED_POD, ActionType.ADD, "AssignedPodAdd")
EVENT_ASSIGNED_POD_DELETE = ClusterEvent(ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")
EVENT_UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")
EVENT_FORCE_ACTIVATE = ClusterEvent(WILDCARD, ActionType.ALL, "ForceActivate")


# -- plugins ------------------------------------------------------------------------------------


@runtime_checkable
class Plugin(Protocol):
    """Every plugin has a ``name`` (the key in the registry and in the default profile)."""

    name: str


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: Any, b: Any) -> bool:
        """Whether queued pod ``a`` should be scheduled before ``b``."""
        ...


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: "PodInfo") -> Status | None:
        """Non-success keeps the pod out of the active queue (scheduling gates)."""
        ...


@runtime_checkable
class PreFilterExtensions(Protocol):
    """Incremental updates of a plugin's PreFilter state when a pod is (hypothetically) added to
    or removed from a node: preemption's "what if these victims were gone", nominated pods'
    "what if this reservation were running"."""

    def add_pod(self, state: CycleState, pod: "PodInfo", to_add: "PodInfo", node: "NodeInfo") -> Status | None: ...

    def remove_pod(self, state: CycleState, pod: "PodInfo", to_remove: "PodInfo",
                   node: "NodeInfo") -> Status | None: ...


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: "PodInfo",
                   nodes: list["NodeInfo"]) -> tuple[PreFilterResult | None, Status | None]: ...

    def pre_filter_extensions(self) -> PreFilterExtensions | None: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: "PodInfo", node: "NodeInfo") -> Status | None: ...


@runtime_checkable
class BatchFilterPlugin(FilterPlugin, Protocol):
    """Optional: a Filter plugin may also filter many nodes in one call. Same semantics as
    ``[filter(state, pod, n) for n in nodes]``; it exists because a Python call per (pod,
    node) pair is most of a cycle's cost at 5,000 nodes, and a list comprehension with the
    arithmetic inlined is several times cheaper."""

    def filter_nodes(self, state: CycleState, pod: "PodInfo", nodes: list["NodeInfo"]) -> list[Status | None]: ...


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(self, state: CycleState, pod: "PodInfo",
                    statuses: dict[str, Status]) -> tuple[PostFilterResult | None, Status | None]:
        """Called when no node fits; ``statuses`` maps node name -> why it was rejected."""
        ...


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: "PodInfo", nodes: list["NodeInfo"]) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: "PodInfo", node: "NodeInfo") -> int: ...


@runtime_checkable
class BatchScorePlugin(ScorePlugin, Protocol):
    """Optional, like ``BatchFilterPlugin``: ``[score(state, pod, n) for n in nodes]`` in one call."""

    def score_nodes(self, state: CycleState, pod: "PodInfo", nodes: list["NodeInfo"]) -> list[int]: ...


@runtime_checkable
class ScoreExtensions(Protocol):
    def normalize_score(self, state: CycleState, pod: "PodInfo", nodes: list["NodeInfo"],
                        scores: list[int]) -> None:
        """Rescale ``scores`` (parallel to ``nodes``) in place into 0..100."""
        ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: "PodInfo", node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: "PodInfo", node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: "PodInfo", node_name: str) -> tuple[Status | None, float]:
        """Success, Unschedulable/Error (reject), or WAIT with a timeout in seconds."""
        ...


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: "PodInfo", node_name: str) -> Status | None: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: "PodInfo", node_name: str) -> Status | None:
        """Bind, or return SKIP to let the next Bind plugin do it."""
        ...


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: "PodInfo", node_name: str) -> None: ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    def events_to_register(self) -> list[ClusterEventWithHint]:
        """The cluster events that may make a pod this plugin rejected schedulable."""
        ...


# -- what plugins get from the framework --------------------------------------------------------


class SnapshotLister(Protocol):
    """Read access to the cycle's immutable snapshot of node state."""

    def list(self) -> builtins.list["NodeInfo"]: ...

    def get(self, name: str) -> "NodeInfo | None": ...

    def have_pods_with_affinity(self) -> builtins.list["NodeInfo"]: ...

    def have_pods_with_required_anti_affinity(self) -> builtins.list["NodeInfo"]: ...


class Nominator(Protocol):
    """Pods nominated to nodes by preemption (they hold a reservation until they schedule)."""

    def nominated_pods_for_node(self, node_name: str) -> list["PodInfo"]: ...


class Handle(Protocol):
    """What a plugin factory receives: the snapshot, the nominator, cluster lookups, and the
    framework itself (preemption re-runs the filters)."""

    def snapshot(self) -> SnapshotLister: ...

    @property
    def nominator(self) -> Nominator: ...

    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...

    def run_filter_with_nominated_pods(self, state: CycleState, pod: "PodInfo", node: "NodeInfo") -> Status | None: ...

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: "PodInfo", to_add: "PodInfo",
                                         node: "NodeInfo") -> Status | None: ...

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: "PodInfo", to_remove: "PodInfo",
                                            node: "NodeInfo") -> Status | None: ...

    @property
    def binder(self) -> Any: ...


PluginFactory = Callable[[Any, Handle], Plugin]  # (args or None, handle) -> plugin


def plugin_names(plugins: Iterable[Plugin]) -> list[str]:
    return [p.name for p in plugins]
