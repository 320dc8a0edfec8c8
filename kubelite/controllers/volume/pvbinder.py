"""The persistent volume binder: binds PersistentVolumeClaims to PersistentVolumes, provisions
``local-path`` volumes, and reclaims released ones (kube-controller-manager's
``persistentvolume-binder`` plus k3s' local-path provisioner, in one controller).

Work items are ``claim:<ns>/<name>``, ``volume:<name>`` and ``class:default``.

A **claim** without a class gets the default StorageClass (Kubernetes' retroactive default
class assignment). An unbound claim is bound to the best matching volume
(``find_matching_volume``: a volume pre-bound to it wins, else the smallest Available volume
of the same class and volume mode whose access modes cover the claim's, whose labels match
the claim's selector and whose capacity suffices). With none, a class whose provisioner is
``rancher.io/local-path`` provisions one: at once for ``Immediate`` classes; for
``WaitForFirstConsumer`` classes once a node is chosen -- the claim's
``volume.kubernetes.io/selected-node`` annotation, or the ``spec.nodeName`` of a pod using the
claim. Other provisioners are left to their external controllers.

**Binding** is four writes, in Kubernetes' order: PV ``spec.claimRef`` (annotated
``pv.kubernetes.io/bound-by-controller`` when the binder chose it), PV phase Bound, PVC
``spec.volumeName`` with ``pv.kubernetes.io/bind-completed``, PVC status (phase Bound, the
volume's access modes and capacity). A **volume** whose claim is gone (checked live, by uid)
becomes Released and, with reclaim policy Delete, is deleted; Retain keeps it Released.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from kubelite.api.helpers.nodeaffinity import NodeSelector
from kubelite.client import (NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, STORAGECLASSES, ApiError,
                             copy_object, is_already_exists, is_not_found, object_key)
from kubelite.controllers.base import Controller
from kubelite.controllers.volume import localpath
from kubelite.machinery.quantity import parse_quantity
from kubelite.machinery.selectors import from_label_selector

log = logging.getLogger(__name__)
Obj = dict[str, Any]

CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
CLASS_KEY = "class:default"


# -- pure helpers -----------------------------------------------------------------------------

def claim_class(claim: Mapping[str, Any]) -> str | None:
    """The claim's class: the beta annotation, else spec.storageClassName; None when neither is
    set (the claim wants the default class), "" for an explicit "no class"."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if CLASS_ANNOTATION in annotations:
        return str(annotations[CLASS_ANNOTATION])
    value = (claim.get("spec") or {}).get("storageClassName")
    return None if value is None else str(value)


def volume_class(pv: Mapping[str, Any]) -> str:
    annotations = (pv.get("metadata") or {}).get("annotations") or {}
    if CLASS_ANNOTATION in annotations:
        return str(annotations[CLASS_ANNOTATION])
    return str((pv.get("spec") or {}).get("storageClassName") or "")


def is_default_class(sc: Mapping[str, Any]) -> bool:
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


