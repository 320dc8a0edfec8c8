"""The storage conformance suite: every backend of ``kubelite.storage.interface.Storage`` runs it.

Each test is an ``async def test_*(store)`` taking a started, empty store. A backend plugs in
with a test module that defines the ``store`` fixture and star-imports this module, e.g.::

    # tests/storage/test_etcd.py
    import pytest
    from tests.storage.conformance import *  # noqa: F401,F403

    @pytest.fixture
    async def store(etcd_endpoint):
        s = EtcdStorage(etcd_endpoint, prefix=unique_prefix())
        await s.start()
        yield s
        await s.close()

The suite only uses the protocol (plus ``compact``), never backend internals; backend-specific
behaviour (crash safety, file format, overflow limits) belongs in the backend's own module.
"""
from __future__ import annotations

import asyncio
import random

import pytest

from kubelite.storage.interface import (
    Compacted,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    Storage,
    WatchEvent,
    Watcher,
)

TIMEOUT = 5.0


async def take(w: Watcher, n: int, timeout: float = TIMEOUT) -> list[WatchEvent]:
    """The next ``n`` events of ``w``; fails the test if they do not arrive in time."""
    out: list[WatchEvent] = []

    async def run() -> None:
        while len(out) < n:
            out.append(await w.__anext__())

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        pytest.fail(f"expected {n} events, got {len(out)}: {[(e.type, e.kv.key) for e in out]}")
    return out


async def nothing_pending(w: Watcher, wait: float = 0.05) -> None:
    try:
        ev = await asyncio.wait_for(w.__anext__(), wait)
    except TimeoutError:
        return
    pytest.fail(f"unexpected event {ev.type} {ev.kv.key}@{ev.revision}")


async def fill(store: Storage, keys: list[str]) -> dict[str, KeyValue]:
    return {k: await store.create(k, k.encode()) for k in keys}


# -- create / get / update / delete ---------------------------------------------------------


async def test_create_get(store: Storage) -> None:
    rev0 = store.current_revision()
    kv = await store.create("/r/a", b"one")
    assert kv.key == "/r/a" and kv.value == b"one"
    assert kv.mod_revision == kv.create_revision > rev0
    assert store.current_revision() == kv.mod_revision
    assert await store.get("/r/a") == kv
    assert await store.get("/r/missing") is None
    assert await store.get("/r") is None  # a prefix of a key is not the key


async def test_create_existing_fails(store: Storage) -> None:
    kv = await store.create("/r/a", b"one")
    with pytest.raises(KeyExists) as e:
        await store.create("/r/a", b"two")
    assert e.value.key == "/r/a"
    assert await store.get("/r/a") == kv
    assert store.current_revision() == kv.mod_revision  # a refused write takes no revision


async def test_update_with_right_wrong_and_zero_revision(store: Storage) -> None:
    kv1 = await store.create("/r/a", b"1")
    kv2 = await store.update("/r/a", b"2", revision=kv1.mod_revision)
    assert kv2.value == b"2" and kv2.mod_revision > kv1.mod_revision
    assert kv2.create_revision == kv1.create_revision

    with pytest.raises(RevisionMismatch) as e:
        await store.update("/r/a", b"stale", revision=kv1.mod_revision)
    assert e.value.current == kv2
    assert await store.get("/r/a") == kv2

    kv3 = await store.update("/r/a", b"3", revision=0)
    assert kv3.value == b"3" and kv3.mod_revision > kv2.mod_revision
    assert await store.get("/r/a") == kv3


async def test_update_missing_key(store: Storage) -> None:
    with pytest.raises(KeyNotFound):
        await store.update("/r/none", b"x")
    with pytest.raises(KeyNotFound):
        await store.update("/r/none", b"x", revision=5)


