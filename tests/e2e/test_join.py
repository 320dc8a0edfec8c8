"""Joining nodes, end to end with the real kubectl and real processes: CSRs approved and denied
with ``kubectl certificate``, the join token as a bootstrap token (what it may and may not do),
and ``kubelite agent`` exchanging the token for its node identity, reusing it on restart."""
from __future__ import annotations

import base64
import datetime as dt
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


@pytest.mark.every_kubectl
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
    """``kubelite agent`` for a join that is expected to fail (or to stop for lack of a node agent)."""
    token = token if token is not None else (cluster.data_dir / "node-token").read_text().strip()
    cmd = [sys.executable, "-m", "kubelite.cli.main", "agent", "--server", cluster.url, "--token", token,
           "--node-name", "n2", "--data-dir", str(data_dir), "--node-ip", "127.0.0.1", "--kubelet-port", "10259", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _join(cluster: Cluster, data_dir: Path, log: Path) -> str:
    """Start ``kubelite agent`` (server and token from the environment, as KUBELITE_URL and
    KUBELITE_TOKEN), wait until it has its identity, stop it; return its output."""
    env = {**os.environ, "KUBELITE_URL": cluster.url,
           "KUBELITE_TOKEN": (cluster.data_dir / "node-token").read_text().strip()}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.main", "agent", "--node-name", "n2",
                                 "--data-dir", str(data_dir), "--node-ip", "127.0.0.1", "--kubelet-port", "10259"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            # without a node agent in this build the command ends by itself after joining
            running = _agent_available()
            cluster.wait_for(lambda: proc.poll() is not None or (running and "joined" in log.read_text()),
                             timeout=60, what="kubelite agent to join")
        finally:
            proc.terminate()
            proc.wait(20)
    return log.read_text()


def _agent_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("kubelite.kubelet.agent") is not None


def _node_csrs(cluster: Cluster) -> list[dict]:
    kubelet_signers = ("kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving")
    return [c for c in cluster.json("get", "csr")["items"] if c["spec"]["signerName"] in kubelet_signers
            and c["spec"].get("username", "").startswith(("system:bootstrap:", "system:node:n2"))]


def _age_client_certificate(cluster: Cluster, agent_dir: Path) -> None:
    """Re-issue the node's client certificate (same key, same CA) so that only 10 of its 105
    minutes are left: below the 20 % at which the agent renews."""
    from cryptography.hazmat.primitives import serialization

    from kubelite.controllers.csrsigning import issue_certificate
    from kubelite.server.join import build_csr
    tls = cluster.data_dir / "tls"
    ca = x509.load_pem_x509_certificate((tls / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca.key").read_bytes(), None)
    key = serialization.load_pem_private_key((agent_dir / "client-kubelet.key").read_bytes(), None)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=90)
    pem = issue_certificate(build_csr(key, "n2"), ["digital signature", "client auth"], ca, ca_key, start, 100 * 60)
    (agent_dir / "client-kubelet.crt").write_bytes(pem)


def test_agent_obtains_reuses_and_renews_its_identity(cluster: Cluster, tmp_path: Path) -> None:
    before = {c["metadata"]["name"] for c in _node_csrs(cluster)}
    out = _join(cluster, tmp_path / "n2", tmp_path / "first.log")
    assert "node n2 joined" in out and "new client certificate, new serving certificate" in out, out
    if not _agent_available():
        # without the node agent in this build the command stops after the identity, with one line
        assert "error: the node agent is not available in this build" in out
        assert "Traceback" not in out
    agent_dir = tmp_path / "n2" / "agent"
    assert stat.S_IMODE(agent_dir.stat().st_mode) == 0o700
    for name in ("server-ca.crt", "client-kubelet.crt", "client-kubelet.key", "serving-kubelet.crt",
                 "serving-kubelet.key", "kubelet.kubeconfig"):
        assert stat.S_IMODE((agent_dir / name).stat().st_mode) == 0o600, name
    cert = x509.load_pem_x509_certificate((agent_dir / "client-kubelet.crt").read_bytes())
    assert cert.subject.rfc4514_string() == "CN=system:node:n2,O=system:nodes"
    serving = x509.load_pem_x509_certificate((agent_dir / "serving-kubelet.crt").read_bytes())
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["n2"]
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    csrs = _node_csrs(cluster)
    new = sorted((c["spec"]["signerName"], c["spec"]["username"].split(":")[1]) for c in csrs
                 if c["metadata"]["name"] not in before)
    assert new == [("kubernetes.io/kube-apiserver-client-kubelet", "bootstrap"), ("kubernetes.io/kubelet-serving", "node")]
    # the node's kubeconfig works, as the node
    env = {**cluster.env(), "KUBECONFIG": str(agent_dir / "kubelet.kubeconfig")}
    who = subprocess.run([KUBECTL, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert who.stdout == "system:node:n2", who.stderr

    # a second start reuses both certificates: no new CSR
    out = _join(cluster, tmp_path / "n2", tmp_path / "second.log")
    assert "reused client certificate, reused serving certificate" in out, out
    assert len(_node_csrs(cluster)) == len(csrs)

    # a client certificate in the last 20 % of its life is renewed by the node itself
    _age_client_certificate(cluster, agent_dir)
    out = _join(cluster, tmp_path / "n2", tmp_path / "third.log")
    assert "renewed client certificate, reused serving certificate" in out, out
    (renewal,) = [c for c in _node_csrs(cluster) if c["metadata"]["name"] not in {x["metadata"]["name"] for x in csrs}]
    assert renewal["spec"]["username"] == "system:node:n2"
    assert [c["message"] for c in renewal["status"]["conditions"] if c["type"] == "Approved"] == [
        "Auto approving self kubelet client certificate after SubjectAccessReview."]
    renewed = x509.load_pem_x509_certificate((agent_dir / "client-kubelet.crt").read_bytes())
    assert renewed.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=300)


@pytest.mark.skipif(not _agent_available(), reason="kubelite.kubelet.agent is not on this branch yet")
def test_agent_runs_the_node(cluster: Cluster, tmp_path: Path) -> None:
    token = (cluster.data_dir / "node-token").read_text().strip()
    cmd = [sys.executable, "-m", "kubelite.cli.main", "agent", "--server", cluster.url, "--token", token,
           "--node-name", "n3", "--data-dir", str(tmp_path / "n3"), "--node-ip", "127.0.0.1", "--kubelet-port", "10258"]
    with open(tmp_path / "agent.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError((tmp_path / "agent.log").read_text()[-3000:])
                nodes = {n["metadata"]["name"]: n for n in cluster.json("get", "nodes")["items"]}
                return "n3" in nodes and node_ready(nodes["n3"]) == "True"

            cluster.wait_for(ready, timeout=60, what="node n3 Ready")
            # the joined node runs the pods scheduled onto it
            pod = "on-n3-" + uuid.uuid4().hex[:6]
            cluster.kubectl("run", pod, "--image=busybox", "--restart=Never",
                            '--overrides={"spec":{"nodeSelector":{"kubernetes.io/hostname":"n3"}}}',
                            "--command", "--", "sleep", "300")
            cluster.wait_for(lambda: cluster.json("get", "pod", pod)["status"].get("phase") == "Running",
                             timeout=60, what=f"pod {pod} Running on n3")
            assert cluster.json("get", "pod", pod)["spec"]["nodeName"] == "n3"
            cluster.kubectl("delete", "pod", pod, "--grace-period=1", "--timeout=30s")  # before the agent stops
        finally:
            proc.terminate()
            proc.wait(20)
            # pods outlive their agent by design: leave no sandbox behind (k3s' killall)
            subprocess.run([sys.executable, "-m", "kubelite.cli.main", "killall", "--data-dir", str(tmp_path / "n3")],
                           capture_output=True, timeout=60, check=False)


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


def test_join_token_survives_restarts_and_rotates(tmp_path: Path) -> None:
    from tests.e2e.conftest import make_cluster
    c = make_cluster(tmp_path)
    c.start()
    try:
        first = (c.data_dir / "node-token").read_text().strip()
        c.stop()
        c.start()
        assert (c.data_dir / "node-token").read_text().strip() == first  # kept across restarts
        (c.data_dir / "node-token").unlink()
        c.stop()
        c.start()
        second = (c.data_dir / "node-token").read_text().strip()
        assert second != first and second.split("::")[0] == first.split("::")[0]  # same CA, new secret
        old = _as_token(c, first.split("::server:")[1], "auth", "whoami")
        assert old.returncode != 0 and "Unauthorized" in old.stderr
        new = _as_token(c, second.split("::server:")[1], "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
        assert new.stdout == "system:bootstrap:" + second.split("::server:")[1].split(".")[0], new.stderr
    finally:
        c.stop()
