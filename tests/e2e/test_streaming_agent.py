"""Streaming against the embedded node agent: ``kubelite server`` with the agent on (the real
kubelet, the process runtime, the kubelet's HTTPS server) and the real kubectl -- logs, exec,
port-forward, cp and the Summary API through the API server's proxy. Skipped in a tree without
the agent and the process runtime."""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, free_port, make_cluster

NODE = "e2e-stream"
pytestmark = pytest.mark.e2e


def _agent_available() -> bool:
    try:
        import kubelite.kubelet.agent  # noqa: F401
        import kubelite.kubelet.runtime.process  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory):
    if not _agent_available():
        pytest.skip("the node agent and the process runtime are not in this tree")
    tmp = tmp_path_factory.mktemp("stream-agent")
    c = make_cluster(tmp, ["--node-name", NODE, "--kubelet-arg", f"port={free_port()}"])
    c.agent = True
    c.start()
    try:
        c.wait_for(lambda: any(x["type"] == "Ready" and x["status"] == "True"
                               for x in c.json("get", "node", NODE)["status"]["conditions"]),
                   timeout=30, what="node Ready")
        c.wait_for(lambda: c.kubectl("get", "serviceaccount", "default", check=False).returncode == 0,
                   what="default service account")
        yield c
    finally:
        c.kubectl("delete", "pods", "--all", "--grace-period=1", "--timeout=30s", check=False)
        c.stop()
        from kubelite.kubelet.runtime.process import default_state_dir, killall
        killall(default_state_dir(c.data_dir / "agent"), cgroup_root=None)


def test_streaming_through_the_embedded_agent(node: Cluster, tmp_path: Path) -> None:
    port = free_port()
    script = ("import http.server, socketserver, sys\n"
              "for i in range(3): print(f'line {i}', flush=True)\n"
              "print('to stderr', file=sys.stderr, flush=True)\n"
              f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler).serve_forever()\n")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
           "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": True,
                    "containers": [{"name": "main", "image": "host", "command": [sys.executable, "-u", "-c", script],
                                    "workingDir": str(tmp_path)}]}}
    node.kubectl("apply", "-f", "-", input=json.dumps(pod))
    node.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
    logs = node.wait_for(lambda: "to stderr" in (out := node.kubectl("logs", "web").stdout) and out, timeout=20)
    assert logs == "line 0\nline 1\nline 2\nto stderr\n"
    assert node.kubectl("logs", "web", "--tail=1").stdout == "to stderr\n"

    res = node.kubectl("exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 4", check=False)
    assert (res.returncode, res.stdout) == (4, "out\n") and res.stderr.startswith("err\n")
    assert node.kubectl("exec", "-i", "web", "--", "cat", input="through stdin\n").stdout == "through stdin\n"

    (tmp_path / "served.txt").write_text("hello over port-forward\n")
    local = free_port()
    pf = node.kubectl_background("port-forward", "pod/web", f"{local}:{port}")
    try:
        assert "Forwarding from" in pf.stdout.readline()
        with socket.create_connection(("127.0.0.1", local), timeout=10) as c:
            c.sendall(b"GET /served.txt HTTP/1.0\r\n\r\n")
            got = b""
            while chunk := c.recv(65536):
                got += chunk
        assert got.endswith(b"hello over port-forward\n"), got
    finally:
        pf.terminate()
        pf.wait(10)

    src = tmp_path / "copied-in.txt"
    src.write_text("cp payload\n" * 1000)
    dest_dir = tmp_path / "dest"
    dest_dir.mkdir()
    node.kubectl("cp", str(src), f"web:{dest_dir}/in.txt")
    assert (dest_dir / "in.txt").read_text() == src.read_text()

    time.sleep(1)
    doc = json.loads(node.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/stats/summary").stdout)
    assert doc["node"]["nodeName"] == NODE
    web = next(p for p in doc["pods"] if p["podRef"]["name"] == "web")
    assert web["containers"][0]["name"] == "main" and web["containers"][0]["memory"]["workingSetBytes"] > 0


def test_attach_and_exec_tty_through_the_embedded_agent(node: Cluster) -> None:
    import subprocess
    import threading

    from tests.e2e.conftest import KUBECTL

    script = "import sys\nfor line in sys.stdin: print('got', line.strip(), flush=True)\n"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"},
           "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": True,
                    "containers": [{"name": "main", "image": "host", "stdin": True,
                                    "command": [sys.executable, "-u", "-c", script]}]}}
    node.kubectl("apply", "-f", "-", input=json.dumps(pod))
    node.kubectl("wait", "--for=condition=Ready", "pod/reader", "--timeout=60s")
    proc = subprocess.Popen([KUBECTL, "attach", "-i", "reader"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=node.env())
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(line.startswith("got ping") for line in lines):
            proc.stdin.write("ping\n")
            proc.stdin.flush()
            time.sleep(0.5)
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert any(line == "got ping\n" for line in lines), (lines, err)

    cmd = f"{KUBECTL} exec -it reader -- sh -c 'tty >/dev/null && echo is-a-tty'"
    res = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, env=node.env(),
                         timeout=30, stdin=subprocess.DEVNULL)
    assert "is-a-tty" in res.stdout, res.stdout + res.stderr


