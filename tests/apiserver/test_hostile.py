"""Hostile input against a real ``kubelite server``: requests built to exhaust memory or time
(patch bombs, huge YAML bodies, slow connections, header injection) get a bounded answer, and
never stall the requests of other clients.

One server subprocess per module (``make_cluster``), reached over HTTPS with the admin
certificate (``tests/apiserver/test_garbage.py``'s ``Api``); the server's RSS is read from
/proc so a test can prove a request did not grow it.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver.test_garbage import Api, expect
from tests.e2e.conftest import Cluster, make_cluster

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = make_cluster(tmp_path_factory.mktemp("hostile"))
    c.start()
    try:
        yield c
    finally:
        c.stop()
        log = c.log_path.read_text() if c.log_path else ""
        assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def api(server: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    a = Api(server, tmp_path_factory.mktemp("certs"))
    yield a
    a.close()


def rss_kib(server: Cluster) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def configmap(api: Api, data: dict[str, str] | None = None) -> str:
    name = "cm-" + uuid.uuid4().hex[:8]
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v" * 1000}}
    r = api.request("POST", CM, json.dumps(body))
    assert r.status == 201, r.body[:300]
    return name


# --- patch bombs ------------------------------------------------------------------------------


def copy_bomb(ops: int) -> str:
    """The issue's 1.3 KB patch: each op copies the whole ``data`` map into itself, doubling it."""
    return json.dumps([{"op": "copy", "from": "/data", "path": f"/data/a{i}"} for i in range(ops)])


def test_json_patch_copy_bomb_is_refused_fast_without_memory(api: Api, server: Cluster) -> None:
    name = configmap(api)
    api.request("GET", f"{CM}/{name}")  # warm the connection and the handlers
    before = rss_kib(server)
    for ops in (22, 25):
        t0 = time.monotonic()
        r = api.request("PATCH", f"{CM}/{name}", copy_bomb(ops), "application/json-patch+json")
        took = time.monotonic() - t0
        status = expect(r, 422, f"{ops}-copy patch")
        assert "accumulated size increase of copy" in json.dumps(status), status
        assert took < 1.0, f"{ops}-copy patch took {took:.2f}s"
    grown = rss_kib(server) - before
    assert grown < 64 * 1024, f"server RSS grew {grown} KiB"
    # the object is unchanged, and the server still serves
    got = api.request("GET", f"{CM}/{name}").json
    assert list(got["data"]) == ["k"]


def test_json_patch_copies_within_the_limit_still_work(api: Api) -> None:
    name = configmap(api, {"k": "v" * 1000})
    ops = json.dumps([{"op": "copy", "from": "/data/k", "path": f"/data/a{i}"} for i in range(100)])
    r = api.request("PATCH", f"{CM}/{name}", ops, "application/json-patch+json")
    assert r.status == 200, r.body[:300]
    assert len(r.json["data"]) == 101


def test_json_patch_operation_count_is_capped(api: Api) -> None:
    name = configmap(api)
    ops = json.dumps([{"op": "test", "path": "/data/k", "value": "v" * 1000}] + [{"op": "test", "path": "/a"}] * 10_000)
    status = expect(api.request("PATCH", f"{CM}/{name}", ops, "application/json-patch+json"), 413, "10,001 ops")
    assert status["reason"] == "RequestEntityTooLarge"
    assert "maximum operations in a JSON patch is 10000, got 10001" in status["message"]


@pytest.mark.parametrize("ctype", ["application/merge-patch+json", "application/strategic-merge-patch+json",
                                   "application/apply-patch+yaml", "application/json-patch+json"])
def test_patch_results_larger_than_a_body_are_refused(api: Api, ctype: str) -> None:
    """A big object patched with a big body: the result is more than any request may carry,
    so it is refused (413) whatever the patch type, before anything else looks at it."""
    name = configmap(api, {"a": "x" * (900 * 1024)})  # under ConfigMap's 1 MiB
    big = "y" * (2300 * 1024)  # under the 3 MiB body limit; the two together are over it
    if ctype == "application/json-patch+json":
        body = json.dumps([{"op": "add", "path": "/data/b", "value": big}])
    elif ctype == "application/apply-patch+yaml":
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"b": big}})
    else:
        body = json.dumps({"data": {"b": big}})
    query = "?fieldManager=bomb" if ctype == "application/apply-patch+yaml" else ""
    status = expect(api.request("PATCH", f"{CM}/{name}{query}", body, ctype), 413, ctype)
    assert status["reason"] == "RequestEntityTooLarge"
    assert list(api.request("GET", f"{CM}/{name}").json["data"]) == ["a"]


# --- big bodies ---------------------------------------------------------------------------------


def big_cluster_role_yaml(name: str, rules: int) -> bytes:
    """A YAML ClusterRole of ``rules`` rules: many small nodes, the slowest shape to parse."""
    lines = ["apiVersion: rbac.authorization.k8s.io/v1", "kind: ClusterRole", "metadata:", f"  name: {name}",
             "rules:"]
    for i in range(rules):
        lines += [f'- apiGroups: ["g{i}.example.com"]', f'  resources: ["things{i}", "others{i}"]',
                  "  verbs: [get, list, watch]"]
    return ("\n".join(lines) + "\n").encode()


