"""The storage contract every backend fulfils (SQLite now, etcd later): etcd's shape.

One global, monotonically increasing *revision* numbers every write; an object's
``resourceVersion`` is the ``mod_revision`` of its key. Keys are strings such as
``/registry/apps/deployments/default/web``; values are opaque bytes (the API server stores JSON).

Semantics (checked by ``tests/storage/conformance.py`` for every backend):
- ``create`` fails with ``KeyExists`` if the key is live.
- ``update`` / ``delete`` with ``revision=N`` succeed only if the key's current ``mod_revision``
  is N, else ``RevisionMismatch`` (carrying the current value); ``revision=0`` is unconditional.
  Both raise ``KeyNotFound`` for a missing key.
- ``list(prefix, revision=R)`` returns the live keys under ``prefix`` as of revision R (0 = now),
  sorted by key, starting strictly after ``start_after``, at most ``limit`` (0 = all); ``more`` says
  whether keys remain. R older than the compacted revision raises ``Compacted``.
- ``watch(prefix, revision=R)`` yields every change under ``prefix`` with ``mod_revision > R``,
  strictly in revision order, without gaps, then live changes as they commit. R older than the
  compacted revision raises ``Compacted`` (the API server turns it into 410 Gone / Expired).
- ``compact(R)`` forgets history at or below R (superseded values and tombstones); live values stay.
- ``create``/``update`` with ``lease=N`` (seconds, 0 = none): the key is deleted -- an ordinary
  delete with its watch event -- once N seconds pass without a later write; a later write
  without a lease clears it (an etcd lease of TTL N attached to that put).
- Every acknowledged write survives a crash (kill -9) of the process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Literal, Protocol


class StorageError(Exception):
    """Base of all storage errors."""


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionMismatch(StorageError):
    """The key's mod_revision differs from the expected one; ``current`` is what is stored."""

    def __init__(self, key: str, current: "KeyValue") -> None:
        super().__init__(f"revision mismatch on {key}: now {current.mod_revision}")
        self.key = key
        self.current = current


class Compacted(StorageError):
    """The requested revision is older than the compacted history."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (compacted to {compacted})")
        self.requested = requested
        self.compacted = compacted


@dataclass(slots=True, frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(slots=True, frozen=True)
class WatchEvent:
    """A change. ``type`` PUT (created or updated) or DELETE. For DELETE, ``kv`` holds the last
    value with ``mod_revision`` = the revision of the deletion. ``prev`` is the value before
    the change when known (always for updates and deletes)."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def created(self) -> bool:
        return self.type == "PUT" and self.kv.create_revision == self.kv.mod_revision


@dataclass(slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the store revision the list reflects
    more: bool = False
    remaining: int = 0  # how many keys remain after this page (0 if unknown or none)


class Watcher(Protocol):
    """An async iterator of WatchEvents; ``close()`` stops it (idempotent)."""

    def __aiter__(self) -> AsyncIterator[WatchEvent]: ...

    async def __anext__(self) -> WatchEvent: ...

    def close(self) -> None: ...


class Storage(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def current_revision(self) -> int: ...

    def compacted_revision(self) -> int: ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> ListResult: ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> KeyValue: ...

    async def update(self, key: str, value: bytes, *, revision: int = 0, lease: int = 0) -> KeyValue: ...

    async def delete(self, key: str, *, revision: int = 0) -> KeyValue: ...

    def watch(self, prefix: str, *, revision: int) -> Watcher: ...

    async def compact(self, revision: int) -> None: ...
