"""The process behind ``kubelite sim``: connect with a kubeconfig, run a ``SimCluster`` until
SIGINT/SIGTERM, then stop (nodes stay registered; their Leases expire as a dead node's would).

``kubelite/cli/main.py`` parses the options and calls ``run_sim``; keeping the I/O here lets
the CLI stay a thin option table.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kubelite.client import Client, HTTPTransport
from kubelite.machinery.errors import bad_request
from kubelite.sim.nodes import node_options
from kubelite.sim.runner import FIELD_MANAGER, SimCluster, tune_gc


@dataclass
class SimOptions:
    """``kubelite sim`` flags, as given on the command line."""

    nodes: int
    kubeconfig: str | None = None
    prefix: str = "sim"
    cpu: str = "32"
    memory: str = "256Gi"
    pods: int = 110
    ephemeral_storage: str = "1Ti"
    labels: list[str] = field(default_factory=list)
    taints: list[str] = field(default_factory=list)
    extended: list[str] = field(default_factory=list)
    zones: str = "zone-a,zone-b,zone-c"
    pod_run_time: str = "5"
    pod_stop_time: float = 1.0
    lease_interval: float = 10.0
    node_status_interval: float = 60.0
    workers: int = 200


def parse_run_time(value: str) -> float | None:
    """``"5"`` / ``"2.5s"`` -> seconds; ``"never"`` -> None (Job pods run until deleted)."""
    text = value.strip().lower()
    if text in ("never", "none", ""):
        return None
    try:
        seconds = float(text[:-1] if text.endswith("s") else text)
    except ValueError:
        raise bad_request(f"invalid --pod-run-time {value!r}: expected seconds or 'never'") from None
    if seconds < 0:
        raise bad_request(f"invalid --pod-run-time {value!r}: must not be negative")
    return seconds


def kubeconfig_path(explicit: str | None, default_data_dir: Path) -> str | None:
    """The flag, else $KUBECONFIG (None: the loader reads it, lists included), else the
    kubeconfig ``kubelite server`` writes into its default data dir."""
    if explicit:
        return explicit
    if os.environ.get("KUBECONFIG"):
        return None
    return str(default_data_dir / "kubeconfig.yaml")


def check_options(opts: SimOptions) -> None:
    """Validate the flags without touching the cluster (400/422 ``StatusError``)."""
    shape = node_options(prefix=opts.prefix, cpu=opts.cpu, memory=opts.memory, pods=opts.pods,
                         ephemeral_storage=opts.ephemeral_storage, zones=opts.zones, labels=opts.labels,
                         taints=opts.taints, extended=opts.extended)
    parse_run_time(opts.pod_run_time)
    if opts.nodes > shape.max_slots:
        raise bad_request(f"--nodes {opts.nodes}: the simulated address plan holds at most "
                          f"{shape.max_slots} nodes of this size")


def build_sim(opts: SimOptions, client: Client) -> SimCluster:
    return SimCluster(client, nodes=opts.nodes, prefix=opts.prefix, cpu=opts.cpu, memory=opts.memory,
                      pods=opts.pods, ephemeral_storage=opts.ephemeral_storage, zones=opts.zones,
                      labels=opts.labels, taints=opts.taints, extended=opts.extended,
                      lease_interval=opts.lease_interval, node_status_interval=opts.node_status_interval,
                      pod_run_time=parse_run_time(opts.pod_run_time), pod_stop_time=opts.pod_stop_time,
                      workers=opts.workers)


async def run_sim(opts: SimOptions, kubeconfig: str | None, *,
                  on_ready: Callable[[SimCluster], None] | None = None,
                  stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set). Bad options raise ``StatusError``
    before anything is sent to the cluster."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    # Enough connections for every pod worker, every heartbeat worker and the two watches.
    transport = HTTPTransport.from_kubeconfig(kubeconfig, user_agent="kubelite-sim",
                                              limit=opts.workers + 64 + 8)
    client = Client(transport, field_manager=FIELD_MANAGER)
    try:
        sim = build_sim(opts, client)
        await sim.start()
        tune_gc()  # after registration, so the nodes' long-lived objects are frozen
        if on_ready is not None:
            on_ready(sim)
        try:
            await stop.wait()
        finally:
            await sim.stop()
    finally:
        await client.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
