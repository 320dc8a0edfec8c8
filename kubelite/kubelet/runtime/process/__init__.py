"""The process runtime: containers are host commands run as process trees — in their own PID
and mount namespaces, the pod's UTS/IPC namespaces and cgroups as root on Linux, plain processes
otherwise. ``ProcessRuntime`` (runtime.py) is the CRI ``RuntimeService``, ``ProcessImageService``
the (trivial) ``ImageService``, ``killall`` tears everything down."""
from pathlib import Path

from kubelite.kubelet.runtime.process.killall import killall
from kubelite.kubelet.runtime.process.runtime import ProcessImageService, ProcessRuntime

__all__ = ["ProcessImageService", "ProcessRuntime", "default_state_dir", "killall"]


def default_state_dir(agent_root: Path) -> Path:
    """Where the process runtime keeps its records under an agent's root dir
    (``AgentConfig.root_dir``, i.e. ``DATA_DIR/agent``)."""
    return Path(agent_root) / "runtime" / "process"