async def test_delete(store: Storage) -> None:
    kv1 = await store.create("/r/a", b"1")
    kv2 = await store.update("/r/a", b"2")
    with pytest.raises(RevisionMismatch) as e:
        await store.delete("/r/a", revision=kv1.mod_revision)
    assert e.value.current == kv2
    gone = await store.delete("/r/a", revision=kv2.mod_revision)
    # The deleted value comes back, stamped with the revision of the deletion.
    assert gone.value == b"2" and gone.mod_revision > kv2.mod_revision
    assert gone.create_revision == kv1.create_revision
    assert store.current_revision() == gone.mod_revision
    assert await store.get("/r/a") is None
    with pytest.raises(KeyNotFound):
        await store.delete("/r/a")
    with pytest.raises(KeyNotFound):
        await store.update("/r/a", b"3")
    again = await store.create("/r/a", b"new")
    assert again.create_revision == again.mod_revision > gone.mod_revision


async def test_unconditional_delete(store: Storage) -> None:
    await store.create("/r/a", b"1")
    await store.update("/r/a", b"2")
    gone = await store.delete("/r/a")
    assert gone.value == b"2"
    assert await store.get("/r/a") is None


async def test_values_are_opaque_bytes(store: Storage) -> None:
    blob = bytes(range(256)) * 64 + b"\x00"
    kv = await store.create("/r/bin", blob)
    assert (await store.get("/r/bin")).value == blob  # type: ignore[union-attr]
    assert (await store.list("/r/")).items == [kv]
    empty = await store.update("/r/bin", b"")
    assert (await store.get("/r/bin")) == empty and empty.value == b""


async def test_unicode_keys(store: Storage) -> None:
    keys = ["/u/a", "/u/\u00e9", "/u/\u4e2d", "/u/\U0001f600", "/u/z"]
    await fill(store, keys)
    assert [kv.key for kv in (await store.list("/u/")).items] == sorted(keys)
    assert [kv.key for kv in (await store.list("/u/\u00e9")).items] == ["/u/\u00e9"]


# -- list -----------------------------------------------------------------------------------


async def test_list_prefix_boundaries(store: Storage) -> None:
    await fill(store, ["/r/a", "/r/a/1", "/r/a/2", "/r/ab/1", "/r/a0", "/r/b/1", "/r/a.", "/r/"])
    assert [kv.key for kv in (await store.list("/r/a/")).items] == ["/r/a/1", "/r/a/2"]
    assert [kv.key for kv in (await store.list("/r/ab/")).items] == ["/r/ab/1"]
    assert [kv.key for kv in (await store.list("/r/a")).items] == [
        "/r/a", "/r/a.", "/r/a/1", "/r/a/2", "/r/a0", "/r/ab/1"]
    assert len((await store.list("/r/")).items) == 8
    assert (await store.list("/q/")).items == []
    assert await store.count("/r/a/") == 2
    assert await store.count("/r/") == 8
    assert await store.count("/nothing/") == 0


async def test_list_skips_deleted_and_shows_latest(store: Storage) -> None:
    await fill(store, ["/r/a", "/r/b", "/r/c"])
    await store.delete("/r/b")
    c2 = await store.update("/r/c", b"c2")
    res = await store.list("/r/")
    assert [kv.key for kv in res.items] == ["/r/a", "/r/c"]
    assert res.items[1] == c2
    assert res.revision == store.current_revision()
    assert res.more is False
    assert await store.count("/r/") == 2


async def test_list_at_old_revision(store: Storage) -> None:
    a1 = await store.create("/r/a", b"a1")
    b1 = await store.create("/r/b", b"b1")
    rev = store.current_revision()
    await store.update("/r/a", b"a2")
    await store.delete("/r/b")
    await store.create("/r/c", b"c1")
    old = await store.list("/r/", revision=rev)
    assert old.items == [a1, b1] and old.revision == rev
    older = await store.list("/r/", revision=a1.mod_revision)
    assert older.items == [a1]
    now = await store.list("/r/")
    assert [(kv.key, kv.value) for kv in now.items] == [("/r/a", b"a2"), ("/r/c", b"c1")]


