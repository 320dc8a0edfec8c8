"""Pod volumes on this node: ``VolumeManager.setup(pod)`` makes every volume of a pod exist
under ``<pods_dir>/<uid>/volumes/<plugin>/<name>`` (or resolves it to a node path: hostPath,
local-path PersistentVolumes) and returns name -> host path; ``teardown(uid)`` removes them.

One module per volume type: ``emptydir``, ``hostpath``, ``projection`` (configMap, secret,
downwardAPI, projected incl. bound service-account tokens) with ``atomic`` writing those, and
persistentVolumeClaim here (a claim bound to a hostPath/local PV mounts the PV's path). Setup
is idempotent and is called on every pod sync, which is how ConfigMap and Secret changes reach
running pods (the atomic ``..data`` swap) and how tokens are refreshed at 80% of their life.
"""
from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from kubelite.client import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, SERVICEACCOUNTS, ApiError, Client
from kubelite.kubelet.volumes import atomic, emptydir, hostpath, projection
from kubelite.kubelet.volumes.projection import VolumeError

Obj = Mapping[str, Any]

PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}

__all__ = ["VolumeManager", "VolumeError"]


@dataclass
class _Token:
    token: str
    refresh_at: float


class VolumeManager:
    def __init__(self, client: Client, pods_dir: Path, lookup: Callable[[str, str, str], Obj | None]) -> None:
        self.client = client
        self.pods_dir = pods_dir
        self._lookup = lookup          # (kind, namespace, name) -> object from the informer caches
        self._tokens: dict[tuple[str, str, int], _Token] = {}

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    async def setup(self, pod: Obj, *, host_ip: str, pod_ip: str, allocatable: Mapping[str, str]) -> dict[str, str]:
        """name -> host path of every volume; raises VolumeError with the FailedMount text."""
        meta = pod.get("metadata") or {}
        uid, ns = meta.get("uid", ""), meta.get("namespace", "")
        paths: dict[str, str] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            name = vol.get("name", "")
            try:
                paths[name] = await self._setup_one(pod, uid, ns, vol, host_ip, pod_ip, allocatable)
            except (VolumeError, hostpath.HostPathError, OSError, ValueError) as e:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {e}') from None
            except ApiError as e:
                raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {e.message}') from None
        return paths

    async def _setup_one(self, pod: Obj, uid: str, ns: str, vol: Obj, host_ip: str, pod_ip: str,
                         allocatable: Mapping[str, str]) -> str:
        name = vol.get("name", "")
        lookup = lambda kind, n: self._lookup(kind, ns, n)  # noqa: E731
        for kind, plugin in PLUGIN_DIRS.items():
            if vol.get(kind) is None:
                continue
            path = self.pod_dir(uid) / "volumes" / plugin / name
            src = vol[kind]
            if kind == "emptyDir":
                await asyncio.to_thread(emptydir.setup, path, src)
                return str(path)
            if kind == "configMap":
                payload = projection.configmap_payload(lookup("configmap", src.get("name", "")), src)
            elif kind == "secret":
                payload = projection.secret_payload(lookup("secret", src.get("secretName", "")), src)
            elif kind == "downwardAPI":
                payload = projection.downward_payload(pod, src, host_ip=host_ip, pod_ip=pod_ip,
                                                      node_allocatable=allocatable)
            else:
                tokens = await self._tokens_for(pod, uid, ns, name, src)
                payload = projection.projected_payload(pod, src, lookup=lookup, tokens=tokens, host_ip=host_ip,
                                                       pod_ip=pod_ip, node_allocatable=allocatable)
            await asyncio.to_thread(atomic.write, path, payload)
            return str(path)
        if vol.get("hostPath") is not None:
            hp = vol["hostPath"]
            return await asyncio.to_thread(hostpath.check, hp.get("path", ""), hp.get("type") or "")
        if vol.get("persistentVolumeClaim") is not None:
            return await self._claim_path(ns, vol["persistentVolumeClaim"].get("claimName", ""))
        raise VolumeError("volume type not supported by this node")

    async def _claim_path(self, ns: str, claim: str) -> str:
        try:
            pvc = await self.client.get(PERSISTENTVOLUMECLAIMS, claim, namespace=ns)
        except ApiError as e:
            if e.code == 404:
                raise VolumeError(f'persistentvolumeclaim "{claim}" not found') from None
            raise
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name or (pvc.get("status") or {}).get("phase") != "Bound":
            raise VolumeError(f'persistentvolumeclaim "{claim}" is not bound')
        pv = await self.client.get(PERSISTENTVOLUMES, pv_name)
        spec = pv.get("spec") or {}
        if spec.get("hostPath"):
            return await asyncio.to_thread(hostpath.check, spec["hostPath"].get("path", ""),
                                           spec["hostPath"].get("type") or "DirectoryOrCreate")
        if spec.get("local"):
            return await asyncio.to_thread(hostpath.check, spec["local"].get("path", ""), "Directory")
        raise VolumeError(f'persistentvolume "{pv_name}" has no hostPath or local source this node can mount')

    async def _tokens_for(self, pod: Obj, uid: str, ns: str, vol_name: str, src: Obj) -> dict[int, str]:
        """A bound token per serviceAccountToken source, requested through TokenRequest and
        renewed once 80% of its lifetime passed (kubelet's token manager)."""
        out: dict[int, str] = {}
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        sa = spec.get("serviceAccountName") or "default"
        for i, s in enumerate(src.get("sources") or ()):
            t = s.get("serviceAccountToken")
            if t is None:
                continue
            key = (uid, vol_name, i)
            cached = self._tokens.get(key)
            now = time.time()
            if cached is None or now >= cached.refresh_at:
                seconds = int(t.get("expirationSeconds") or 3600)
                body: dict[str, Any] = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                        "spec": {"expirationSeconds": seconds,
                                                 "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                                                    "name": meta.get("name"), "uid": uid}}}
                if t.get("audience"):
                    body["spec"]["audiences"] = [t["audience"]]
                reply = await self._token_request(ns, sa, body)
                token = (reply.get("status") or {}).get("token", "")
                granted = int((reply.get("spec") or {}).get("expirationSeconds") or seconds)
                cached = self._tokens[key] = _Token(token, now + 0.8 * granted)
            out[i] = cached.token
        return out

    async def _token_request(self, ns: str, sa: str, body: Obj) -> dict[str, Any]:
        return await self.client.request("POST", SERVICEACCOUNTS.item(ns, sa, "token"), body=body)  # type: ignore[no-any-return]

    def next_refresh(self, uid: str) -> float | None:
        """When the pod's earliest token wants renewing (unix seconds), or None."""
        times = [t.refresh_at for (u, _, _), t in self._tokens.items() if u == uid]
        return min(times) if times else None

    async def teardown(self, uid: str) -> None:
        for key in [k for k in self._tokens if k[0] == uid]:
            del self._tokens[key]
        root = self.pod_dir(uid)

        def remove() -> None:
            ed = root / "volumes" / PLUGIN_DIRS["emptyDir"]
            if ed.is_dir():
                for p in ed.iterdir():
                    emptydir.teardown(p)
            shutil.rmtree(root, ignore_errors=True)

        await asyncio.to_thread(remove)
