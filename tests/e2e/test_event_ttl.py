"""Events expire (``--event-ttl``, kube-apiserver's flag, default 1h) through the store's lease:
a real server with a 2 s TTL, the real kubectl creating and listing Events; other objects stay.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import make_cluster


def event(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "ConfigMap", "name": "cm", "namespace": "default"},
            "reason": "Test", "message": "expires", "type": "Normal"}


def test_events_expire_after_the_event_ttl(tmp_path: Path) -> None:
    c = make_cluster(tmp_path, ["--event-ttl", "2s", "--disable-controllers", "--disable-scheduler"])
    c.start()
    try:
        c.kubectl("create", "-f", "-", input=json.dumps(event("short-lived")))
        c.kubectl("create", "configmap", "stays", "-n", "default")
        assert c.json("get", "events", "-n", "default")["items"], "the event exists at first"
        c.wait_for(lambda: not c.json("get", "events", "-n", "default")["items"], timeout=15, what="events expired")
        assert c.json("get", "configmap", "stays", "-n", "default")["metadata"]["name"] == "stays"
    finally:
        c.stop()


def test_event_ttl_must_be_a_duration(tmp_path: Path) -> None:
    c = make_cluster(tmp_path, ["--event-ttl", "an hour"])
    with pytest.raises(RuntimeError, match="Invalid value for '--event-ttl'"):
        c.start(timeout=20)
