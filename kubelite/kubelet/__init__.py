"""The node agent (kubelet): registers the Node, runs the pods bound to it through a container
runtime, reports their status, and serves logs, exec, attach, port-forward and stats.

It reaches the cluster only through ``kubelite.client`` (in-process inside ``kubelite server``,
over HTTPS as ``kubelite agent``), and containers only through the CRI-shaped interface in
``kubelet.runtime.interface``.
"""
