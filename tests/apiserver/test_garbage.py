"""Garbage in, Status out: every route of a real ``kubelite server`` answers bad requests with a
Kubernetes Status object and the right 4xx code -- never a 500, never a traceback.

The server runs as a subprocess (tests/e2e/conftest.py's ``make_cluster``) and is reached over
HTTPS with the admin client certificate from the kubeconfig it writes, on one keep-alive
connection so the ~2,000 requests stay fast. Resources are taken from discovery, so a kind added
later is covered without touching this file.
"""
from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster, make_cluster

BIG = 4 * 1024 * 1024


@dataclass
class Reply:
    status: int
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A minimal HTTPS client: one persistent connection, reopened when the server closes it."""

    def __init__(self, cluster: Cluster, tmp: Path, *, authenticated: bool = True) -> None:
        cfg = yaml.safe_load(cluster.kubeconfig.read_text())
        self.host, self.port = "127.0.0.1", cluster.port
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        if authenticated:
            user = cfg["users"][0]["user"]
            cert, key = tmp / "admin.crt", tmp / "admin.key"
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            self.ctx.load_cert_chain(str(cert), str(key))
        self.conn: http.client.HTTPSConnection | None = None

    def _connect(self) -> http.client.HTTPSConnection:
        if self.conn is None:
            self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: bytes | str | None = None,
                ctype: str = "application/json", accept: str = "application/json",
                headers: dict[str, str] | None = None) -> Reply:
        if isinstance(body, str):
            body = body.encode()
        headers = {"Accept": accept, "User-Agent": "garbage-test/1.0", **(headers or {})}
        if body is not None:
            headers["Content-Type"] = ctype
        for attempt in range(2):
            conn = self._connect()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return Reply(resp.status, data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server may close a keep-alive connection after rejecting a large body.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = make_cluster(tmp_path_factory.mktemp("garbage"))
    c.start()
    try:
        yield c
    finally:
        c.stop()
        log = c.log_path.read_text() if c.log_path else ""
        assert "Traceback" not in log, log[-4000:]


@pytest.fixture(scope="module")
def api(server: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    a = Api(server, tmp_path_factory.mktemp("certs"))
    yield a
    a.close()


def expect(reply: Reply, codes: set[int] | int, what: str) -> dict[str, Any]:
    """The reply is a Status with one of ``codes``, and its ``code`` field matches the HTTP status."""
    allowed = {codes} if isinstance(codes, int) else codes
    assert reply.status != 500, f"{what}: 500 {reply.body[:500]!r}"
    assert reply.status in allowed, f"{what}: got {reply.status}, want {sorted(allowed)}: {reply.body[:500]!r}"
    try:
        status = reply.json
    except ValueError:
        raise AssertionError(f"{what}: not JSON: {reply.body[:300]!r}") from None
    assert status.get("kind") == "Status" and status.get("apiVersion") == "v1", f"{what}: {status}"
    assert status.get("status") == "Failure", f"{what}: {status}"
    assert status.get("code") == reply.status, f"{what}: code {status.get('code')} != HTTP {reply.status}"
    assert isinstance(status.get("message"), str) and status["message"], f"{what}: {status}"
    return status


@dataclass(frozen=True)
class Res:
    group_version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def base(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    @property
    def collection(self) -> str:
        ns = "/namespaces/default" if self.namespaced else ""
        return f"{self.base}{ns}/{self.plural}"

    @property
    def item(self) -> str:
        return f"{self.collection}/garbage-item"

    def allow(self, verb: str, codes: set[int]) -> set[int]:
        """Verbs a resource does not serve may answer 405 instead."""
        return codes if verb in self.verbs else codes | {405}


def discover(api: Api) -> list[Res]:
    out: list[Res] = []
    gvs = ["v1"]
    for g in api.request("GET", "/apis").json["groups"]:
        gvs.extend(v["groupVersion"] for v in g["versions"])
    for gv in gvs:
        base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
        for r in api.request("GET", base).json["resources"]:
            if "/" in r["name"]:
                continue
            out.append(Res(gv, r["name"], r["kind"], r["namespaced"], frozenset(r["verbs"])))
    return out


@pytest.fixture(scope="module")
def resources(api: Api) -> list[Res]:
    found = discover(api)
    plurals = {r.plural for r in found}
    assert {"pods", "deployments", "configmaps", "namespaces", "customresourcedefinitions"} <= plurals
    return found


def other_kind(r: Res) -> dict[str, Any]:
    """A well-formed object of a kind the URL does not serve."""
    if r.kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}


def own_kind(r: Res, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": r.group_version, "kind": r.kind, "metadata": {"name": "garbage-item", **meta}}


# --- every built-in resource, collection and item URLs -------------------------------------------


def test_garbage_bodies_on_collections(api: Api, resources: list[Res]) -> None:
    for r in resources:
        url = r.collection
        c = partial(r.allow, "create")
        expect(api.request("POST", url, '{"apiVersion": "v1", "kind": '), c({400}), f"malformed JSON {url}")
        expect(api.request("POST", url, "kind: [a, b\nmetadata: }{", "application/yaml"), c({400}),
               f"malformed YAML {url}")
        expect(api.request("POST", url, "[1, 2, 3]"), c({400}), f"JSON array body {url}")
        expect(api.request("POST", url, '"just a string"'), c({400}), f"JSON string body {url}")
        expect(api.request("POST", url, ""), c({400}), f"empty body {url}")
        expect(api.request("POST", url, json.dumps(other_kind(r))), c({400}), f"wrong kind {url}")
        expect(api.request("POST", url, json.dumps({"apiVersion": "v9", "kind": r.kind, "metadata": {"name": "x"}})),
               c({400}), f"wrong apiVersion {url}")
        expect(api.request("POST", url, json.dumps({"apiVersion": r.group_version, "kind": r.kind, "metadata": "m"})),
               c({400}), f"metadata not an object {url}")
        expect(api.request("POST", url, json.dumps(own_kind(r, labels=["not", "a", "map"]))),
               c({400, 422}), f"labels of the wrong type {url}")
        expect(api.request("POST", url, json.dumps({"apiVersion": 7, "kind": ["x"]})), c({400}),
               f"apiVersion/kind not strings {url}")
        expect(api.request("POST", url, b"\x00\xff\xfe garbage", "application/vnd.kubernetes.protobuf"),
               c({400}), f"protobuf without magic {url}")
        expect(api.request("POST", url, b"k8s\x00\x0a\xff\xff\xff\x0f\x12", "application/vnd.kubernetes.protobuf"),
               c({400}), f"truncated protobuf {url}")
        expect(api.request("POST", url, "a=b", "text/plain"), c({400, 415}), f"unknown content type {url}")
        expect(api.request("POST", url + "?fieldValidation=Bogus", json.dumps(own_kind(r))), c({400}),
               f"unknown fieldValidation {url}")
        expect(api.request("POST", url + "?dryRun=Some", json.dumps(own_kind(r))), c({400}),
               f"unknown dryRun {url}")
        expect(api.request("PUT", url, json.dumps(own_kind(r))), {405}, f"PUT on a collection {url}")
        expect(api.request("PATCH", url, "{}", "application/merge-patch+json"), {405}, f"PATCH on a collection {url}")


def test_garbage_queries_on_collections(api: Api, resources: list[Res]) -> None:
    for r in resources:
        url = r.collection
        lst = partial(r.allow, "list")
        watch = partial(r.allow, "watch")
        expect(api.request("GET", url + "?labelSelector=a%20in%20(b"), lst({400}), f"bad label selector {url}")
        expect(api.request("GET", url + "?labelSelector=%21%21%21"), lst({400}), f"bad label selector {url}")
        expect(api.request("GET", url + "?fieldSelector=no.such.field%3Dx"), lst({400}),
               f"unsupported field selector {url}")
        expect(api.request("GET", url + "?fieldSelector=%3D%3D%3D"), lst({400}), f"malformed field selector {url}")
        expect(api.request("GET", url + "?limit=2&continue=not-a-token%21"), lst({400}), f"bad continue {url}")
        token = base64.urlsafe_b64encode(b'{"rv": "x", "start": 5}').decode()
        expect(api.request("GET", url + f"?limit=2&continue={token}"), lst({400}), f"wrong-shape continue {url}")
        expect(api.request("GET", url + "?limit=many"), lst({400}), f"non-integer limit {url}")
        expect(api.request("GET", url + "?limit=-3"), lst({400}), f"negative limit {url}")
        expect(api.request("GET", url + "?watch=true&resourceVersion=abc"), watch({400}), f"bad watch RV {url}")
        expect(api.request("GET", url + "?watch=true&resourceVersion=-5"), watch({400, 410}), f"negative watch RV {url}")
        expect(api.request("GET", url + "?watch=true&timeoutSeconds=soon"), watch({400}), f"bad timeoutSeconds {url}")
        dc = partial(r.allow, "deletecollection")
        expect(api.request("DELETE", url + "?labelSelector=%28%28", None), dc({400}), f"deletecollection bad selector {url}")
        expect(api.request("DELETE", url, "{not json"), dc({400}), f"deletecollection bad options {url}")


def test_garbage_on_items(api: Api, resources: list[Res]) -> None:
    for r in resources:
        url = r.item
        upd = partial(r.allow, "update")
        pat = partial(r.allow, "patch")
        dele = partial(r.allow, "delete")
        expect(api.request("PUT", url, "{"), upd({400}), f"PUT malformed JSON {url}")
        expect(api.request("PUT", url, "a: [", "application/yaml"), upd({400}), f"PUT malformed YAML {url}")
        expect(api.request("PUT", url, json.dumps(other_kind(r))), upd({400}), f"PUT wrong kind {url}")
        body = own_kind(r)
        body["metadata"]["name"] = "someone-else"
        expect(api.request("PUT", url, json.dumps(body)), upd({400}), f"PUT name mismatch {url}")
        expect(api.request("PUT", url, b"k8s\x00\x0a\x03abc", "application/vnd.kubernetes.protobuf"), upd({400}),
               f"PUT bad protobuf {url}")
        expect(api.request("PATCH", url, "{", "application/merge-patch+json"), pat({400}), f"malformed merge patch {url}")
        expect(api.request("PATCH", url, '{"op": "add"}', "application/json-patch+json"), pat({400, 404}),
               f"json patch not a list {url}")
        expect(api.request("PATCH", url, "[1, 2]", "application/merge-patch+json"), pat({400, 404, 422}),
               f"merge patch not an object {url}")
        expect(api.request("PATCH", url, "{}", "text/plain"), pat({415}), f"unknown patch type {url}")
        expect(api.request("PATCH", url, "{}", "application/json"), pat({415}), f"plain JSON patch type {url}")
        expect(api.request("PATCH", url, json.dumps(own_kind(r)), "application/apply-patch+yaml"), pat({400}),
               f"apply without fieldManager {url}")
        expect(api.request("PATCH", url + "?fieldManager=x", "a: [", "application/apply-patch+yaml"), pat({400}),
               f"apply malformed YAML {url}")
        expect(api.request("POST", url, json.dumps(own_kind(r))), {405}, f"POST on an item {url}")
        expect(api.request("GET", url), r.allow("get", {404}), f"GET missing {url}")
        expect(api.request("GET", url + "?watch=1&resourceVersion=zzz"), r.allow("watch", {400}), f"item watch bad RV {url}")
        expect(api.request("GET", url + "/no-such-subresource"), {404}, f"unknown subresource {url}")
        expect(api.request("DELETE", url, "{bad"), dele({400}), f"DELETE malformed options {url}")
        expect(api.request("DELETE", url + "?propagationPolicy=Sideways"), dele({400}), f"bad propagationPolicy {url}")
        expect(api.request("DELETE", url + "?gracePeriodSeconds=later"), dele({400}), f"bad gracePeriodSeconds {url}")
        expect(api.request("DELETE", url), dele({404}), f"DELETE missing {url}")


def test_oversized_bodies(api: Api, resources: list[Res]) -> None:
    big = b'{"kind": "ConfigMap", "data": {"k": "' + b"x" * BIG + b'"}}'
    for r in resources:
        if "create" in r.verbs:
            expect(api.request("POST", r.collection, big), {413}, f"4 MiB POST {r.collection}")
    cm = next(r for r in resources if r.plural == "configmaps")
    expect(api.request("PUT", cm.item, big), {413}, "4 MiB PUT")
    expect(api.request("PATCH", cm.item, big, "application/merge-patch+json"), {413}, "4 MiB PATCH")


def test_unauthenticated(server: Cluster, resources: list[Res], tmp_path: Path) -> None:
    """Anonymous requests are authorized as system:anonymous (403, as kube); credentials that
    fail are 401."""
    anon = Api(server, tmp_path, authenticated=False)
    try:
        for r in resources:
            # (405 where the resource serves no such verb: routing answers before authorization)
            expect(anon.request("GET", r.collection), {403, 405}, f"anonymous list {r.collection}")
            expect(anon.request("POST", r.collection, json.dumps(own_kind(r))), {403, 405}, f"anonymous create {r.collection}")
            expect(anon.request("DELETE", r.item), {403, 405}, f"anonymous delete {r.item}")
        for path in ("/api", "/apis", "/api/v1", "/apis/apps/v1", "/openapi/v3"):
            expect(anon.request("GET", path), {403}, f"anonymous {path}")
        for token in ("garbage", "a.b.c", "x" * 4000):
            expect(anon.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}), {401},
                   f"bearer token {token[:10]!r}")
        # no token at all, or a scheme kube does not take (Basic), is simply anonymous
        expect(anon.request("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer "}), {403}, "empty token")
        expect(anon.request("GET", "/api/v1/namespaces", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}), {403},
               "basic auth")
        assert anon.request("GET", "/readyz").status == 200
        assert anon.request("GET", "/version").status == 200
    finally:
        anon.close()


# --- unknown routes ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/default/nosuchthings",
    "/api/v1/nosuchthings",
    "/api/v2/pods",
    "/apis/nosuch.example.com/v1/things",
    "/apis/apps/v9/deployments",
    "/apis/apps/v1/namespaces/default/nosuchthings/x",
    "/apis/apps/v1/namespaces/default/deployments/x/status/extra/segments",
    "/api/v1/namespaces/default/namespaces",  # cluster-scoped kind under a namespace
    "/api/v1/pods/x",  # namespaced item without a namespace
    "/openapi/v3/apis/nosuch/v1",
    "/openapi/v2",
    "/totally/unknown",
])
def test_unknown_routes(api: Api, path: str) -> None:
    expect(api.request("GET", path), {404}, f"GET {path}")
    expect(api.request("POST", path, "{}"), {404, 405}, f"POST {path}")


# --- bodies with wrong types and broken patches on existing objects -------------------------------


@pytest.fixture(scope="module")
def existing(api: Api) -> dict[str, str]:
    """A configmap and a deployment that patches can reach (patches on missing objects stop at 404)."""
    name = "garb-" + uuid.uuid4().hex[:6]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}
    assert api.request("POST", "/api/v1/namespaces/default/configmaps", json.dumps(cm)).status == 201
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    r = api.request("POST", "/apis/apps/v1/namespaces/default/deployments", json.dumps(dep))
    assert r.status == 201, r.body
    return {"configmap": f"/api/v1/namespaces/default/configmaps/{name}",
            "deployment": f"/apis/apps/v1/namespaces/default/deployments/{name}",
            "namespace": "/api/v1/namespaces/default", "name": name}


def test_string_replicas_names_the_field(api: Api, existing: dict[str, str]) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "strrep"},
           "spec": {"replicas": "three", "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    status = expect(api.request("POST", "/apis/apps/v1/namespaces/default/deployments", json.dumps(dep)), {400},
                    "string replicas")
    assert "replicas" in status["message"], status
    status = expect(api.request("PATCH", existing["deployment"], '{"spec": {"replicas": "ten"}}',
                                "application/merge-patch+json"), {400, 422}, "merge-patched string replicas")
    assert "replicas" in status["message"], status
    status = expect(api.request("PATCH", existing["deployment"], '{"spec": {"replicas": "ten"}}',
                                "application/strategic-merge-patch+json"), {400, 422}, "SMP string replicas")
    assert "replicas" in status["message"], status
    expect(api.request("PATCH", existing["configmap"], '{"data": {"a": 5}}', "application/merge-patch+json"),
           {400, 422}, "configmap data value of the wrong type")
    expect(api.request("PATCH", existing["configmap"], '{"data": ["x"]}', "application/merge-patch+json"),
           {400, 422}, "configmap data of the wrong type")


@pytest.mark.parametrize("ctype,body,codes", [
    ("application/json-patch+json", '{"op": "add", "path": "/data/x", "value": "1"}', {400}),
    ("application/json-patch+json", '"replace"', {400}),
    ("application/json-patch+json", '[{"op": "explode", "path": "/data"}]', {400, 422}),
    ("application/json-patch+json", '[{"op": "add"}]', {400, 422}),
    ("application/json-patch+json", '[{"op": "remove", "path": "/data/nope"}]', {400, 422}),
    ("application/json-patch+json", '[{"op": "test", "path": "/data/a", "value": "wrong"}]', {400, 409, 422}),
    ("application/json-patch+json", '[{"op": "replace", "path": "/metadata", "value": 5}]', {400, 422}),
    ("application/json-patch+json", '[{"op": "replace", "path": "", "value": [1]}]', {400, 422}),
    ("application/json-patch+json", '[{"op": "add", "path": "no-slash", "value": 1}]', {400, 422}),
    ("application/json-patch+json", '[{"op": "move", "from": "/nope", "path": "/data/b"}]', {400, 422}),
    ("application/json-patch+json", '[5, "x"]', {400, 422}),
    ("application/merge-patch+json", "[1, 2]", {400, 422}),
    ("application/merge-patch+json", '"a string"', {400, 422}),
    ("application/merge-patch+json", "42", {400, 422}),
    ("application/merge-patch+json", "null", {400, 422}),
    ("application/merge-patch+json", '{"metadata": "x"}', {400, 422}),
    ("application/merge-patch+json", '{"metadata": {"name": "other"}}', {400, 422}),
    ("application/merge-patch+json", '{"metadata": {"resourceVersion": "1"}}', {409}),
    ("application/strategic-merge-patch+json", "[1]", {400, 422}),
    ("application/strategic-merge-patch+json", '{"metadata": {"labels": "x"}}', {400, 422}),
    ("application/strategic-merge-patch+json", '{"metadata": {"$patch": "explode"}}', {400, 422}),
    ("application/strategic-merge-patch+json", '{"$setElementOrder/data": 5}', {400, 422}),
    ("application/apply-patch+yaml", "- a\n- b\n", {400}),
    ("application/apply-patch+yaml", '{"apiVersion": "v1", "kind": "Secret"}', {400}),
    ("application/apply-patch+yaml", '{"apiVersion": "v1", "kind": "ConfigMap", "data": 5}', {400, 422}),
    ("application/apply-patch+yaml", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "zz"}}', {400}),
])
def test_broken_patches_on_a_configmap(api: Api, existing: dict[str, str], ctype: str, body: str,
                                       codes: set[int]) -> None:
    before = api.request("GET", existing["configmap"]).json
    url = existing["configmap"] + ("?fieldManager=garbage" if "apply" in ctype else "")
    expect(api.request("PATCH", url, body, ctype), codes, f"{ctype} {body}")
    after = api.request("GET", existing["configmap"]).json
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], "a rejected patch wrote"


@pytest.mark.parametrize("ctype,body", [
    ("application/merge-patch+json", '{"spec": {"template": {"spec": {"containers": 5}}}}'),
    ("application/strategic-merge-patch+json", '{"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}'),
    ("application/strategic-merge-patch+json", '{"spec": {"template": {"spec": {"containers": [5]}}}}'),
    ("application/strategic-merge-patch+json", '{"spec": {"template": {"spec": {"containers": {"$patch": "x"}}}}}'),
    ("application/strategic-merge-patch+json", '{"spec": {"selector": null}}'),
    ("application/json-patch+json", '[{"op": "add", "path": "/spec/template/spec/containers/9", "value": {}}]'),
    ("application/json-patch+json", '[{"op": "replace", "path": "/spec/replicas", "value": -1}]'),
])
def test_broken_patches_on_a_deployment(api: Api, existing: dict[str, str], ctype: str, body: str) -> None:
    expect(api.request("PATCH", existing["deployment"], body, ctype), {400, 422}, f"{ctype} {body}")


def test_scale_subresource_garbage(api: Api, existing: dict[str, str]) -> None:
    scale = existing["deployment"] + "/scale"
    expect(api.request("PUT", scale, "{"), {400}, "malformed scale")
    expect(api.request("PUT", scale, "[]"), {400, 422}, "scale not an object")
    expect(api.request("PUT", scale, '{"spec": {"replicas": "many"}}'), {400, 422}, "string replicas on scale")
    expect(api.request("PUT", scale, '{"spec": {"replicas": -2}}'), {422}, "negative replicas on scale")
    expect(api.request("PATCH", scale, '{"spec": 5}', "application/merge-patch+json"), {400, 422}, "scale spec not an object")
    expect(api.request("PATCH", scale, '{"op": 1}', "application/json-patch+json"), {400, 422}, "scale json patch not a list")
    expect(api.request("PATCH", scale, "{}", "text/plain"), {415}, "scale unknown patch type")
    expect(api.request("POST", scale, "{}"), {405}, "POST scale")
    expect(api.request("DELETE", scale), {405}, "DELETE scale")
    expect(api.request("GET", "/apis/apps/v1/namespaces/default/deployments/nope/scale"), {404}, "scale of missing")


def test_status_subresource_garbage(api: Api, existing: dict[str, str]) -> None:
    status = existing["deployment"] + "/status"
    expect(api.request("PUT", status, "{"), {400}, "malformed status")
    expect(api.request("PATCH", status, '{"status": {"replicas": "x"}}', "application/merge-patch+json"),
           {400, 422}, "status of the wrong type")
    expect(api.request("POST", status, "{}"), {405}, "POST status")
    expect(api.request("DELETE", status), {405}, "DELETE status")


def test_namespace_routes_garbage(api: Api, existing: dict[str, str]) -> None:
    expect(api.request("PUT", "/api/v1/namespaces/default/finalize", "{"), {400}, "malformed finalize")
    expect(api.request("PUT", "/api/v1/namespaces/default/finalize", '{"spec": {"finalizers": 5}}'),
           {400, 422}, "finalizers of the wrong type")
    expect(api.request("PATCH", existing["namespace"], '{"metadata": {"name": "renamed"}}',
                       "application/merge-patch+json"), {400, 422}, "renaming a namespace")
    expect(api.request("POST", "/api/v1/namespaces/no-such-ns/configmaps",
                       json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})),
           {404}, "create in a missing namespace")
    expect(api.request("POST", "/api/v1/namespaces/default/configmaps",
                       json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}})),
           {400}, "namespace mismatch")
    expect(api.request("POST", "/api/v1/namespaces/default/configmaps",
                       json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}})),
           {422}, "invalid name")
    expect(api.request("DELETE", "/api/v1/namespaces"), {405}, "deletecollection of namespaces")


def test_review_endpoints_garbage(api: Api) -> None:
    base = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    expect(api.request("POST", base, "{"), {400}, "malformed review")
    expect(api.request("POST", base, '{"spec": 5}'), {400, 422}, "review spec of the wrong type")
    expect(api.request("GET", base), {405}, "list reviews")
    expect(api.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", '{"spec": {"token": 5}}'),
           {400, 422}, "tokenreview token of the wrong type")
    expect(api.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", '{"spec": {}}'),
           {400}, "tokenreview without a token")
    r = api.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                    '{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "made-up"}}')
    assert r.status == 201, r.body
    assert not r.json["status"].get("authenticated")
    expect(api.request("POST", base, '{"spec": {}}'), {422}, "review without attributes")
    expect(api.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                       '{"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}'),
           {422}, "subjectaccessreview without a user")
    expect(api.request("POST", "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews",
                       '{"spec": {"user": "u", "resourceAttributes": {"namespace": "other", "verb": "get"}}}'),
           {422}, "localsubjectaccessreview for another namespace")
    ok = api.request("POST", "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews",
                     '{"spec": {"user": "u", "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}}}')
    assert ok.status == 201 and ok.json["status"]["allowed"] is False, ok.body


def test_conflicts_and_server_keeps_working(api: Api, existing: dict[str, str]) -> None:
    cm = api.request("GET", existing["configmap"]).json
    stale = dict(cm, metadata=dict(cm["metadata"], resourceVersion="1"))
    expect(api.request("PUT", existing["configmap"], json.dumps(stale)), {409}, "stale PUT")
    expect(api.request("POST", "/api/v1/namespaces/default/configmaps", json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": existing["name"]}})), {409}, "duplicate create")
    ok = api.request("GET", "/api/v1/namespaces/default/configmaps?limit=1")
    assert ok.status == 200 and ok.json["kind"] == "ConfigMapList"


def test_pod_subresources_garbage(api: Api) -> None:
    name = "garb-pod-" + uuid.uuid4().hex[:6]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert api.request("POST", "/api/v1/namespaces/default/pods", json.dumps(pod)).status == 201
    base = f"/api/v1/namespaces/default/pods/{name}"
    expect(api.request("POST", base + "/binding", "{"), {400}, "malformed binding")
    expect(api.request("POST", base + "/binding", '{"target": "node-1"}'), {400}, "binding target of the wrong type")
    expect(api.request("POST", base + "/binding", '{"target": {}}'), {422}, "binding without a node")
    expect(api.request("GET", base + "/binding"), {405}, "GET binding")
    expect(api.request("POST", base + "/eviction", '{"deleteOptions": "now"}'), {400}, "eviction options of the wrong type")
    expect(api.request("POST", base + "/eviction", "[]"), {400}, "eviction not an object")
    expect(api.request("GET", base + "/log"), {400, 404, 501}, "log of an unscheduled pod")
    expect(api.request("GET", "/api/v1/namespaces/default/pods/nope/log"), {404}, "log of a missing pod")
    expect(api.request("POST", "/api/v1/namespaces/default/pods/nope/binding", '{"target": {"name": "n"}}'),
           {404}, "binding a missing pod")
    still = api.request("GET", base).json
    assert not still["spec"].get("nodeName")


def test_custom_resource_garbage(api: Api) -> None:
    group = "garbage.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"gadgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                      "spec": {"type": "object", "properties": {
                                          "size": {"type": "integer", "minimum": 1}}}}}}}]}}
    r = api.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json.dumps(crd))
    assert r.status == 201, r.body
    base = f"/apis/{group}/v1/namespaces/default/gadgets"
    for _ in range(100):  # served once the CRD is established
        if api.request("GET", base).status == 200:
            break
        time.sleep(0.05)
    ok = {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 2}}
    assert api.request("POST", base, json.dumps(ok)).status == 201
    expect(api.request("POST", base, "{"), {400}, "malformed custom object")
    expect(api.request("POST", base, json.dumps(dict(ok, kind="Widget"))), {400}, "wrong kind for a CR")
    status = expect(api.request("POST", base, json.dumps(dict(ok, metadata={"name": "g2"}, spec={"size": "big"}))),
                    {422}, "CR field of the wrong type")
    assert "spec.size" in status["message"]
    status = expect(api.request("POST", base, json.dumps(dict(ok, metadata={"name": "g3"}, spec={"size": 0}))),
                    {422}, "CR below its minimum")
    assert "spec.size" in status["message"]
    expect(api.request("POST", base, json.dumps(dict(ok, spec=5))), {400, 422}, "CR spec not an object")
    expect(api.request("POST", base, b"k8s\x00\x0a", "application/vnd.kubernetes.protobuf"), {400, 415},
           "protobuf for a CR")
    expect(api.request("PATCH", base + "/g1", "{}", "application/strategic-merge-patch+json"), {415},
           "strategic merge patch on a CR")
    expect(api.request("PATCH", base + "/g1", '{"spec": {"size": "x"}}', "application/merge-patch+json"),
           {422}, "merge patch to a wrong type")
    expect(api.request("PATCH", base + "/g1", "[1]", "application/merge-patch+json"), {400, 422},
           "merge patch not an object on a CR")
    expect(api.request("PATCH", base + "/g1", '{"op": "x"}', "application/json-patch+json"), {400},
           "json patch not a list on a CR")
    expect(api.request("GET", base + "/g1/scale"), {404}, "scale of a CR without a scale subresource")
    expect(api.request("GET", base + "?fieldSelector=spec.size%3D2"), {400}, "unsupported field selector on a CR")
    expect(api.request("GET", base + "?watch=true&resourceVersion=x"), {400}, "bad watch RV on a CR")
    assert api.request("GET", base + "/g1").json["spec"] == {"size": 2}
    assert api.request("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}").status == 200


def _nested(depth: int) -> Any:
    v: Any = "leaf"
    for _ in range(depth):
        v = {"a": v}
    return v


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


HOSTILE = {
    "alias bomb (9^9 nodes)": BOMB,
    "self-referencing alias": "&a [*a]",
    "recursive mapping alias": "a: &a {b: *a}\n",
    "YAML nested 3000 deep": "- " * 3000 + "x",
    "JSON nested 5000 deep": "[" * 5000 + "]" * 5000,
    "JSON nested 300 deep (inside orjson's parse limit)": json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": _nested(300)}),
}


@pytest.mark.parametrize("what", list(HOSTILE))
def test_hostile_nesting_and_aliases(api: Api, what: str) -> None:
    body = HOSTILE[what]
    start = time.monotonic()
    for ctype in ("application/yaml", "application/json"):
        expect(api.request("POST", "/api/v1/namespaces/default/configmaps", body, ctype), {400}, f"{what} as {ctype}")
    expect(api.request("PATCH", "/api/v1/namespaces/default?fieldManager=x", body, "application/apply-patch+yaml"),
           {400}, f"{what} as apply")
    assert time.monotonic() - start < 5, f"{what} took {time.monotonic() - start:.1f}s"
    assert api.request("GET", "/readyz").status == 200


def test_yaml_anchors_within_reason_still_work(api: Api) -> None:
    body = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchors-" + uuid.uuid4().hex[:6] +
            "\n  labels: &l {app: x}\n  annotations: *l\ndata: {a: b}\n")
    r = api.request("POST", "/api/v1/namespaces/default/configmaps", body, "application/yaml")
    assert r.status == 201, r.body
    assert r.json["metadata"]["annotations"] == {"app": "x"}


def test_json_patches_cannot_nest_without_bound(api: Api) -> None:
    """Each JSON patch body is shallow enough, but each adds deeper than the last: the patched
    object is depth-checked too, so nothing unencodable is ever stored."""
    group = "deep.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"blobs.{group}"},
           "spec": {"group": group, "scope": "Namespaced", "names": {"plural": "blobs", "kind": "Blob"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    assert api.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json.dumps(crd)).status == 201
    base = f"/apis/{group}/v1/namespaces/default/blobs"
    for _ in range(100):
        if api.request("GET", base).status == 200:
            break
        time.sleep(0.05)
    blob = {"apiVersion": f"{group}/v1", "kind": "Blob", "metadata": {"name": "b"}, "spec": _nested(150)}
    r = api.request("POST", base, json.dumps(blob))
    assert r.status == 201, r.body
    deepest = "/spec" + "/a" * 150
    expect(api.request("PATCH", base + "/b", json.dumps([{"op": "replace", "path": deepest, "value": _nested(150)}]),
                       "application/json-patch+json"), {400}, "a JSON patch nesting past the limit")
    expect(api.request("POST", base, json.dumps(dict(blob, metadata={"name": "c"}, spec=_nested(400)))), {400},
           "a custom object nested 400 deep")
    assert api.request("GET", base + "/b").json["spec"] == _nested(150)
    listed = api.request("GET", base)
    assert listed.status == 200 and len(listed.json["items"]) == 1
    assert api.request("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/blobs.{group}").status == 200
