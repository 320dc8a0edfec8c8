"""Encryption at rest: kube-apiserver's EncryptionConfiguration, as a transformer between the
generic store and any storage backend.

``EncryptingStorage`` wraps a ``Storage``: values of the configured resources are encrypted on
the way in (create/update) and decrypted on the way out (get/list/delete/watch), so the SQLite
backend -- and an etcd backend later -- only ever hold ciphertext, and everything above (the
generic store, the watch hub) sees plain JSON. Other keys pass through untouched.

The configuration is kube's ``apiserver.config.k8s.io/v1`` ``EncryptionConfiguration``: for
each list of ``resources`` (``secrets``, ``configmaps``, ``deployments.apps``, ``*.apps``,
``*.`` for the core group, ``*.*`` for all), an ordered list of ``providers``. The first one
encrypts; all of them decrypt, each recognising its own prefix. Values carry kube's prefixes,
so the stored bytes read ``k8s:enc:aescbc:v1:<keyname>:`` + IV + AES-CBC(PKCS#7) -- the same
layout as kube's, for:

- ``aescbc`` (AES-CBC, 16/24/32-byte keys), ``aesgcm`` (AES-GCM with a 12-byte random nonce,
  the storage key as authenticated data, so a value cannot be moved to another key), and
  ``secretbox`` (XSalsa20-Poly1305 via PyNaCl, ``cryptography`` has no XSalsa20);
- ``identity``: no prefix, plain JSON -- listed after a real provider it reads data written
  before encryption was enabled.

``kubelite server --secrets-encryption`` (k3s' flag) creates ``DATA_DIR/cred/encryption-config.json``
(0600) with one random aescbc key, as k3s does; ``--encryption-provider-config`` (kube's flag)
names any other file. ``EncryptionManager`` owns the file: it reloads it when it changes on
disk, rotates keys (a new key first, old ones kept for reading) and re-encrypts every stored
object of the configured resources under the current first key -- online, object by object
with optimistic concurrency, so the server keeps serving (k3s' ``secrets-encrypt rotate-keys``
and ``reencrypt``). ``kubelite secrets-encrypt`` reaches these through the server's
``/v1-kubelite/encrypt/{status,config}`` endpoints (k3s' ``/v1-k3s/encrypt/...``), which only
``system:masters`` (or an RBAC ``nonResourceURLs`` grant) may call.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import secrets as pysecrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, AsyncIterator

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubelite.machinery import errors
from kubelite.storage import KeyValue, ListResult, Storage, StorageError, WatchEvent

log = logging.getLogger(__name__)

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
DEFAULT_KEY_NAME = "aescbckey"
RELOAD_SECONDS = 2.0


class EncryptionConfigError(ValueError):
    """The EncryptionConfiguration file is unreadable or invalid (one line for the operator)."""


# -- providers -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Provider:
    type: str  # aescbc | aesgcm | secretbox | identity
    key_name: str = ""
    key: bytes = b""

    @property
    def prefix(self) -> bytes:
        return f"k8s:enc:{self.type}:v1:{self.key_name}:".encode() if self.type != "identity" else b""

    @property
    def label(self) -> str:
        return f"{self.type}:{self.key_name}" if self.type != "identity" else "identity"

    def encrypt(self, data: bytes, context: bytes) -> bytes:
        if self.type == "identity":
            return data
        if self.type == "aescbc":
            iv = os.urandom(16)
            padder = padding.PKCS7(128).padder()
            enc = Cipher(algorithms.AES(self.key), modes.CBC(iv)).encryptor()
            body = iv + enc.update(padder.update(data) + padder.finalize()) + enc.finalize()
        elif self.type == "aesgcm":
            nonce = os.urandom(12)
            body = nonce + AESGCM(self.key).encrypt(nonce, data, context)
        else:  # secretbox
            body = bytes(_secretbox(self.key).encrypt(data))  # nonce (24) + box
        return self.prefix + body

    def decrypt(self, data: bytes, context: bytes) -> bytes:
        if self.type == "identity":
            return data
        body = data[len(self.prefix):]
        if self.type == "aescbc":
            if len(body) < 32 or len(body) % 16:
                raise ValueError("the data is not a whole number of AES blocks")
            dec = Cipher(algorithms.AES(self.key), modes.CBC(body[:16])).decryptor()
            unpadder = padding.PKCS7(128).unpadder()
            return unpadder.update(dec.update(body[16:]) + dec.finalize()) + unpadder.finalize()
        if self.type == "aesgcm":
            return AESGCM(self.key).decrypt(body[:12], body[12:], context)
        return bytes(_secretbox(self.key).decrypt(body))


def _secretbox(key: bytes) -> Any:
    try:
        import nacl.secret
    except ImportError:  # pragma: no cover - a declared dependency
        raise EncryptionConfigError("the secretbox provider needs PyNaCl (pip install pynacl)") from None
    return nacl.secret.SecretBox(key)


_KEY_SIZES = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}


def _providers(entry: dict[str, Any], where: str) -> list[Provider]:
    out: list[Provider] = []
    for i, p in enumerate(entry.get("providers") or []):
        if not isinstance(p, dict) or len(p) != 1:
            raise EncryptionConfigError(f"{where}.providers[{i}]: exactly one provider type must be set")
        (ptype, body), = p.items()
        if ptype == "identity":
            out.append(Provider("identity"))
            continue
        if ptype not in _KEY_SIZES:
            raise EncryptionConfigError(f"{where}.providers[{i}]: unsupported provider {ptype!r} "
                                        "(aescbc, aesgcm, secretbox, identity)")
        keys = (body or {}).get("keys") or []
        names = [(k or {}).get("name") for k in keys]
        if len(set(map(str, names))) != len(names):
            raise EncryptionConfigError(f"{where}.providers[{i}].{ptype}.keys: key names must be unique")
        if not keys:
            raise EncryptionConfigError(f"{where}.providers[{i}].{ptype}.keys: at least one key is required")
        for j, k in enumerate(keys):
            name, secret = (k or {}).get("name"), (k or {}).get("secret")
            if not name or not isinstance(name, str) or ":" in name:
                raise EncryptionConfigError(f"{where}.providers[{i}].{ptype}.keys[{j}].name: a name without ':' is required")
            try:
                raw = base64.b64decode(str(secret), validate=True)
            except ValueError:
                raise EncryptionConfigError(f"{where}.providers[{i}].{ptype}.keys[{j}].secret: not base64") from None
            if len(raw) not in _KEY_SIZES[ptype]:
                raise EncryptionConfigError(f"{where}.providers[{i}].{ptype}.keys[{j}].secret: {ptype} keys are "
                                            f"{' or '.join(map(str, _KEY_SIZES[ptype]))} bytes, got {len(raw)}")
            out.append(Provider(ptype, name, raw))
    if not out:
        raise EncryptionConfigError(f"{where}.providers: at least one provider is required")
    return out


# -- the configuration ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceRule:
    resources: tuple[str, ...]
    providers: tuple[Provider, ...]

    def matches(self, group: str, plural: str) -> bool:
        for r in self.resources:
            name, _, rgroup = r.partition(".")
            if r == "*.*" or (name == "*" and rgroup == group) or (name == plural and rgroup == group):
                return True
        return False


class EncryptionConfig:
    """A parsed EncryptionConfiguration: which providers guard which resources."""

    def __init__(self, rules: list[ResourceRule], digest: str = "") -> None:
        self.rules = rules
        self.digest = digest
        self._by_resource: dict[str, ResourceRule | None] = {}

    @classmethod
    def parse(cls, data: bytes) -> "EncryptionConfig":
        try:
            doc = json.loads(data)
        except ValueError:
            import yaml

            try:
                doc = yaml.safe_load(data)
            except yaml.YAMLError as e:
                raise EncryptionConfigError(f"not JSON or YAML: {e}") from None
        if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
            raise EncryptionConfigError(f"expected kind {KIND} in apiVersion {API_VERSION}")
        rules = []
        for i, entry in enumerate(doc.get("resources") or []):
            resources = tuple(str(r) for r in (entry or {}).get("resources") or [])
            if not resources:
                raise EncryptionConfigError(f"resources[{i}].resources: at least one resource is required")
            rules.append(ResourceRule(resources, tuple(_providers(entry, f"resources[{i}]"))))
        return cls(rules, hashlib.sha256(data).hexdigest())

    def rule_for_key(self, key: str) -> ResourceRule | None:
        """The rule guarding a storage key ``/registry/<group|core>/<plural>/...`` (first match)."""
        parts = key.split("/", 4)
        if len(parts) < 4 or parts[1] != "registry":
            return None
        res = parts[2] + "/" + parts[3]
        if res not in self._by_resource:
            group = "" if parts[2] == "core" else parts[2]
            self._by_resource[res] = next((r for r in self.rules if r.matches(group, parts[3])), None)
        return self._by_resource[res]

    def encrypt(self, key: str, value: bytes) -> bytes:
        rule = self.rule_for_key(key)
        return value if rule is None else rule.providers[0].encrypt(value, key.encode())

    def decrypt(self, key: str, value: bytes) -> tuple[bytes, Provider | None]:
        """(plain value, the provider that read it; None when the key is not guarded)."""
        rule = self.rule_for_key(key)
        if rule is None:
            return value, None
        for p in rule.providers:
            if p.type != "identity" and value.startswith(p.prefix):
                try:
                    return p.decrypt(value, key.encode()), p
                except Exception as e:  # noqa: BLE001 - wrong key, corrupt data: say which key
                    raise StorageError(f"{key}: cannot decrypt with {p.label}: {type(e).__name__}") from None
        if not value.startswith(b"k8s:enc:"):
            for p in rule.providers:
                if p.type == "identity":
                    return value, p
        raise StorageError(f"{key}: no provider of the encryption configuration can read this value "
                           "(its key may have been removed)")


def new_key() -> str:
    return base64.b64encode(pysecrets.token_bytes(32)).decode()


def default_config_doc(resources: list[str] | None = None) -> dict[str, Any]:
    """What ``--secrets-encryption`` writes the first time: one aescbc key, then identity."""
    return {"kind": KIND, "apiVersion": API_VERSION, "resources": [{
        "resources": resources or ["secrets"],
        "providers": [{"aescbc": {"keys": [{"name": DEFAULT_KEY_NAME, "secret": new_key()}]}}, {"identity": {}}],
    }]}


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def ensure_config_file(path: Path) -> None:
    """Create the k3s-style default configuration at ``path`` (0600) unless it exists."""
    if not path.exists():
        _write_private(path, json.dumps(default_config_doc(), indent=2).encode())


# -- the storage transformer ---------------------------------------------------------------------

class _DecryptingWatcher:
    def __init__(self, inner: Any, manager: "EncryptionManager") -> None:
        self.inner, self.manager = inner, manager

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        ev = await self.inner.__anext__()
        kv = self.manager.plain(ev.kv)
        prev = self.manager.plain(ev.prev) if ev.prev is not None else None
        return ev if kv is ev.kv and prev is ev.prev else replace(ev, kv=kv, prev=prev)

    def close(self) -> None:
        self.inner.close()


class EncryptingStorage:
    """A ``Storage`` that encrypts guarded values before the wrapped one stores them."""

    def __init__(self, inner: Storage, manager: "EncryptionManager") -> None:
        self.inner = inner
        self.manager = manager
        manager.storage = self
        self.path = getattr(inner, "path", None)

    def __getattr__(self, name: str) -> Any:  # backend extras (stats, pragmas) pass through
        return getattr(self.inner, name)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    def current_revision(self) -> int:
        return self.inner.current_revision()

    def compacted_revision(self) -> int:
        return self.inner.compacted_revision()

    async def get(self, key: str) -> KeyValue | None:
        kv = await self.inner.get(key)
        return None if kv is None else self.manager.plain(kv)

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0) -> ListResult:
        res = await self.inner.list(prefix, revision=revision, start_after=start_after, limit=limit)
        res.items = [self.manager.plain(kv) for kv in res.items]
        return res

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> KeyValue:
        kv = await self.inner.create(key, self.manager.config.encrypt(key, value), lease=lease)
        return replace(kv, value=value)

    async def update(self, key: str, value: bytes, *, revision: int = 0, lease: int = 0) -> KeyValue:
        kv = await self.inner.update(key, self.manager.config.encrypt(key, value), revision=revision, lease=lease)
        return replace(kv, value=value)

    async def delete(self, key: str, *, revision: int = 0) -> KeyValue:
        return self.manager.plain(await self.inner.delete(key, revision=revision))

    def watch(self, prefix: str, *, revision: int) -> Any:
        return _DecryptingWatcher(self.inner.watch(prefix, revision=revision), self.manager)

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)


# -- the manager: the file, reloads, rotation, re-encryption ------------------------------------

class EncryptionManager:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.config = EncryptionConfig([])
        self.storage: EncryptingStorage | None = None
        self._mtime: float = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        if path is not None:
            self.load()

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def load(self) -> None:
        assert self.path is not None
        try:
            data = self.path.read_bytes()
            self._mtime = self.path.stat().st_mtime
        except OSError as e:
            raise EncryptionConfigError(f"{self.path}: {e.strerror}") from None
        self.config = EncryptionConfig.parse(data)

    def plain(self, kv: KeyValue) -> KeyValue:
        value, provider = self.config.decrypt(kv.key, kv.value)
        return kv if provider is None or provider.type == "identity" else replace(kv, value=value)

    def start(self) -> None:
        """Reload the file when an operator edits it (kube's automatic reload)."""
        if self.enabled:
            self._task = asyncio.create_task(self._watch_file(), name="encryption-config-reload")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch_file(self) -> None:
        assert self.path is not None
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            try:
                mtime = (await asyncio.to_thread(self.path.stat)).st_mtime
                if mtime != self._mtime:
                    async with self._lock:
                        await asyncio.to_thread(self.load)
                    log.info("encryption configuration %s reloaded", self.path)
            except (OSError, EncryptionConfigError) as e:
                log.error("encryption configuration %s not reloaded, keeping the old one: %s", self.path, e)

    # -- operations (the /v1-kubelite/encrypt endpoints) --

    def _doc(self) -> dict[str, Any]:
        import yaml

        assert self.path is not None
        return yaml.safe_load(self.path.read_bytes())  # JSON is YAML

    async def rotate_keys(self) -> dict[str, Any]:
        """Put a new key first in every rule whose first provider has keys (old keys stay, for
        reading), then re-encrypt everything under it."""
        async with self._lock:
            doc = await asyncio.to_thread(self._doc)
            # key names may not hold ':' (the prefix's separator); microseconds keep them unique
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            for entry in doc.get("resources") or []:
                first = (entry.get("providers") or [{}])[0]
                ptype = next(iter(first)) if len(first) == 1 else ""
                if ptype not in _KEY_SIZES:
                    continue  # identity first: encryption is off for these resources
                # 32 random bytes suit every provider; named like k3s' rotated keys
                first[ptype].setdefault("keys", []).insert(0, {"name": f"{ptype}key-{stamp}", "secret": new_key()})
            data = json.dumps(doc, indent=2).encode()
            EncryptionConfig.parse(data)  # never write a file the server cannot load
            assert self.path is not None
            await asyncio.to_thread(_write_private, self.path, data)
            await asyncio.to_thread(self.load)
        return await self.reencrypt()

    async def reencrypt(self) -> dict[str, Any]:
        """Rewrite every guarded object that is not under its rule's first provider."""
        rewritten = 0
        assert self.storage is not None
        for prefix in await self._guarded_prefixes():
            start_after = ""
            while True:
                res = await self.storage.inner.list(prefix, start_after=start_after, limit=500)
                for kv in res.items:
                    start_after = kv.key
                    rule = self.config.rule_for_key(kv.key)
                    if rule is None or self._reader(rule, kv.value) is rule.providers[0]:
                        continue
                    plain = self.plain(kv).value
                    with contextlib.suppress(StorageError):  # written meanwhile: already current
                        await self.storage.update(kv.key, plain, revision=kv.mod_revision)
                        rewritten += 1
                if not res.more:
                    break
        out = await self.status()
        out["rewritten"] = rewritten
        return out

    async def _guarded_prefixes(self) -> list[str]:
        """Storage prefixes ``/registry/<group>/<plural>/`` holding guarded resources."""
        assert self.storage is not None
        seen: set[str] = set()
        start_after = ""
        # the resources present are found from the keys themselves, so CRDs count too
        while True:
            res = await self.storage.inner.list("/registry/", start_after=start_after, limit=1000)
            for kv in res.items:
                parts = kv.key.split("/", 4)
                if len(parts) >= 4:
                    prefix = f"/registry/{parts[2]}/{parts[3]}/"
                    if prefix not in seen and self.config.rule_for_key(kv.key) is not None:
                        seen.add(prefix)
                start_after = kv.key
            if not res.more:
                return sorted(seen)

    @staticmethod
    def _reader(rule: ResourceRule, value: bytes) -> Provider | None:
        for p in rule.providers:
            if p.type != "identity" and value.startswith(p.prefix):
                return p
        return None if value.startswith(b"k8s:enc:") else next((p for p in rule.providers if p.type == "identity"), None)

    async def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enabled": self.enabled}
        if not self.enabled:
            return out
        out["configFile"] = str(self.path)
        out["configHash"] = self.config.digest
        out["rules"] = [{"resources": list(r.resources), "activeProvider": r.providers[0].label,
                         "providers": [p.label for p in r.providers]} for r in self.config.rules]
        counts: dict[str, dict[str, int]] = {}
        current = True
        assert self.storage is not None
        for prefix in await self._guarded_prefixes():
            _, _, group, plural, _ = prefix.split("/")
            res_name = plural if group == "core" else f"{plural}.{group}"
            start_after = ""
            while True:
                page = await self.storage.inner.list(prefix, start_after=start_after, limit=1000)
                for kv in page.items:
                    start_after = kv.key
                    rule = self.config.rule_for_key(kv.key)
                    reader = self._reader(rule, kv.value) if rule else None
                    label = reader.label if reader else "unreadable"
                    counts.setdefault(res_name, {}).setdefault(label, 0)
                    counts[res_name][label] += 1
                    current = current and rule is not None and reader is rule.providers[0]
                if not page.more:
                    break
        out["objects"] = counts
        #: every guarded object is under its rule's active provider (safe to drop old keys)
        out["allCurrent"] = current
        return out

    async def handle(self, method: str, op: str, body: bytes) -> dict[str, Any]:
        """``GET status`` and ``PUT config`` with ``{"stage": "rotate_keys" | "reencrypt"}``."""
        if op == "status" and method == "GET":
            return await self.status()
        if op == "config" and method in ("PUT", "POST"):
            try:
                stage = json.loads(body or b"{}").get("stage", "")
            except (ValueError, AttributeError):
                raise errors.bad_request("the body must be a JSON object with a stage") from None
            if not self.enabled:
                raise errors.bad_request("secrets encryption is not enabled on this server (--secrets-encryption)")
            try:
                if stage == "rotate_keys":
                    return await self.rotate_keys()
                if stage == "reencrypt":
                    return await self.reencrypt()
            except EncryptionConfigError as e:
                raise errors.bad_request(f"encryption configuration {self.path}: {e}") from None
            raise errors.bad_request(f'unknown stage "{stage}": expected rotate_keys or reencrypt')
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
