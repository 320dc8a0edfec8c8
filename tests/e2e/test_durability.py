"""Durability and startup: every acknowledged write survives ``kill -9``; the restarted server
serves the same objects (same uid, same resourceVersion) and keeps working; /readyz answers
quickly after start. Each test here runs its own server on its own data dir."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Cluster, make_cluster


def _identity(cluster: Cluster, kind: str, name: str, ns: str | None) -> tuple[str, str]:
    args = ["get", kind, name] + (["-n", ns] if ns else [])
    meta = cluster.json(*args)["metadata"]
    return meta["uid"], meta["resourceVersion"]


def _identities(cluster: Cluster, ns: str, refs: list[str]) -> dict[str, tuple[str, str]]:
    """(uid, resourceVersion) of many objects (``kind/name`` in ``ns``), listed per kind in one
    kubectl call (a GET per name would hit kubectl's client-side rate limit)."""
    kinds = sorted({r.split("/")[0] + "s" for r in refs})
    items = cluster.json("-n", ns, "get", ",".join(kinds))["items"]
    out = {f'{i["kind"].lower()}/{i["metadata"]["name"]}': (i["metadata"]["uid"], i["metadata"]["resourceVersion"])
           for i in items}
    missing = set(refs) - set(out)
    assert not missing, missing
    return {r: out[r] for r in refs}


def test_kill9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    c = make_cluster(tmp_path)
    c.start()
    try:
        ns = "dur-" + uuid.uuid4().hex[:6]
        c.kubectl("create", "namespace", ns)
        c.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=2")
        c.kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1")
        c.kubectl("-n", ns, "create", "secret", "generic", "sec", "--from-literal=p=q")
        c.kubectl("-n", ns, "create", "service", "clusterip", "svc", "--tcp=80:8080")
        # updates and deletes count too: the last acknowledged state is what must come back
        c.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=4")
        c.kubectl("-n", ns, "label", "configmap", "cfg", "v=2")
        c.kubectl("-n", ns, "create", "configmap", "gone")
        c.kubectl("-n", ns, "delete", "configmap", "gone")
        many = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"bulk-{i}", "namespace": ns},
                 "data": {"i": str(i)}} for i in range(20)]
        c.kubectl("create", "-f", "-", input=yaml.safe_dump_all(many))
        # (not the deployment: a controller may write its status at any time)
        refs = ["configmap/cfg", "secret/sec", "service/svc"] + [f"configmap/bulk-{i}" for i in range(20)]
        before = _identities(c, ns, refs)
        before_ns = _identity(c, "namespace", ns, None)
        deploy_uid = c.json("-n", ns, "get", "deployment", "web")["metadata"]["uid"]
        cluster_ip = c.json("-n", ns, "get", "service", "svc")["spec"]["clusterIP"]

        c.kill9()
        assert c.proc is not None and c.proc.returncode == -9
        c.start()

        assert _identities(c, ns, refs) == before
        assert _identity(c, "namespace", ns, None) == before_ns
        dep = c.json("-n", ns, "get", "deployment", "web")
        assert dep["metadata"]["uid"] == deploy_uid and dep["spec"]["replicas"] == 4
        assert c.json("-n", ns, "get", "configmap", "cfg")["metadata"]["labels"] == {"v": "2"}
        assert c.kubectl("-n", ns, "get", "configmap", "gone", check=False).returncode != 0
        assert c.json("-n", ns, "get", "service", "svc")["spec"]["clusterIP"] == cluster_ip

        # and it keeps working: new writes get newer resourceVersions, allocations don't collide
        newest = max(int(rv) for _, rv in before.values())
        c.kubectl("-n", ns, "create", "configmap", "after-restart")
        _, rv = _identity(c, "configmap", "after-restart", ns)
        assert int(rv) > newest
        c.kubectl("-n", ns, "create", "service", "clusterip", "svc2", "--tcp=81:8081")
        assert c.json("-n", ns, "get", "service", "svc2")["spec"]["clusterIP"] != cluster_ip
        c.kubectl("-n", ns, "scale", "deployment", "web", "--replicas=1")
        assert c.json("-n", ns, "get", "deployment", "web")["spec"]["replicas"] == 1
    finally:
        c.stop()


def test_readyz_answers_quickly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = make_cluster(tmp_path)
    t0 = time.monotonic()
    c.start(timeout=30)  # returns once /readyz is 200 and the kubeconfig exists
    elapsed = time.monotonic() - t0
    try:
        with capsys.disabled():
            print(f"\n[startup] /readyz 200 after {elapsed:.2f}s")
        assert elapsed < 30
        assert c.kubectl("get", "--raw", "/readyz").stdout == "ok"
        assert "[+]storage ok" in c.kubectl("get", "--raw", "/readyz?verbose").stdout
        assert c.kubectl("get", "--raw", "/livez").stdout == "ok"
        # SIGTERM stops every component and exits cleanly (Cluster.stop would SIGKILL after 10s)
        t0 = time.monotonic()
        c.stop()
        assert c.proc is not None and c.proc.returncode == 0, f"exit {c.proc.returncode if c.proc else None}"
        with capsys.disabled():
            print(f"[shutdown] SIGTERM -> exit after {time.monotonic() - t0:.2f}s")
        # a warm restart on the same data dir is ready too
        t0 = time.monotonic()
        c.start(timeout=30)
        with capsys.disabled():
            print(f"[startup] restart /readyz 200 after {time.monotonic() - t0:.2f}s")
    finally:
        c.stop()


def test_deleted_namespace_disappears(cluster: Cluster) -> None:
    ns = "gone-" + uuid.uuid4().hex[:6]
    cluster.kubectl("create", "namespace", ns)
    cluster.kubectl("-n", ns, "create", "configmap", "inside")
    # a finalizer holds one object (and so the namespace) until it is removed: without it the
    # namespace controller empties the namespace before kubectl could see it Terminating
    cluster.kubectl("-n", ns, "patch", "configmap", "inside", "--type=merge",
                    "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
    assert cluster.json("get", "namespace", ns)["status"]["phase"] == "Terminating"

    def held() -> str | None:
        conds = cluster.json("get", "namespace", ns)["status"].get("conditions") or ()
        return next((c["message"] for c in conds
                     if c["type"] == "NamespaceFinalizersRemaining" and c["status"] == "True"), None)

    msg = cluster.wait_for(held, timeout=10, what="the namespace controller to report the held content")
    assert "example.com/hold in 1 resource instances" in msg, msg
    assert cluster.json("-n", ns, "get", "configmap", "inside")["metadata"].get("deletionTimestamp")
    assert cluster.json("get", "namespace", ns)["status"]["phase"] == "Terminating"
    cluster.kubectl("-n", ns, "patch", "configmap", "inside", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    # the controller re-checks a namespace held by finalizers every ~8 s, as Kubernetes' does
    cluster.wait_for(lambda: cluster.kubectl("get", "namespace", ns, check=False).returncode != 0,
                     timeout=20, what="the namespace to go")
