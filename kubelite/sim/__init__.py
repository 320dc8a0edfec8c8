"""Simulated nodes -- kubelite's built-in kwok: hollow kubelets that register Nodes, renew
their Leases and play kubelet for the pods bound to them, so the control plane (scheduler,
controllers, API server) can be exercised at thousands of nodes on one machine.

Used by ``kubelite sim`` and, in-process, by tests and benchmarks::

    from kubelite.sim import SimCluster

    sim = SimCluster(client, nodes=100, prefix="sim", zones=["zone-a", "zone-b"],
                     taints=["dedicated=gpu:NoSchedule"], extended={"nvidia.com/gpu": "4"},
                     pod_run_time=5.0)
    await sim.start()      # every node registered and Ready, pod cache synced
    ...
    await sim.stop()       # heartbeats stop; the nodes stay, as a dead machine's would

``nodes`` holds the pure Node/Lease builders and option parsing, ``pods`` the pure pod status
and admission logic, ``runner`` the I/O (registration, heartbeats, pod workers), ``command``
the ``kubelite sim`` process (kubeconfig, signals).
"""
from kubelite.sim.nodes import NODE_LEASE_NAMESPACE, SIM_LABEL, NodeOptions, node_options, parse_taint
from kubelite.sim.runner import FIELD_MANAGER, SimCluster, SimStats, tune_gc

__all__ = ["FIELD_MANAGER", "NODE_LEASE_NAMESPACE", "SIM_LABEL", "NodeOptions", "SimCluster", "SimStats",
           "node_options", "parse_taint", "tune_gc"]
