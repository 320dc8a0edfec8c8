"""Error Statuses byte for byte as kube-apiserver writes them (clients' tests compare the text:
the official Python client's create_from_yaml 409, kubectl debug reading a 404's details)."""
from __future__ import annotations

from pathlib import Path

from kubelite.apiserver.request import LOOPBACK_MASTER, ApiRequest
from tests.inprocess import api_client

CM = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mock"}}'


def post(path: str, body: bytes) -> ApiRequest:
    return ApiRequest("POST", path, {}, {"Content-Type": "application/json"}, body, user=LOOPBACK_MASTER)


async def test_already_exists_is_kubes_text(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _client):
        assert (await api.handle(post("/api/v1/namespaces/default/configmaps", CM))).status == 201
        resp = await api.handle(post("/api/v1/namespaces/default/configmaps", CM))
        assert resp.status == 409
        assert resp.body == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                             b'"message":"configmaps \\"mock\\" already exists","reason":"AlreadyExists",'
                             b'"details":{"name":"mock","kind":"configmaps"},"code":409}\n')
        crb = (b'{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"mock"}}')
        assert (await api.handle(post("/apis/rbac.authorization.k8s.io/v1/clusterroles", crb))).status == 201
        resp = await api.handle(post("/apis/rbac.authorization.k8s.io/v1/clusterroles", crb))
        assert resp.body == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                             b'"message":"clusterroles.rbac.authorization.k8s.io \\"mock\\" already exists",'
                             b'"reason":"AlreadyExists","details":{"name":"mock","group":"rbac.authorization.k8s.io",'
                             b'"kind":"clusterroles"},"code":409}\n')


async def test_not_found_always_has_details(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _client):
        get = ApiRequest("GET", "/api/v1/namespaces/default/pods/nope", {}, {}, user=LOOPBACK_MASTER)
        resp = await api.handle(get)
        assert resp.body == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                             b'"message":"pods \\"nope\\" not found","reason":"NotFound",'
                             b'"details":{"name":"nope","kind":"pods"},"code":404}\n')
        resp = await api.handle(ApiRequest("GET", "/api/v1/nosuchthing", {}, {}, user=LOOPBACK_MASTER))
        assert resp.status == 404 and b'"reason":"NotFound","details":{},"code":404}\n' in resp.body
