"""The pod workers: one level-triggered ``sync(key)`` that drives a pod bound to this node to
what its spec and deletion say, through the runtime, and reports its status.

Called by ``Kubelet`` (kubelet.py) from its work queue; the queue guarantees one sync per pod at
a time. Everything that happens *between* syncs -- a container exiting, a probe flipping, a
back-off or deadline expiring, a termination finishing -- only enqueues the pod key again
(container waiters, probe loops and ``add_after`` timers), so the sync itself decides
everything from what it reads: the pod from the informer, the containers from the runtime.

One sync of a live pod, in order (as the kubelet's SyncPod):
 1. admission (once): fit, node affinity, NoExecute taints -> else phase Failed;
 2. activeDeadlineSeconds -> kill, phase Failed, reason DeadlineExceeded;
 3. volumes (FailedMount on error), the sandbox (FailedCreatePodSandBox on error);
 4. ephemeral containers (kubectl debug) not started yet, started once and never restarted,
    before the init containers (as the kubelet does, so a pod stuck initializing can be
    debugged); init containers one at a time in order; sidecars (restartPolicy Always) started in order
    and kept running; then every regular container;
 5. exited containers restarted per restartPolicy with crash-loop back-off; a failed liveness
    or startup probe kills the container (it then restarts the same way);
 6. the status (phase, conditions, container statuses) written only when it changed.

Deletion (deletionTimestamp set) runs ``_terminate`` in its own task: preStop hooks, SIGTERM,
the grace period, SIGKILL -- regular containers first, then sidecars in reverse order -- then
the final status (containers terminated, not Ready, phase Succeeded/Failed) and the delete with
grace 0 that removes the object, as the kubelet does.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from kubelite.api.helpers.times import format_unix_time
from kubelite.client import NORMAL, PODS, WARNING, ApiError, object_key
from kubelite.kubelet import prober
from kubelite.kubelet.pods import envvars
from kubelite.kubelet.pods.admission import admit, pod_requests
from kubelite.kubelet.pods.backoff import CrashBackoff, backoff_message
from kubelite.kubelet.pods.runtimeconfig import hosts_file, pod_resources, resources_of, security_of
from kubelite.kubelet.pods.status import (Attempt, ContainerView, PodFacts, any_regular_started, init_done,
                                          pod_status)
from kubelite.kubelet.runtime.interface import (ContainerConfig, ContainerState, ContainerStatus, Mount,
                                                PodSandboxConfig, RuntimeError_, SandboxState)
from kubelite.kubelet.volumes import VolumeError

if TYPE_CHECKING:
    from kubelite.kubelet.kubelet import Kubelet

log = logging.getLogger("kubelite.kubelet")

Obj = dict[str, Any]
MIN_KILL_GRACE = 2.0          # kubelet's minimumGracePeriodInSeconds for a container kill
RESYNC = 10.0                 # periodic re-sync of a running pod (config volumes, tokens, deadline)


@dataclass
class PodRecord:
    """What the kubelet keeps of one pod between syncs."""

    key: str
    uid: str
    namespace: str
    name: str
    sandbox_id: str | None = None
    sandbox_ready: bool = False
    admitted: bool = False
    requests: dict[str, int] = field(default_factory=dict)
    start_time: str = ""
    views: dict[str, ContainerView] = field(default_factory=dict)
    cids: dict[str, str] = field(default_factory=dict)          # container name -> runtime id (current)
    prev_cids: dict[str, str] = field(default_factory=dict)
    log_paths: dict[str, tuple[str, str]] = field(default_factory=dict)   # name -> (current, previous)
    waiters: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # runtime id -> wait task
    probes: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)
    probe_results: dict[tuple[str, str], bool] = field(default_factory=dict)
    killing: dict[str, asyncio.Task[None]] = field(default_factory=dict)   # name -> kill task
    unhealthy: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (probe kind, runtime id)
    mounts: dict[str, str] = field(default_factory=dict)
    terminating: asyncio.Task[None] | None = None
    terminal: bool = False
    init_failed: bool = False
    forced: tuple[str, str, str] | None = None                  # (phase, reason, message)
    last_written: Obj | None = None
    grace: int = 30
    tty: dict[str, tuple[bool, bool]] = field(default_factory=dict)

    def tasks(self) -> list[asyncio.Task[Any]]:
        out: list[asyncio.Task[Any]] = [*self.waiters.values(), *self.probes.values(), *self.killing.values()]
        if self.terminating is not None:
            out.append(self.terminating)
        return out


class PodWorkers:
    """The per-pod state machine; ``kubelet`` gives it the runtime, client, recorder, caches."""

    def __init__(self, kubelet: "Kubelet") -> None:
        self.k = kubelet
        self.records: dict[str, PodRecord] = {}
        self.backoff = CrashBackoff()

    # -- helpers ----------------------------------------------------------------------------

    @property
    def runtime(self) -> Any:
        return self.k.runtime

    def _event(self, pod: Mapping[str, Any], type_: str, reason: str, message: str, container: str | None = None,
               init: bool = False) -> None:
        field_path = None
        if container is not None:
            section = "initContainers" if init else "containers"
            if not init and any(e.get("name") == container
                                for e in (pod.get("spec") or {}).get("ephemeralContainers") or ()):
                section = "ephemeralContainers"
            field_path = f"spec.{section}{{{container}}}"
        self.k.recorder.event(pod, type_, reason, message, field_path=field_path)

    def _cid(self, runtime_id: str) -> str:
        return f"{self.runtime.name}://{runtime_id}"

    def _enqueue_later(self, key: str, delay: float) -> None:
        self.k.queue.add_after(key, max(0.05, delay))

    def active_usage(self) -> tuple[dict[str, int], int]:
        used: dict[str, int] = {}
        n = 0
        for rec in self.records.values():
            if rec.admitted and not rec.terminal:
                n += 1
                for k, v in rec.requests.items():
                    used[k] = used.get(k, 0) + v
        return used, n

    # -- the sync ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        pod = self.k.pod_informer.get(key)
        rec = self.records.get(key)
        uid = (pod.get("metadata") or {}).get("uid") if pod is not None else None
        if rec is not None and rec.uid != uid:
            # Gone from the API (or replaced by a namesake): kill what still runs, clean up.
            if rec.terminating is None or rec.terminating.done():
                rec.terminating = asyncio.create_task(self._cleanup(rec), name=f"kubelet-cleanup:{key}")
            if pod is None:
                return
            self._enqueue_later(key, 0.5)
            return
        if pod is None:
            return
        if (pod.get("spec") or {}).get("nodeName") != self.k.node_name:
            return
        if rec is None:
            meta = pod["metadata"]
            rec = self.records[key] = PodRecord(key, uid or "", meta.get("namespace", ""), meta.get("name", ""))
        tgp = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        rec.grace = 30 if tgp is None else max(0, int(tgp))
        if rec.terminating is not None:
            return  # termination in progress; it re-enqueues when done
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            rec.terminating = asyncio.create_task(self._terminate(rec, pod), name=f"kubelet-terminate:{key}")
            return
        phase = (pod.get("status") or {}).get("phase")
        if rec.terminal or (phase in ("Succeeded", "Failed") and not rec.admitted and not rec.sandbox_id):
            rec.terminal = True
            return
        if not rec.admitted:
            if phase in ("Succeeded", "Failed"):
                rec.terminal = True
                return
            used, n = self.active_usage()
            rejection = admit(pod, self.k.node_object(), used, n)
            if rejection is not None and not rec.sandbox_id:
                await self._reject(rec, pod, *rejection)
                return
            rec.admitted = True
            rec.requests = pod_requests(pod)
        await self._sync_running(rec, pod)

    async def _reject(self, rec: PodRecord, pod: Obj, reason: str, message: str) -> None:
        self._event(pod, WARNING, reason, message)
        status: Obj = {"phase": "Failed", "reason": reason, "message": message,
                       "hostIP": self.k.node_ip, "hostIPs": [{"ip": self.k.node_ip}],
                       "startTime": (pod.get("status") or {}).get("startTime") or self.k.now()}
        rec.terminal = True
        await self._write(rec, pod, status)

    async def _sync_running(self, rec: PodRecord, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        now = time.time()
        if not rec.start_time:
            rec.start_time = (pod.get("status") or {}).get("startTime") or self.k.now()
        self._ensure_views(rec, spec)
        await self._refresh(rec)
        # activeDeadlineSeconds
        ads = spec.get("activeDeadlineSeconds")
        if ads and rec.forced is None:
            from kubelite.api.helpers.times import try_parse_time
            start = try_parse_time(rec.start_time)  # always ours or validated; never crash the sync on it
            started = start.timestamp() if start is not None else now
            left = started + int(ads) - now
            if left <= 0:
                msg = "Pod was active on the node longer than the specified deadline"
                self._event(pod, NORMAL, "DeadlineExceeded", msg)
                rec.forced = ("Failed", "DeadlineExceeded", msg)
            else:
                self._enqueue_later(rec.key, left)
        if rec.forced is not None:
            await self._kill_all(rec, pod, rec.grace)
            await self._refresh(rec)
            rec.terminal = True
            await self._write_status(rec, pod)
            await self._stop_sandbox(rec)
            return
        # volumes, then the sandbox
        try:
            rec.mounts = await self.k.volumes.setup(pod, host_ip=self.k.node_ip, pod_ip=self.k.node_ip,
                                                    allocatable=self.k.allocatable())
        except VolumeError as e:
            self._event(pod, WARNING, "FailedMount", str(e))
            await self._write_status(rec, pod)
            self._enqueue_later(rec.key, 2.0)
            return
        if not await self._ensure_sandbox(rec, pod):
            return
        evicted = await self.k.volumes.over_limit(pod)
        if evicted is not None:
            self._event(pod, WARNING, "Evicted", evicted)
            rec.forced = ("Failed", "Evicted", evicted)
            await self._kill_all(rec, pod, rec.grace)
            await self._refresh(rec)
            rec.terminal = True
            await self._write_status(rec, pod)
            await self._stop_sandbox(rec)
            return
        # ephemeral containers: started once in the running sandbox; restartPolicy does not apply
        for c in spec.get("ephemeralContainers") or ():
            await self._step(rec, pod, c, rec.views[c["name"]], "Never", init=False)
        # init containers, sidecars, then the regular containers
        policy = spec.get("restartPolicy") or "Always"
        ready_for_main = True
        initialized = any_regular_started([rec.views[c["name"]] for c in spec.get("containers") or ()])
        for c in spec.get("initContainers") or ():
            v = rec.views[c["name"]]
            if v.sidecar:
                await self._step(rec, pod, c, v, "Always", init=True)
                if not initialized and not (v.current is not None and v.current.running and v.started):
                    ready_for_main = False
                    break
                continue
            if initialized or init_done(v):
                continue
            ready_for_main = False
            cur = v.current
            if cur is not None and not cur.running and cur.exit_code != 0 and policy == "Never" and not v.waiting_reason:
                rec.init_failed = True
            else:
                await self._step(rec, pod, c, v, "OnFailure", init=True)
            break
        if ready_for_main and not rec.init_failed:
            for c in spec.get("containers") or ():
                await self._step(rec, pod, c, rec.views[c["name"]], policy, init=False)
        status = self._status(rec, pod)
        if status["phase"] in ("Succeeded", "Failed"):
            rec.terminal = True
            await self._kill_all(rec, pod, rec.grace)   # sidecars of a finished pod
            await self._refresh(rec)
            status = self._status(rec, pod)
            await self._write(rec, pod, status)
            await self._stop_sandbox(rec)
            return
        await self._write(rec, pod, status)
        nxt = self.k.volumes.next_refresh(rec.uid)
        resync = self.k.resync
        self._enqueue_later(rec.key, min(resync, nxt - now) if nxt else resync)

    def _ensure_views(self, rec: PodRecord, spec: Mapping[str, Any]) -> None:
        for c in spec.get("initContainers") or ():
            if c["name"] not in rec.views:
                rec.views[c["name"]] = ContainerView(c["name"], c.get("image", ""),
                                                     sidecar=c.get("restartPolicy") == "Always")
            rec.tty[c["name"]] = (bool(c.get("tty")), bool(c.get("stdin")))
        for c in spec.get("containers") or ():
            if c["name"] not in rec.views:
                rec.views[c["name"]] = ContainerView(c["name"], c.get("image", ""))
            rec.tty[c["name"]] = (bool(c.get("tty")), bool(c.get("stdin")))
        for c in spec.get("ephemeralContainers") or ():
            if c["name"] not in rec.views:
                rec.views[c["name"]] = ContainerView(c["name"], c.get("image", ""), ephemeral=True)
            rec.tty[c["name"]] = (bool(c.get("tty")), bool(c.get("stdin")))
        self._ensure_views_flags(rec)

    async def _refresh(self, rec: PodRecord) -> None:
        """Read every current container's state from the runtime."""
        for name, rid in list(rec.cids.items()):
            v = rec.views.get(name)
            if v is None or v.current is None:
                continue
            try:
                st = await self.runtime.container_status(rid)
            except RuntimeError_:
                if v.current.running:
                    v.current.running = False
                    v.current.exit_code = 137
                    v.current.reason = "ContainerStatusUnknown"
                    v.current.message = "The container could not be located when the pod was terminated"
                    v.current.finished_at = time.time()
                continue
            self._apply(v.current, st)
            if not v.current.running:
                self._stop_probes(rec, name)
        self._ensure_views_flags(rec)

    def _ensure_views_flags(self, rec: PodRecord) -> None:
        for v in rec.views.values():
            running = v.current is not None and v.current.running
            has_startup = (v.name, "startup") in rec.probe_results
            has_ready = (v.name, "readiness") in rec.probe_results
            v.started = running and (rec.probe_results[(v.name, "startup")] if has_startup else True)
            v.ready = v.started and (rec.probe_results[(v.name, "readiness")] if has_ready else True)

    @staticmethod
    def _apply(a: Attempt, st: ContainerStatus) -> None:
        a.running = st.state in (ContainerState.RUNNING, ContainerState.CREATED)
        a.started_at = st.started_at or a.started_at
        a.finished_at = st.finished_at
        a.exit_code = st.exit_code
        a.reason = st.reason
        a.message = st.message

    async def _ensure_sandbox(self, rec: PodRecord, pod: Obj) -> bool:
        if rec.sandbox_id:
            try:
                st = await self.runtime.pod_sandbox_status(rec.sandbox_id)
                rec.sandbox_ready = st.state is SandboxState.READY
                return True
            except RuntimeError_:
                rec.sandbox_id = None
        meta, spec = pod["metadata"], pod.get("spec") or {}
        log_dir = self.k.log_dir(rec)
        cfg = PodSandboxConfig(
            name=rec.name, namespace=rec.namespace, uid=rec.uid, attempt=0,
            hostname=spec.get("hostname") or rec.name, log_directory=str(log_dir),
            hosts_file=hosts_file(pod, self.k.node_ip), host_network=True,
            host_pid=bool(spec.get("hostPID")), host_ipc=bool(spec.get("hostIPC")),
            labels=dict(meta.get("labels") or {}), annotations=dict(meta.get("annotations") or {}),
            resources=pod_resources(pod), runtime_handler="")
        try:
            await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
            rec.sandbox_id = await self.runtime.run_pod_sandbox(cfg)
            rec.sandbox_ready = True
        except (RuntimeError_, OSError) as e:
            msg = e.message if isinstance(e, RuntimeError_) else str(e)
            self._event(pod, WARNING, "FailedCreatePodSandBox", f"Failed to create pod sandbox: {msg}")
            await self._write_status(rec, pod)
            self._enqueue_later(rec.key, 5.0)
            return False
        return True

    # -- one container ------------------------------------------------------------------------

    async def _step(self, rec: PodRecord, pod: Obj, c: Mapping[str, Any], v: ContainerView, policy: str,
                    *, init: bool) -> None:
        """Bring one container one step toward its goal: start, keep, kill or restart it."""
        name = c["name"]
        cur = v.current
        if name in rec.killing and not rec.killing[name].done():
            return
        if cur is not None and cur.running:
            kind = rec.unhealthy.pop(name, None)
            if kind is not None and rec.cids.get(name) == kind[1]:
                probe = c.get(f"{kind[0]}Probe") or {}
                grace = probe.get("terminationGracePeriodSeconds") or rec.grace
                self._event(pod, NORMAL, "Killing", f"Container {name} failed {kind[0]} probe, will be restarted",
                            name, init)
                rec.killing[name] = asyncio.create_task(
                    self._kill(rec, pod, c, v, float(grace), init=init, announce=False), name=f"kubelet-kill:{name}")
            return
        if cur is None:
            if v.waiting_reason in ("CreateContainerError", "ErrImagePull", "RunContainerError", "ErrImageNeverPull"):
                wait = self.backoff.wait_left(f"{rec.uid}/{name}", v.failed_at, time.time())
                if wait > 0:
                    self._enqueue_later(rec.key, wait)
                    return
            await self._start(rec, pod, c, v, attempt=0, init=init)
            return
        # exited
        restart = policy == "Always" or (policy == "OnFailure" and cur.exit_code != 0)
        v.restarting = restart
        if not restart:
            v.waiting_reason = ""
            return
        bkey = f"{rec.uid}/{name}"
        now = time.time()
        wait = self.backoff.wait_left(bkey, cur.finished_at or now, now)
        if wait > 0:
            window = self.backoff.delay(bkey)
            v.waiting_reason = "CrashLoopBackOff"
            v.waiting_message = backoff_message(window, name, rec.name, rec.namespace, rec.uid)
            self._event(pod, WARNING, "BackOff", f"Back-off restarting failed container {name} in pod "
                                                 f"{rec.name}_{rec.namespace}({rec.uid})", name, init)
            self._enqueue_later(rec.key, wait)
            return
        self.backoff.next(bkey, now)
        await self._start(rec, pod, c, v, attempt=cur.attempt + 1, init=init)

    async def _start(self, rec: PodRecord, pod: Obj, c: Mapping[str, Any], v: ContainerView, *, attempt: int,
                     init: bool) -> None:
        name = c["name"]
        image = c.get("image", "")

        def fail(reason: str, message: str) -> None:
            v.waiting_reason, v.waiting_message = reason, message
            v.failed_at = time.time()
            self._event(pod, WARNING, "Failed", f"Error: {message}", name, init)
            if reason == "CreateContainerConfigError":
                # retried on every sync (a ConfigMap/Secret appearing enqueues the pod), as kubelet
                self._enqueue_later(rec.key, 2.0)
                return
            bkey = f"{rec.uid}/{name}"
            self.backoff.next(bkey, time.time())
            self._enqueue_later(rec.key, self.backoff.delay(bkey))

        # image
        image_id = ""
        try:
            image_id = await self._ensure_image(pod, c, name, init)
        except RuntimeError_ as e:
            fail(e.reason, e.message)
            return
        # environment, command, mounts
        try:
            env = self.k.container_env(pod, c)
            argv = envvars.expand_command(c, env)
            mounts = self._mounts(rec, c)
        except envvars.ConfigError as e:
            fail("CreateContainerConfigError", str(e))
            return
        # targetContainerName: its PID namespace, so the debugger sees the target's processes
        target_id = ""
        target = c.get("targetContainerName") or ""
        if target:
            tv = rec.views.get(target)
            target_id = rec.cids.get(target, "")
            if tv is None or tv.current is None or not target_id:
                fail("CreateContainerConfigError", f"unable to find target container {target}")
                return
            if not tv.current.running:
                fail("CreateContainerConfigError", f"target container {target} is not running")
                return
        log_dir = self.k.log_dir(rec) / name
        log_path = log_dir / f"{attempt}.log"
        await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
        cfg = ContainerConfig(
            name=name, attempt=attempt, image=image, command=tuple(argv), env=tuple(env),
            working_dir=c.get("workingDir") or "", mounts=tuple(mounts), log_path=str(log_path),
            stdin=bool(c.get("stdin")), stdin_once=bool(c.get("stdinOnce")), tty=bool(c.get("tty")),
            resources=resources_of(c), security=security_of(pod, c),
            target_container_id=target_id,
            labels={"io.kubernetes.container.name": name, "io.kubernetes.pod.name": rec.name,
                    "io.kubernetes.pod.namespace": rec.namespace, "io.kubernetes.pod.uid": rec.uid},
            annotations={"io.kubernetes.container.restartCount": str(attempt),
                         "io.kubernetes.pod.terminationGracePeriod": str(rec.grace),
                         **({"io.kubernetes.container.init": "true"} if init else {})})
        if not argv:
            fail("CreateContainerError", f"container {name} has no command: the {self.runtime.name} runtime "
                                         "runs no image entrypoint; set command")
            return
        assert rec.sandbox_id is not None
        try:
            rid = await self.runtime.create_container(rec.sandbox_id, cfg)
        except RuntimeError_ as e:
            fail(e.reason, e.message)
            return
        self._event(pod, NORMAL, "Created", f"Created container: {name}", name, init)
        try:
            await self.runtime.start_container(rid)
        except RuntimeError_ as e:
            fail(e.reason if e.reason != "NotFound" else "RunContainerError", e.message)
            with contextlib.suppress(RuntimeError_):
                await self.runtime.remove_container(rid)
            return
        self._event(pod, NORMAL, "Started", f"Started container {name}", name, init)
        # the previous attempt becomes lastState; older ones are removed (logs --previous keeps one)
        if v.current is not None:
            old_prev = rec.prev_cids.get(name)
            if old_prev:
                with contextlib.suppress(RuntimeError_):
                    await self.runtime.remove_container(old_prev)
            rec.prev_cids[name] = rec.cids[name]
            v.previous = v.current
            prev_log = rec.log_paths.get(name, ("", ""))[0]
        else:
            prev_log = ""
        rec.cids[name] = rid
        rec.log_paths[name] = (str(log_path), prev_log)
        v.current = Attempt(self._cid(rid), attempt, True, started_at=time.time(), image=image, image_id=image_id)
        v.restart_count = attempt
        v.waiting_reason = v.waiting_message = ""
        v.restarting = False
        self._watch(rec, rid)
        # postStart runs before the container counts as started (kubelet blocks on it)
        hook = ((c.get("lifecycle") or {}).get("postStart"))
        if hook:
            ok, msg = await prober.run_action(hook, runtime=self.runtime, container_id=rid, container=c,
                                              pod_ip=self.k.node_ip, timeout=float(rec.grace))
            if not ok:
                self._event(pod, WARNING, "FailedPostStartHook", f"PostStartHook failed: {msg}".rstrip(), name, init)
                rec.killing[name] = asyncio.create_task(self._kill(rec, pod, c, v, float(rec.grace), init=init),
                                                        name=f"kubelet-kill:{name}")
                return
        self._start_probes(rec, pod, c, rid)
        self._ensure_views_flags(rec)

    async def _ensure_image(self, pod: Obj, c: Mapping[str, Any], name: str, init: bool) -> str:
        image = c.get("image", "")
        images = self.k.images
        if images is None:
            return ""
        policy = c.get("imagePullPolicy") or ("Always" if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]
                                              else "IfNotPresent")
        present = await images.image_status(image)
        if present is not None and policy != "Always":
            self._event(pod, NORMAL, "Pulled", f'Container image "{image}" already present on machine', name, init)
            return present.id
        if policy == "Never":
            raise RuntimeError_("ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never')
        self._event(pod, NORMAL, "Pulling", f'Pulling image "{image}"', name, init)
        t0 = time.monotonic()
        try:
            ref = await images.pull_image(image)
            pulled = await images.image_status(image)
            image_id = pulled.id if pulled is not None else ref
        except RuntimeError_ as e:
            self._event(pod, WARNING, "Failed", f'Failed to pull image "{image}": {e.message}', name, init)
            raise RuntimeError_("ErrImagePull", e.message) from None
        ms = int((time.monotonic() - t0) * 1000)
        self._event(pod, NORMAL, "Pulled", f'Successfully pulled image "{image}" in {ms}ms ({ms}ms including waiting)',
                    name, init)
        return str(image_id)

    def _mounts(self, rec: PodRecord, c: Mapping[str, Any]) -> list[Mount]:
        out: list[Mount] = []
        for vm in c.get("volumeMounts") or ():
            host = rec.mounts.get(vm.get("name", ""))
            if host is None:
                raise envvars.ConfigError(f"cannot find volume \"{vm.get('name')}\" to mount into container "
                                          f"\"{c['name']}\"")
            sub = vm.get("subPath") or ""
            if sub:
                if sub.startswith("/") or ".." in Path(sub).parts:
                    raise envvars.ConfigError(f"invalid subPath {sub!r}")
                p = Path(host) / sub
                if not p.exists():
                    p.mkdir(parents=True, exist_ok=True)
                host = str(p)
            out.append(Mount(vm.get("mountPath", ""), host, bool(vm.get("readOnly"))))
        return out

    def _watch(self, rec: PodRecord, rid: str) -> None:
        async def wait() -> None:
            with contextlib.suppress(RuntimeError_):
                await self.runtime.wait_container(rid)
            rec.waiters.pop(rid, None)
            self.k.queue.add(rec.key)

        if rid not in rec.waiters:
            rec.waiters[rid] = asyncio.create_task(wait(), name=f"kubelet-wait:{rec.key}:{rid[:12]}")

    # -- probes -----------------------------------------------------------------------------

    def _start_probes(self, rec: PodRecord, pod: Obj, c: Mapping[str, Any], rid: str) -> None:
        name = c["name"]
        for kind in ("startup", "liveness", "readiness"):
            probe = c.get(f"{kind}Probe")
            if not probe:
                continue
            rec.probe_results[(name, kind)] = kind == "liveness"
            old = rec.probes.pop((name, kind), None)
            if old is not None:
                old.cancel()
            rec.probes[(name, kind)] = asyncio.create_task(self._probe_loop(rec, pod, c, rid, kind, probe),
                                                           name=f"kubelet-probe:{rec.key}:{name}:{kind}")

    def _stop_probes(self, rec: PodRecord, name: str) -> None:
        for (n, kind) in list(rec.probes):
            if n == name:
                rec.probes.pop((n, kind)).cancel()

    async def _probe_loop(self, rec: PodRecord, pod: Obj, c: Mapping[str, Any], rid: str, kind: str,
                          probe: Mapping[str, Any]) -> None:
        delay, period, timeout, succ, fail = prober.probe_timing(probe)
        state = prober.ProbeState(succ if kind == "readiness" else 1, fail, kind == "liveness")
        name = c["name"]
        await asyncio.sleep(delay)
        while True:
            v = rec.views.get(name)
            if v is None or v.current is None or not v.current.running:
                return
            if kind == "startup" and state.result:
                return  # a startup probe stops once it succeeded
            if kind != "startup" and (name, "startup") in rec.probe_results and not rec.probe_results[(name, "startup")]:
                await asyncio.sleep(period)
                continue
            ok, msg = await prober.run_action(probe, runtime=self.runtime, container_id=rid, container=c,
                                              pod_ip=self.k.node_ip, timeout=timeout)
            if not ok:
                self._event(pod, WARNING, "Unhealthy", f"{kind.capitalize()} probe failed: {msg}",
                            name, name in {i.get("name") for i in (pod.get("spec") or {}).get("initContainers") or ()})
            if state.observe(ok):
                rec.probe_results[(name, kind)] = state.result
                self.k.queue.add(rec.key)
            if kind in ("liveness", "startup") and not state.result and state.failed_enough():
                rec.unhealthy[name] = (kind, rid)   # the sync kills it; a new attempt gets new loops
                self.k.queue.add(rec.key)
                return
            await asyncio.sleep(period)

    # -- stopping -----------------------------------------------------------------------------

    async def _kill(self, rec: PodRecord, pod: Obj, c: Mapping[str, Any], v: ContainerView, grace: float, *,
                    init: bool, announce: bool = True) -> None:
        """preStop, then SIGTERM and SIGKILL after what is left of ``grace``."""
        name = c["name"]
        rid = rec.cids.get(name)
        try:
            if rid is None or v.current is None or not v.current.running:
                return
            if announce:
                self._event(pod, NORMAL, "Killing", f"Stopping container {name}", name, init)
            self._stop_probes(rec, name)
            t0 = time.monotonic()
            hook = (c.get("lifecycle") or {}).get("preStop")
            if hook and grace > 0:
                try:
                    ok, msg = await asyncio.wait_for(
                        prober.run_action(hook, runtime=self.runtime, container_id=rid, container=c,
                                          pod_ip=self.k.node_ip, timeout=grace), grace)
                except TimeoutError:
                    ok, msg = False, f"PreStopHook timed out after {grace:g}s"
                if not ok:
                    self._event(pod, WARNING, "FailedPreStopHook", f"PreStopHook failed: {msg}".rstrip(), name, init)
            left = max(grace - (time.monotonic() - t0), MIN_KILL_GRACE if grace > 0 else 0)
            with contextlib.suppress(RuntimeError_):
                await self.runtime.stop_container(rid, left)
        finally:
            rec.killing.pop(name, None)
            self.k.queue.add(rec.key)

    async def _kill_all(self, rec: PodRecord, pod: Obj, grace: float) -> None:
        """Regular containers together, then sidecars in reverse order (Kubernetes 1.29+)."""
        spec = pod.get("spec") or {}
        deadline = time.monotonic() + grace
        regular = [c for c in (*(spec.get("containers") or ()), *(spec.get("ephemeralContainers") or ()))
                   if c["name"] in rec.views]
        await asyncio.gather(*(self._kill(rec, pod, c, rec.views[c["name"]], grace, init=False) for c in regular))
        for c in reversed([c for c in spec.get("initContainers") or () if c["name"] in rec.views]):
            left = max(0.0, deadline - time.monotonic())
            await self._kill(rec, pod, c, rec.views[c["name"]], left, init=True)

    async def _stop_sandbox(self, rec: PodRecord) -> None:
        for t in list(rec.probes.values()):
            t.cancel()
        rec.probes.clear()
        if rec.sandbox_id:
            with contextlib.suppress(RuntimeError_):
                await self.runtime.stop_pod_sandbox(rec.sandbox_id)
            rec.sandbox_ready = False

    async def _terminate(self, rec: PodRecord, pod: Obj) -> None:
        """Graceful deletion: kill within deletionGracePeriodSeconds, report, then delete."""
        try:
            meta = pod["metadata"]
            grace = float(meta.get("deletionGracePeriodSeconds") if meta.get("deletionGracePeriodSeconds") is not None
                          else rec.grace)
            for k in list(rec.killing.values()):
                k.cancel()
            await self._kill_all(rec, pod, grace)
            await self._refresh(rec)
            await self._stop_sandbox(rec)
            await self._refresh(rec)
            if not rec.terminal:
                for v in rec.views.values():
                    if v.current is None:
                        continue
                    v.waiting_reason = ""
                codes = [v.current.exit_code for v in rec.views.values() if v.current is not None and not v.sidecar
                         and not v.ephemeral]
                phase = "Succeeded" if codes and all(c == 0 for c in codes) else "Failed"
                latest = self.k.pod_informer.get(rec.key) or pod
                rec.forced = rec.forced or (phase, "", "")
                with contextlib.suppress(ApiError):
                    await self._write_status(rec, latest)
            try:
                await self.k.client.delete(PODS, rec.name, namespace=rec.namespace, grace_period_seconds=0,
                                           preconditions={"uid": rec.uid})
            except ApiError as e:
                if e.code not in (404, 409):
                    raise
            await self._cleanup(rec, kill=False)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried by the next sync
            log.exception("kubelet: terminating %s", rec.key)
            rec.terminating = None
            self._enqueue_later(rec.key, 2.0)

    async def _cleanup(self, rec: PodRecord, kill: bool = True) -> None:
        """The pod is gone from the API: stop and remove its sandbox, volumes and state."""
        if kill and rec.sandbox_id:
            pod_like: Obj = {"metadata": {"name": rec.name, "namespace": rec.namespace, "uid": rec.uid},
                             "spec": {"containers": [{"name": n} for n, v in rec.views.items() if not v.sidecar],
                                      "initContainers": [{"name": n} for n, v in rec.views.items() if v.sidecar]}}
            # removed without a graceful deletion we saw (a force delete): the short kill
            await self._kill_all(rec, pod_like, min(float(rec.grace), MIN_KILL_GRACE))
        await self._stop_sandbox(rec)
        for t in rec.tasks():
            if t is not asyncio.current_task():
                t.cancel()
        if rec.sandbox_id:
            with contextlib.suppress(RuntimeError_):
                await self.runtime.remove_pod_sandbox(rec.sandbox_id)
        await self.k.volumes.teardown(rec.uid)
        self.backoff.forget_prefix(rec.uid + "/")
        if self.records.get(rec.key) is rec:
            del self.records[rec.key]
            self.k.queue.add(rec.key)  # a namesake may be waiting

    # -- status -------------------------------------------------------------------------------

    def _status(self, rec: PodRecord, pod: Obj) -> Obj:
        spec = pod.get("spec") or {}
        inits = [rec.views[c["name"]] for c in spec.get("initContainers") or () if c["name"] in rec.views]
        regular = [rec.views[c["name"]] for c in spec.get("containers") or () if c["name"] in rec.views]
        ephemeral = [rec.views[c["name"]] for c in spec.get("ephemeralContainers") or () if c["name"] in rec.views]
        forced = rec.forced or ("", "", "")
        facts = PodFacts(host_ip=self.k.node_ip, pod_ip=self.k.node_ip if rec.sandbox_id else "",
                         start_time=rec.start_time or self.k.now(), sandbox_ready=rec.sandbox_ready,
                         init_failed=rec.init_failed, forced_phase=forced[0], reason=forced[1], message=forced[2])
        return pod_status(pod, inits, regular, facts, self.k.now(), ephemeral)

    async def _write_status(self, rec: PodRecord, pod: Obj) -> None:
        self._ensure_views(rec, pod.get("spec") or {})
        await self._write(rec, pod, self._status(rec, pod))

    async def _write(self, rec: PodRecord, pod: Obj, status: Obj) -> None:
        from kubelite.kubelet.pods.status import same_status
        current = pod.get("status") or {}
        if same_status(current, status) or (rec.last_written is not None and rec.last_written == status):
            return
        try:
            await self.k.client.patch(PODS, rec.name, {"metadata": {"uid": rec.uid}, "status": status},
                                      namespace=rec.namespace, subresource="status")
        except ApiError as e:
            if e.code in (404, 409):
                return
            raise
        rec.last_written = status

    # -- adoption after an agent restart ------------------------------------------------------

    async def adopt(self, pods_by_uid: Mapping[str, Obj]) -> None:
        """Match the runtime's sandboxes to pods by uid; stop and remove the orphans."""
        for sb in await self.runtime.list_pod_sandboxes():
            pod = pods_by_uid.get(sb.config.uid)
            if pod is None or (pod.get("spec") or {}).get("nodeName") != self.k.node_name:
                log.info("kubelet: removing sandbox %s of pod %s/%s (gone)", sb.id[:12], sb.config.namespace,
                         sb.config.name)
                with contextlib.suppress(RuntimeError_):
                    await self.runtime.stop_pod_sandbox(sb.id)
                    await self.runtime.remove_pod_sandbox(sb.id)
                await self.k.volumes.teardown(sb.config.uid)
                continue
            key = object_key(pod)
            rec = self.records.get(key)
            if rec is not None and rec.sandbox_id:
                # two sandboxes for one pod: keep the ready one
                with contextlib.suppress(RuntimeError_):
                    await self.runtime.stop_pod_sandbox(sb.id)
                    await self.runtime.remove_pod_sandbox(sb.id)
                continue
            meta = pod["metadata"]
            rec = self.records[key] = PodRecord(key, sb.config.uid, meta.get("namespace", ""), meta.get("name", ""))
            rec.sandbox_id = sb.id
            rec.sandbox_ready = sb.state is SandboxState.READY
            rec.admitted = True
            rec.requests = pod_requests(pod)
            rec.start_time = (pod.get("status") or {}).get("startTime") or ""
            phase = (pod.get("status") or {}).get("phase")
            rec.terminal = phase in ("Succeeded", "Failed")
            self._ensure_views(rec, pod.get("spec") or {})
            by_name: dict[str, list[ContainerStatus]] = {}
            for cs in await self.runtime.list_containers(sb.id):
                by_name.setdefault(cs.name, []).append(cs)
            for name, attempts in by_name.items():
                v = rec.views.get(name)
                if v is None:
                    continue
                attempts.sort(key=lambda s: (s.attempt, s.created_at))
                cur = attempts[-1]
                v.current = Attempt(self._cid(cur.id), cur.attempt, False, image=cur.image)
                self._apply(v.current, cur)
                v.restart_count = cur.attempt
                rec.cids[name] = cur.id
                rec.log_paths[name] = (cur.log_path, attempts[-2].log_path if len(attempts) > 1 else "")
                if len(attempts) > 1:
                    prev = attempts[-2]
                    v.previous = Attempt(self._cid(prev.id), prev.attempt, False, image=prev.image)
                    self._apply(v.previous, prev)
                    rec.prev_cids[name] = prev.id
                if v.current.running:
                    self._watch(rec, cur.id)
                    spec = pod.get("spec") or {}
                    c = next((x for x in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ()))
                              if x.get("name") == name), None)
                    if c is not None:
                        self._start_probes(rec, pod, c, cur.id)
                        # an adopted container already passed its startup and readiness once
                        for kind in ("startup", "readiness"):
                            if (name, kind) in rec.probe_results:
                                rec.probe_results[(name, kind)] = True
            self._ensure_views_flags(rec)
            log.info("kubelet: re-adopted pod %s (sandbox %s)", key, sb.id[:12])

    async def shutdown(self) -> None:
        """Stop watching (the agent stops; containers keep running)."""
        tasks = [t for rec in self.records.values() for t in rec.tasks()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    def rfc(self, ts: float) -> str:
        return format_unix_time(ts)
