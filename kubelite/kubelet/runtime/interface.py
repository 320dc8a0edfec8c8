"""The container runtime interface: what the kubelet asks of a runtime, shaped like Kubernetes'
CRI (``k8s.io/cri-api`` RuntimeService + ImageService) so that every runtime plugs in the same
way: the process runtime (``runtime/process``), the OCI runtime (runc, images from registries)
and the fake runtime tests use.

Vocabulary, as in CRI:

- A **pod sandbox** holds what a pod's containers share: UTS and IPC namespaces (and, with pod
  networking, the network namespace), the pod's cgroup, its hostname and /etc/hosts. It exists
  before the first container starts and outlives container restarts.
- A **container** belongs to one sandbox. ``create_container`` prepares it (state CREATED),
  ``start_container`` runs it (RUNNING), it exits by itself or through ``stop_container``
  (EXITED, with exit code and reason) and ``remove_container`` forgets it. A restart of a
  container is a *new* container with ``attempt + 1``; the old one stays EXITED until removed,
  which is what ``kubectl logs --previous`` reads.
- Ids are opaque strings chosen by the runtime. Everything a runtime needs to find its sandboxes
  and containers again after the agent restarts (re-adoption) it keeps on disk itself:
  ``list_pod_sandboxes`` / ``list_containers`` after a restart return what is still there.
- Streaming (exec, attach, port-forward) returns live session objects instead of CRI's
  streaming-server URLs: the kubelet's own streaming server relays them to the API server.

Every method is async; a runtime never blocks the event loop (forks, file writes and waits
happen in threads or through non-blocking pipes). Errors a user should see are raised as
``RuntimeError_`` with a CRI-like reason (``CreateContainerError``, ``RunContainerError``, ...)
which the kubelet turns into a waiting reason and an event.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class RuntimeError_(Exception):
    """A failure the kubelet reports on the pod: ``reason`` becomes the container's waiting
    reason (e.g. ``CreateContainerError``, ``CreateContainerConfigError``, ``RunContainerError``,
    ``ErrImagePull``), ``message`` its message and the event's text."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class SandboxState(enum.Enum):
    READY = "SANDBOX_READY"
    NOTREADY = "SANDBOX_NOTREADY"


class ContainerState(enum.Enum):
    CREATED = "CONTAINER_CREATED"
    RUNNING = "CONTAINER_RUNNING"
    EXITED = "CONTAINER_EXITED"
    UNKNOWN = "CONTAINER_UNKNOWN"


@dataclass(frozen=True)
class Mount:
    """A host path made visible at ``container_path`` (bind mount where the runtime can)."""

    container_path: str
    host_path: str
    readonly: bool = False


@dataclass(frozen=True)
class Resources:
    """Linux resources of a container (or, summed, of a pod): CRI's LinuxContainerResources.
    ``cpu_shares`` from requests (1 CPU = 1024), ``cpu_quota_us``/``cpu_period_us`` from limits
    (limit 500m with period 100000 → quota 50000), ``memory_limit_bytes`` 0 = unlimited."""

    cpu_shares: int = 2
    cpu_quota_us: int = 0
    cpu_period_us: int = 100_000
    memory_limit_bytes: int = 0
    pids_limit: int = 0


@dataclass(frozen=True)
class SecurityContext:
    """The Linux part of a container's securityContext the runtime applies."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: tuple[int, ...] = ()
    privileged: bool = False
    read_only_root_filesystem: bool = False
    allow_privilege_escalation: bool | None = None
    capabilities_add: tuple[str, ...] = ()
    capabilities_drop: tuple[str, ...] = ()
    seccomp_profile: str = "RuntimeDefault"   # RuntimeDefault | Unconfined | Localhost/<path>


@dataclass(frozen=True)
class PodSandboxConfig:
    """What a sandbox is made from (CRI PodSandboxConfig)."""

    name: str                      # pod name
    namespace: str
    uid: str                       # pod uid: the sandbox's stable identity across agent restarts
    attempt: int = 0
    hostname: str = ""             # pod name, or spec.hostname (+ subdomain)
    log_directory: str = ""        # where this pod's container logs go
    hosts_file: str = ""           # per-pod /etc/hosts content
    dns_config: str = ""           # /etc/resolv.conf content ("" = the host's)
    host_network: bool = True      # pod networking is its own issue; until then, the host's
    host_pid: bool = False
    host_ipc: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)   # pod-level cgroup (sum of limits)
    runtime_handler: str = ""      # RuntimeClass handler ("" = the node's default runtime)


@dataclass(frozen=True)
class ContainerConfig:
    """What a container is made from (CRI ContainerConfig). ``command`` is the full argv after
    the kubelet resolved the image's entrypoint, spec command/args and ``$(VAR)`` expansion."""

    name: str
    attempt: int
    image: str                     # the image reference ("" where a runtime has no images)
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    mounts: tuple[Mount, ...] = ()
    log_path: str = ""             # absolute path of this attempt's log file (CRI log format)
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: Resources = field(default_factory=Resources)
    security: SecurityContext = field(default_factory=SecurityContext)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    # CRI NamespaceOption pid=TARGET: run in the PID namespace of this container of the same
    # sandbox (an ephemeral container's targetContainerName); "" = its own.
    target_container_id: str = ""


