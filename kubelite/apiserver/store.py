"""The generic REST store: one implementation of create/get/list/update/delete for every kind.

Per-kind behaviour comes from the kind's ``Strategy`` (kubelite/api/registry.py); this module
owns what is the same for all kinds: storage keys, resourceVersion, uid, timestamps,
generation, optimistic concurrency, finalizers and deletionTimestamp, dry runs, managedFields,
conversion between the served and the stored version. Handlers (``handlers.py``) decode HTTP
and call in here; admission hooks (``admission.py``) run inside the write path.

Keys: ``/registry/<group or core>/<plural>/<namespace>/<name>`` (cluster-scoped kinds omit the
namespace). Values: the object as JSON without ``metadata.resourceVersion`` -- the revision of
the key *is* the resourceVersion, injected on every read.
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import os
import random
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol, Sequence

import orjson

from kubelite.api.helpers.times import format_time
from kubelite.api.registry import ResourceType
from kubelite.api.validation import validate_object_meta
from kubelite.machinery import errors
from kubelite.machinery.apply import record_update
from kubelite.storage import Compacted, KeyExists, KeyNotFound, KeyValue, RevisionMismatch, Storage

Obj = dict[str, Any]
Mutator = Callable[[Obj], Obj]

# Random suffixes of generateName, as Kubernetes draws them (no vowels, no confusable digits).
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
# uids and generateName suffixes need uniqueness, not secrecy: a PRNG seeded from the OS is
# ~100x cheaper per call than os.urandom (uuid4) on VMs with a slow entropy path.
_rng = random.Random(os.urandom(32))
# An update retried this many times against concurrent writers gives up with 409.
_MAX_RETRIES = 16


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class AdmissionHook(Protocol):
    """Called inside the write path after defaulting, before validation (mutating admission)
    and may reject with a StatusError. ``old`` is None on create."""

    async def __call__(self, rt: ResourceType, obj: Obj, old: Obj | None, *, dry_run: bool) -> None: ...


@dataclass(slots=True)
class ListPage:
    items: list[Obj]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


class Store:
    def __init__(self, storage: Storage, *, clock: Callable[[], dt.datetime] = now_utc) -> None:
        self.storage = storage
        self.clock = clock
        self.admission: list[AdmissionHook] = []
        #: called after a namespace-scoped create to check the namespace exists (set by the server)
        self.namespace_check: Callable[[str], Awaitable[None]] | None = None
        #: storage resource -> seconds each write lives (kube's TTLFunc: Events, --event-ttl)
        self.ttl: dict[str, int] = {}

    def lease(self, rt: ResourceType) -> int:
        """The storage lease of a write of ``rt``: every create and update restarts it."""
        return self.ttl.get(rt.storage_resource, 0)

    # -- keys and codecs -------------------------------------------------------------------

    @staticmethod
    def prefix(rt: ResourceType, namespace: str | None) -> str:
        base = f"/registry/{rt.storage_resource}/"
        return base + f"{namespace}/" if rt.namespaced and namespace else base

    @staticmethod
    def key(rt: ResourceType, namespace: str | None, name: str) -> str:
        if rt.namespaced:
            return f"/registry/{rt.storage_resource}/{namespace}/{name}"
        return f"/registry/{rt.storage_resource}/{name}"

    @staticmethod
    def decode(rt: ResourceType, kv: KeyValue) -> Obj:
        obj = orjson.loads(kv.value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        if rt.from_storage is not None:
            obj = rt.from_storage(obj)
        return obj

    @staticmethod
    def encode(rt: ResourceType, obj: Obj) -> bytes:
        if rt.to_storage is not None:
            obj = rt.to_storage(obj)
        meta = obj.get("metadata", {})
        rv = meta.pop("resourceVersion", None)
        try:
            return orjson.dumps(obj)
        finally:
            if rv is not None:
                meta["resourceVersion"] = rv

    # -- reads -----------------------------------------------------------------------------

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        kv = await self.storage.get(self.key(rt, namespace, name))
        if kv is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return self.decode(rt, kv)

    async def try_get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        kv = await self.storage.get(self.key(rt, namespace, name))
        return None if kv is None else self.decode(rt, kv)

    async def list(self, rt: ResourceType, namespace: str | None, *,
                   match: Callable[[Obj], bool] | None = None, limit: int = 0,
                   continue_token: str = "", revision: int = 0) -> ListPage:
        """One page of live objects. Pagination walks a fixed revision, so pages are a
        consistent snapshot; selectors are applied before counting the limit, as the
        watch-cache-backed kube-apiserver does. ``revision`` (0 = now) lists the objects as
        they were then (``resourceVersionMatch=Exact``); 410 if that history is compacted."""
        prefix = self.prefix(rt, namespace)
        start_after = ""
        if continue_token:
            revision, start_after = _decode_continue(continue_token, prefix)
        items: list[Obj] = []
        # storage is read in pages of 500..10,000 rows whatever the limit asked (limit=2^63-1
        # is valid and means "everything")
        page_size = min(max(limit, 500), 10_000) if limit else 0
        while True:
            try:
                res = await self.storage.list(prefix, revision=revision, start_after=start_after,
                                              limit=page_size)
            except Compacted as e:
                if not continue_token:
                    raise errors.gone(f"too old resource version: {e.requested} ({e.compacted})") from None
                raise errors.StatusError(
                    410, "Expired",
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter.") from None
            revision = res.revision
            for kv in res.items:
                obj = self.decode(rt, kv)
                if match is None or match(obj):
                    items.append(obj)
                start_after = kv.key
                if limit and len(items) >= limit:
                    more = res.more or kv is not res.items[-1]
                    token = _encode_continue(revision, start_after) if more else ""
                    return ListPage(items, revision, token, None)
            if not res.more:
                return ListPage(items, revision)

    # -- writes ----------------------------------------------------------------------------

    def _new_meta(self, rt: ResourceType, obj: Obj, namespace: str | None) -> Obj:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + "".join(_rng.choice(_ALPHANUMS) for _ in range(5))
        meta["uid"] = str(uuid.UUID(int=_rng.getrandbits(128), version=4))
        meta["creationTimestamp"] = format_time(self.clock())
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(k, None)
        if rt.schema is None or rt.strategy.has_status:
            meta["generation"] = 1  # kinds with a spec/status split track spec changes
        return meta

    async def create(self, rt: ResourceType, obj: Obj, *, namespace: str | None, manager: str = "",
                     dry_run: bool = False, api_version: str = "", managed: bool = True) -> Obj:
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = self._new_meta(rt, obj, namespace)
        strategy = rt.strategy
        strategy.defaults(obj)
        strategy.prepare_for_create(obj)
        for hook in self.admission:
            await hook(rt, obj, None, dry_run=dry_run)
        self._validate(rt, obj, strategy.validate(obj))
        if rt.namespaced and self.namespace_check is not None:
            await self.namespace_check(meta["namespace"])
        if managed and manager:
            record_update(None, obj, manager=manager, now=meta["creationTimestamp"],
                          api_version=api_version or rt.api_version)
        name = meta["name"]
        if dry_run:
            if await self.storage.get(self.key(rt, meta.get("namespace"), name)) is not None:
                raise errors.already_exists(rt.plural, rt.group, name)
            return obj
        try:
            kv = await self.storage.create(self.key(rt, meta.get("namespace"), name), self.encode(rt, obj),
                                           lease=self.lease(rt))
        except KeyExists:
            raise errors.already_exists(rt.plural, rt.group, name) from None
        meta["resourceVersion"] = str(kv.mod_revision)
        return obj

    def _validate(self, rt: ResourceType, obj: Obj, errs: Sequence[errors.FieldError]) -> None:  # `list` is a method here
        meta_errs = validate_object_meta(obj.get("metadata", {}), namespaced=rt.namespaced,
                                         name_validator=getattr(rt.strategy, "name_validator", None))
        errs = meta_errs + list(errs)
        if errs:
            raise errors.invalid_object(rt.kind, rt.group, obj.get("metadata", {}).get("name", ""), errs)

    async def update(self, rt: ResourceType, namespace: str | None, name: str, mutate: Mutator, *,
                     subresource: str = "", manager: str = "", dry_run: bool = False,
                     create: Callable[[], Awaitable[Obj]] | None = None, api_version: str = "",
                     record_manager: bool = True, validate: bool = True) -> tuple[Obj, bool]:
        """Read-modify-write with optimistic concurrency: ``mutate(current_copy)`` returns the
        desired object (it may raise, e.g. Conflict for a stale resourceVersion the client sent).
        Retries when another writer got in between. Returns (object, created).

        ``validate=False`` and ``record_manager=False`` are for the server's own narrow writes
        (pods/binding, namespaces/finalize): like kube-apiserver, they change a field or two
        of an already valid object and track no field ownership."""
        key = self.key(rt, namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.storage.get(key)
            if kv is None:
                if create is None:
                    raise errors.not_found(rt.plural, rt.group, name)
                return await create(), True
            old = self.decode(rt, kv)
            new = mutate(self.decode(rt, kv))  # a second decode is cheaper than a deepcopy
            new = self._prepare_update(rt, new, old, subresource)
            for hook in self.admission:
                await hook(rt, new, old, dry_run=dry_run)
            # Server-computed subresource writes (binding, finalize, scale) are trusted to change
            # what the main endpoint may not; they must still leave a valid object.
            strategy = rt.strategy
            if subresource in strategy.update_subresources:
                errs = strategy.validate_subresource_update(subresource, new, old) if validate else []
            elif subresource not in ("", "status"):
                errs = strategy.validate(new) if validate else []
            else:
                errs = strategy.validate_update(new, old) if validate else []
            if validate:
                self._validate(rt, new, errs)
            if new == old and not getattr(kv, "stale", False):
                # a no-op write changes nothing, not even resourceVersion -- unless the value was
                # read through an old encryption key (encryption.StaleKeyValue): then it is
                # written back under the current one, as kube's GuaranteedUpdate does
                return old, False
            if record_manager and manager:
                record_update(old, new, manager=manager, now=format_time(self.clock()),
                              api_version=api_version or rt.api_version, subresource=subresource)
            meta = new["metadata"]
            # ShouldDeleteDuringUpdate: the last finalizer gone from an object already marked for
            # deletion with no grace period left deletes it; a pod still in its grace period
            # (deletionGracePeriodSeconds > 0) stays, so its kubelet can report its containers
            # stopped before it deletes the pod with grace 0.
            old_grace = (old.get("metadata") or {}).get("deletionGracePeriodSeconds")
            if (meta.get("deletionTimestamp") and not meta.get("finalizers") and not old_grace
                    and not rt.strategy.deletion_blocked(new)):
                if dry_run:
                    return new, False
                try:
                    await self.storage.delete(key, revision=kv.mod_revision)
                except (RevisionMismatch, KeyNotFound):
                    continue
                return new, False
            if dry_run:
                return new, False
            try:
                kv2 = await self.storage.update(key, self.encode(rt, new), revision=kv.mod_revision,
                                                lease=self.lease(rt))
            except RevisionMismatch:
                continue
            except KeyNotFound:
                continue
            meta["resourceVersion"] = str(kv2.mod_revision)
            return new, False
        raise errors.conflict(rt.plural, rt.group, name, errors.STALE_OBJECT)

    def _prepare_update(self, rt: ResourceType, new: Obj, old: Obj, subresource: str) -> Obj:
        if not isinstance(new, dict):
            raise errors.bad_request("the object must be a JSON object")
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        old_meta = old["metadata"]
        if meta.get("name", old_meta["name"]) != old_meta["name"]:
            raise errors.bad_request(
                f'the name of the object ({meta.get("name")}) does not match the name on the URL ({old_meta["name"]})')
        if meta.get("uid") and meta["uid"] != old_meta.get("uid"):
            raise errors.conflict(rt.plural, rt.group, old_meta["name"],
                                  f'Precondition failed: UID in precondition: {meta["uid"]}, UID in object meta: {old_meta.get("uid")}')
        for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "generation"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        meta.pop("selfLink", None)
        if old_meta.get("deletionTimestamp"):
            # Finalizers may only be removed from an object being deleted, not added.
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise errors.invalid_object(rt.kind, rt.group, old_meta["name"], [errors.forbidden(
                    "metadata.finalizers", f"no new finalizers can be added if the object is being deleted, found new finalizers {sorted(added)!r}")])
        strategy = rt.strategy
        if subresource == "status":
            strategy.prepare_for_status_update(new, old)
            new["metadata"]["resourceVersion"] = old_meta.get("resourceVersion")
        elif subresource == "":
            strategy.defaults(new)
            strategy.prepare_for_update(new, old)
        elif subresource in strategy.update_subresources:
            strategy.prepare_for_subresource_update(subresource, new, old)
        if subresource != "status":
            if "generation" in old_meta and strategy.spec_changed(new, old):
                new["metadata"]["generation"] = old_meta["generation"] + 1
        meta = new["metadata"]
        # managedFields of the old object carry over unless the client rewrote them (SSA migration).
        if "managedFields" not in meta and "managedFields" in old_meta:
            meta["managedFields"] = old_meta["managedFields"]
        if meta.get("managedFields") == []:
            meta.pop("managedFields")
        for k in ("labels", "annotations", "finalizers", "ownerReferences"):
            if k in meta and not meta[k]:
                del meta[k]
        return new

    async def delete(self, rt: ResourceType, namespace: str | None, name: str, *,
                     propagation: str | None = None, grace_seconds: int | None = None,
                     preconditions: dict[str, str] | None = None, dry_run: bool = False) -> tuple[Obj, bool]:
        """Delete, or mark for deletion when finalizers (or a grace period) hold the object.
        Returns (object, deleted_now)."""
        key = self.key(rt, namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.storage.get(key)
            if kv is None:
                raise errors.not_found(rt.plural, rt.group, name)
            obj = self.decode(rt, kv)
            meta = obj["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.conflict(rt.plural, rt.group, name,
                                      f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {meta.get("uid")}')
            if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
                raise errors.conflict(rt.plural, rt.group, name,
                                      f'Precondition failed: ResourceVersion in precondition: {pre["resourceVersion"]}, ResourceVersion in object meta: {meta.get("resourceVersion")}')
            finalizers = list(meta.get("finalizers") or [])
            if propagation == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif propagation == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            grace = rt.strategy.graceful_delete_seconds(obj, grace_seconds)
            already = bool(meta.get("deletionTimestamp"))
            if finalizers or grace > 0 or rt.strategy.deletion_blocked(obj):
                if already and finalizers == list(meta.get("finalizers") or []) and not (
                        grace == 0 and not finalizers and not rt.strategy.deletion_blocked(obj)):
                    old_grace = meta.get("deletionGracePeriodSeconds")
                    if old_grace is None or grace >= old_grace:
                        return obj, False  # already being deleted; nothing shortens it
                marked = copy.deepcopy(obj)
                mmeta = marked["metadata"]
                if finalizers:
                    mmeta["finalizers"] = finalizers
                now = self.clock()
                if not already or grace < (mmeta.get("deletionGracePeriodSeconds") or 0):
                    mmeta["deletionTimestamp"] = format_time(now + dt.timedelta(seconds=grace))
                    mmeta["deletionGracePeriodSeconds"] = grace
                if not already:
                    rt.strategy.mark_deleted(marked)
                if dry_run:
                    return marked, False
                try:
                    kv2 = await self.storage.update(key, self.encode(rt, marked), revision=kv.mod_revision,
                                                    lease=self.lease(rt))
                except (RevisionMismatch, KeyNotFound):
                    continue
                mmeta["resourceVersion"] = str(kv2.mod_revision)
                return marked, False
            if dry_run:
                return obj, True
            try:
                await self.storage.delete(key, revision=kv.mod_revision)
            except (RevisionMismatch, KeyNotFound):
                continue
            return obj, True
        raise errors.conflict(rt.plural, rt.group, name, errors.STALE_OBJECT)


def _encode_continue(revision: int, start_after: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_after})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        rv, start = int(data["rv"]), str(data["start"])
    except Exception:
        raise errors.bad_request("continue key is not valid: invalid token") from None
    if not start.startswith(prefix):
        raise errors.bad_request("continue key is not valid: the token does not belong to this list")
    return rv, start