def default_class(classes: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The default class; with several, the newest (then by name), as Kubernetes picks."""
    defaults = [c for c in classes if is_default_class(c)]
    if not defaults:
        return None
    defaults.sort(key=lambda c: ((c.get("metadata") or {}).get("creationTimestamp") or "",
                                 (c.get("metadata") or {}).get("name") or ""), reverse=True)
    return defaults[0]


def is_volume_bound_to_claim(pv: Mapping[str, Any], claim: Mapping[str, Any]) -> bool:
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = claim.get("metadata") or {}
    if ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def node_affinity_allows(pv: Mapping[str, Any], node_name: str, node_labels: Mapping[str, str]) -> bool:
    """Whether the PV's required node affinity admits the node (no affinity admits all)."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not isinstance(required, Mapping):
        return True
    return NodeSelector(required).matches(node_labels, node_name)


def _storage(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for p in path:
        cur = (cur or {}).get(p)
    return parse_quantity(cur if cur is not None else "0")


def find_matching_volume(claim: Mapping[str, Any], volumes: Iterable[Mapping[str, Any]], *,
                         node: str | None = None, node_labels: Mapping[str, str] | None = None,
                         delay_binding: bool = False) -> Mapping[str, Any] | None:
    """The volume to bind ``claim`` to (Kubernetes' FindMatchingVolume). A volume pre-bound to
    the claim is returned as soon as it is seen (unless it cannot reach ``node``). Otherwise,
    among Available, unclaimed, not-deleting volumes whose access modes include all of the
    claim's, with the same class and volume mode, labels matching the claim's selector,
    reachable from ``node`` and at least as large as the request: the smallest. With
    ``delay_binding`` and no node yet, only pre-bound volumes match."""
    spec = claim.get("spec") or {}
    wanted_modes = set(spec.get("accessModes") or ())
    requested = _storage(spec, "resources", "requests", "storage")
    cls = claim_class(claim) or ""
    selector = from_label_selector(spec["selector"]) if spec.get("selector") else None
    mode = spec.get("volumeMode") or "Filesystem"
    labels = dict(node_labels or {})
    if node:
        labels.setdefault(localpath.HOSTNAME_LABEL, node)
    best: Mapping[str, Any] | None = None
    best_size = None
    for pv in volumes:
        pspec = pv.get("spec") or {}
        if not wanted_modes <= set(pspec.get("accessModes") or ()):
            continue
        if (pspec.get("volumeMode") or "Filesystem") != mode:
            continue
        if (pv.get("metadata") or {}).get("deletionTimestamp"):
            continue
        reachable = node is None or node_affinity_allows(pv, node, labels)
        if is_volume_bound_to_claim(pv, claim):
            return pv if reachable else None
        if node is None and delay_binding:
            continue
        if (pv.get("status") or {}).get("phase") != "Available" or pspec.get("claimRef"):
            continue
        if selector is not None and not selector.matches((pv.get("metadata") or {}).get("labels") or {}):
            continue
        if volume_class(pv) != cls or not reachable:
            continue
        size = _storage(pspec, "capacity", "storage")
        if size >= requested and (best_size is None or size < best_size):
            best, best_size = pv, size
    return best


def pod_claim_names(pod: Mapping[str, Any]) -> list[str]:
    """``ns/claim`` for every claim the pod mounts (generic ephemeral volumes included: their
    claim is named ``<pod>-<volume>``)."""
    meta = pod.get("metadata") or {}
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    out = []
    for v in (pod.get("spec") or {}).get("volumes") or ():
        if (v.get("persistentVolumeClaim") or {}).get("claimName"):
            out.append(f"{ns}/{v['persistentVolumeClaim']['claimName']}")
        elif v.get("ephemeral"):
            out.append(f"{ns}/{name}-{v.get('name', '')}")
    return out


# -- the controller ---------------------------------------------------------------------------

class PersistentVolumeBinder(Controller):
    name = "persistentvolume-binder"
    workers = 2

    def setup(self) -> None:
        f = self.ctx.factory
        self.claims = f.informer(PERSISTENTVOLUMECLAIMS)
        self.volumes = f.informer(PERSISTENTVOLUMES)
        self.classes = f.informer(STORAGECLASSES)
        self.pods = f.informer(PODS)
        self.nodes = f.informer(NODES)
        try:
            self.pods.add_index("pvbinder:claims", pod_claim_names)
        except ValueError:
            pass
        self.base_dir = localpath.base_dir(self.ctx.options)
        self.install_default_class = self.ctx.options.get("local_path_default_class", True)
        self.claims.add_handler(on_add=self._claim_event, on_update=lambda o, n: self._claim_event(n),
                                on_delete=self._claim_deleted)
        self.volumes.add_handler(on_add=self._volume_event, on_update=lambda o, n: self._volume_event(n),
                                 on_delete=self._volume_deleted)
        self.classes.add_handler(on_add=self._class_event, on_update=lambda o, n: self._class_event(n),
                                 on_delete=self._class_event)
        self.pods.add_handler(on_add=self._pod_event, on_update=lambda o, n: self._pod_event(n))
        if self.install_default_class:
            self.queue.add(CLASS_KEY)

    # -- event routing ----------------------------------------------------------------------

    def _claim_event(self, claim: Obj) -> None:
        self.queue.add("claim:" + object_key(claim))

    def _claim_deleted(self, claim: Obj) -> None:
        self.queue.add("claim:" + object_key(claim))
        vol = (claim.get("spec") or {}).get("volumeName")
        if vol:
            self.queue.add("volume:" + vol)
        else:  # a volume pre-bound to it by the provisioner
            name = localpath.pv_name_for(claim)
            if self.volumes.get(name) is not None:
                self.queue.add("volume:" + name)

    def _volume_event(self, pv: Obj) -> None:
        self.queue.add("volume:" + object_key(pv))
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref and ref.get("namespace") and ref.get("name"):
            self.queue.add(f"claim:{ref['namespace']}/{ref['name']}")

    def _volume_deleted(self, pv: Obj) -> None:
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref and ref.get("namespace") and ref.get("name"):
            self.queue.add(f"claim:{ref['namespace']}/{ref['name']}")

    def _class_event(self, sc: Obj) -> None:
        for claim in self.claims.list():
            if not (claim.get("spec") or {}).get("volumeName"):
                self._claim_event(claim)

    def _pod_event(self, pod: Obj) -> None:
        if not (pod.get("spec") or {}).get("nodeName"):
            return
        for key in pod_claim_names(pod):
            claim = self.claims.get(key)
            if claim is not None and not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add("claim:" + key)

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            await self.sync_claim(rest)
        elif kind == "volume":
            await self.sync_volume(rest)
        elif key == CLASS_KEY:
            await self.ensure_default_class()

    # -- the default class ------------------------------------------------------------------

    async def ensure_default_class(self) -> None:
        if self.classes.get(localpath.DEFAULT_CLASS_NAME) is not None:
            return
        try:
            await self.client.create(STORAGECLASSES, localpath.default_storage_class())
            log.info("created the default StorageClass %s", localpath.DEFAULT_CLASS_NAME)
        except ApiError as e:
            if not is_already_exists(e):
                raise

    # -- claims -----------------------------------------------------------------------------

    async def sync_claim(self, key: str) -> None:
        claim = self.claims.get(key)
        if claim is None or (claim.get("metadata") or {}).get("deletionTimestamp"):
            return
        meta, spec = claim.get("metadata") or {}, claim.get("spec") or {}
        annotations = meta.get("annotations") or {}
        if claim_class(claim) is None and not spec.get("volumeName"):
            dflt = default_class(self.classes.list())
            if dflt is not None:
                await self._assign_class(claim, dflt["metadata"]["name"])
                return  # the update event brings it back
        bound_before = annotations.get(BIND_COMPLETED) == "yes"
        volume_name = spec.get("volumeName")
        if not volume_name:
            if bound_before:
                await self._claim_phase(claim, "Lost", "ClaimLost", "Bound claim has lost reference to "
                                                                  "PersistentVolume. Data on the volume is lost!")
                return
            await self._bind_or_provision(claim)
            return
        pv = self.volumes.get(volume_name)
        if pv is None:
            if bound_before:
                await self._claim_phase(claim, "Lost", "ClaimLost", "Bound claim has lost its PersistentVolume. "
                                                                  "Data on the volume is lost!")
            else:
                await self._claim_phase(claim, "Pending", "FailedBinding",
                                        f'volume "{volume_name}" requested by claim not found')
            return
        if not (pv.get("spec") or {}).get("claimRef") or is_volume_bound_to_claim(pv, claim):
            await self.bind(pv, claim)
            return
        if bound_before:
            await self._claim_phase(claim, "Lost", "ClaimMisbound",
                                    "Two claims are bound to the same volume, this one is bound incorrectly")
        else:
            await self._claim_phase(claim, "Pending", "FailedBinding",
                                    f'volume "{volume_name}" already bound to a different claim.')

    async def _assign_class(self, claim: Obj, cls: str) -> None:
        new = copy_object(claim)
        new["spec"]["storageClassName"] = cls
        try:
            await self.client.update(PERSISTENTVOLUMECLAIMS, new)
            return
        except ApiError as e:
            if e.code != 422:
                raise
        # An API server that keeps the claim's spec immutable: the (still honoured) beta
        # annotation carries the class instead.
        new = copy_object(claim)
        new["metadata"].setdefault("annotations", {})[CLASS_ANNOTATION] = cls
        await self.client.update(PERSISTENTVOLUMECLAIMS, new)

    def _selected_node(self, claim: Obj) -> str | None:
        node = ((claim.get("metadata") or {}).get("annotations") or {}).get(SELECTED_NODE)
        if node:
            return str(node)
        key = object_key(claim)
        for pod in sorted(self.pods.by_index("pvbinder:claims", key),
                          key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or ""):
            if (pod.get("spec") or {}).get("nodeName") and not (pod.get("metadata") or {}).get("deletionTimestamp"):
                return str(pod["spec"]["nodeName"])
        return None

    async def _bind_or_provision(self, claim: Obj) -> None:
        cls_name = claim_class(claim) or ""
        sc = self.classes.get(cls_name) if cls_name else None
        delay = bool(sc and sc.get("volumeBindingMode") == "WaitForFirstConsumer")
        node = self._selected_node(claim) if delay else None
        node_obj = self.nodes.get(node) if node else None
        labels = ((node_obj or {}).get("metadata") or {}).get("labels") or {}
        pv = find_matching_volume(claim, self.volumes.list(), node=node, node_labels=labels, delay_binding=delay)
        if pv is not None:
            await self.bind(dict(pv), claim)
            return
        if not cls_name:
            await self._claim_phase(claim, "Pending", "FailedBinding",
                                    "no persistent volumes available for this claim and no storage class is set")
            return
        if sc is None:
            await self._claim_phase(claim, "Pending", "ProvisioningFailed",
                                    f'storageclass.storage.k8s.io "{cls_name}" not found')
            return
        if delay and node is None:
            await self._claim_phase(claim, "Pending", "WaitForFirstConsumer",
                                    "waiting for first consumer to be created before binding")
            return
        provisioner = str(sc.get("provisioner") or "")
        if provisioner != localpath.PROVISIONER:
            await self._annotate_provisioner(claim, provisioner, None)
            await self._claim_phase(claim, "Pending", "ExternalProvisioning",
                                    f"Waiting for a volume to be created either by the external provisioner "
                                    f"'{provisioner}' or manually by the system administrator. If volume creation "
                                    f"is delayed, please verify that the provisioner is running and correctly "
                                    f"registered.")
            return
        await self.provision(claim, sc, node)

    async def _annotate_provisioner(self, claim: Obj, provisioner: str, node: str | None) -> Obj:
        annotations = (claim.get("metadata") or {}).get("annotations") or {}
        want = {STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner}
        if node:
            want[SELECTED_NODE] = node
        if all(annotations.get(k) == v for k, v in want.items()):
            return claim
        new = copy_object(claim)
        new["metadata"].setdefault("annotations", {}).update(want)
        return await self.client.update(PERSISTENTVOLUMECLAIMS, new)

    async def provision(self, claim: Obj, sc: Mapping[str, Any], node: str | None) -> None:
        """Create the local-path PV for ``claim`` (pre-bound to it); binding follows on its
        add event."""
        name = localpath.pv_name_for(claim)
        if self.volumes.get(name) is not None:
            return
        bad = localpath.unsupported_access_modes(claim)
        if bad:
            await self._claim_phase(claim, "Pending", "ProvisioningFailed",
                                    f"failed to provision volume with StorageClass "
                                    f"\"{sc['metadata']['name']}\": Only support ReadWriteOnce and "
                                    f"ReadWriteOncePod access modes (got {', '.join(bad)})")
            return
        if node is None:
            # An Immediate class: the volume lives on one node all the same -- the first
            # schedulable one, as k3s' single-node default does.
            node = self._any_node()
            if node is None:
                await self._claim_phase(claim, "Pending", "ProvisioningFailed",
                                        "failed to provision volume: no node to place it on")
                return
        claim = await self._annotate_provisioner(claim, str(sc.get("provisioner")), node)
        pv = localpath.build_pv(claim, sc, node, self.base_dir)
        try:
            await self.client.create(PERSISTENTVOLUMES, pv)
        except ApiError as e:
            if not is_already_exists(e):
                raise
            return
        self.recorder.event(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}")

    def _any_node(self) -> str | None:
        names = sorted(n["metadata"]["name"] for n in self.nodes.list()
                       if not (n.get("spec") or {}).get("unschedulable"))
        return names[0] if names else None

    async def bind(self, pv: Obj, claim: Obj) -> None:
        """Bind both ways; each step is skipped when already done, so a retry resumes."""
        pv_spec = pv.get("spec") or {}
        cmeta = claim["metadata"]
        if not is_volume_bound_to_claim(pv, claim) or not (pv_spec.get("claimRef") or {}).get("uid"):
            new = copy_object(pv)
            if not pv_spec.get("claimRef"):
                new["metadata"].setdefault("annotations", {})[BOUND_BY_CONTROLLER] = "yes"
            new["spec"]["claimRef"] = localpath.claim_ref(claim)
            pv = await self.client.update(PERSISTENTVOLUMES, new)
        if (pv.get("status") or {}).get("phase") != "Bound":
            new = copy_object(pv)
            new.setdefault("status", {})["phase"] = "Bound"
            new["status"].pop("reason", None)
            new["status"].pop("message", None)
            pv = await self.client.update_status(PERSISTENTVOLUMES, new)
        annotations = cmeta.get("annotations") or {}
        if claim["spec"].get("volumeName") != pv["metadata"]["name"] or annotations.get(BIND_COMPLETED) != "yes":
            new = copy_object(claim)
            ann = new["metadata"].setdefault("annotations", {})
            if not claim["spec"].get("volumeName"):
                ann[BOUND_BY_CONTROLLER] = "yes"
            ann[BIND_COMPLETED] = "yes"
            new["spec"]["volumeName"] = pv["metadata"]["name"]
            claim = await self.client.update(PERSISTENTVOLUMECLAIMS, new)
        status = claim.get("status") or {}
        want = {"phase": "Bound", "accessModes": list(pv["spec"].get("accessModes") or []),
                "capacity": dict(pv["spec"].get("capacity") or {})}
        if any(status.get(k) != v for k, v in want.items()):
            new = copy_object(claim)
            new.setdefault("status", {}).update(want)
            await self.client.update_status(PERSISTENTVOLUMECLAIMS, new)
            log.info("bound claim %s to volume %s", object_key(claim), pv["metadata"]["name"])

    async def _claim_phase(self, claim: Obj, phase: str, reason: str, message: str) -> None:
        etype = "Normal" if reason in ("WaitForFirstConsumer", "ExternalProvisioning") else "Warning"
        self.recorder.event(claim, etype, reason, message)
        if (claim.get("status") or {}).get("phase") == phase:
            return
        new = copy_object(claim)
        new.setdefault("status", {})["phase"] = phase
        await self.client.update_status(PERSISTENTVOLUMECLAIMS, new)

    # -- volumes ----------------------------------------------------------------------------

    async def sync_volume(self, name: str) -> None:
        pv = self.volumes.get(name)
        if pv is None or (pv.get("metadata") or {}).get("deletionTimestamp"):
            return
        spec, phase = pv.get("spec") or {}, (pv.get("status") or {}).get("phase")
        ref = spec.get("claimRef")
        if not ref:
            if phase != "Available":
                await self._volume_phase(pv, "Available")
            return
        claim = await self._claim_for(ref)
        if claim is None:
            if not ref.get("uid"):
                # Pre-bound by name to a claim that does not exist yet: wait for it.
                if phase != "Available":
                    await self._volume_phase(pv, "Available")
                return
            await self.reclaim(pv)
            return
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name:
            self.queue.add("claim:" + object_key(claim))  # the claim side binds it
            if phase not in ("Available", "Bound"):
                await self._volume_phase(pv, "Available")
        elif volume_name == name:
            if phase != "Bound":
                await self._volume_phase(pv, "Bound")
        elif ((pv.get("metadata") or {}).get("annotations") or {}).get(BOUND_BY_CONTROLLER) == "yes":
            # We bound it, but the claim went to another volume: release our side.
            new = copy_object(pv)
            new["spec"].pop("claimRef", None)
            new["metadata"]["annotations"].pop(BOUND_BY_CONTROLLER, None)
            pv = await self.client.update(PERSISTENTVOLUMES, new)
            await self._volume_phase(pv, "Available")

    async def _claim_for(self, ref: Mapping[str, Any]) -> Obj | None:
        """The claim a claimRef names (same uid if it has one): cache first, then the server,
        since a volume must never be released because of a lagging cache."""
        key = f"{ref.get('namespace', '')}/{ref.get('name', '')}"
        claim = self.claims.get(key)
        if claim is None:
            try:
                claim = await self.client.get(PERSISTENTVOLUMECLAIMS, ref.get("name", ""),
                                              namespace=ref.get("namespace", ""))
            except ApiError as e:
                if not is_not_found(e):
                    raise
                return None
        if ref.get("uid") and (claim.get("metadata") or {}).get("uid") != ref["uid"]:
            return None
        return claim

    async def reclaim(self, pv: Obj) -> None:
        """The claim is gone: Released, then Delete removes the volume, Retain keeps it."""
        name = pv["metadata"]["name"]
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if (pv.get("status") or {}).get("phase") not in ("Released", "Failed"):
            pv = await self._volume_phase(pv, "Released")
        if policy == "Delete":
            try:
                await self.client.delete(PERSISTENTVOLUMES, name, preconditions={"uid": pv["metadata"]["uid"]})
            except ApiError as e:
                if not is_not_found(e):
                    raise
                return
            log.info("deleted released volume %s", name)
        elif policy == "Recycle" and (pv.get("status") or {}).get("phase") != "Failed":
            new = copy_object(pv)
            new["status"].update(phase="Failed", reason="VolumeFailedRecycle",
                                 message="Recycle is not supported; use Delete or Retain")
            await self.client.update_status(PERSISTENTVOLUMES, new)

    async def _volume_phase(self, pv: Obj, phase: str) -> Obj:
        new = copy_object(pv)
        status = new.setdefault("status", {})
        status["phase"] = phase
        status.pop("reason", None)
        status.pop("message", None)
        return await self.client.update_status(PERSISTENTVOLUMES, new)


__all__ = ["PersistentVolumeBinder", "find_matching_volume", "claim_class", "volume_class", "default_class",
           "node_affinity_allows", "is_volume_bound_to_claim", "pod_claim_names"]
