"""Pod admission against a real in-process API server: default service account and priority."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kubelite.client import PODS, ApiError, ResourceRef
from tests.inprocess import api_client

PRIORITYCLASSES = ResourceRef("scheduling.k8s.io", "v1", "priorityclasses", False, "PriorityClass")


def pod(name: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


async def test_service_account_and_priority_defaults(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        plain = await client.create(PODS, pod("plain"))
        assert plain["spec"]["serviceAccountName"] == "default"
        assert plain["spec"]["serviceAccount"] == "default"
        assert plain["spec"]["priority"] == 0

        own = await client.create(PODS, pod("own", serviceAccountName="builder"))
        assert own["spec"]["serviceAccountName"] == "builder"

        crit = await client.create(PODS, pod("crit", priorityClassName="system-node-critical"))
        assert crit["spec"]["priority"] == 2000001000
        assert crit["spec"]["preemptionPolicy"] == "PreemptLowerPriority"

        await client.create(PRIORITYCLASSES, {"metadata": {"name": "everyone"}, "value": 7, "globalDefault": True})
        defaulted = None
        for i in range(30):  # the class cache refreshes within a second
            p = await client.create(PODS, pod(f"dflt-{i}"))
            if p["spec"].get("priorityClassName") == "everyone":
                defaulted = p
                break
            await asyncio.sleep(0.1)
        assert defaulted is not None and defaulted["spec"]["priority"] == 7


async def test_unknown_priority_class_is_rejected(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, client):
        with pytest.raises(ApiError) as e:
            await client.create(PODS, pod("nope", priorityClassName="missing"))
        assert e.value.code == 403 and "no PriorityClass with name missing" in e.value.message
