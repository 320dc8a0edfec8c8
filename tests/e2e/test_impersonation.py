"""Impersonation through the real kubectl and raw HTTPS: each of user, uid and user extras
needs its own ``impersonate`` permission, as in kube-apiserver; groups without a user are 400."""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid

import pytest

from tests.e2e.conftest import Cluster
from tests.e2e.test_rbac_escalation import User

AUTHN = "authentication.k8s.io"


@pytest.fixture
def user(cluster: Cluster) -> User:
    return User(cluster, "u-" + uuid.uuid4().hex[:6])


def raw_as(u: User, headers: dict[str, str], path: str = "/apis/authentication.k8s.io/v1/selfsubjectreviews") -> tuple[int, dict]:
    ctx = ssl.create_default_context(cafile=str(u.cluster.data_dir / "tls" / "ca.crt"))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(u.cert), str(u.key))
    body = json.dumps({"apiVersion": f"{AUTHN}/v1", "kind": "SelfSubjectReview"}).encode()
    req = urllib.request.Request(u.cluster.url + path, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_uid_and_extras_need_their_own_permission(cluster: Cluster, user: User) -> None:
    me = user.name
    cluster.kubectl("create", "clusterrole", f"{me}-imp", "--verb=impersonate", "--resource=users", "--resource-name=bob")
    cluster.kubectl("create", "clusterrolebinding", f"{me}-imp", f"--clusterrole={me}-imp", f"--user={me}")
    user.wait_can("impersonate", "users/bob")
    status, out = raw_as(user, {"Impersonate-User": "bob"})
    assert status == 201 and out["status"]["userInfo"]["username"] == "bob"
    assert out["status"]["userInfo"]["groups"] == ["system:authenticated"]
    assert raw_as(user, {"Impersonate-User": "alice"})[0] == 403
    # a uid is a permission of its own
    status, out = raw_as(user, {"Impersonate-User": "bob", "Impersonate-Uid": "42"})
    assert status == 403, out
    assert out["message"] == (f'uids.{AUTHN} "42" is forbidden: User "{me}" cannot impersonate resource "uids" '
                              f'in API group "{AUTHN}" at the cluster scope')
    res = user.kubectl("get", "pods", "--as=bob", "--as-uid=42")
    assert res.returncode != 0 and "cannot impersonate resource" in res.stderr, res.stderr
    # so is each extra key/value
    status, out = raw_as(user, {"Impersonate-User": "bob", "Impersonate-Extra-Scopes": "view"})
    assert status == 403
    assert out["message"].startswith(f'userextras.{AUTHN} "view" is forbidden: User "{me}" cannot impersonate '
                                     f'resource "userextras/scopes" in API group "{AUTHN}"')
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {me}-imp2}}
rules:
- {{apiGroups: [{AUTHN}], resources: [uids, userextras/scopes], verbs: [impersonate]}}
""")
    cluster.kubectl("create", "clusterrolebinding", f"{me}-imp2", f"--clusterrole={me}-imp2", f"--user={me}")
    headers = {"Impersonate-User": "bob", "Impersonate-Uid": "42", "Impersonate-Extra-Scopes": "view"}
    cluster.wait_for(lambda: raw_as(user, headers)[0] == 201, what="uid/extra grant")
    status, out = raw_as(user, headers)
    info = out["status"]["userInfo"]
    assert info["uid"] == "42" and info["extra"] == {"scopes": ["view"]}
    assert "bob" in user.kubectl("auth", "whoami", "--as=bob", "--as-uid=42", check=True).stdout
    # another extra key is not covered by userextras/scopes
    assert raw_as(user, {"Impersonate-User": "bob", "Impersonate-Extra-Reason": "x"})[0] == 403


def test_group_without_user_is_refused(cluster: Cluster, user: User) -> None:
    status, out = raw_as(user, {"Impersonate-Group": "system:masters"})
    assert status == 400 and out["reason"] == "BadRequest"
    status, out = raw_as(user, {"Impersonate-Uid": "1"})
    assert status == 400
    # and a caller without permission cannot impersonate a group alongside a user
    cluster.kubectl("create", "clusterrole", f"{user.name}-u", "--verb=impersonate", "--resource=users")
    cluster.kubectl("create", "clusterrolebinding", f"{user.name}-u", f"--clusterrole={user.name}-u", f"--user={user.name}")
    user.wait_can("impersonate", "users")
    status, out = raw_as(user, {"Impersonate-User": "x", "Impersonate-Group": "system:masters"})
    assert status == 403 and 'groups "system:masters" is forbidden' in out["message"]