async def test_pagination_at_fixed_revision_while_writing(store: Storage) -> None:
    keys = [f"/r/k{i:03d}" for i in range(50)]
    snapshot = await fill(store, keys)
    rev = store.current_revision()
    seen: list[KeyValue] = []
    start, page, pages = "", 0, 0
    while True:
        res = await store.list("/r/", revision=rev, start_after=start, limit=7)
        assert res.revision == rev
        seen.extend(res.items)
        pages += 1
        # Writes between pages must not leak into the paginated snapshot.
        await store.update(keys[page], b"changed")
        await store.delete(keys[49 - page])
        await store.create(f"/r/k{page:03d}x", b"new")
        page += 1
        if not res.more:
            assert res.remaining == 0
            break
        assert len(res.items) == 7
        assert res.remaining in (0, 50 - len(seen))  # 0: the backend does not know
        start = res.items[-1].key
    assert pages == 8
    assert seen == [snapshot[k] for k in keys]


async def test_limit_exact_fit(store: Storage) -> None:
    await fill(store, ["/r/a", "/r/b"])
    res = await store.list("/r/", limit=2)
    assert len(res.items) == 2 and res.more is False
    res = await store.list("/r/", limit=1)
    assert [kv.key for kv in res.items] == ["/r/a"] and res.more is True
    res = await store.list("/r/", limit=1, start_after="/r/a")
    assert [kv.key for kv in res.items] == ["/r/b"] and res.more is False
    res = await store.list("/r/", start_after="/r/b")
    assert res.items == [] and res.more is False


# -- watch ----------------------------------------------------------------------------------


async def test_watch_from_now(store: Storage) -> None:
    await store.create("/r/old", b"x")
    w = store.watch("/r/", revision=store.current_revision())
    try:
        a = await store.create("/r/a", b"1")
        a2 = await store.update("/r/a", b"2")
        evs = await take(w, 2)
        assert [e.type for e in evs] == ["PUT", "PUT"]
        assert evs[0].kv == a and evs[0].created and evs[0].prev is None
        assert evs[1].kv == a2 and not evs[1].created and evs[1].prev == a
        await nothing_pending(w)
    finally:
        w.close()


async def test_watch_revision_zero_means_now(store: Storage) -> None:
    await store.create("/r/old", b"x")
    w = store.watch("/r/", revision=0)
    try:
        a = await store.create("/r/a", b"1")
        assert [e.kv for e in await take(w, 1)] == [a]
    finally:
        w.close()


async def test_watch_replays_history_then_goes_live(store: Storage) -> None:
    start = store.current_revision()
    a = await store.create("/r/a", b"1")
    b = await store.create("/r/b", b"1")
    a2 = await store.update("/r/a", b"2")
    bd = await store.delete("/r/b")
    w = store.watch("/r/", revision=start)
    try:
        c = await store.create("/r/c", b"1")
        evs = await take(w, 5)
        assert [(e.type, e.kv) for e in evs] == [
            ("PUT", a), ("PUT", b), ("PUT", a2), ("DELETE", bd), ("PUT", c)]
        assert evs[2].prev == a
        assert evs[3].prev == b
        await nothing_pending(w)
        d = await store.create("/r/d", b"1")
        assert [e.kv for e in await take(w, 1)] == [d]
    finally:
        w.close()


async def test_watch_from_middle_of_history(store: Storage) -> None:
    await store.create("/r/a", b"1")
    mid = await store.update("/r/a", b"2")
    last = await store.update("/r/a", b"3")
    w = store.watch("/r/", revision=mid.mod_revision)
    try:
        evs = await take(w, 1)
        assert evs[0].kv == last and evs[0].prev == mid
        await nothing_pending(w)
    finally:
        w.close()


