"""Graceful pod deletion in the store (generic registry ``ShouldDeleteDuringUpdate``): writes to a
pod inside its grace period keep it -- the kubelet reports its containers stopped -- and only a
deletion with grace 0 (or an update once no grace is left) removes it."""
from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.client import PODS
from tests.inprocess import api_client, is_gone


def pod(name: str, *, finalizers: list[str] | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "default"}
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 30,
                     "containers": [{"name": "c", "image": "busybox"}]}}


@pytest.mark.parametrize("finalizers", [None, ["example.com/hold"]])
async def test_status_write_in_grace_period_keeps_the_pod(tmp_path: Path, finalizers: list[str] | None) -> None:
    async with api_client(tmp_path) as (_, client):
        created = await client.create(PODS, pod("p", finalizers=finalizers))
        await client.delete(PODS, "p", namespace="default")
        marked = await client.get(PODS, "p", namespace="default")
        assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
        patch = {"metadata": {"uid": created["metadata"]["uid"]},
                 "status": {"phase": "Succeeded", "conditions": [{"type": "Ready", "status": "False"}]}}
        await client.patch(PODS, "p", patch, namespace="default", subresource="status")
        if finalizers:  # the last finalizer going inside the grace period keeps it too
            await client.patch(PODS, "p", {"metadata": {"finalizers": None}}, namespace="default")
        kept = await client.get(PODS, "p", namespace="default")
        assert kept["status"]["phase"] == "Succeeded"
        await client.delete(PODS, "p", namespace="default", grace_period_seconds=0,
                            preconditions={"uid": created["metadata"]["uid"]})
        assert await is_gone(client, PODS, "p")


async def test_finalizer_removed_after_grace_zero_deletes(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        await client.create(PODS, pod("f", finalizers=["example.com/hold"]))
        await client.delete(PODS, "f", namespace="default", grace_period_seconds=0)
        held = await client.get(PODS, "f", namespace="default")
        assert held["metadata"]["deletionGracePeriodSeconds"] == 0
        await client.patch(PODS, "f", {"metadata": {"finalizers": None}}, namespace="default")
        assert await is_gone(client, PODS, "f")
