"""RBAC escalation prevention through the real kubectl, as users with their own client
certificates: each escalation path of kube-apiserver's ``pkg/registry/rbac`` is refused with
403, and the legitimate paths (holding the permissions, ``bind``, ``escalate``) succeed."""
from __future__ import annotations

import uuid

import pytest

from kubelite.server.tls import ClusterPKI, issue_client_cert
from tests.e2e.conftest import Cluster

NOT_HELD = "is attempting to grant RBAC permissions not currently held"


class User:
    """kubectl as ``name`` (a client certificate signed by the cluster CA)."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster, self.name = cluster, name
        d = cluster.data_dir.parent / f"user-{name}"
        d.mkdir(exist_ok=True)
        self.cert, self.key = d / "client.crt", d / "client.key"
        issue_client_cert(ClusterPKI(cluster.data_dir / "tls"), name, [], self.cert, self.key)

    def kubectl(self, *args: str, input: str | None = None, check: bool = False):  # noqa: ANN201
        return self.cluster.kubectl("--kubeconfig=/dev/null", f"--server={self.cluster.url}",
                                    f"--certificate-authority={self.cluster.data_dir / 'tls' / 'ca.crt'}",
                                    f"--client-certificate={self.cert}", f"--client-key={self.key}",
                                    *args, input=input, check=check)

    def wait_can(self, *args: str) -> None:
        self.cluster.wait_for(lambda: self.kubectl("auth", "can-i", *args).stdout.strip() == "yes",
                              what=f"{self.name} can-i {args}")


@pytest.fixture
def user(cluster: Cluster) -> User:
    return User(cluster, "u-" + uuid.uuid4().hex[:6])


def grant(cluster: Cluster, ns: str | None, user: User, name: str, verbs: str, resources: str,
          resource_names: str = "") -> None:
    """A Role (or ClusterRole when ``ns`` is None) + binding for ``user``, made by the admin."""
    scope = ["-n", ns] if ns else []
    kind = "role" if ns else "clusterrole"
    extra = [f"--resource-name={resource_names}"] if resource_names else []
    cluster.kubectl(*scope, "create", kind, name, f"--verb={verbs}", f"--resource={resources}", *extra)
    binding = "rolebinding" if ns else "clusterrolebinding"
    cluster.kubectl(*scope, "create", binding, name, f"--{kind}={name}", f"--user={user.name}")


def test_rolebinding_to_cluster_admin_is_refused(cluster: Cluster, ns: str, user: User) -> None:
    cluster.kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v")
    grant(cluster, ns, user, "binder", "create", "rolebindings")
    user.wait_can("-n", ns, "create", "rolebindings")
    res = user.kubectl("-n", ns, "create", "rolebinding", "pwn", "--clusterrole=cluster-admin", f"--user={user.name}")
    assert res.returncode != 0
    assert "is forbidden" in res.stderr and NOT_HELD in res.stderr, res.stderr
    assert f'rolebindings.rbac.authorization.k8s.io "pwn" is forbidden: user "{user.name}"' in res.stderr
    assert '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in res.stderr
    assert user.kubectl("-n", ns, "get", "secrets").returncode != 0
    # with bind on that one ClusterRole it is delegation, not escalation
    cluster.kubectl("-n", ns, "create", "role", "bind-view", "--verb=bind", "--resource=clusterroles",
                    "--resource-name=view")
    cluster.kubectl("-n", ns, "create", "rolebinding", "bind-view", "--role=bind-view", f"--user={user.name}")
    cluster.kubectl("create", "clusterrole", "view", "--verb=get,list", "--resource=configmaps", check=False)
    user.wait_can("-n", ns, "bind", "clusterroles/view")
    user.kubectl("-n", ns, "create", "rolebinding", "ok", "--clusterrole=view", f"--user={user.name}", check=True)
    res = user.kubectl("-n", ns, "create", "rolebinding", "pwn2", "--clusterrole=cluster-admin", f"--user={user.name}")
    assert res.returncode != 0 and NOT_HELD in res.stderr


def test_binding_a_role_whose_rules_are_held_is_allowed(cluster: Cluster, ns: str, user: User) -> None:
    grant(cluster, ns, user, "binder", "create", "rolebindings")
    cluster.kubectl("-n", ns, "create", "role", "binder-pods", "--verb=get,list", "--resource=pods")
    cluster.kubectl("-n", ns, "create", "rolebinding", "binder-pods", "--role=binder-pods", f"--user={user.name}")
    cluster.kubectl("-n", ns, "create", "role", "pod-reader", "--verb=get", "--resource=pods")
    user.wait_can("-n", ns, "list", "pods")
    # pod-reader grants get pods, which the user holds: it may hand it on
    user.kubectl("-n", ns, "create", "rolebinding", "share", "--role=pod-reader", "--user=someone", check=True)
    res = user.kubectl("-n", ns, "create", "rolebinding", "missing", "--role=nope", "--user=someone")
    assert res.returncode != 0 and "is forbidden" in res.stderr and 'role.rbac.authorization.k8s.io "nope" not found' in res.stderr


def test_role_granting_more_than_held_is_refused(cluster: Cluster, ns: str, user: User) -> None:
    grant(cluster, ns, user, "role-admin", "create,update,get,patch", "roles")
    user.wait_can("-n", ns, "create", "roles")
    res = user.kubectl("-n", ns, "create", "role", "all", "--verb=*", "--resource=*.*")
    assert res.returncode != 0 and "is forbidden" in res.stderr and NOT_HELD in res.stderr, res.stderr
    assert 'roles.rbac.authorization.k8s.io "all" is forbidden' in res.stderr
    # a role within what it holds is fine; widening its own bound role is not
    user.kubectl("-n", ns, "create", "role", "sub", "--verb=get", "--resource=roles", check=True)
    res = user.kubectl("-n", ns, "patch", "role", "role-admin", "--type=json", "-p",
                       '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]}}]')
    assert res.returncode != 0 and NOT_HELD in res.stderr
    assert '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}' in res.stderr, res.stderr
    # resourceNames: holding get on one secret does not cover all secrets
    grant(cluster, ns, user, "one-secret", "get", "secrets", resource_names="a")
    user.wait_can("-n", ns, "get", "secrets/a")
    user.kubectl("-n", ns, "create", "role", "a-only", "--verb=get", "--resource=secrets", "--resource-name=a", check=True)
    res = user.kubectl("-n", ns, "create", "role", "all-secrets", "--verb=get", "--resource=secrets")
    assert res.returncode != 0 and NOT_HELD in res.stderr
    # the escalate verb lifts the check
    cluster.kubectl("-n", ns, "create", "role", "escalator", "--verb=escalate", "--resource=roles")
    cluster.kubectl("-n", ns, "create", "rolebinding", "escalator", "--role=escalator", f"--user={user.name}")
    user.wait_can("-n", ns, "escalate", "roles")
    user.kubectl("-n", ns, "create", "role", "all", "--verb=*", "--resource=*.*", check=True)


def test_clusterrolebinding_to_cluster_admin_is_refused(cluster: Cluster, user: User) -> None:
    name = user.name
    grant(cluster, None, user, f"{name}-crb", "create", "clusterrolebindings")
    user.wait_can("create", "clusterrolebindings")
    res = user.kubectl("create", "clusterrolebinding", f"{name}-pwn", "--clusterrole=cluster-admin", f"--user={name}")
    assert res.returncode != 0 and "is forbidden" in res.stderr and NOT_HELD in res.stderr
    assert "NonResourceURLs:[\"*\"]" in res.stderr
    assert user.kubectl("get", "secrets", "-A").returncode != 0


def test_clusterrole_aggregation(cluster: Cluster, user: User) -> None:
    name = user.name
    label = f"example.com/aggregate-to-{name}"
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {name}-agg}}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {{"{label}": "true"}}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {name}-pods
  labels: {{"{label}": "true"}}
rules:
- {{apiGroups: [""], resources: [pods], verbs: [get, list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {name}-svc}}
rules:
- {{apiGroups: [""], resources: [services], verbs: [list]}}
""")

    def rules() -> list:
        return cluster.json("get", "clusterrole", f"{name}-agg").get("rules") or []

    cluster.wait_for(lambda: rules() == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
                     what="aggregated rules")
    cluster.kubectl("label", "clusterrole", f"{name}-svc", f"{label}=true")
    cluster.wait_for(lambda: len(rules()) == 2, what="second role aggregated")
    cluster.kubectl("label", "clusterrole", f"{name}-pods", f"{label}-")
    cluster.wait_for(lambda: rules() == [{"apiGroups": [""], "resources": ["services"], "verbs": ["list"]}],
                     what="unlabelled role dropped")
    # the aggregation rule can gather anything: only full authority may set it
    grant(cluster, None, user, f"{name}-cr", "create", "clusterroles")
    user.wait_can("create", "clusterroles")
    res = user.kubectl("create", "-f", "-", input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {name}-mine}}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}
""")
    assert res.returncode != 0 and "Error from server (Forbidden)" in res.stderr
    assert "must have cluster-admin privileges to use the aggregationRule" in res.stderr, res.stderr