async def test_watch_replay_races_writes_without_gap_or_duplicate(store: Storage) -> None:
    start = store.current_revision()
    for i in range(30):
        await store.create(f"/r/pre{i}", b"x")

    async def writer() -> None:
        for i in range(60):
            await store.create(f"/r/live{i}", b"x")
            if i % 7 == 0:
                await asyncio.sleep(0)

    w = store.watch("/r/", revision=start)
    try:
        task = asyncio.create_task(writer())
        evs = await take(w, 90)
        await task
        revs = [e.revision for e in evs]
        assert revs == list(range(start + 1, start + 91)) or (
            # A backend may number revisions sparsely; then only order and uniqueness hold.
            revs == sorted(set(revs)) and len(revs) == 90)
        assert [e.kv.key for e in evs[:30]] == [f"/r/pre{i}" for i in range(30)]
        assert [e.kv.key for e in evs[30:]] == [f"/r/live{i}" for i in range(60)]
        await nothing_pending(w)
    finally:
        w.close()


async def test_watch_prefix_filtering(store: Storage) -> None:
    wa = store.watch("/r/a/", revision=0)
    wab = store.watch("/r/ab/", revision=0)
    wall = store.watch("/r/", revision=0)
    try:
        x = await store.create("/r/a/x", b"1")
        y = await store.create("/r/ab/y", b"1")
        z = await store.create("/r/b/z", b"1")
        assert [e.kv for e in await take(wa, 1)] == [x]
        assert [e.kv for e in await take(wab, 1)] == [y]
        assert [e.kv for e in await take(wall, 3)] == [x, y, z]
        await nothing_pending(wa)
        await nothing_pending(wab)
    finally:
        for w in (wa, wab, wall):
            w.close()


async def test_delete_event_carries_last_value(store: Storage) -> None:
    a1 = await store.create("/r/a", b"1")
    a2 = await store.update("/r/a", b"last")
    start = store.current_revision()
    w_live = store.watch("/r/", revision=start)
    try:
        gone = await store.delete("/r/a")
        w_replay = store.watch("/r/", revision=start)
        try:
            for w in (w_live, w_replay):
                (ev,) = await take(w, 1)
                assert ev.type == "DELETE" and not ev.created
                assert ev.kv == gone == KeyValue("/r/a", b"last", a1.create_revision, gone.mod_revision)
                assert ev.revision == gone.mod_revision
                assert ev.prev == a2
        finally:
            w_replay.close()
    finally:
        w_live.close()


async def test_watch_future_revision_skips_until_then(store: Storage) -> None:
    await store.create("/r/x", b"0")
    a = await store.create("/r/a", b"1")
    w = store.watch("/r/", revision=a.mod_revision + 1)  # start beyond the current revision
    try:
        b = await store.create("/r/b", b"1")
        c = await store.create("/r/c", b"1")
        evs = await take(w, 1)
        assert [e.kv for e in evs] == [b if b.mod_revision > a.mod_revision + 1 else c]
    finally:
        w.close()


async def test_watch_close_is_idempotent_and_ends_iteration(store: Storage) -> None:
    w = store.watch("/r/", revision=0)
    got: list[WatchEvent] = []

    async def consume() -> None:
        async for ev in w:
            got.append(ev)

    task = asyncio.create_task(consume())
    await store.create("/r/a", b"1")
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.01)
    w.close()
    w.close()
    await asyncio.wait_for(task, TIMEOUT)  # iteration ended instead of hanging
    assert [e.kv.key for e in got] == ["/r/a"]
    await store.create("/r/b", b"1")
    with pytest.raises(StopAsyncIteration):
        await w.__anext__()


# -- compaction -----------------------------------------------------------------------------


