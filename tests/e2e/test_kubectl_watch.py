"""``kubectl get -w``: a long-running watch sees the creates, updates and deletes made by other
kubectl invocations, with the event types kubectl prints for ``--output-watch-events``."""
from __future__ import annotations

import subprocess
import threading

import pytest

from tests.e2e.conftest import Cluster

#: the API-only kubectl tests run with both supported kubectls (1.37 and 1.36)
pytestmark = pytest.mark.every_kubectl


class Watch:
    """A background ``kubectl get -w`` whose output lines are collected as they arrive."""

    def __init__(self, cluster: Cluster, *args: str) -> None:
        self.proc = cluster.kubectl_background(*args, "-w", "--output-watch-events", "--request-timeout=30s")
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def events(self, name: str) -> list[str]:
        return [f[0] for f in (line.split() for line in list(self.lines)) if len(f) > 1 and f[1] == name]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        return "\n".join(self.lines)


def test_get_watch_output_watch_events(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "before")
    w = Watch(cluster, "-n", ns, "get", "configmaps")
    try:
        # the initial list arrives as ADDED: once it is printed, the watch is running
        cluster.wait_for(lambda: w.events("before") == ["ADDED"], timeout=15, what="initial ADDED")
        cluster.kubectl("-n", ns, "create", "configmap", "watched", "--from-literal=a=1")
        cluster.kubectl("-n", ns, "label", "configmap", "watched", "seen=yes")
        cluster.kubectl("-n", ns, "delete", "configmap", "watched")
        cluster.wait_for(lambda: "DELETED" in w.events("watched"), timeout=15, what="DELETED event")
    finally:
        out = w.stop()
    assert out.splitlines()[0].split()[:2] == ["EVENT", "NAME"], out
    assert w.events("before") == ["ADDED"], out
    assert w.events("watched") == ["ADDED", "MODIFIED", "DELETED"], out


def test_watch_with_label_selector_sees_objects_enter_and_leave(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "configmap", "anchor")
    cluster.kubectl("-n", ns, "label", "configmap", "anchor", "pick=me")
    cluster.kubectl("-n", ns, "create", "configmap", "mover")
    w = Watch(cluster, "-n", ns, "get", "configmaps", "-l", "pick=me")
    try:
        cluster.wait_for(lambda: w.events("anchor") == ["ADDED"], timeout=15, what="initial ADDED")
        cluster.kubectl("-n", ns, "label", "configmap", "mover", "pick=me")   # enters the selection
        cluster.kubectl("-n", ns, "label", "configmap", "mover", "other=1")   # changes inside it
        cluster.kubectl("-n", ns, "label", "configmap", "mover", "pick-")     # leaves it
        cluster.wait_for(lambda: "DELETED" in w.events("mover"), timeout=15, what="DELETED event")
    finally:
        out = w.stop()
    assert w.events("mover") == ["ADDED", "MODIFIED", "DELETED"], out
    assert w.events("anchor") == ["ADDED"], out
