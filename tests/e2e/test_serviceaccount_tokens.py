"""Service-account tokens checked as kube-apiserver checks them, through the real kubectl:
audience, not-before, expiry, and the object a token is bound to (``kubectl create token
--bound-object-kind Pod|Secret``)."""
from __future__ import annotations

import time

from kubelite.apiserver.serviceaccounts import ISSUER, TokenIssuer
from tests.e2e.conftest import Cluster


def as_token(cluster: Cluster, token: str, *args: str):  # noqa: ANN201
    return cluster.kubectl("--kubeconfig=/dev/null", f"--server={cluster.url}",
                           f"--certificate-authority={cluster.data_dir / 'tls' / 'ca.crt'}", f"--token={token}",
                           *args, check=False)


def works(cluster: Cluster, token: str) -> bool:
    res = as_token(cluster, token, "auth", "whoami")
    assert res.returncode == 0 or "You must be logged in" in res.stderr, res.stderr
    return res.returncode == 0


def pod(name: str, sa: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  serviceAccountName: {sa}
  terminationGracePeriodSeconds: 0
  containers: [{{name: c, image: busybox}}]
"""


def test_audience(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "serviceaccount", "robot")
    assert works(cluster, cluster.kubectl("-n", ns, "create", "token", "robot").stdout.strip())
    other = cluster.kubectl("-n", ns, "create", "token", "robot", "--audience", "vault").stdout.strip()
    assert not works(cluster, other)
    both = cluster.kubectl("-n", ns, "create", "token", "robot", "--audience", "vault",
                           "--audience", ISSUER).stdout.strip()
    assert works(cluster, both)


def test_not_before_and_expiry(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "serviceaccount", "robot")
    sa = cluster.json("-n", ns, "get", "serviceaccount", "robot")
    issuer = TokenIssuer((cluster.data_dir / "tls" / "sa.key").read_bytes())
    now = int(time.time())

    def token(**times: int) -> str:
        claims = {"iss": ISSUER, "sub": f"system:serviceaccount:{ns}:robot", "aud": [ISSUER],
                  "iat": now, "nbf": now, "exp": now + 600,
                  "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": "robot", "uid": sa["metadata"]["uid"]}}}
        return issuer.sign({**claims, **times})

    assert works(cluster, token())  # the hand-made token is right in every other way
    assert not works(cluster, token(nbf=now + 3600))
    assert not works(cluster, token(exp=now - 3600))
    assert not works(cluster, token(exp="soon"))  # type: ignore[arg-type]
    assert works(cluster, token(nbf=now + 30))  # within kube's 60 s clock-skew leeway


def test_pod_bound_token_dies_with_its_pod(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "serviceaccount", "robot")
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod("p", "robot"))
    token = cluster.kubectl("-n", ns, "create", "token", "robot", "--bound-object-kind", "Pod",
                            "--bound-object-name", "p").stdout.strip()
    who = as_token(cluster, token, "auth", "whoami", "-o", "json")
    assert who.returncode == 0
    assert '"authentication.kubernetes.io/pod-name"' in who.stdout and '"p"' in who.stdout
    cluster.kubectl("-n", ns, "delete", "pod", "p", "--grace-period=0", "--force", "--wait=true")
    assert not works(cluster, token)
    # another pod of the same name is another object: the token stays dead
    cluster.kubectl("-n", ns, "apply", "-f", "-", input=pod("p", "robot"))
    assert not works(cluster, token)
    # binding checks at mint time
    res = cluster.kubectl("-n", ns, "create", "token", "robot", "--bound-object-kind", "Pod",
                          "--bound-object-name", "nope", check=False)
    assert res.returncode != 0 and 'pods "nope" not found' in res.stderr
    cluster.kubectl("-n", ns, "create", "serviceaccount", "other")
    res = cluster.kubectl("-n", ns, "create", "token", "other", "--bound-object-kind", "Pod",
                          "--bound-object-name", "p", check=False)
    assert res.returncode != 0 and "different serviceaccount name" in res.stderr
    res = cluster.kubectl("-n", ns, "create", "token", "robot", "--bound-object-kind", "Pod",
                          "--bound-object-name", "p", "--bound-object-uid", "0000", check=False)
    assert res.returncode != 0 and "does not match the UID in record" in res.stderr


def test_secret_bound_token(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "serviceaccount", "robot")
    cluster.kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=a=b")
    token = cluster.kubectl("-n", ns, "create", "token", "robot", "--bound-object-kind", "Secret",
                            "--bound-object-name", "s").stdout.strip()
    assert works(cluster, token)
    cluster.kubectl("-n", ns, "delete", "secret", "s")
    assert not works(cluster, token)
