"""Joining nodes, end to end with the real kubectl and real processes: CSRs approved and denied
with ``kubectl certificate``, the join token as a bootstrap token (what it may and may not do),
and ``kubelite agent`` exchanging the token for its node identity, reusing it on restart."""
from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import KUBECTL, Cluster, node_ready


def csr_yaml(name: str, cn: str, signer: str = "kubernetes.io/kube-apiserver-client") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    req = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dev"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    ).sign(key, hashes.SHA256())
    from cryptography.hazmat.primitives import serialization
    pem = base64.b64encode(req.public_bytes(serialization.Encoding.PEM)).decode()
    return json.dumps({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                       "metadata": {"name": name},
                       "spec": {"request": pem, "signerName": signer, "expirationSeconds": 3600, "usages": ["client auth"]}})


def test_kubectl_certificate_approve_and_deny(cluster: Cluster) -> None:
    name = "bob-" + uuid.uuid4().hex[:6]
    cluster.kubectl("apply", "-f", "-", input=csr_yaml(name, "bob"))
    out = cluster.kubectl("get", "csr", name).stdout.split("\n")
    assert out[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    assert out[1].split()[2:] == ["kubernetes.io/kube-apiserver-client", "admin", "60m", "Pending"]
    assert cluster.kubectl("certificate", "approve", name).stdout.strip() == \
        f"certificatesigningrequest.certificates.k8s.io/{name} approved"
    cluster.wait_for(lambda: cluster.json("get", "csr", name).get("status", {}).get("certificate"), what="certificate")
    assert cluster.kubectl("get", "csr", name, "--no-headers").stdout.split()[-1] == "Approved,Issued"
    obj = cluster.json("get", "csr", name)
    cert = x509.load_pem_x509_certificate(base64.b64decode(obj["status"]["certificate"]))
    ca = x509.load_pem_x509_certificate((cluster.data_dir / "tls" / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=bob,O=dev"
    approved = [c for c in obj["status"]["conditions"] if c["type"] == "Approved"][0]
    assert approved["reason"] == "KubectlApprove" and approved["lastUpdateTime"]
    # the request is immutable, and approval cannot be taken back
    res = cluster.kubectl("certificate", "deny", name, check=False)
    assert res.returncode != 0 and "already Approved" in res.stderr

    denied = "eve-" + uuid.uuid4().hex[:6]
    cluster.kubectl("apply", "-f", "-", input=csr_yaml(denied, "eve"))
    cluster.kubectl("certificate", "deny", denied)
    obj = cluster.json("get", "csr", denied)
    assert [c["type"] for c in obj["status"]["conditions"]] == ["Denied"]
    assert "certificate" not in obj["status"]
    assert cluster.kubectl("get", "csr", denied, "--no-headers").stdout.split()[-1] == "Denied"
    bad = cluster.kubectl("apply", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "junk"},
        "spec": {"request": base64.b64encode(b"junk").decode(), "signerName": "example.com/x",
                 "usages": ["client auth"], "expirationSeconds": 60}}))
    assert bad.returncode != 0
    assert "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds" in bad.stderr
    assert "PEM block type must be CERTIFICATE REQUEST" in bad.stderr


