"""The controller manager: registry resolution, --controllers selection, and a leader-elected
run against the in-process API server."""
from __future__ import annotations

import asyncio
import contextlib

from kubelite.client import LEASES, REPLICASETS
from kubelite.controllers.manager import REGISTRY, ControllerManager, resolve, select
from kubelite.controllers.replicaset import ReplicaSetController
from tests.inprocess import api_client

from .workloads import eventually, list_pods, replicaset


def test_select_follows_controllers_flag():
    names = ["cronjob", "deployment", "job"]
    assert select(names, None) == names
    assert select(names, {"*"}) == names
    assert select(names, {"*", "-cronjob"}) == ["deployment", "job"]
    assert select(names, {"job", "missing"}) == ["job"]


def test_resolve_skips_broken_entries(caplog):
    classes = resolve({"replicaset": REGISTRY["replicaset"], "bogus": "kubelite.controllers.nope:Nope",
                       "notacontroller": "kubelite.controllers.manager:select"},
                      modules=["kubelite.controllers.does_not_exist"])
    assert classes == {"replicaset": ReplicaSetController}
    assert "bogus" in caplog.text and "notacontroller" in caplog.text


def test_every_workload_controller_resolves():
    classes = resolve(modules=[])
    assert {"replicaset", "replicationcontroller", "deployment", "daemonset", "statefulset", "job",
            "cronjob"} <= set(classes)


async def test_runs_controllers_while_holding_the_lease(tmp_path):
    async with api_client(tmp_path) as (_, client):
        manager = ControllerManager(client, enabled={"replicaset"}, modules=[],
                                    options={"identity": "cm-1", "lease_duration": 3, "renew_deadline": 2.5,
                                             "retry_period": 0.5})
        task = asyncio.create_task(manager.run(), name="test-controller-manager")
        try:
            await asyncio.wait_for(manager.started.wait(), 5)
            assert list(manager.controllers) == ["replicaset"]
            lease = await client.get(LEASES, "kube-controller-manager", namespace="kube-system")
            assert lease["spec"]["holderIdentity"] == "cm-1"
            await client.create(REPLICASETS, replicaset("web", 2))

            async def two():
                pods = await list_pods(client, "app=web")
                return len(pods) == 2
            await eventually(two, what="pods from the managed replicaset controller")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        lease = await client.get(LEASES, "kube-controller-manager", namespace="kube-system")
        assert not lease["spec"].get("holderIdentity")  # released on a clean stop