def test_logs_previous_and_follow_through_the_embedded_agent(node: Cluster, tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    script = ("import pathlib, time\n"
              f"p = pathlib.Path({str(marker)!r}); n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n))\n"
              "print(f'run {n}', flush=True)\n"
              "if n == 1: raise SystemExit(1)\n"
              "for i in range(3): print(f'tick {i}', flush=True); time.sleep(0.5)\n"
              "time.sleep(3600)\n")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "again"},
           "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": True,
                    "containers": [{"name": "main", "image": "host", "command": [sys.executable, "-u", "-c", script]}]}}
    node.kubectl("apply", "-f", "-", input=json.dumps(pod))
    node.wait_for(lambda: (node.json("get", "pod", "again")["status"].get("containerStatuses") or [{}])[0]
                  .get("restartCount", 0) >= 1 and marker.read_text() == "2", timeout=40, what="a restart")
    assert node.kubectl("logs", "again", "--previous").stdout == "run 1\n"
    proc = node.kubectl_background("logs", "-f", "again")
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
    finally:
        proc.kill()
        proc.wait()
    assert lines == ["run 2\n", "tick 0\n", "tick 1\n", "tick 2\n"]


def test_kubectl_debug_through_the_embedded_agent(node: Cluster) -> None:
    """``kubectl debug``: an ephemeral container (the host's ``sh`` for a busybox image) started
    in the running pod, interactive through attach, and non-interactive then read with logs."""
    import subprocess
    import threading

    from tests.e2e.conftest import KUBECTL

    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debugged"},
           "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": True,
                    "containers": [{"name": "app", "image": "host", "command": ["sleep", "3600"]}]}}
    node.kubectl("apply", "-f", "-", input=json.dumps(pod))
    node.kubectl("wait", "--for=condition=Ready", "pod/debugged", "--timeout=60s")

    # non-interactive: created, runs once, its output through kubectl logs -c
    node.kubectl("debug", "debugged", "--image=busybox", "-c", "dbg", "--", "sh", "-c", "echo x-from-dbg")
    node.wait_for(lambda: "terminated" in _eph(node, "debugged", "dbg").get("state", {}), timeout=20,
                  what="dbg terminated")
    st = _eph(node, "debugged", "dbg")
    assert st["state"]["terminated"]["exitCode"] == 0 and st["restartCount"] == 0 and st["ready"] is False
    assert node.kubectl("logs", "debugged", "-c", "dbg").stdout == "x-from-dbg\n"

    # interactive, sharing the target's PID namespace: the debugger sees the app's sleep
    t0 = time.monotonic()
    proc = subprocess.run([KUBECTL, "debug", "debugged", "-i", "--image=busybox", "-c", "debugger",
                           "--target=app", "--", "sh"],
                          input="echo hi-from-debug; echo procs $(ls /proc | grep -c '^[0-9]');"
                                " for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f; echo; done | grep -c '^sleep 3600 $';"
                                " exit 0\n",
                          capture_output=True, text=True, env=node.env(), timeout=40)
    took = time.monotonic() - t0
    assert "hi-from-debug\n" in proc.stdout and "couldn't attach" not in proc.stderr, (proc.stdout, proc.stderr)
    if os.geteuid() == 0:      # isolated: the target's PID namespace (its init, sleep, the shell...)
        procs = int(proc.stdout.split("procs ", 1)[1].split()[0])
        assert procs < 10 and proc.stdout.endswith(f"procs {procs}\n1\n"), proc.stdout
    st = node.wait_for(lambda: (s := _eph(node, "debugged", "debugger")) and "terminated" in s["state"] and s,
                       timeout=20, what="debugger terminated")
    assert st["state"]["terminated"]["exitCode"] == 0 and st["started"] is False
    assert took < 30, took
    events = node.json("get", "events", "--field-selector", "involvedObject.name=debugged")["items"]
    got = {(e["reason"], e["message"], e["involvedObject"].get("fieldPath")) for e in events}
    assert ("Started", "Started container debugger", "spec.ephemeralContainers{debugger}") in got
    pod_now = node.json("get", "pod", "debugged")
    assert pod_now["status"]["phase"] == "Running" and len(pod_now["status"]["containerStatuses"]) == 1
    # -it: a TTY in the debugger (kubectl under `script`, as for exec -it above)
    cmd = f"{KUBECTL} debug debugged -it --image=busybox -c tty1 -- sh -c 'sleep 1; tty >/dev/null && echo is-a-tty; sleep 1'"
    res = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, env=node.env(),
                         timeout=30, stdin=subprocess.DEVNULL)
    assert "is-a-tty" in res.stdout, res.stdout + res.stderr
    assert _eph(node, "debugged", "tty1")["containerID"]
    # no command (the process runtime runs no image entrypoint): kubectl shows the waiting message
    waiting = subprocess.Popen([KUBECTL, "debug", "debugged", "-i", "--image=busybox", "-c", "bare"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=node.env())
    err_lines: list[str] = []
    threading.Thread(target=lambda: err_lines.extend(iter(waiting.stderr.readline, "")), daemon=True).start()
    try:
        st = node.wait_for(lambda: (s := _eph(node, "debugged", "bare")) and "waiting" in s["state"]
                           and s["state"]["waiting"].get("reason") == "CreateContainerError" and s,
                           timeout=20, what="bare waiting")
        assert "has no command" in st["state"]["waiting"]["message"]
        node.wait_for(lambda: any("container bare: container bare has no command" in x for x in err_lines),
                      timeout=20, what="kubectl's warning")
    finally:
        waiting.kill()
        waiting.wait(10)
    # deletion stops a still running ephemeral container too
    node.kubectl("debug", "debugged", "--image=busybox", "-c", "idle", "--", "sleep", "3601")
    node.wait_for(lambda: "running" in _eph(node, "debugged", "idle").get("state", {}), timeout=20, what="idle running")
    assert _sleeping("3601")
    node.kubectl("delete", "pod", "debugged", "--timeout=30s")
    assert not _sleeping("3601")


def _sleeping(arg: str) -> bool:
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "cmdline").read_bytes() == f"sleep\0{arg}\0".encode():
                return True
        except OSError:
            continue
    return False


def _eph(node: Cluster, pod: str, name: str) -> dict:
    p = node.json("get", "pod", pod)
    return next((s for s in p["status"].get("ephemeralContainerStatuses") or () if s["name"] == name), {})
