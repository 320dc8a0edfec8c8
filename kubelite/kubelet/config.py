"""What one node agent is configured with, and the seams between its parts.

``AgentConfig`` is filled by ``kubelite agent`` (a joined machine) or by ``kubelite server``
(the embedded agent) and handed to ``kubelet.agent.run_agent``. ``PodResolver`` is how the
kubelet's streaming server (logs, exec, attach, port-forward, stats) finds the runtime's ids for
a pod's container without knowing how the pod workers keep them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class AgentConfig:
    node_name: str                     # default: the host name, lower-cased
    root_dir: Path                     # DATA_DIR/agent: pod dirs, logs, runtime state, identity
    node_ip: str = "127.0.0.1"         # InternalIP reported on the Node; the API server dials it
    kubelet_port: int = 10250          # the streaming/stats server (status.daemonEndpoints)
    serving_cert: Path | None = None   # TLS of that server, signed by the cluster CA
    serving_key: Path | None = None
    client_ca: Path | None = None      # CA whose client certificates may call that server
    node_labels: dict[str, str] = field(default_factory=dict)
    node_taints: list[dict[str, str]] = field(default_factory=list)
    max_pods: int = 110
    runtime: str = "process"           # default RuntimeClass handler
    lease_interval: float = 10.0
    status_interval: float = 10.0      # node status report (kubelet's nodeStatusUpdateFrequency)
    api_server_url: str = ""           # where pods' in-cluster clients reach the API (KUBERNETES_SERVICE_*)

    @property
    def pods_dir(self) -> Path:
        return self.root_dir / "pods"

    @property
    def logs_dir(self) -> Path:
        return self.root_dir / "logs"


@dataclass(frozen=True)
class ResolvedContainer:
    """A container of a pod as the runtime knows it. ``previous_*`` is the last exited attempt
    (for ``logs --previous``), ``None`` if there is none."""

    namespace: str
    pod: str
    pod_uid: str
    container: str
    sandbox_id: str
    container_id: str | None           # None while the container has not been created
    log_path: str | None
    previous_container_id: str | None = None
    previous_log_path: str | None = None
    tty: bool = False
    stdin: bool = False


class PodResolver(Protocol):
    def resolve(self, namespace: str, pod: str, container: str | None) -> ResolvedContainer | None:
        """``container`` None means the pod's default container (its only one, or the one
        named by the ``kubectl.kubernetes.io/default-container`` annotation)."""

    def sandbox_id(self, namespace: str, pod: str) -> str | None: ...

    def pods(self) -> list[tuple[str, str, str, str]]:
        """(namespace, name, uid, sandbox_id) of every pod running on this node (stats)."""