async def test_compaction(store: Storage) -> None:
    a1 = await store.create("/r/a", b"1")
    await store.create("/r/b", b"1")
    old = store.current_revision()
    a2 = await store.update("/r/a", b"2")
    await store.delete("/r/b")
    c1 = await store.create("/r/c", b"1")
    compact_at = store.current_revision()
    d1 = await store.create("/r/d", b"1")
    await store.compact(compact_at)
    assert store.compacted_revision() == compact_at

    with pytest.raises(Compacted) as e:
        await store.list("/r/", revision=old)
    assert e.value.requested == old and e.value.compacted == compact_at
    with pytest.raises(Compacted):
        store.watch("/r/", revision=a1.mod_revision)

    # Live values and history above the compacted revision stay.
    assert (await store.list("/r/")).items == [a2, c1, d1]
    assert (await store.list("/r/", revision=compact_at)).items == [a2, c1]
    assert await store.get("/r/a") == a2
    w = store.watch("/r/", revision=compact_at)
    try:
        assert [e.kv for e in await take(w, 1)] == [d1]
    finally:
        w.close()
    # Writes keep working on keys whose history is gone, and a deleted key can be re-created.
    a3 = await store.update("/r/a", b"3", revision=a2.mod_revision)
    assert a3.create_revision == a1.create_revision
    b2 = await store.create("/r/b", b"again")
    assert (await store.list("/r/")).items == [a3, b2, c1, d1]
    await store.compact(compact_at)  # compacting again to the same revision is a no-op


async def test_compact_then_update_then_watch_has_prev(store: Storage) -> None:
    a1 = await store.create("/r/a", b"1")
    await store.compact(a1.mod_revision)
    rev = store.current_revision()
    a2 = await store.update("/r/a", b"2")
    w = store.watch("/r/", revision=rev)
    try:
        (ev,) = await take(w, 1)
        assert ev.kv == a2 and ev.prev == a1
    finally:
        w.close()


# -- concurrency ----------------------------------------------------------------------------


async def test_concurrent_creates_get_distinct_increasing_revisions(store: Storage) -> None:
    start = store.current_revision()
    kvs = await asyncio.gather(*(store.create(f"/r/k{i}", b"v%d" % i) for i in range(100)))
    revs = [kv.mod_revision for kv in kvs]
    assert len(set(revs)) == 100 and min(revs) > start
    assert store.current_revision() == max(revs)
    assert await store.count("/r/") == 100
    listed = {kv.key: kv for kv in (await store.list("/r/")).items}
    assert all(listed[kv.key] == kv for kv in kvs)


async def test_concurrent_create_same_key_has_one_winner(store: Storage) -> None:
    results = await asyncio.gather(*(store.create("/r/same", b"%d" % i) for i in range(100)),
                                   return_exceptions=True)
    winners = [r for r in results if isinstance(r, KeyValue)]
    assert len(winners) == 1
    assert all(isinstance(r, KeyExists) for r in results if not isinstance(r, KeyValue))
    assert await store.get("/r/same") == winners[0]


async def test_concurrent_conditional_updates_have_one_winner_per_revision(store: Storage) -> None:
    kv = await store.create("/r/c", b"0")
    for _round in range(3):
        results = await asyncio.gather(
            *(store.update("/r/c", b"%d" % i, revision=kv.mod_revision) for i in range(100)),
            return_exceptions=True)
        winners = [r for r in results if isinstance(r, KeyValue)]
        assert len(winners) == 1, results[:3]
        losers = [r for r in results if not isinstance(r, KeyValue)]
        assert all(isinstance(r, RevisionMismatch) for r in losers)
        assert all(r.current.mod_revision >= winners[0].mod_revision for r in losers)  # type: ignore[union-attr]
        kv = winners[0]
        assert await store.get("/r/c") == kv


async def test_revisions_strictly_increase(store: Storage) -> None:
    last = store.current_revision()
    for i in range(20):
        for op in ("create", "update", "delete"):
            if op == "create":
                kv = await store.create(f"/r/{i}", b"x")
            elif op == "update":
                kv = await store.update(f"/r/{i}", b"y")
            else:
                kv = await store.delete(f"/r/{i}")
            assert kv.mod_revision > last
            assert store.current_revision() == kv.mod_revision
            last = kv.mod_revision


