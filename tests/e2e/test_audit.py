"""The audit log of a real server driven by the real kubectl: a create recorded at each policy
level (Metadata, Request, RequestResponse; None not at all), kube's Event fields, stages."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, make_cluster

POLICY = """
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [ResponseStarted]
rules:
- level: RequestResponse
  resources: [{group: "", resources: [configmaps]}]
  namespaces: [audit-rr]
  omitStages: [RequestReceived]
- level: Request
  resources: [{group: "", resources: [configmaps]}]
  namespaces: [audit-req]
  omitStages: [RequestReceived]
- level: Metadata
  resources: [{group: "", resources: [configmaps]}]
  namespaces: [audit-meta]
  omitStages: [RequestReceived]
- level: None
  resources: [{group: "", resources: [configmaps]}]
- level: Metadata
  nonResourceURLs: ["/version"]
- level: Metadata
  verbs: [create]
  resources: [{group: "", resources: [secrets]}]
"""


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("audit")
    (tmp / "policy.yaml").write_text(POLICY)
    c = make_cluster(tmp, ["--audit-log-path", str(tmp / "audit" / "audit.log"),
                           "--audit-policy-file", str(tmp / "policy.yaml")])
    c.start()
    yield c
    c.stop()


def events(c: Cluster, pred, count: int = 1, timeout: float = 10.0) -> list[dict]:  # noqa: ANN001
    path = c.data_dir.parent / "audit" / "audit.log"
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in map(json.loads, path.read_text().splitlines()) if pred(e)] if path.exists() else []
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def creates_in(ns: str):  # noqa: ANN201
    # only the test's own ConfigMap: controllers create in new namespaces too (kube-root-ca.crt)
    return lambda e: (e["verb"] == "create" and e.get("objectRef", {}).get("namespace") == ns
                      and e.get("objectRef", {}).get("resource") == "configmaps"
                      and e.get("user", {}).get("username") == "admin")


def test_a_create_at_each_level(audited: Cluster) -> None:
    c = audited
    for ns in ("audit-rr", "audit-req", "audit-meta", "audit-none"):
        c.kubectl("create", "namespace", ns)
        c.kubectl("-n", ns, "create", "configmap", "cm", "--from-literal=k=v")

    (rr,) = events(c, creates_in("audit-rr"))
    assert rr["level"] == "RequestResponse" and rr["stage"] == "ResponseComplete"
    assert rr["requestObject"]["data"] == {"k": "v"}
    assert rr["responseObject"]["metadata"]["name"] == "cm" and rr["responseObject"]["metadata"]["uid"]
    (req,) = events(c, creates_in("audit-req"))
    assert req["level"] == "Request" and req["requestObject"]["data"] == {"k": "v"} and "responseObject" not in req
    (meta,) = events(c, creates_in("audit-meta"))
    assert meta["level"] == "Metadata" and "requestObject" not in meta and "responseObject" not in meta
    assert events(c, creates_in("audit-none"), count=1, timeout=1) == []

    # kube's Event fields
    assert meta["kind"] == "Event" and meta["apiVersion"] == "audit.k8s.io/v1" and len(meta["auditID"]) == 36
    assert meta["requestURI"].startswith("/api/v1/namespaces/audit-meta/configmaps")
    assert meta["user"]["username"] == "admin" and "system:masters" in meta["user"]["groups"]
    assert meta["sourceIPs"] == ["127.0.0.1"] and meta["userAgent"].startswith("kubectl")
    assert meta["objectRef"] == {"resource": "configmaps", "namespace": "audit-meta", "apiGroup": "",
                                 "apiVersion": "v1"}
    assert meta["responseStatus"] == {"metadata": {}, "code": 201}
    assert meta["requestReceivedTimestamp"] <= meta["stageTimestamp"]
    assert meta["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_stages_failures_impersonation_and_paths(audited: Cluster) -> None:
    c = audited
    c.kubectl("get", "--raw", "/version")
    assert events(c, lambda e: e["requestURI"] == "/version" and e["verb"] == "get")
    # this rule keeps every stage; the denied create is recorded with its status
    res = c.kubectl("-n", "default", "create", "secret", "generic", "nope", "--from-literal=a=b", "--as=mallory", check=False)
    assert res.returncode != 0
    denied = events(c, lambda e: e.get("objectRef", {}).get("resource") == "secrets"
                    and e.get("impersonatedUser", {}).get("username") == "mallory", count=2)
    assert {e["stage"] for e in denied} == {"RequestReceived", "ResponseComplete"}
    done = next(e for e in denied if e["stage"] == "ResponseComplete")
    assert done["user"]["username"] == "admin"
    assert done["responseStatus"]["code"] == 403 and done["responseStatus"]["reason"] == "Forbidden"
    assert done["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert len({e["auditID"] for e in denied}) == 1


def test_bad_policy_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "p.yaml").write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n")
    res = subprocess.run([sys.executable, "-m", "kubelite.cli.main", "server", "--disable-agent",
                          "--data-dir", str(tmp_path / "d"), "--https-listen-port", "0",
                          "--audit-log-path", str(tmp_path / "a.log"), "--audit-policy-file", str(tmp_path / "p.yaml")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "rules[0].level: must be one of None, Metadata, Request, RequestResponse" in res.stderr