@dataclass
class PodSandboxStatus:
    id: str
    config: PodSandboxConfig
    state: SandboxState
    created_at: float              # unix seconds
    ip: str = ""                   # "" on the host network (the kubelet reports the node IP)


@dataclass
class ContainerStatus:
    """CRI ContainerStatus. ``reason`` for an exited container: ``Completed`` (exit 0),
    ``Error``, ``OOMKilled``, ``ContainerCannotRun``; times are unix seconds (0 = not yet)."""

    id: str
    sandbox_id: str
    name: str
    attempt: int
    image: str
    state: ContainerState
    created_at: float
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    pid: int = 0
    log_path: str = ""


@dataclass
class ContainerStats:
    """Usage of one container (CRI ContainerStats): cumulative CPU in nanoseconds (rates are the
    consumer's business), memory working set and usage in bytes, writable-layer/log bytes."""

    container_id: str
    timestamp: float
    cpu_usage_core_nanoseconds: int = 0
    memory_usage_bytes: int = 0
    memory_working_set_bytes: int = 0
    memory_rss_bytes: int = 0
    rootfs_used_bytes: int = 0
    logs_used_bytes: int = 0


class StreamSession(Protocol):
    """A live exec or attach session. Output arrives as ``(channel, data)`` with channel 1 =
    stdout, 2 = stderr (a TTY session has only 1); ``read()`` returns ``None`` at end of
    output. ``wait()`` gives the exit code (attach: the container's, when it exits)."""

    async def write_stdin(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    async def read(self) -> tuple[int, bytes] | None: ...
    async def resize(self, width: int, height: int) -> None: ...
    async def wait(self) -> int: ...
    async def close(self) -> None: ...


class PortStream(Protocol):
    """One port-forward connection into a sandbox's network: bytes both ways."""

    async def read(self, n: int = 65536) -> bytes: ...     # b"" at EOF
    async def write(self, data: bytes) -> None: ...
    async def close(self) -> None: ...


@runtime_checkable
class RuntimeService(Protocol):
    """CRI RuntimeService, asyncio edition."""

    name: str                      # runtime name for nodeInfo.containerRuntimeVersion ("process")
    version: str

    # --- sandboxes ---
    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str: ...
    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...      # kills every container in it
    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...    # and its cgroup, mounts, state
    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus: ...
    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    # --- containers ---
    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...
    async def start_container(self, container_id: str) -> None: ...
    async def stop_container(self, container_id: str, timeout: float) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns once the container exited."""
    async def remove_container(self, container_id: str) -> None: ...
    async def container_status(self, container_id: str) -> ContainerStatus: ...
    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...
    async def wait_container(self, container_id: str) -> ContainerStatus:
        """Returns once the container is EXITED (at once if it already is)."""

    # --- streaming and one-shot commands ---
    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int, bytes, bytes]:
        """Run ``cmd`` in the container (exec probes, hooks): exit code, stdout, stderr. Raises
        ``TimeoutError`` after ``timeout`` seconds (the command is killed)."""
    async def exec(self, container_id: str, cmd: list[str], *, tty: bool, stdin: bool) -> StreamSession: ...
    async def attach(self, container_id: str, *, tty: bool, stdin: bool) -> StreamSession: ...
    async def port_forward(self, sandbox_id: str, port: int) -> PortStream: ...

    # --- stats ---
    async def container_stats(self, container_id: str) -> ContainerStats: ...
    async def pod_sandbox_stats(self, sandbox_id: str) -> ContainerStats: ...


@dataclass
class Image:
    id: str                        # content id (sha256:...)
    repo_tags: list[str]
    repo_digests: list[str]
    size: int


@runtime_checkable
class ImageService(Protocol):
    """CRI ImageService. The process runtime's is trivial (it runs host binaries: every image
    is "present"); the OCI runtime's pulls from registries."""

    async def pull_image(self, image: str, auth: dict[str, str] | None = None) -> str: ...
    async def image_status(self, image: str) -> Image | None: ...
    async def list_images(self) -> list[Image]: ...
    async def remove_image(self, image: str) -> None: ...
