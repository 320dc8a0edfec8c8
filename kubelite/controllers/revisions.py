"""Template hashes and ControllerRevision history, shared by Deployment, DaemonSet and StatefulSet
(Kubernetes' ``controller.ComputeHash`` and ``pkg/controller/history``).

``compute_hash(template, collision_count)`` is the ``pod-template-hash`` /
``controller-revision-hash`` value: FNV-1a (32 bit) over the template's canonical JSON (keys
sorted) followed by the collision count, printed in decimal and each character mapped into
Kubernetes' "safe" alphabet (no vowels, no 0/1/3, so a hash never spells a word or looks like a
number): ``{"spec": ...}`` -> ``"5d4f8c9b7"``. Stable across processes and Python versions.

``ControllerRevision`` objects snapshot a DaemonSet's / StatefulSet's template as a patch
(``{"spec": {"template": {..., "$patch": "replace"}}}``, as kube stores it), named
``<owner>-<hash>``, numbered by ``revision``. Helpers here build them, find the one equal to the
current template, pick the next revision number, and pick the surplus to delete beyond
``revisionHistoryLimit``. Pure functions; the controllers do the writes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kubelite.client import CONTROLLERREVISIONS, Client, is_already_exists
from kubelite.controllers.podcontrol import (
    controller_ref,
    name_of,
    owner_reference,
    uid_of,
)

Obj = dict[str, Any]

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
CONTROLLER_REVISION_HASH = "controller-revision-hash"


def fnv32a(data: bytes, h: int = _FNV_OFFSET) -> int:
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    """apimachinery ``rand.SafeEncodeString``: each byte -> alphabet[byte % 27]."""
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in s.encode())


def compute_hash(obj: Any, collision_count: int | None = None) -> str:
    """The stable, safe-alphabet hash of ``obj`` (and the collision count, when set)."""
    h = fnv32a(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        h = fnv32a(int(collision_count).to_bytes(4, "little", signed=False), h)
    return safe_encode(str(h))


# -- ControllerRevisions --------------------------------------------------------------------

def revision_patch(owner: Mapping[str, Any]) -> Obj:
    """What a DaemonSet/StatefulSet revision records: its pod template, as a replace patch."""
    template = dict((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of_revision(revision: Mapping[str, Any]) -> Obj:
    data = revision.get("data") or {}
    template = dict((data.get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def new_revision(owner: Mapping[str, Any], revision: int, collision_count: int | None, *,
                 api_version: str, kind: str, label_keys: Mapping[str, str] | None = None) -> Obj:
    """A ControllerRevision for ``owner``'s current template (not yet created)."""
    data = revision_patch(owner)
    h = compute_hash(data, collision_count)
    labels = dict(((owner.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})
    labels.update(label_keys or {})
    labels[CONTROLLER_REVISION_HASH] = h
    md = owner.get("metadata") or {}
    return {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": f"{md.get('name')}-{h}", "namespace": md.get("namespace"), "labels": labels,
                     "ownerReferences": [owner_reference(owner, api_version=api_version, kind=kind)]},
        "data": data, "revision": revision,
    }


def revision_hash(revision: Mapping[str, Any]) -> str:
    labels = (revision.get("metadata") or {}).get("labels") or {}
    h = labels.get(CONTROLLER_REVISION_HASH)
    if h:
        return str(h)
    # Fall back to the name suffix, as kube does for revisions created by older controllers.
    return name_of(revision).rsplit("-", 1)[-1]


def owned_revisions(owner: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The owner's revisions, oldest revision number first."""
    uid = uid_of(owner)
    mine = [r for r in revisions if (controller_ref(r) or {}).get("uid") == uid]
    return sorted(mine, key=lambda r: (int(r.get("revision") or 0), name_of(r)))


def find_equal_revision(owner: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The most recent revision whose data equals the owner's current template."""
    want = revision_patch(owner)
    for r in reversed(owned_revisions(owner, revisions)):
        if (r.get("data") or {}) == want:
            return r
    return None


def next_revision_number(revisions: Sequence[Mapping[str, Any]]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def revisions_to_prune(revisions: Sequence[Mapping[str, Any]], limit: int,
                       live_hashes: set[str]) -> list[Mapping[str, Any]]:
    """Oldest revisions beyond ``limit`` that no live pod (or current/update revision) uses."""
    ordered = sorted(revisions, key=lambda r: (int(r.get("revision") or 0), name_of(r)))
    candidates = [r for r in ordered if revision_hash(r) not in live_hashes]
    surplus = len(candidates) - max(limit, 0)
    return candidates[:surplus] if surplus > 0 else []


async def create_revision(client: Client, owner: Obj, number: int, collision: int | None, *,
                          kind: str) -> tuple[Obj, int | None]:
    """Create the ControllerRevision of ``owner``'s current template (DaemonSet, StatefulSet).

    The name is derived from the template hash; a foreign object already holding it bumps the
    collision count (which changes the hash, hence the name) and we try again, as Kubernetes'
    history controllers do. Returns (revision, collision count used)."""
    namespace = (owner.get("metadata") or {}).get("namespace")
    for _ in range(5):
        rev = new_revision(owner, number, collision, api_version="apps/v1", kind=kind)
        try:
            return await client.create(CONTROLLERREVISIONS, rev), collision
        except Exception as e:
            if not is_already_exists(e):
                raise
            existing = await client.get(CONTROLLERREVISIONS, name_of(rev), namespace=namespace)
            if (controller_ref(existing) or {}).get("uid") == uid_of(owner) and existing.get("data") == rev["data"]:
                return existing, collision
            collision = int(collision or 0) + 1
    raise RuntimeError(f"{kind.lower()} {name_of(owner)}: could not create a unique ControllerRevision name")