# -- model check ----------------------------------------------------------------------------


async def test_random_operations_match_a_model(store: Storage) -> None:
    """300 seeded random operations against a dict model: every result, every past list, and
    the full watch history must agree with the model."""
    rng = random.Random(1234)
    keys = [f"/m/{c}" for c in "abcdefgh"] + ["/m/a/b", "/n/a"]
    model: dict[str, KeyValue] = {}
    snapshots: dict[int, dict[str, KeyValue]] = {}
    expected: list[tuple[str, KeyValue]] = []
    start = store.current_revision()
    for _ in range(300):
        key = rng.choice(keys)
        op = rng.choice(["create", "update", "update_cond", "update_stale", "delete", "delete_cond"])
        cur = model.get(key)
        value = b"%d" % rng.randrange(10**6)
        try:
            if op == "create":
                kv = await store.create(key, value)
            elif op == "update":
                kv = await store.update(key, value)
            elif op == "update_cond":
                kv = await store.update(key, value, revision=cur.mod_revision if cur else 1)
            elif op == "update_stale":
                kv = await store.update(key, value, revision=cur.mod_revision - 1 if cur else 1)
            elif op == "delete":
                kv = await store.delete(key)
            else:
                kv = await store.delete(key, revision=cur.mod_revision if cur else 1)
        except KeyExists:
            assert op == "create" and cur is not None
            continue
        except KeyNotFound:
            assert op != "create" and cur is None
            continue
        except RevisionMismatch as e:
            assert op == "update_stale" and cur is not None and e.current == cur
            continue
        assert op != "update_stale" or cur is None or cur.mod_revision - 1 == 0
        if op.startswith("delete"):
            assert cur is not None and kv.value == cur.value
            del model[key]
            expected.append(("DELETE", kv))
        else:
            assert op == "create" or cur is not None
            assert kv.create_revision == (cur.create_revision if cur else kv.mod_revision)
            model[key] = kv
            expected.append(("PUT", kv))
        snapshots[kv.mod_revision] = dict(model)

    for rev, snap in snapshots.items():
        want = sorted((kv for k, kv in snap.items() if k.startswith("/m/")), key=lambda kv: kv.key)
        assert (await store.list("/m/", revision=rev)).items == want, rev
    assert await store.count("/m/") == sum(1 for k in model if k.startswith("/m/"))
    w = store.watch("/m/", revision=start)
    try:
        want_events = [(t, kv) for t, kv in expected if kv.key.startswith("/m/")]
        got = await take(w, len(want_events))
        assert [(e.type, e.kv) for e in got] == want_events
        await nothing_pending(w)
    finally:
        w.close()


__all__ = [name for name in list(globals()) if name.startswith("test_")] + ["take", "nothing_pending"]


async def test_leased_keys_expire_with_a_delete_event(store: Storage) -> None:
    """``lease=N``: the key is deleted N seconds after its last write (watchers see an ordinary
    DELETE); a later write without a lease clears it; keys without one stay."""
    w = store.watch("/lease/", revision=0)
    await store.create("/lease/short", b"1", lease=1)
    await store.create("/lease/kept", b"2")
    renewed = await store.create("/lease/cleared", b"3", lease=1)
    await store.update("/lease/cleared", b"4", revision=renewed.mod_revision)
    assert [e.kv.key for e in await take(w, 4)] == ["/lease/short", "/lease/kept", "/lease/cleared", "/lease/cleared"]
    (gone,) = await take(w, 1, timeout=15)
    assert (gone.type, gone.kv.key, gone.kv.value) == ("DELETE", "/lease/short", b"1")
    assert await store.get("/lease/short") is None
    kept, cleared = await store.get("/lease/kept"), await store.get("/lease/cleared")
    assert kept is not None and kept.value == b"2"
    assert cleared is not None and cleared.value == b"4"
    await nothing_pending(w, 2.5)
    w.close()
