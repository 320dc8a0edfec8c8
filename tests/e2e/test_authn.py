"""Authentication as kube-apiserver does it, against a real server: malformed or unknown bearer
tokens are 401 on every path (public ones too) and never 500; TokenReview says "not
authenticated"; requests without credentials are ``system:anonymous`` and reach only the
health and version paths (403 elsewhere), or get 401 with ``--anonymous-auth=false``."""
from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import Cluster, make_cluster


def _b64(obj: object) -> str:
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


MALFORMED = [
    "WzFd.e30.e30",  # header is the JSON array [1]
    "abc123",
    "!!!.@@@.###",  # not base64
    f"{_b64({'alg': 'none'})}.{_b64({'sub': 'system:admin'})}.",  # unsigned
    f"{_b64({'alg': 'HS256'})}.{_b64({'iss': 'https://kubernetes.default.svc.cluster.local'})}.{_b64(b'x' * 32)}",
    f"{_b64('just a string')}.{_b64([1, 2])}.{_b64(b'y' * 64)}",
    f"{_b64({'alg': 'ES256'})}.{_b64(b'{not json')}.{_b64(b'z' * 64)}",
]


def raw(cluster: Cluster, path: str, token: str | None = None, method: str = "GET",
        body: dict | None = None) -> tuple[int, dict | str]:
    ctx = ssl.create_default_context(cafile=str(cluster.data_dir / "tls" / "ca.crt"))
    ctx.check_hostname = False
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(cluster.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


@pytest.mark.parametrize("token", MALFORMED)
def test_malformed_tokens_are_401_everywhere(cluster: Cluster, token: str) -> None:
    for path in ("/api/v1/namespaces", "/version", "/healthz", "/apis", "/"):
        status, body = raw(cluster, path, token)
        assert status == 401, (path, status, body)
        assert isinstance(body, dict) and body["kind"] == "Status" and body["reason"] == "Unauthorized"


def test_token_review_of_malformed_tokens(cluster: Cluster) -> None:
    for token in MALFORMED:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        out = json.loads(cluster.kubectl("create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews",
                                         "-f", "-", input=json.dumps(review)).stdout)
        assert not out["status"].get("authenticated"), (token, out)
    # and a real one is accepted
    cluster.kubectl("-n", "default", "create", "serviceaccount", "reviewed", check=False)
    good = cluster.kubectl("-n", "default", "create", "token", "reviewed").stdout.strip()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": good}}
    out = json.loads(cluster.kubectl("create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews",
                                         "-f", "-", input=json.dumps(review)).stdout)
    assert out["status"]["authenticated"] is True
    assert out["status"]["user"]["username"] == "system:serviceaccount:default:reviewed"


def test_anonymous_reaches_only_public_paths(cluster: Cluster) -> None:
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        status, _ = raw(cluster, path)
        assert status == 200, path
    status, body = raw(cluster, "/apis")
    assert status == 403 and body["message"] == 'forbidden: User "system:anonymous" cannot get path "/apis"'
    status, body = raw(cluster, "/api/v1/namespaces/default/pods")
    assert status == 403 and 'User "system:anonymous" cannot list resource "pods"' in body["message"]
    # kubectl with a malformed token: Unauthorized, not an internal error
    res = cluster.kubectl("--kubeconfig=/dev/null", f"--server={cluster.url}", "--insecure-skip-tls-verify",
                          "--token=WzFd.e30.e30", "get", "namespaces", check=False)
    assert res.returncode != 0 and "You must be logged in to the server" in res.stderr and "InternalError" not in res.stderr


def test_anonymous_auth_false(tmp_path: Path) -> None:
    c = make_cluster(tmp_path, ["--anonymous-auth=false"])
    log = open(tmp_path / "server.log", "wb")
    c.proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli.main", "server", "--disable-agent",
                               "--data-dir", str(c.data_dir), "--https-listen-port", str(c.port),
                               "--write-kubeconfig", str(c.kubeconfig), *c.extra_args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not c.kubeconfig.exists():
            assert c.proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.1)
        for path in ("/healthz", "/version", "/api"):
            assert raw(c, path)[0] == 401, path
        assert c.kubectl("get", "--raw", "/healthz").stdout == "ok"  # the admin certificate still works
    finally:
        c.stop()
