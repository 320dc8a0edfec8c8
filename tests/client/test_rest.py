"""REST client verbs against the fake API and against hand-written MockTransport replies."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from kubelite.client import (DEPLOYMENTS, NODES, PODS, ApiError, Client, MockTransport, Response,
                             WatchExpired, is_already_exists, is_conflict, is_not_found)
from kubelite.client.transport import LineStream, Request
from kubelite.machinery.errors import StatusError

from .fakeapi import FakeAPI


def pod(name: str, ns: str = "default", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


async def test_create_get_update_conflict(client: Client, api: FakeAPI) -> None:
    created = await client.create(PODS, pod("a"))
    assert created["metadata"]["resourceVersion"] == "1"
    got = await client.get(PODS, "a", namespace="default")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    got["metadata"]["labels"] = {"x": "1"}
    updated = await client.update(PODS, got)
    assert updated["metadata"]["resourceVersion"] == "2"
    # A write based on the stale object is refused with 409 Conflict.
    with pytest.raises(ApiError) as e:
        await client.update(PODS, got)
    assert e.value.code == 409 and is_conflict(e.value) and not is_already_exists(e.value)
    assert isinstance(e.value, StatusError)
    with pytest.raises(ApiError) as e:
        await client.create(PODS, pod("a"))
    assert is_already_exists(e.value) and e.value.reason == "AlreadyExists"
    with pytest.raises(ApiError) as e:
        await client.get(PODS, "nope", namespace="default")
    assert is_not_found(e.value) and e.value.message == 'pods "nope" not found'
    assert e.value.status()["kind"] == "Status"
    # fieldManager from the client default rides on writes
    assert api.requests[0].query == {"fieldManager": "test"}


async def test_namespace_required_and_paths(client: Client, api: FakeAPI) -> None:
    with pytest.raises(ValueError, match="namespace is required"):
        await client.create(PODS, {"metadata": {"name": "x"}})
    with pytest.raises(ValueError, match="name is required"):
        await client.get(PODS, "", namespace="default")
    await client.create(NODES, {"metadata": {"name": "n1"}})
    assert api.requests[-1].path == "/api/v1/nodes"
    await client.create(DEPLOYMENTS, {"metadata": {"name": "d", "namespace": "prod"}})
    assert api.requests[-1].path == "/apis/apps/v1/namespaces/prod/deployments"


async def test_list_selectors_pagination_and_types(client: Client, api: FakeAPI) -> None:
    for i in range(7):
        await client.create(PODS, pod(f"p{i}", app="web" if i % 2 else "db"))
    await client.create(PODS, pod("other", ns="kube-system", app="web"))
    res = await client.list(PODS, namespace="default", label_selector={"app": "web"})
    assert [p["metadata"]["name"] for p in res.items] == ["p1", "p3", "p5"]
    assert res.resource_version == "8"
    # list items come back without kind; the client restores it
    assert all(p["kind"] == "Pod" and p["apiVersion"] == "v1" for p in res.items)
    page = await client.list(PODS, namespace="default", limit=3)
    assert len(page.items) == 3 and page.continue_ == "3" and page.remaining_item_count == 4
    everything = await client.list_all(PODS, page_size=3)
    assert len(everything.items) == 8 and everything.resource_version == "8"
    assert sum(1 for r in api.requests if r.query.get("limit") == "3") == 1 + 3  # the page above + 3 pages of 8 items
    by_field = await client.list(PODS, field_selector="metadata.name=p4")
    assert [p["metadata"]["name"] for p in by_field.items] == ["p4"]


async def test_list_all_falls_back_when_continue_expires(client: Client, api: FakeAPI) -> None:
    for i in range(4):
        await client.create(PODS, pod(f"p{i}"))

    def expire_continue(req):  # noqa: ANN001
        if req.query.get("continue"):
            return Response(410, {}, orjson.dumps({"kind": "Status", "code": 410, "reason": "Expired",
                                                   "message": "continue token expired"}))
        return None
    api.hooks.append(expire_continue)
    res = await client.list_all(PODS, namespace="default", page_size=2)
    assert len(res.items) == 4
    assert "limit" not in api.requests[-1].query


async def test_patch_types_and_apply(client: Client, api: FakeAPI) -> None:
    await client.create(PODS, pod("a"))
    out = await client.patch(PODS, "a", {"metadata": {"labels": {"k": "v"}}}, namespace="default")
    assert out["metadata"]["labels"] == {"k": "v"}
    assert api.requests[-1].content_type == "application/merge-patch+json"
    with pytest.raises(ValueError, match="unknown patch type"):
        await client.patch(PODS, "a", {}, namespace="default", type="bogus")
    no_manager = Client(api.transport)
    with pytest.raises(ValueError, match="field manager"):
        await no_manager.patch(PODS, "a", {}, namespace="default", type="apply")
    # Check what an apply sends.
    with pytest.raises(ApiError) as e:
        await client.patch(DEPLOYMENTS, "d", {"spec": {}}, namespace="default", type="apply",
                           field_manager="kubectl", force=True)
    req = api.requests[-1]
    assert req.content_type == "application/apply-patch+yaml"
    assert req.query == {"fieldManager": "kubectl", "force": "true"}
    assert e.value.code == 404  # the fake has no such deployment
    with pytest.raises(ApiError):
        await client.patch(PODS, "a", [{"op": "add", "path": "/x", "value": 1}], namespace="default",
                           type="json", subresource="status")
    assert api.requests[-1].path.endswith("/pods/a/status")
    assert api.requests[-1].json() == [{"op": "add", "path": "/x", "value": 1}]


async def test_update_status_and_delete_options(client: Client, api: FakeAPI) -> None:
    created = await client.create(PODS, pod("a"))
    created["status"] = {"phase": "Running"}
    created["spec"]["nodeName"] = "ignored"
    out = await client.update_status(PODS, created)
    assert out["status"] == {"phase": "Running"} and "nodeName" not in out["spec"]
    assert api.requests[-1].path.endswith("/status") and api.requests[-1].method == "PUT"
    with pytest.raises(ApiError) as e:
        await client.delete(PODS, "a", namespace="default", preconditions={"uid": "wrong"})
    assert e.value.code == 409
    await client.delete(PODS, "a", namespace="default", propagation_policy="Background",
                        grace_period_seconds=0, preconditions={"uid": created["metadata"]["uid"]})
    opts = api.requests[-1].json()
    assert opts == {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background",
                    "gracePeriodSeconds": 0, "preconditions": {"uid": created["metadata"]["uid"]}}
    assert api.get("/pods", "default", "a") is None
    # plain delete sends no body at all
    await client.create(PODS, pod("b"))
    await client.delete(PODS, "b", namespace="default")
    assert api.requests[-1].body is None and api.requests[-1].content_type is None


async def test_bind_and_evict_bodies(client: Client, api: FakeAPI) -> None:
    created = await client.create(PODS, pod("a"))
    await client.bind(created, "node-1")
    req = api.requests[-1]
    assert req.path == "/api/v1/namespaces/default/pods/a/binding"
    assert req.json() == {"apiVersion": "v1", "kind": "Binding",
                          "metadata": {"name": "a", "namespace": "default", "uid": created["metadata"]["uid"]},
                          "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    assert (api.get("/pods", "default", "a") or {})["spec"]["nodeName"] == "node-1"
    with pytest.raises(ApiError) as e:
        await client.bind("a", "node-2", namespace="default")
    assert e.value.code == 409

    seen: list[Request] = []

    def handler(r: Request) -> Response:
        seen.append(r)
        return Response(201, {}, b'{"kind":"Status","status":"Success"}')
    t = MockTransport(handler)
    await Client(t).evict("a", namespace="ns", grace_period_seconds=5)
    assert seen[0].path == "/api/v1/namespaces/ns/pods/a/eviction"
    assert seen[0].json() == {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a", "namespace": "ns"},
                              "deleteOptions": {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 5}}


async def test_non_status_error_bodies_are_wrapped() -> None:
    t = MockTransport(lambda r: Response(502, {"content-type": "text/html"}, b"<html>bad gateway</html>"))
    with pytest.raises(ApiError) as e:
        await Client(t).get(PODS, "a", namespace="d")
    assert e.value.code == 502 and e.value.message == "<html>bad gateway</html>" and e.value.reason == "Unknown"
    t = MockTransport(lambda r: Response(503, {}, b""))
    with pytest.raises(ApiError) as e:
        await Client(t).list(PODS)
    assert e.value.reason == "ServiceUnavailable" and "503" in e.value.message


async def test_generic_request() -> None:
    t = MockTransport(lambda r: Response(200, {}, b'{"major":"1","minor":"32"}'), record=True)
    c = Client(t)
    assert (await c.request("GET", "/version"))["minor"] == "32"
    raw = await c.request("POST", "/x", body={"a": 1}, raw=True)
    assert raw.status == 200 and t.requests[-1].body == b'{"a":1}'
    assert t.requests[-1].content_type == "application/json"


async def test_watch_events_bookmarks_and_errors(client: Client, api: FakeAPI) -> None:
    await client.create(PODS, pod("a"))
    await client.create(PODS, pod("b", app="web"))
    events = []
    w = client.watch(PODS, namespace="default", resource_version="1", timeout_seconds=30)
    async with w:
        q = api.requests[-1].query
        assert q == {"watch": "true", "resourceVersion": "1", "allowWatchBookmarks": "true", "timeoutSeconds": "30"}
        api.bookmark()
        api.remove("/pods", "default", "a")
        api.end_watches()
        async for etype, obj in w:
            events.append((etype, obj["metadata"].get("name"), obj["metadata"]["resourceVersion"]))
    assert events == [("ADDED", "b", "2"), ("BOOKMARK", None, "2"), ("DELETED", "a", "3")]
    assert api.watchers == []  # stream closed

    api.compact()
    with pytest.raises(WatchExpired) as e:
        async for _ in client.watch(PODS, resource_version="1"):
            pass
    assert e.value.code == 410

    # An ERROR event with another code is an ApiError, not WatchExpired.
    async def handler(req):  # noqa: ANN001
        async def lines():
            yield b'{"type":"ADDED","object":{"metadata":{"name":"x"}}}'
            yield b""
            yield b'{"type":"ERROR","object":{"kind":"Status","code":500,"reason":"InternalError","message":"boom"}}'
        return LineStream(200, lines())
    got = []
    with pytest.raises(ApiError) as e2:
        async for etype, obj in Client(MockTransport(handler)).watch(PODS):
            got.append((etype, obj["kind"]))
    assert got == [("ADDED", "Pod")] and e2.value.code == 500 and not isinstance(e2.value, WatchExpired)

    # A non-200 reply to the watch request itself.
    t = MockTransport(lambda r: Response(403, {}, orjson.dumps({"kind": "Status", "code": 403, "reason": "Forbidden",
                                                                "message": "no"})))
    with pytest.raises(ApiError) as e3:
        async with Client(t).watch(PODS):
            pass
    assert e3.value.code == 403


async def test_watch_closed_early_releases_stream(client: Client, api: FakeAPI) -> None:
    await client.create(PODS, pod("a"))
    w = client.watch(PODS, resource_version="0")
    etype, obj = await w.__anext__()
    assert etype == "ADDED" and len(api.watchers) == 1
    await w.close()
    assert api.watchers == []
    with pytest.raises(StopAsyncIteration):
        await w.__anext__()
    # cancellation while waiting for the next event also closes the stream
    w2 = client.watch(PODS, resource_version="1")
    task = asyncio.ensure_future(w2.__anext__())
    await asyncio.sleep(0.01)
    assert len(api.watchers) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert api.watchers == []


async def test_retry_after_is_honoured() -> None:
    from kubelite.client import FakeClock
    replies = [Response(429, {"retry-after": "2"}, b""), Response(503, {"Retry-After": "1"}, b""),
               Response(201, {}, b'{"metadata":{"name":"a"}}')]
    t = MockTransport(lambda r: replies.pop(0), record=True)
    clock = FakeClock()
    c = Client(t, clock=clock)
    task = asyncio.ensure_future(c.create(PODS, pod("a")))
    await clock.settle()
    assert len(t.requests) == 1
    await clock.advance(2)
    assert len(t.requests) == 2
    await clock.advance(1)
    assert (await task)["metadata"]["name"] == "a" and len(t.requests) == 3
    # without Retry-After, or past max_retries, the error surfaces
    t2 = MockTransport(lambda r: Response(500, {}, b""))
    with pytest.raises(ApiError):
        await Client(t2).get(PODS, "a", namespace="d")
    t3 = MockTransport(lambda r: Response(429, {"retry-after": "0"}, b""), record=True)
    with pytest.raises(ApiError) as e:
        await Client(t3, max_retries=2).get(PODS, "a", namespace="d")
    assert e.value.code == 429 and len(t3.requests) == 3