def test_big_yaml_body_does_not_delay_other_requests(api: Api, server: Cluster, tmp_path: Path) -> None:
    """A ~2.9 MB YAML create (seconds of parsing) runs while another client GETs: the GETs
    are answered promptly throughout, and the create still succeeds."""
    import threading

    body = big_cluster_role_yaml("big-" + uuid.uuid4().hex[:6], 27_000)
    assert 2_500_000 < len(body) < 3 * 1024 * 1024
    name = configmap(api)
    other = Api(server, tmp_path)
    other._connect().timeout = 180  # a busy machine may take a while; the GETs are what is timed
    result: dict[str, object] = {}

    def create() -> None:
        t0 = time.monotonic()
        result["reply"] = other.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", body,
                                        "application/yaml")
        result["took"] = time.monotonic() - t0

    worker = threading.Thread(target=create)
    worker.start()
    latencies = []
    try:
        time.sleep(0.05)  # the body is on its way
        while worker.is_alive():
            t0 = time.monotonic()
            assert api.request("GET", f"{CM}/{name}").status == 200
            latencies.append(time.monotonic() - t0)
            time.sleep(0.02)
    finally:
        worker.join(60)
        other.close()
    reply = result["reply"]
    assert reply.status == 201, reply.body[:300]  # type: ignore[attr-defined]
    assert len(latencies) >= 5, (latencies, result["took"])
    worst = max(latencies)
    print(f"create took {result['took']:.2f}s; {len(latencies)} concurrent GETs, worst {worst * 1000:.0f} ms")
    # On the event loop the decode stalled every GET for the whole create (9.5 s for the issue's
    # body); off it, the worst GET waits a small part of that even on a busy machine.
    took = float(result["took"])  # type: ignore[arg-type]
    assert worst < max(0.5, 0.15 * took), f"a GET waited {worst:.2f}s behind a {took:.2f}s YAML create"


def test_kubectl_create_daemonset_with_empty_annotations(server: Cluster, tmp_path: Path) -> None:
    """The realistic null: ``annotations:`` with nothing under it, in a manifest file."""
    manifest = tmp_path / "ds.yaml"
    manifest.write_text("""apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: empty-annotations
  annotations:
spec:
  selector:
    matchLabels: {app: ea}
  template:
    metadata:
      labels: {app: ea}
      annotations:
    spec:
      containers:
      - name: c
        image: nginx
""")
    out = server.kubectl("-n", "default", "create", "-f", str(manifest))
    assert out.stdout.strip() == "daemonset.apps/empty-annotations created", out.stderr


# --- headers ------------------------------------------------------------------------------------


def test_unknown_field_with_a_newline_gets_a_reply_with_a_warning(api: Api) -> None:
    """The field is dropped with a Warning, as any unknown field; its name is escaped in the
    header instead of breaking it (the object used to be created with an empty reply)."""
    import http.client

    name = "cm-" + uuid.uuid4().hex[:8]
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                       "data": {"k": "v"}, "evil\r\nX-Injected: 1\nfield": "x"})
    conn = api._connect()
    conn.request("POST", CM, body=body, headers={"Content-Type": "application/json", "Accept": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 201, data[:300]
    assert resp.getheader("X-Injected") is None
    warning = resp.getheader("Warning") or ""
    assert warning.startswith('299 - "unknown field'), warning
    assert "evil\\x0d\\x0aX-Injected: 1\\x0afield" in warning, warning
    assert isinstance(resp, http.client.HTTPResponse)
    assert "evil\r\nX-Injected: 1\nfield" not in api.request("GET", f"{CM}/{name}").json


# --- bounded state ------------------------------------------------------------------------------


def test_updating_a_big_object_many_times_does_not_grow_memory_without_bound(api: Api, server: Cluster) -> None:
    """The issue's probe: each update of a ~1 MB ConfigMap used to pin 2.4 MB in the watch
    history for good (10,000 of them: ~23 GB). The history is bounded by bytes now."""
    name = configmap(api, {"v": "x" * (900 * 1024)})
    for i in range(40):  # warm up: caches, the ring (full at ~18 such changes), allocator arenas
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"v": "x" * (900 * 1024) + str(i)}})
        assert api.request("PUT", f"{CM}/{name}", body).status == 200
    before = rss_kib(server)
    for i in range(120):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"v": "y" * (900 * 1024) + str(i)}})
        assert api.request("PUT", f"{CM}/{name}", body).status == 200
    grown = (rss_kib(server) - before) // 1024
    print(f"RSS grew {grown} MiB over 120 updates of a 900 KiB ConfigMap")
    assert grown < 100, f"RSS grew {grown} MiB over 120 updates (unbounded: ~210 MiB)"


def test_kubectl_json_patch_bomb_is_refused(api: Api, server: Cluster, tmp_path: Path) -> None:
    """The issue's reproduction with the real kubectl: ``kubectl patch --type=json
    --patch-file`` of the 22-copy patch answers at once with the copy-size error."""
    name = configmap(api)
    bomb = tmp_path / "bomb.json"
    bomb.write_text(copy_bomb(22))
    t0 = time.monotonic()
    res = server.kubectl("-n", "default", "patch", "configmap", name, "--type=json", "--patch-file", str(bomb),
                         check=False)
    assert time.monotonic() - t0 < 10
    assert res.returncode != 0 and "accumulated size increase of copy" in res.stderr, res.stderr
    assert "InternalError" not in res.stderr
