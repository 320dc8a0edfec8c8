"""``kubelite sim`` as a user runs it: a real ``kubelite server --disable-agent`` subprocess,
the sim subprocess joining it over HTTPS with the server's kubeconfig."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kubelite.client import LEASES, NODES, PODS, Client, HTTPTransport
from tests.e2e.conftest import make_cluster

from .conftest import eventually


@pytest.fixture
def server(tmp_path: Path):
    c = make_cluster(tmp_path)
    c.start()
    yield c
    c.stop()


async def test_cli_sim_over_https(server, tmp_path: Path) -> None:
    log = open(tmp_path / "sim.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.main", "sim", "--nodes", "3",
                             "--kubeconfig", str(server.kubeconfig), "--node-prefix", "cli",
                             "--zones", "a,b", "--taint", "sim=true:NoSchedule", "--extended", "example.com/fpga=2",
                             "--lease-interval", "0.5", "--pod-run-time", "0.5"],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "KUBECONFIG": ""})
    client = Client(HTTPTransport.from_kubeconfig(str(server.kubeconfig)), field_manager="test")
    try:
        async def nodes_ready() -> list | None:
            items = (await client.list(NODES, label_selector="kubelite.io/simulated=true")).items
            ready = [n for n in items if any(c["type"] == "Ready" and c["status"] == "True"
                                             for c in n["status"]["conditions"])]
            return items if len(ready) == 3 else None
        nodes = await eventually(nodes_ready, timeout=20, what="3 Ready nodes")
        assert sorted(n["metadata"]["name"] for n in nodes) == ["cli-0", "cli-1", "cli-2"]
        assert {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes} == {"a", "b"}
        assert all(n["status"]["capacity"]["example.com/fpga"] == "2" for n in nodes)
        assert all(n["spec"]["taints"][0]["key"] == "sim" for n in nodes)

        await client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job", "namespace": "default"},
                                   "spec": {"nodeName": "cli-2", "restartPolicy": "Never",
                                            "containers": [{"name": "c", "image": "busybox"}]}})

        async def phase() -> str | None:
            p = await client.get(PODS, "job", namespace="default")
            return p["status"].get("phase") if p["status"].get("phase") == "Succeeded" else None
        await eventually(phase, timeout=15, what="pod Succeeded")

        async def renew() -> str:
            return (await client.get(LEASES, "cli-0", namespace="kube-node-lease"))["spec"]["renewTime"]
        first = await renew()
        await eventually(lambda: _changed(renew, first), timeout=10, what="lease renewed")

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0
        stopped = await renew()
        await asyncio.sleep(1.2)
        assert await renew() == stopped  # heartbeats stopped
        assert len((await client.list(NODES, label_selector="kubelite.io/simulated=true")).items) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await client.close()
        log.close()


async def _changed(get, old: str) -> bool:  # noqa: ANN001
    return await get() != old
