"""RBAC and impersonation through the real kubectl (``--as``): a service account bound to a
Role may do exactly what the Role grants."""
from __future__ import annotations

from tests.e2e.conftest import Cluster


def test_rbac_with_impersonation(cluster: Cluster, ns: str) -> None:
    sa = f"system:serviceaccount:{ns}:reader"
    cluster.kubectl("-n", ns, "create", "serviceaccount", "reader")
    cluster.kubectl("-n", ns, "create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    cluster.kubectl("-n", ns, "create", "rolebinding", "reader", "--role=pod-reader", f"--serviceaccount={ns}:reader")
    assert cluster.kubectl("-n", ns, "auth", "can-i", "list", "pods", f"--as={sa}").stdout.strip() == "yes"
    denied = cluster.kubectl("-n", ns, "auth", "can-i", "delete", "pods", f"--as={sa}", check=False)
    assert denied.stdout.strip() == "no"
    cluster.kubectl("-n", ns, "get", "pods", f"--as={sa}")
    res = cluster.kubectl("-n", ns, "get", "configmaps", f"--as={sa}", check=False)
    assert res.returncode != 0 and "Forbidden" in res.stderr and "cannot list resource" in res.stderr
    # the role is namespaced: nothing elsewhere
    res = cluster.kubectl("-n", "default", "get", "pods", f"--as={sa}", check=False)
    assert res.returncode != 0 and "Forbidden" in res.stderr


def test_whoami_as_user_and_group(cluster: Cluster) -> None:
    out = cluster.kubectl("auth", "whoami", "--as=alice", "--as-group=devs").stdout
    assert "alice" in out and "devs" in out


def test_service_account_token_authenticates_until_the_account_goes(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("-n", ns, "create", "serviceaccount", "robot")
    token = cluster.kubectl("-n", ns, "create", "token", "robot").stdout.strip()
    assert token.count(".") == 2  # a JWT
    as_robot = ["--kubeconfig=/dev/null", f"--server={cluster.url}",
                f"--certificate-authority={cluster.data_dir / 'tls' / 'ca.crt'}", f"--token={token}"]
    who = cluster.kubectl(*as_robot, "auth", "whoami").stdout
    assert f"system:serviceaccount:{ns}:robot" in who and f"system:serviceaccounts:{ns}" in who
    denied = cluster.kubectl(*as_robot, "-n", ns, "get", "pods", check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr
    cluster.kubectl("-n", ns, "create", "rolebinding", "robot", "--clusterrole=cluster-admin",
                    f"--serviceaccount={ns}:robot")
    cluster.wait_for(lambda: cluster.kubectl(*as_robot, "-n", ns, "get", "pods", check=False).returncode == 0,
                     what="RBAC grant to take effect")
    cluster.kubectl("-n", ns, "delete", "serviceaccount", "robot")
    gone = cluster.kubectl(*as_robot, "-n", ns, "get", "pods", check=False)
    assert gone.returncode != 0 and "Unauthorized" in gone.stderr
