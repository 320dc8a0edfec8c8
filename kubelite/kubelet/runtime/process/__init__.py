"""The process runtime: containers are host commands run as process trees — in their own PID
and mount namespaces, the pod's UTS/IPC namespaces and cgroups as root on Linux, plain processes
otherwise. ``ProcessRuntime`` (runtime.py) is the CRI ``RuntimeService``, ``ProcessImageService``
the (trivial) ``ImageService``, ``killall`` tears everything down."""
from kubelite.kubelet.runtime.process.runtime import ProcessImageService, ProcessRuntime

__all__ = ["ProcessImageService", "ProcessRuntime"]