def _as_token(cluster: Cluster, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in cluster.env().items() if k != "KUBECONFIG"}
    return subprocess.run([KUBECTL, "--kubeconfig", os.devnull, "--server", cluster.url, "--certificate-authority",
                           str(cluster.data_dir / "tls" / "ca.crt"), "--token", token, *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def test_join_token_is_a_bootstrap_token(cluster: Cluster) -> None:
    token = (cluster.data_dir / "node-token").read_text().strip()
    assert stat.S_IMODE((cluster.data_dir / "node-token").stat().st_mode) == 0o600
    assert token.startswith("K10")
    bearer = token.split("::server:", 1)[1]
    token_id = bearer.split(".")[0]
    who = _as_token(cluster, bearer, "auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == f"system:bootstrap:{token_id}"
    assert info["groups"] == ["system:bootstrappers", "system:bootstrappers:kubelite:default-node-token",
                              "system:authenticated"]
    secrets = _as_token(cluster, bearer, "get", "secrets", "-A")
    assert secrets.returncode != 0 and "Forbidden" in secrets.stderr
    name = "boot-" + uuid.uuid4().hex[:6]
    env = {k: v for k, v in cluster.env().items() if k != "KUBECONFIG"}
    created = subprocess.run([KUBECTL, "--kubeconfig", os.devnull, "--server", cluster.url, "--certificate-authority",
                              str(cluster.data_dir / "tls" / "ca.crt"), "--token", bearer, "create", "-f", "-",
                              "-o", "name"], input=csr_yaml(name, "bob"), capture_output=True, text=True, env=env,
                             timeout=60, check=False)
    assert created.stdout.strip() == f"certificatesigningrequest.certificates.k8s.io/{name}", created.stderr
    got = _as_token(cluster, bearer, "get", "csr", name, "-o", "jsonpath={.spec.username}")
    assert got.stdout == f"system:bootstrap:{token_id}", got.stderr
    approve = _as_token(cluster, bearer, "certificate", "approve", name)
    assert approve.returncode != 0 and "Forbidden" in approve.stderr
    wrong = _as_token(cluster, bearer[:-1] + ("a" if bearer[-1] != "a" else "b"), "get", "csr")
    assert wrong.returncode != 0 and "Unauthorized" in wrong.stderr


def _agent(cluster: Cluster, data_dir: Path, *args: str, token: str | None = None,
           timeout: float = 90) -> subprocess.CompletedProcess:
    token = token if token is not None else (cluster.data_dir / "node-token").read_text().strip()
    cmd = [sys.executable, "-m", "kubelite.cli.main", "agent", "--server", cluster.url, "--token", token,
           "--node-name", "n2", "--data-dir", str(data_dir), "--node-ip", "127.0.0.1",
           "--kubelet-port", "10259", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _agent_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("kubelite.kubelet.agent") is not None


def _node_csrs(cluster: Cluster) -> list[dict]:
    kubelet_signers = ("kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving")
    return [c for c in cluster.json("get", "csr")["items"] if c["spec"]["signerName"] in kubelet_signers
            and c["spec"].get("username", "").startswith(("system:bootstrap:", "system:node:n2"))]


@pytest.mark.skipif(_agent_available(), reason="the node agent is present: test_agent_runs_the_node covers joining")
def test_agent_obtains_its_identity(cluster: Cluster, tmp_path: Path) -> None:
    first = _agent(cluster, tmp_path / "n2")
    # without the node agent in this build the command stops after the identity, with one line
    assert first.returncode == 1, first.stderr
    lines = [ln for ln in first.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("node n2 joined") and "new client certificate, new serving certificate" in lines[0]
    assert lines[1].startswith("error: the node agent is not available") and len(lines) == 2
    agent_dir = tmp_path / "n2" / "agent"
    assert stat.S_IMODE(agent_dir.stat().st_mode) == 0o700
    for name in ("server-ca.crt", "client-kubelet.crt", "client-kubelet.key", "serving-kubelet.crt",
                 "serving-kubelet.key", "kubelet.kubeconfig"):
        assert stat.S_IMODE((agent_dir / name).stat().st_mode) == 0o600, name
    cert = x509.load_pem_x509_certificate((agent_dir / "client-kubelet.crt").read_bytes())
    assert cert.subject.rfc4514_string() == "CN=system:node:n2,O=system:nodes"
    csrs = _node_csrs(cluster)
    assert sorted(c["spec"]["signerName"] for c in csrs) == [
        "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving"]
    # the node's kubeconfig works, as the node
    env = {**cluster.env(), "KUBECONFIG": str(agent_dir / "kubelet.kubeconfig")}
    who = subprocess.run([KUBECTL, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert who.stdout == "system:node:n2", who.stderr
    # a second start reuses both certificates: no new CSR
    second = _agent(cluster, tmp_path / "n2")
    assert "reused client certificate, reused serving certificate" in second.stderr
    assert len(_node_csrs(cluster)) == len(csrs)


@pytest.mark.skipif(not _agent_available(), reason="kubelite.kubelet.agent is not on this branch yet")
def test_agent_runs_the_node(cluster: Cluster, tmp_path: Path) -> None:
    log = open(tmp_path / "agent.log", "wb")
    token = (cluster.data_dir / "node-token").read_text().strip()
    cmd = [sys.executable, "-m", "kubelite.cli.main", "agent", "--server", cluster.url, "--token", token,
           "--node-name", "n2", "--data-dir", str(tmp_path / "n2"), "--node-ip", "127.0.0.1", "--kubelet-port", "10259"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / "agent.log").read_text()[-3000:])
            nodes = {n["metadata"]["name"]: n for n in cluster.json("get", "nodes")["items"]}
            return "n2" in nodes and node_ready(nodes["n2"]) == "True"

        cluster.wait_for(ready, timeout=60, what="node n2 Ready")
        count = len(_node_csrs(cluster))
    finally:
        proc.terminate()
        proc.wait(20)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        cluster.wait_for(lambda: "reused client certificate" in (tmp_path / "agent.log").read_text(), timeout=30,
                         what="second start")
        assert len(_node_csrs(cluster)) == count
    finally:
        proc.terminate()
        proc.wait(20)


def test_agent_errors_are_one_line(cluster: Cluster, tmp_path: Path) -> None:
    token = (cluster.data_dir / "node-token").read_text().strip()
    wrong_hash = "K10" + "0" * 64 + "::server:" + token.split("::server:")[1]
    res = _agent(cluster, tmp_path / "x", token=wrong_hash)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: the CA certificate of the server at {cluster.url} does not match the hash in the join token: "
        "wrong server or wrong token"]
    bad_secret = token.split("::server:")[0] + "::server:abcdef.0123456789abcdef"
    res = _agent(cluster, tmp_path / "x", token=bad_secret)
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "401 Unauthorized" in res.stderr
    res = _agent(cluster, tmp_path / "x", token="nonsense")
    assert res.returncode == 1 and res.stderr.strip().startswith("error: invalid join token")
    assert "Traceback" not in res.stderr
