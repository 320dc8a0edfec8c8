"""The kubelet's HTTPS server: logs, exec, attach, port-forward, stats (see ``server.py``)."""
from kubelite.kubelet.server.server import KubeletServer, kubelet_ssl_context

__all__ = ["KubeletServer", "kubelet_ssl_context"]
