"""kubectl logs, exec, attach, port-forward, cp, debug and the node proxy, end to end: the real
kubectl 1.32 against a real ``kubelite server``, proxied to a real ``KubeletServer`` (TLS with
the API server's kubelet client certificate) whose containers are host processes."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import KUBECTL, Cluster, free_port
from tests.e2e.streaming_agent import Agent, patch_status, register_node

PY = "python3"
# prints a numbered line per input line, and a greeting first
ECHO = [PY, "-u", "-c", "import sys\nprint('hello from main')\nprint('to stderr', file=sys.stderr)\n"
        "for i, l in enumerate(sys.stdin): print(f'got {i} {l.strip()}')"]


@pytest.fixture(scope="module")
def agent(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory):
    a = Agent(cluster, tmp_path_factory.mktemp("agent")).start()
    yield a
    a.stop()


@pytest.fixture(scope="module")
def sns(cluster: Cluster):
    name = "stream-" + uuid.uuid4().hex[:6]
    cluster.kubectl("create", "namespace", name)
    return name


def wait_log(cluster: Cluster, ns: str, pod: str, text: str, *args: str) -> str:
    return cluster.wait_for(lambda: (out := cluster.kubectl("logs", pod, "-n", ns, *args).stdout) and text in out and out,
                            timeout=15, what=f"{text!r} in logs")


def test_logs_options(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "lg", {"main": [PY, "-u", "-c", "import time\nfor i in range(5): print(f'line {i}')\ntime.sleep(3600)"]},
                  previous={"main": b"2024-01-01T00:00:00.000000001Z stdout F from the last run\n"})
    out = wait_log(cluster, sns, "lg", "line 4")
    assert out == "".join(f"line {i}\n" for i in range(5))
    assert cluster.kubectl("logs", "lg", "-n", sns, "--tail=2").stdout == "line 3\nline 4\n"
    ts = cluster.kubectl("logs", "lg", "-n", sns, "--timestamps", "--tail=1").stdout
    stamp, text = ts.rstrip("\n").split(" ", 1)
    assert text == "line 4" and stamp.endswith("Z") and len(stamp) == 30
    assert cluster.kubectl("logs", "lg", "-n", sns, "--since=1h").stdout.count("line") == 5
    assert cluster.kubectl("logs", "lg", "-n", sns, "--previous").stdout == "from the last run\n"
    assert cluster.kubectl("logs", "lg", "-n", sns, "-c", "main", "--limit-bytes=8").stdout == "line 0\nl"
    res = cluster.kubectl("logs", "lg", "-n", sns, "-c", "nope", check=False)
    assert res.returncode == 1 and "container nope is not valid for pod lg" in res.stderr


def test_logs_follow_streams_until_the_container_exits(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "fl", {"main": [PY, "-u", "-c", "import time\nfor i in range(4):\n print(f'tick {i}'); time.sleep(0.7)"]})
    start = time.monotonic()
    proc = cluster.kubectl_background("logs", "-f", "fl", "-n", sns)
    first = proc.stdout.readline()
    assert first == "tick 0\n" and time.monotonic() - start < 2.5   # streamed, not at the end
    out, _ = proc.communicate(timeout=20)                           # ends when the container exits
    assert out == "tick 1\ntick 2\ntick 3\n" and proc.returncode == 0


def test_exec_stdout_stderr_exit_code_and_stdin(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "ex", {"main": ECHO})
    res = cluster.kubectl("exec", "ex", "-n", sns, "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (res.returncode, res.stdout) == (3, "out\n")
    assert res.stderr == "err\ncommand terminated with exit code 3\n"   # kubectl's own line
    res = cluster.kubectl("exec", "ex", "-n", sns, "--", "echo", "hi")
    assert res.stdout == "hi\n" and res.returncode == 0
    res = cluster.kubectl("exec", "-i", "ex", "-n", sns, "--", "tr", "a-z", "A-Z", input="shout this\n")
    assert res.stdout == "SHOUT THIS\n"
    res = cluster.kubectl("exec", "ex", "-n", sns, "--", "head", "-c", "5000000", "/dev/zero")
    assert len(res.stdout) == 5_000_000
    res = cluster.kubectl("exec", "ex", "-n", sns, "--", "/no/such/binary", check=False)
    assert res.returncode != 0 and "no/such/binary" in res.stderr


def test_exec_tty(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "tt", {"main": ECHO})
    cmd = f"{KUBECTL} exec -it tt -n {sns} -- sh -c 'tty >/dev/null && echo is-a-tty; stty size'"
    res = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, env=cluster.env(),
                         timeout=30, stdin=subprocess.DEVNULL)
    assert "is-a-tty" in res.stdout, res.stdout + res.stderr
    assert res.returncode == 0


def test_attach(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "at", {"main": ECHO})
    wait_log(cluster, sns, "at", "hello from main")
    proc = subprocess.Popen([KUBECTL, "attach", "-i", "at", "-n", sns], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cluster.env())
    try:
        time.sleep(1.5)   # attach is established before the line is written
        proc.stdin.write("ping\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line == "got 0 ping\n"
    finally:
        proc.kill()
        proc.wait()


def test_port_forward(cluster: Cluster, agent: Agent, sns: str) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    remote = srv.getsockname()[1]

    def serve() -> None:
        for _ in range(3):
            conn, _ = srv.accept()
            with conn:
                data = conn.recv(1024)
                conn.sendall(b"echo:" + data if data != b"big" else b"x" * 3_000_000)
    threading.Thread(target=serve, daemon=True).start()
    agent.run_pod(sns, "pf", {"main": ECHO})
    local = free_port()
    proc = cluster.kubectl_background("port-forward", "pod/pf", "-n", sns, f"{local}:{remote}")
    try:
        assert "Forwarding from 127.0.0.1" in proc.stdout.readline()
        for msg in (b"first", b"second"):
            with socket.create_connection(("127.0.0.1", local), timeout=10) as c:
                c.sendall(msg)
                got = b""
                while not got.endswith(msg):
                    chunk = c.recv(1024)
                    if not chunk:
                        break
                    got += chunk
                assert got == b"echo:" + msg
        with socket.create_connection(("127.0.0.1", local), timeout=10) as c:
            c.sendall(b"big")
            got = b""
            while chunk := c.recv(65536):
                got += chunk
            assert got == b"x" * 3_000_000                   # until the pod side closed
    finally:
        proc.terminate()
        proc.wait(10)
        srv.close()


def test_port_forward_to_a_closed_port_reports_the_error(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "pfx", {"main": ECHO})
    local, remote = free_port(), free_port()
    proc = cluster.kubectl_background("port-forward", "pod/pfx", "-n", sns, f"{local}:{remote}")
    try:
        assert "Forwarding from" in proc.stdout.readline()
        with socket.create_connection(("127.0.0.1", local), timeout=10) as c:
            c.settimeout(10)
            assert c.recv(10) == b""
        time.sleep(0.5)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"error forwarding port {remote} to pod pfx" in err
    assert f"dial tcp localhost:{remote}: connect: connection refused" in err
    assert "lost connection to pod" in err          # kubectl 1.29+ stops on a forwarding error


def test_cp_both_ways(cluster: Cluster, agent: Agent, sns: str, tmp_path: Path) -> None:
    agent.run_pod(sns, "cp", {"main": ECHO})
    src = tmp_path / "in.txt"
    src.write_text("payload\n" * 300_000)      # 2.4 MB through exec's stdin and stdout
    inside = tmp_path / "inside"
    inside.mkdir()
    cluster.kubectl("cp", str(src), f"{sns}/cp:{inside}/copied.txt")
    assert (inside / "copied.txt").read_text() == src.read_text()
    back = tmp_path / "back.txt"
    cluster.kubectl("cp", f"{sns}/cp:{inside}/copied.txt", str(back))
    assert back.read_text() == src.read_text()


def test_node_proxy_stats_summary(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "st", {"main": [PY, "-c", "x = bytearray(30_000_000)\nwhile True: pass"]})
    time.sleep(1)
    doc = json.loads(cluster.kubectl("get", "--raw", f"/api/v1/nodes/{agent.node}/proxy/stats/summary").stdout)
    assert doc["node"]["nodeName"] == agent.node
    assert doc["node"]["cpu"]["usageCoreNanoSeconds"] > 0 and doc["node"]["memory"]["workingSetBytes"] > 0
    assert doc["node"]["fs"]["capacityBytes"] > 0
    pod = next(p for p in doc["pods"] if p["podRef"]["name"] == "st")
    c = pod["containers"][0]
    assert c["name"] == "main"
    assert c["memory"]["workingSetBytes"] > 25_000_000              # the bytearray is resident
    assert c["cpu"]["usageNanoCores"] > 20_000_000     # a busy loop (on a shared machine: some of a core)
    assert cluster.kubectl("get", "--raw", f"/api/v1/nodes/{agent.node}/proxy/healthz").stdout == "ok"


def test_waiting_container_and_unreachable_node(cluster: Cluster, agent: Agent, sns: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "wt", "namespace": sns},
           "spec": {"nodeName": agent.node, "containers": [{"name": "c", "image": "busybox"}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    patch_status(cluster, sns, "wt", {"phase": "Pending", "containerStatuses": [
        {"name": "c", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "ContainerCreating"}}}]})
    res = cluster.kubectl("logs", "wt", "-n", sns, check=False)
    assert res.returncode == 1
    assert 'container "c" in pod "wt" is waiting to start: ContainerCreating' in res.stderr
    # a node without an agent (a simulated one): a clear error within seconds, not a hang
    dead = "dead-" + uuid.uuid4().hex[:5]
    port = free_port()
    register_node(cluster, dead, port)
    pod["metadata"]["name"], pod["spec"]["nodeName"] = "gone", dead
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    patch_status(cluster, sns, "gone", {"phase": "Running", "containerStatuses": [
        {"name": "c", "image": "busybox", "imageID": "", "ready": True, "restartCount": 0,
         "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})
    start = time.monotonic()
    res = cluster.kubectl("logs", "gone", "-n", sns, check=False)
    assert res.returncode == 1 and time.monotonic() - start < 10
    assert f'Get "https://127.0.0.1:{port}/containerLogs/{sns}/gone/c' in res.stderr
    assert f"dial tcp 127.0.0.1:{port}: connect: connection refused" in res.stderr
    res = cluster.kubectl("exec", "gone", "-n", sns, "--", "true", check=False)
    assert res.returncode == 1 and "connection refused" in res.stderr


def test_stream_authorization_needs_create(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "az", {"main": ECHO})
    cluster.kubectl("create", "role", "reader", "-n", sns, "--verb=get,list", "--resource=pods,pods/log,pods/exec")
    cluster.kubectl("create", "rolebinding", "reader", "-n", sns, "--role=reader", "--user=alice")
    wait_log(cluster, sns, "az", "hello")
    assert "hello from main" in cluster.kubectl("logs", "az", "-n", sns, "--as=alice").stdout
    res = cluster.kubectl("exec", "az", "-n", sns, "--as=alice", "--", "true", check=False)
    assert res.returncode == 1
    assert 'cannot create resource "pods/exec" in API group "" in the namespace' in res.stderr


def test_debug_adds_an_ephemeral_container(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "dbg", {"main": ECHO})
    res = cluster.kubectl("debug", "dbg", "-n", sns, "--image=busybox", "--target=main", "--container=dbgr",
                          "--", "sh", "-c", "echo debugging")
    pod = cluster.json("get", "pod", "dbg", "-n", sns)
    eph = pod["spec"]["ephemeralContainers"]
    assert [e["name"] for e in eph] == ["dbgr"] and eph[0]["targetContainerName"] == "main", res.stdout
    assert eph[0]["terminationMessagePolicy"] == "File"            # defaulted as any container
    # ephemeral containers are append-only
    patch = json.dumps({"spec": {"ephemeralContainers": []}})
    res = cluster.kubectl("patch", "pod", "dbg", "-n", sns, "--subresource=ephemeralcontainers", "--type=merge",
                          "-p", patch, check=False)
    assert res.returncode == 1 and 'existing ephemeral containers "dbgr" may not be removed' in res.stderr
    bad = {"spec": {"ephemeralContainers": [eph[0], {"name": "p", "image": "busybox", "ports": [{"containerPort": 80}]}]}}
    res = cluster.kubectl("patch", "pod", "dbg", "-n", sns, "--subresource=ephemeralcontainers", "--type=strategic",
                          "-p", json.dumps(bad), check=False)
    assert res.returncode == 1 and "cannot be set for an Ephemeral Container" in res.stderr


def test_debug_interactive_attaches_once_the_kubelet_runs_it(cluster: Cluster, agent: Agent, sns: str) -> None:
    """kubectl debug -i: the API side (ephemeralcontainers, then attach); the kubelet's part --
    start the container, report ephemeralContainerStatuses -- is played by the test."""
    agent.run_pod(sns, "dbi", {"main": ECHO})

    def play_kubelet() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pod = cluster.json("get", "pod", "dbi", "-n", sns)
            for e in pod["spec"].get("ephemeralContainers") or []:
                from kubelite.kubelet.config import ResolvedContainer
                from tests.kubelet.server.hostruntime import HostContainer
                uid = pod["metadata"]["uid"]
                cid = "eph-" + uuid.uuid4().hex[:6]
                log_path = str(agent.dir / f"{cid}.log")
                agent.call(agent.runtime.start_container_process(
                    HostContainer(cid, "sb-" + uid[:8], e["name"], log_path), ECHO))
                agent.resolver.add(ResolvedContainer(sns, "dbi", uid, e["name"], "sb-" + uid[:8], cid, log_path))
                patch_status(cluster, sns, "dbi", {"ephemeralContainerStatuses": [
                    {"name": e["name"], "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
                     "containerID": f"host://{cid}", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})
                return
            time.sleep(0.3)

    t = threading.Thread(target=play_kubelet, daemon=True)
    t.start()
    proc = subprocess.Popen([KUBECTL, "debug", "-i", "dbi", "-n", sns, "--image=busybox", "--target=main",
                             "--container=dbg"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cluster.env())
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        t.join(25)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("got" in line for line in lines):
            # lines sent before kubectl attached are the container's, unseen: repeat until one shows
            proc.stdin.write("x\n")
            proc.stdin.flush()
            time.sleep(0.5)
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert any(line.startswith("got ") and line.endswith(" x\n") for line in lines), (lines, err)


def test_interrupted_exec_ends_the_session(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "ix", {"main": ECHO})
    marker = str(4000 + os.getpid() % 1000)
    proc = cluster.kubectl_background("exec", "ix", "-n", sns, "--", "sleep", marker)

    def running() -> bool:
        return subprocess.run(["pgrep", "-xf", f"sleep {marker}"], capture_output=True).returncode == 0

    cluster.wait_for(running, timeout=15, what="the exec'd process")
    proc.kill()   # Ctrl-C: the WebSocket closes
    proc.wait()
    cluster.wait_for(lambda: not running(), timeout=15, what="the exec'd process to be stopped")


def test_kubelet_port_needs_the_api_servers_certificate(cluster: Cluster, agent: Agent, tmp_path: Path) -> None:
    import ssl
    import urllib.error
    import urllib.request

    from kubelite.server.tls import ClusterPKI, issue_client_cert

    pki = ClusterPKI(cluster.data_dir / "tls")

    def get(path: str, cert: tuple[Path, Path] | None = None) -> int:
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        if cert:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{agent.port}{path}", context=ctx, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    node_cert = (tmp_path / "node.crt", tmp_path / "node.key")
    issue_client_cert(pki, "system:node:other", ["system:nodes"], *node_cert)
    assert get("/healthz") == 200
    assert get("/stats/summary") == 401
    assert get("/stats/summary", node_cert) == 403                 # another node may not read this one
    assert get("/stats/summary", (pki.kubelet_client_cert, pki.kubelet_client_key)) == 200


def test_bad_requests_get_statuses(cluster: Cluster, agent: Agent, sns: str) -> None:
    agent.run_pod(sns, "bd", {"main": ECHO})
    base = f"/api/v1/namespaces/{sns}/pods/bd"
    cases = {
        f"{base}/log?tailLines=-1":
            'The PodLogOptions "bd" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
        f"{base}/log?sinceSeconds=abc": 'parsing "abc": invalid syntax',
        f"{base}/log?follow=maybe": 'parsing "maybe": invalid syntax',
        f"{base}/log?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z": "at most one of",
        f"{base}/exec?command=true&stdout=true": "Upgrade request required",            # no upgrade
        "/api/v1/nodes/no-such-node/proxy/stats/summary": 'nodes "no-such-node" not found',
        f"/api/v1/nodes/{agent.node}/proxy/no/such/path": "NotFound",
        f"/api/v1/namespaces/{sns}/pods/missing/log": 'pods "missing" not found',
    }
    for path, expect in cases.items():
        res = cluster.kubectl("get", "--raw", path, check=False)
        assert res.returncode == 1 and expect in res.stderr, (path, res.stderr)
        assert "Traceback" not in res.stderr and "nternal" not in res.stderr
    unbound = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nb", "namespace": sns},
               "spec": {"schedulerName": "nobody", "containers": [{"name": "c", "image": "busybox"}]}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(unbound))
    res = cluster.kubectl("logs", "nb", "-n", sns, check=False)
    assert "pod nb does not have a host assigned" in res.stderr
