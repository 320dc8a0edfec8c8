"""The API server's CSR rules and bootstrap tokens, in process: the requestor comes from the
request, kube-apiserver-client refuses system:masters, approving needs ``approve`` on the
signer, and bootstrap tokens authenticate exactly while their Secret says so."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from kubelite.api.kinds.certificates import certificatesigningrequest as csrkind
from kubelite.apiserver import bootstraptokens
from kubelite.apiserver.local import LocalTransport
from kubelite.apiserver.request import ApiRequest, UserInfo
from kubelite.client import CERTIFICATESIGNINGREQUESTS as CSR, CLUSTERROLEBINDINGS, CLUSTERROLES, SECRETS, ApiError, Client
from kubelite.server.join import new_key
from tests.inprocess import api_client

ALICE = UserInfo("alice", ("devs", "system:authenticated"), "uid-1", {"team": ("a",)})


def request(cn: str = "alice", orgs: tuple[str, ...] = ()) -> str:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    req = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(new_key(), hashes.SHA256())
    return csrkind.encode_request(req)


def body(name: str = "a", signer: str = "example.com/signer", **spec: object) -> dict:
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": name},
            "spec": {"request": request(), "signerName": signer, "usages": ["client auth"], **spec}}


async def grant(admin: Client, name: str, rules: list[dict]) -> None:
    await admin.create(CLUSTERROLES, {"metadata": {"name": name}, "rules": rules})
    await admin.create(CLUSTERROLEBINDINGS, {"metadata": {"name": name},
                                             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                                             "subjects": [{"kind": "User", "name": "alice"}]})


async def test_requestor_is_the_authenticated_user(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, admin):
        await grant(admin, "csr-create", [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
                                           "verbs": ["create", "get"]}])
        alice = Client(LocalTransport(api, ALICE))
        out = await alice.create(CSR, body(username="system:admin", groups=["system:masters"]))
        assert (out["spec"]["username"], out["spec"]["groups"], out["spec"]["uid"], out["spec"]["extra"]) == (
            "alice", ["devs", "system:authenticated"], "uid-1", {"team": ["a"]})
        with pytest.raises(ApiError) as e:
            await alice.list(CSR)
        assert e.value.code == 403
        await alice.close()


async def test_kube_apiserver_client_refuses_system_masters(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, admin):
        masters = body(signer=csrkind.SIGNER_KUBE_APISERVER_CLIENT)
        masters["spec"]["request"] = request("root", ("system:masters",))
        with pytest.raises(ApiError) as e:
            await admin.create(CSR, masters)
        assert e.value.code == 403
        assert e.value.message == ('certificatesigningrequests.certificates.k8s.io "a" is forbidden: use of '
                                   "kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed")


async def test_approving_needs_approve_on_the_signer(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, admin):
        await grant(admin, "csr-approval", [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"],
                                             "verbs": ["update"]},
                                            {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
                                             "verbs": ["get"]}])
        await admin.create(CSR, body())
        alice = Client(LocalTransport(api, ALICE))
        obj = await alice.get(CSR, "a")
        obj["status"]["conditions"] = [{"type": "Approved", "status": "True", "reason": "R", "message": "m"}]
        with pytest.raises(ApiError) as e:
            await alice.update(CSR, obj, subresource="approval")
        assert (e.value.code, e.value.message) == (403, 'certificatesigningrequests.certificates.k8s.io "a" is forbidden: '
                                                        'user not permitted to approve requests with signerName "example.com/signer"')
        await grant(admin, "signer-approve", [{"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                                               "resourceNames": ["example.com/*"], "verbs": ["approve"]}])
        api.authorizer._cache = None  # noqa: SLF001 - the RBAC cache lives a second
        out = await alice.update(CSR, obj, subresource="approval")
        cond = csrkind.condition(out, "Approved")
        assert cond["lastUpdateTime"] and cond["lastTransitionTime"]
        # the main endpoint cannot approve, and signing needs `sign`
        obj = await admin.get(CSR, "a")
        obj["status"]["certificate"] = base64.b64encode(b"x").decode()
        with pytest.raises(ApiError) as e:
            await alice.update_status(CSR, obj)
        assert e.value.code == 403
        await alice.close()


async def test_bootstrap_tokens(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, admin):
        authn = api.token_authenticators
        await bootstraptokens.ensure_token_secret(api, "abcdef", "0123456789abcdef", extra_groups=[
            "system:bootstrappers:kubelite:default-node-token"], description="test")

        async def who(token: str) -> UserInfo | None:
            for a in authn:
                user = await a(token)
                if user is not None:
                    return user
            return None

        user = await who("abcdef.0123456789abcdef")
        assert user == UserInfo("system:bootstrap:abcdef", (
            "system:bootstrappers", "system:bootstrappers:kubelite:default-node-token", "system:authenticated"))
        assert await who("abcdef.0123456789abcdee") is None
        assert await who("zzzzzz.0123456789abcdef") is None
        assert await who("abcdef.0123456789abcdef ") is None
        secret = await admin.get(SECRETS, "bootstrap-token-abcdef", namespace="kube-system")
        secret["data"]["expiration"] = base64.b64encode(b"2020-01-01T00:00:00Z").decode()
        await admin.update(SECRETS, secret)
        assert await who("abcdef.0123456789abcdef") is None
        secret = await admin.get(SECRETS, "bootstrap-token-abcdef", namespace="kube-system")
        secret["data"]["expiration"] = base64.b64encode(b"next tuesday").decode()  # unreadable: expired
        await admin.update(SECRETS, secret)
        assert await who("abcdef.0123456789abcdef") is None
        # ensure_token_secret puts it right again (what `kubelite server` does on every start)
        await bootstraptokens.ensure_token_secret(api, "abcdef", "0123456789abcdef", extra_groups=[], description="x")
        assert (await who("abcdef.0123456789abcdef")).name == "system:bootstrap:abcdef"
        secret = await admin.get(SECRETS, "bootstrap-token-abcdef", namespace="kube-system")
        secret["data"]["usage-bootstrap-authentication"] = base64.b64encode(b"false").decode()
        await admin.update(SECRETS, secret)
        assert await who("abcdef.0123456789abcdef") is None


async def test_cacerts_is_public(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        req = ApiRequest("GET", "/cacerts", {}, {})
        assert (await api.handle(req)).status == 404
        api.cacerts = b"-----BEGIN CERTIFICATE-----\n"
        resp = await api.handle(req)
        assert (resp.status, resp.body, resp.content_type) == (200, api.cacerts, "text/plain")


async def test_approval_subresource_get_patch_and_conflicts(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (_, admin):
        created = await admin.create(CSR, body())
        assert (await admin.get(CSR, "a", subresource="approval"))["metadata"]["uid"] == created["metadata"]["uid"]
        denied = await admin.patch(CSR, "a", {"status": {"conditions": [
            {"type": "Denied", "status": "True", "reason": "No", "message": "not you"}]}, "spec": {"usages": ["any"]}},
            subresource="approval")
        assert csrkind.is_denied(denied) and denied["spec"]["usages"] == ["client auth"]
        stale = dict(created, status={"conditions": [{"type": "Approved", "status": "True"}]})
        with pytest.raises(ApiError) as e:
            await admin.update(CSR, stale, subresource="approval")
        assert e.value.code == 409
        fresh = await admin.get(CSR, "a")
        fresh["status"]["conditions"].append({"type": "Approved", "status": "True", "reason": "R", "message": "m"})
        with pytest.raises(ApiError) as e:
            await admin.update(CSR, fresh, subresource="approval")
        assert e.value.code == 422 and "Approved and Denied conditions are mutually exclusive" in e.value.message
        for bad in ({"status": {"conditions": "x"}}, {"status": {"conditions": [5]}}):
            with pytest.raises(ApiError) as e:
                await admin.patch(CSR, "a", bad, subresource="approval")
            assert e.value.code == 400 and "cannot be handled as a CertificateSigningRequest" in e.value.message


async def test_a_replaced_join_token_stops_working(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        await bootstraptokens.ensure_token_secret(api, "aaaaaa", "0123456789abcdef", extra_groups=[],
                                                  description="old", owner_label="kubelite.io/node-token")
        await bootstraptokens.ensure_token_secret(api, "manual", "0123456789abcdef", extra_groups=[],
                                                  description="an admin's own token")
        await bootstraptokens.ensure_token_secret(api, "bbbbbb", "fedcba9876543210", extra_groups=[],
                                                  description="new", owner_label="kubelite.io/node-token")

        async def user(token: str) -> str | None:
            for a in api.token_authenticators:
                u = await a(token)
                if u is not None:
                    return u.name
            return None

        assert await user("aaaaaa.0123456789abcdef") is None
        assert await user("bbbbbb.fedcba9876543210") == "system:bootstrap:bbbbbb"
        assert await user("manual.0123456789abcdef") == "system:bootstrap:manual"  # not ours to remove
