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
