"""The controller manager: registry resolution, --controllers selection, and a leader-elected
run against the in-process API server."""
from __future__ import annotations

import asyncio
import contextlib

from kubelite.client import LEASES, REPLICASETS
import pytest

from kubelite.controllers.base import Controller
from kubelite.controllers.manager import REGISTRY, ControllerImportError, ControllerManager, resolve, select
from tests.inprocess import api_client

from .workloads import eventually, list_pods, replicaset


def test_select_follows_controllers_flag():
    names = ["cronjob", "deployment", "job"]
    assert select(names, None) == names
    assert select(names, {"*"}) == names
    assert select(names, {"*", "-cronjob"}) == ["deployment", "job"]
    assert select(names, {"job", "missing"}) == ["job"]


def test_a_broken_entry_fails_resolution_naming_it():
    """One registry; an entry that does not import (or is no Controller) stops start-up."""
    with pytest.raises(ControllerImportError) as e:
        resolve({"replicaset": REGISTRY["replicaset"], "bogus": "kubelite.controllers.nope:Nope",
                 "notacontroller": "kubelite.controllers.manager:select"})
    assert "bogus (kubelite.controllers.nope:Nope): ModuleNotFoundError" in str(e.value)
    assert "notacontroller" in str(e.value) and "replicaset" not in str(e.value)


def test_every_registry_entry_loads():
    classes = resolve()
    assert set(classes) == set(REGISTRY)
    for name, cls in classes.items():
        assert issubclass(cls, Controller)
        own = getattr(cls, "name", None)
        assert own in (None, name) or isinstance(own, property), (name, own)
    assert {"replicaset", "replicationcontroller", "deployment", "daemonset", "statefulset", "job",
            "cronjob", "garbagecollector", "namespace", "endpointslice"} <= set(classes)


async def test_runs_controllers_while_holding_the_lease(tmp_path):
    async with api_client(tmp_path) as (_, client):
        manager = ControllerManager(client, enabled={"replicaset"},
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
