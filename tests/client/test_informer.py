"""Informer: list + watch into the store, handler order, relist on 410 and errors, indexes."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelite.client import (PODS, Client, FakeClock, Informer, SharedInformerFactory, Store,
                             copy_object, index_by_namespace, index_by_node_name, object_key, split_key)
from kubelite.client.transport import Response

from .fakeapi import FakeAPI


def pod(name: str, ns: str = "default", node: str = "", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node}}


class Recorder:
    def __init__(self, inf: Informer) -> None:
        self.log: list[tuple[str, str, str]] = []
        inf.add_handler(on_add=self.add, on_update=self.update, on_delete=self.delete)

    def add(self, obj: dict) -> None:
        self.log.append(("add", object_key(obj), obj["metadata"]["resourceVersion"]))

    def update(self, old: dict, new: dict) -> None:
        self.log.append(("update", object_key(new), f'{old["metadata"]["resourceVersion"]}->{new["metadata"]["resourceVersion"]}'))

    def delete(self, obj: dict) -> None:
        self.log.append(("delete", object_key(obj), obj["metadata"]["resourceVersion"]))


async def until(cond: Any, timeout: float = 2.0) -> None:
    async def wait() -> None:
        while not cond():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def started(client: Client, api: FakeAPI):  # noqa: ANN201
    informers: list[Informer] = []

    def start(inf: Informer) -> Informer:
        informers.append(inf)
        inf.start()
        return inf
    yield start
    for inf in informers:
        await inf.stop()


async def test_list_then_watch_in_order(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    api.put("/pods", pod("a"))
    api.put("/pods", pod("b"))
    api.put("/pods", pod("c", ns="other"))
    inf = Informer(client, PODS, namespace="default")
    rec = Recorder(inf)
    started(inf)
    assert await inf.wait_synced(1)
    assert inf.has_synced and inf.resource_version == "3"
    assert sorted(rec.log) == [("add", "default/a", "1"), ("add", "default/b", "2")]
    rec.log.clear()
    await until(lambda: api.watchers)
    api.put("/pods", pod("a", x="1"))
    api.put("/pods", pod("d"))
    api.put("/pods", pod("e", ns="other"))  # other namespace: filtered by the server
    api.remove("/pods", "default", "b")
    await until(lambda: len(rec.log) == 3)
    assert rec.log == [("update", "default/a", "1->4"), ("add", "default/d", "5"), ("delete", "default/b", "7")]
    assert sorted(inf.store.keys()) == ["default/a", "default/d"]
    assert (inf.get("default/a") or {})["metadata"]["labels"] == {"x": "1"}
    assert inf.get_by("d", "default") is not None and inf.resource_version == "7"
    # list items had no kind on the wire; the cache has it
    assert (inf.get("default/d") or {})["kind"] == "Pod"


async def test_relist_on_410_diffs_the_cache(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    api.put("/pods", pod("keep"))
    api.put("/pods", pod("change"))
    api.put("/pods", pod("gone"))
    inf = Informer(client, PODS)
    rec = Recorder(inf)
    started(inf)
    await inf.wait_synced(1)
    await until(lambda: api.watchers)
    rec.log.clear()
    # Changes the watch never delivers, then the watch expires: only a relist can find them.
    stale = list(api.watchers)
    api.watchers.clear()
    api.put("/pods", pod("change", y="2"))
    api.remove("/pods", "default", "gone")
    api.put("/pods", pod("new"))
    api.watchers.extend(stale)
    api.expire_watches()
    await until(lambda: inf.relists == 2 and len(rec.log) == 3)
    assert sorted(rec.log) == [("add", "default/new", "6"), ("delete", "default/gone", "3"),
                               ("update", "default/change", "2->4")]
    assert sorted(inf.store.keys()) == ["default/change", "default/keep", "default/new"]
    assert inf.resource_version == "6"


async def test_expired_watch_event_triggers_relist(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    api.put("/pods", pod("a"))
    inf = started(Informer(client, PODS))
    await inf.wait_synced(1)
    await until(lambda: api.watchers)
    api.expire_watches()
    await until(lambda: inf.relists == 2 and api.watchers)
    api.put("/pods", pod("b"))
    await until(lambda: "default/b" in inf.store)


async def test_clean_watch_end_rewatches_from_last_rv(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    api.put("/pods", pod("a"))
    inf = started(Informer(client, PODS))
    rec = Recorder(inf)
    await inf.wait_synced(1)
    await until(lambda: api.watchers)
    api.put("/pods", pod("b"))
    await until(lambda: len(rec.log) == 2)
    api.bookmark()
    api.rv += 5  # writes elsewhere; the bookmark says we are current up to here
    api.bookmark()
    await until(lambda: inf.resource_version == "7")
    api.end_watches()
    await until(lambda: api.requests[-1].query.get("watch") == "true" and api.requests[-1].query["resourceVersion"] == "7"
                and api.watchers)
    assert inf.relists == 1  # no relist for a clean end of stream


async def test_errors_back_off_and_relist(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    clock = FakeClock()
    api.put("/pods", pod("a"))
    failures = {"n": 2}

    def flaky(req):  # noqa: ANN001
        if req.query.get("watch") != "true" and failures["n"] > 0:
            failures["n"] -= 1
            return Response(500, {}, b'{"kind":"Status","code":500,"reason":"InternalError","message":"db down"}')
        return None
    api.hooks.append(flaky)
    inf = started(Informer(client, PODS, clock=clock, backoff_initial=1.0))
    await clock.settle()
    assert not inf.has_synced and clock.pending == 1
    await clock.advance(0.9)
    assert failures["n"] == 1  # still in the first back-off (1 s .. 1.2 s)
    await clock.advance(0.4)
    assert failures["n"] == 0 and not inf.has_synced  # second failure: now 2 s .. 2.4 s
    await clock.advance(2.5)
    assert await inf.wait_synced(1)
    assert inf.relists == 1


async def test_indexes(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    api.put("/pods", pod("a", node="n1"))
    api.put("/pods", pod("b", node="n1", ns="x"))
    api.put("/pods", pod("c"))
    inf = Informer(client, PODS)
    inf.add_index("node", index_by_node_name)
    started(inf)
    await inf.wait_synced(1)
    inf.add_index("namespace", index_by_namespace)  # added after sync: indexes existing objects
    assert sorted(object_key(p) for p in inf.by_index("node", "n1")) == ["default/a", "x/b"]
    assert [object_key(p) for p in inf.by_index("node", "")] == ["default/c"]
    assert sorted(object_key(p) for p in inf.list("default")) == ["default/a", "default/c"]
    await until(lambda: api.watchers)
    api.put("/pods", pod("c", node="n2"))
    api.remove("/pods", "default", "a")
    await until(lambda: inf.resource_version == "5")
    assert [object_key(p) for p in inf.by_index("node", "n1")] == ["x/b"]
    assert [object_key(p) for p in inf.by_index("node", "n2")] == ["default/c"]
    assert inf.by_index("node", "") == []
    with pytest.raises(KeyError):
        inf.by_index("nope", "x")


def test_store_unit() -> None:
    s = Store()
    s.add_index("labels", lambda o: [f"{k}={v}" for k, v in o["metadata"].get("labels", {}).items()])
    s.upsert("a", {"metadata": {"labels": {"app": "web", "tier": "fe"}}})
    s.upsert("b", {"metadata": {"labels": {"app": "web"}}})
    assert sorted(s.index_keys("labels", "app=web")) == ["a", "b"]
    s.upsert("a", {"metadata": {"labels": {"app": "db"}}})
    assert s.index_keys("labels", "app=web") == ["b"] and s.index_keys("labels", "tier=fe") == []
    assert s.remove("b") is not None and s.index_keys("labels", "app=web") == []
    with pytest.raises(ValueError):
        s.add_index("labels", lambda o: [])
    assert split_key("ns/n") == ("ns", "n") and split_key("node1") == ("", "node1")
    obj = {"a": [{"b": 1}]}
    dup = copy_object(obj)
    dup["a"][0]["b"] = 2
    assert obj["a"][0]["b"] == 1


async def test_late_handler_replay_and_handler_errors(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    api.put("/pods", pod("a"))
    inf = Informer(client, PODS)

    def broken(obj: dict) -> None:
        raise RuntimeError("consumer bug")
    inf.add_handler(on_add=broken)
    started(inf)
    await inf.wait_synced(1)
    seen: list[str] = []
    inf.add_handler(on_add=lambda o: seen.append(object_key(o)))
    assert seen == ["default/a"]  # replayed at registration
    await until(lambda: api.watchers)
    api.put("/pods", pod("b"))
    await until(lambda: seen == ["default/a", "default/b"])  # the broken handler did not stop delivery


async def test_async_handlers_are_awaited_in_order(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    inf = Informer(client, PODS)
    order: list[str] = []

    async def slow_add(obj: dict) -> None:
        await asyncio.sleep(0.005)
        order.append("add:" + obj["metadata"]["name"])
    inf.add_handler(on_add=slow_add, on_delete=lambda o: order.append("delete:" + o["metadata"]["name"]))
    started(inf)
    await inf.wait_synced(1)
    await until(lambda: api.watchers)
    api.put("/pods", pod("a"))
    api.remove("/pods", "default", "a")
    await until(lambda: len(order) == 2)
    assert order == ["add:a", "delete:a"]


async def test_resync_redelivers_updates(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    clock = FakeClock()
    api.put("/pods", pod("a"))
    inf = Informer(client, PODS, resync=30, clock=clock)
    rec = Recorder(inf)
    started(inf)
    await inf.wait_synced(1)
    await clock.advance(29)
    assert rec.log == [("add", "default/a", "1")]
    await clock.advance(1)
    assert rec.log[-1] == ("update", "default/a", "1->1")


async def test_shared_factory(client: Client, api: FakeAPI) -> None:
    f = SharedInformerFactory(client)
    a = f.informer(PODS)
    assert f.informer(PODS) is a
    assert f.informer(PODS, label_selector={"app": "web"}) is f.informer(PODS, label_selector="app=web")
    assert f.informer(PODS, namespace="x") is not a
    api.put("/pods", pod("a", app="web"))
    api.put("/pods", pod("b"))
    tasks = f.start()
    assert len(tasks) == 3 and {t.get_name() for t in tasks} == {
        "informer:pods", "informer:pods[app=web]", "informer:x/pods"}
    assert f.start() == tasks  # idempotent
    assert await f.wait_for_sync(1)
    assert len(f.informer(PODS, label_selector="app=web").store) == 1
    await f.stop()
    assert all(t.done() for t in tasks)


async def test_rewatch_from_compacted_rv_relists(client: Client, api: FakeAPI, started) -> None:  # noqa: ANN001
    api.put("/pods", pod("a"))
    inf = started(Informer(client, PODS))
    rec = Recorder(inf)
    await inf.wait_synced(1)
    await until(lambda: api.watchers)
    api.put("/pods", pod("b"))
    await until(lambda: inf.resource_version == "2")
    stale = list(api.watchers)
    api.watchers.clear()
    api.remove("/pods", "default", "a")  # missed by the watch
    api.compact()
    for w in stale:  # the server ends the stream; the re-watch from RV 2 gets 410
        w.queue.put_nowait(None)
    await until(lambda: inf.relists == 2)
    assert rec.log[-1] == ("delete", "default/a", "1")  # the last cached state of a
    assert sorted(inf.store.keys()) == ["default/b"]
