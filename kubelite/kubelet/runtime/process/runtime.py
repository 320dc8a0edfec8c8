"""The process runtime's ``RuntimeService`` and ``ImageService``: containers are host commands
run as process trees.

As root on Linux (``isolate``): each pod sandbox owns a UTS namespace (hostname = the sandbox's
hostname) and an IPC namespace, pinned by bind mounts under its state dir (no pause process);
each container gets its own PID and mount namespaces (an ephemeral container with a target
joins the target's PID namespace instead, CRI's NamespaceMode TARGET), joins the sandbox's UTS/IPC, sees the
pod's /etc/hosts (and /etc/resolv.conf if given) and its volume mounts as bind mounts, and runs
in a cgroup ``<own cgroup>/<root>/pod<uid>/<container id>`` with the limits of its Resources.
Pods use the host network; a pinned netns would be joined by path the same way as UTS/IPC.

Without root, or off Linux, the same fork chain runs without namespaces and cgroups: plain host
processes (hostname and /etc/hosts are the host's, mounts are not applied — a container's
``Mount`` paths must then be read by the command at their host paths; no limits, stats from
/proc). Tests of the isolated path skip when not root.

How a container starts, logs and reports its exit without the agent holding any of it open is
in ``init.py``; what is kept on disk for re-adoption in ``state.py``. A new ``ProcessRuntime``
over the same state dir (an agent restart) lists every sandbox and container still recorded:
running ones are RUNNING (their init is alive), ones that exited meanwhile EXITED with the
exit code their init recorded. A container whose init vanished without recording an exit (it
was SIGKILLed, or the machine rebooted) is EXITED with exit code 137 and reason
``ContainerStatusUnknown``, the reason the kubelet uses for containers it cannot find.

Usage::

    rt = ProcessRuntime(cfg.root_dir / "runtime")        # state dir; cgroup_root="kubelite"
    sid = await rt.run_pod_sandbox(PodSandboxConfig(...))
    cid = await rt.create_container(sid, ContainerConfig(..., log_path=".../0.log"))
    await rt.start_container(cid)
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import functools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from kubelite.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    Image,
    PodSandboxConfig,
    PodSandboxStatus,
    PortStream,
    RuntimeError_,
    SandboxState,
    StreamSession,
)
from kubelite.kubelet.runtime.process import caps, cgroups
from kubelite.kubelet.runtime.process import namespaces as ns
from kubelite.kubelet.runtime.process import shim
from kubelite.kubelet.runtime.process.init import proc_start_ticks, spawn
from kubelite.kubelet.runtime.process.logs import DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, log_files
from kubelite.kubelet.runtime.process.state import (
    Layout,
    container_config_from_dict,
    read_json,
    sandbox_config_from_dict,
    to_dict,
    write_json,
)
from kubelite.kubelet.runtime.process.streams import (
    AttachSession,
    ProcSession,
    fork_exec,
    open_port_stream,
    spawn_exec,
    wait_readable,
)

log = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNKNOWN_REASON = "ContainerStatusUnknown"
UNKNOWN_MESSAGE = "The container could not be located: its init exited without recording an exit status"
POLL = 0.1
RUNTIME_THREADS = 16     # blocking runtime calls in flight at once (starts of different pods overlap)
T = TypeVar("T")
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def exit_reason(exit_code: int, oom_kills: int) -> str:
    """CRI's reason for an exited container (what kubectl shows as the terminated reason)."""
    if oom_kills > 0:
        return "OOMKilled"
    return "Completed" if exit_code == 0 else "Error"


class ProcessImageService:
    """The process runtime runs host binaries: there is nothing to pull, every image is
    "present". ``image_status`` answers with a stable id derived from the reference so that the
    kubelet's Pulled/imageID bookkeeping works; ``list_images`` returns the references seen."""

    def __init__(self) -> None:
        self._seen: dict[str, Image] = {}

    @staticmethod
    def _image(ref: str) -> Image:
        return Image(id="sha256:" + hashlib.sha256(ref.encode()).hexdigest(), repo_tags=[ref],
                     repo_digests=[], size=0)

    async def pull_image(self, image: str, auth: dict[str, str] | None = None) -> str:
        self._seen[image] = self._image(image)
        return image

    async def image_status(self, image: str) -> Image | None:
        return self._seen.setdefault(image, self._image(image))

    async def list_images(self) -> list[Image]:
        return list(self._seen.values())

    async def remove_image(self, image: str) -> None:
        self._seen.pop(image, None)


class ProcessRuntime:
    """CRI RuntimeService over host processes (see the module docstring)."""

    name = "process"
    version = "0.1.0"

    def __init__(self, state_dir: str | Path, *, cgroup_root: str = "kubelite", isolate: bool | None = None,
                 log_max_size: int = DEFAULT_MAX_SIZE, log_max_files: int = DEFAULT_MAX_FILES,
                 use_shim: bool = True) -> None:
        self.layout = Layout(state_dir)
        self.use_shim = use_shim
        self._shim_lock = threading.Lock()
        # Its own threads for the blocking parts (forks, cgroup mkdirs, bind mounts, waiting on
        # the shim): in asyncio's default pool (cores + 4 threads, shared with the API server's
        # storage reads) a burst of pod starts queued behind each other. Threads are made on
        # demand, so an idle node has none.
        self._pool = ThreadPoolExecutor(max_workers=RUNTIME_THREADS, thread_name_prefix="process-runtime")
        self._shim_ready = False
        self.layout.make()
        self.isolate = ns.available() if isolate is None else bool(isolate and ns.available())
        self.cgroups = cgroups.detect(cgroup_root) if self.isolate else None
        self.log_max_size, self.log_max_files = log_max_size, log_max_files
        self._sandboxes: dict[str, dict[str, Any]] = {}
        self._containers: dict[str, dict[str, Any]] = {}
        # Re-adoption: everything recorded is ours again (a few small files, read once).
        for sid in self.layout.sandbox_ids():
            rec = read_json(self.layout.sandbox(sid) / "sandbox.json")
            if rec:
                self._sandboxes[sid] = rec
        for cid in self.layout.container_ids():
            rec = read_json(self.layout.container(cid) / "container.json")
            if rec:
                rec.pop("starting", None)    # a start the previous agent did not finish: init.json says
                self._containers[cid] = rec

    async def _blocking(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    # --- records ----------------------------------------------------------------------------

    def _sandbox(self, sid: str) -> dict[str, Any]:
        rec = self._sandboxes.get(sid)
        if rec is None:
            raise RuntimeError_("NotFound", f"pod sandbox {sid!r} not found")
        return rec

    def _container(self, cid: str) -> dict[str, Any]:
        rec = self._containers.get(cid)
        if rec is None:
            raise RuntimeError_("NotFound", f"container {cid!r} not found")
        return rec

    def _save_sandbox(self, rec: dict[str, Any]) -> None:
        write_json(self.layout.sandbox(rec["id"]) / "sandbox.json", rec)

    def _save_container(self, rec: dict[str, Any]) -> None:
        write_json(self.layout.container(rec["id"]) / "container.json", rec)

    def _init_info(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        if "init" not in rec:
            info = read_json(self.layout.container(rec["id"]) / "init.json")
            if info is None:
                return None
            rec["init"] = info
        return rec["init"]

    def _exit_info(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        """The exit record, once the container has exited (cached: it never changes)."""
        if "exit" in rec:
            return rec["exit"]
        d = self.layout.container(rec["id"])
        info = read_json(d / "exit.json")
        if info is None:
            init = self._init_info(rec)
            if init is None or self._alive(init):
                return None
            info = read_json(d / "exit.json")     # it may have been written just now
            if info is None:
                info = {"exit_code": 137, "reason": UNKNOWN_REASON, "message": UNKNOWN_MESSAGE,
                        "finished_at": time.time()}
                write_json(d / "exit.json", info)
        if not info.get("reason"):
            oom = info.get("oom_kills", 0)
            cg = cgroups.load(rec.get("cgroup"))
            if not oom and cg is not None:
                oom = cg.oom_kills()
            info["reason"] = exit_reason(info.get("exit_code", 0), oom)
        rec["exit"] = info
        return info

    @staticmethod
    def _alive(init: dict[str, Any]) -> bool:
        ticks = proc_start_ticks(init["init_pid"])
        return ticks is not None and (init.get("init_ticks") is None or ticks == init["init_ticks"])

    def _status(self, cid: str) -> ContainerStatus:
        rec = self._container(cid)
        cfg = rec["config"]
        st = ContainerStatus(id=cid, sandbox_id=rec["sandbox_id"], name=cfg["name"], attempt=cfg["attempt"],
                             image=cfg.get("image", ""), state=ContainerState.CREATED,
                             created_at=rec["created_at"], log_path=rec["log_path"])
        init = self._init_info(rec)
        ex = self._exit_info(rec)
        if init:
            st.started_at = init.get("started_at", 0.0)
            st.pid = init.get("pid", 0)
        if ex is not None:
            st.state = ContainerState.EXITED
            st.exit_code = ex.get("exit_code", 0)
            st.reason = ex.get("reason", "")
            st.message = ex.get("message", "")
            st.finished_at = ex.get("finished_at", 0.0)
            st.started_at = st.started_at or ex.get("started_at", 0.0)
            st.pid = 0
        elif init is not None:
            st.state = ContainerState.RUNNING
        return st

    def _sandbox_status(self, sid: str) -> PodSandboxStatus:
        rec = self._sandbox(sid)
        return PodSandboxStatus(id=sid, config=sandbox_config_from_dict(rec["config"]),
                                state=SandboxState(rec["state"]), created_at=rec["created_at"])

    # --- sandboxes --------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sid = uuid.uuid4().hex
        d = self.layout.sandbox(sid)
        rec: dict[str, Any] = {"id": sid, "config": to_dict(config), "created_at": time.time(),
                               "state": SandboxState.READY.value, "ns": {}, "cgroup": None}

        def _make() -> None:
            d.mkdir(parents=True)
            if config.hosts_file:
                (d / "hosts").write_text(config.hosts_file)
            if config.dns_config:
                (d / "resolv.conf").write_text(config.dns_config)
            if self.isolate:
                hostname = (config.hostname or config.name)[:63]
                rec["ns"] = self._sandbox_namespaces(str(d), hostname, ipc=not config.host_ipc)
            if self.cgroups is not None:
                rel = f"pod{config.uid}" + (f"-{config.attempt}" if config.attempt else "")
                if any(r.get("cgroup_rel") == rel for r in self._sandboxes.values()):
                    rel += f"-{sid[:8]}"        # an older sandbox of the pod not removed yet
                cg = self.cgroups.new(rel)
                cg.apply(config.resources)
                rec["cgroup"], rec["cgroup_rel"] = cg.record(), rel
            self._save_sandbox(rec)

        try:
            await self._blocking(_make)
        except OSError as e:
            await self._blocking(self._remove_sandbox_files, rec)
            raise RuntimeError_("CreatePodSandboxError", f"failed to create pod sandbox: {e}") from e
        self._sandboxes[sid] = rec
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        rec = self._sandbox(sandbox_id)
        await asyncio.gather(*(self.stop_container(c["id"], 0) for c in list(self._containers.values())
                               if c["sandbox_id"] == sandbox_id))
        rec["state"] = SandboxState.NOTREADY.value
        await self._blocking(self._save_sandbox, rec)

    def _remove_sandbox_files(self, rec: dict[str, Any]) -> None:
        for path in rec.get("ns", {}).values():
            ns.unpin(path)
        cg = cgroups.load(rec.get("cgroup"))
        if cg is not None:
            cg.kill()
            cg.remove()
        shutil.rmtree(self.layout.sandbox(rec["id"]), ignore_errors=True)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        rec = self._sandboxes.get(sandbox_id)
        if rec is None:
            return                       # CRI: removing a removed sandbox is not an error
        await self.stop_pod_sandbox(sandbox_id)
        for c in [c for c in self._containers.values() if c["sandbox_id"] == sandbox_id]:
            await self.remove_container(c["id"])
        await self._blocking(self._remove_sandbox_files, rec)
        self._sandboxes.pop(sandbox_id, None)

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        return self._sandbox_status(sandbox_id)

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [self._sandbox_status(sid) for sid in list(self._sandboxes)]

    # --- containers -------------------------------------------------------------------------

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        sb = self._sandbox(sandbox_id)
        if sb["state"] != SandboxState.READY.value:
            raise RuntimeError_("CreateContainerError", f"pod sandbox {sandbox_id} is not ready")
        if not config.command:
            raise RuntimeError_("CreateContainerConfigError",
                                "the process runtime runs host commands and has no image entrypoint: "
                                "the container needs a command (spec.containers[].command)")
        target = self._containers.get(config.target_container_id) if config.target_container_id else None
        if config.target_container_id and (target is None or target["sandbox_id"] != sandbox_id):
            raise RuntimeError_("CreateContainerError", f"target container {config.target_container_id} not found "
                                                        f"in pod sandbox {sandbox_id}")
        cid = uuid.uuid4().hex
        d = self.layout.container(cid)
        rec = {"id": cid, "sandbox_id": sandbox_id, "config": to_dict(config), "created_at": time.time(),
               "log_path": config.log_path or str(d / "container.log"), "cgroup": None}

        def _make() -> None:
            d.mkdir(parents=True)
            self._save_container(rec)
        await self._blocking(_make)
        self._containers[cid] = rec
        return cid

    def _env(self, cfg: ContainerConfig, sb_cfg: PodSandboxConfig) -> dict[str, str]:
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": (sb_cfg.hostname or sb_cfg.name)[:63], "HOME": "/root"}
        if os.geteuid() != 0:
            env["HOME"] = os.environ.get("HOME", "/")
        env.update(dict(cfg.env))
        return env

    def _attributes(self, cfg: ContainerConfig) -> dict[str, Any]:
        """What ``init.process_attributes`` applies, from the securityContext. Without root
        only the working dir: a plain process cannot change user or drop capabilities it lacks."""
        out: dict[str, Any] = {"cwd": cfg.working_dir or "/"}
        if not self.isolate:
            out["cwd"] = cfg.working_dir
            return out
        sec = cfg.security
        out.update(uid=sec.run_as_user, gid=sec.run_as_group, groups=list(sec.supplemental_groups),
                   cap_drop=caps.to_drop(caps.effective(sec.capabilities_add, sec.capabilities_drop, sec.privileged)),
                   no_new_privs=sec.allow_privilege_escalation is False and not sec.privileged,
                   readonly_root=sec.read_only_root_filesystem)
        return out

    def _spec(self, rec: dict[str, Any], cg: cgroups.Cgroup | None) -> dict[str, Any]:
        cfg = container_config_from_dict(rec["config"])
        sb = self._sandbox(rec["sandbox_id"])
        sb_cfg = sandbox_config_from_dict(sb["config"])
        sdir = self.layout.sandbox(sb["id"])
        mounts: list[tuple[str, str, bool]] = []
        if (sdir / "hosts").exists():
            mounts.append((str(sdir / "hosts"), "/etc/hosts", True))
        if (sdir / "resolv.conf").exists():
            mounts.append((str(sdir / "resolv.conf"), "/etc/resolv.conf", True))
        mounts += [(m.host_path, m.container_path, m.readonly) for m in cfg.mounts]
        oom_file = None
        if cg is not None:
            rec_cg = cg.record()
            oom_file = (f"{rec_cg['dirs']['memory']}/memory.oom_control" if rec_cg["version"] == 1
                        and "memory" in rec_cg["dirs"] else
                        f"{rec_cg['dir']}/memory.events" if rec_cg["version"] == 2 else None)
        join = dict(sb.get("ns") or {})
        new_pid = not sb_cfg.host_pid
        if cfg.target_container_id and self.isolate and new_pid:
            # An ephemeral container's targetContainerName: join the target's PID namespace
            # through its init (PID 1 there) instead of a new one; stage A setns()es into it.
            init = self._init_info(self._container(cfg.target_container_id))
            # (its state too: an init that recorded the exit lives on a moment, and a fork into
            # its dying PID namespace fails with ENOMEM)
            if init is None or not self._alive(init) or \
                    self._status(cfg.target_container_id).state != ContainerState.RUNNING:
                raise OSError(f"target container {cfg.target_container_id} is not running")
            join["pid"] = f"/proc/{init['init_pid']}/ns/pid"
            new_pid = False
        return {
            "id": rec["id"], "dir": str(self.layout.container(rec["id"])), "state_root": str(self.layout.root),
            "argv": list(cfg.command),
            "env": self._env(cfg, sb_cfg), "log_path": rec["log_path"],
            "log_max_size": self.log_max_size, "log_max_files": self.log_max_files,
            "stdin": cfg.stdin, "stdin_once": cfg.stdin_once, "tty": cfg.tty,
            **self._attributes(cfg),
            "isolate": self.isolate, "join": join, "new_pid": new_pid,
            "mounts": mounts if self.isolate else [], "cgroup_procs": cg.procs_files() if cg else [],
            "oom_file": oom_file,
        }

    def _spawn(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Fork the container's init: through the shim (see shim.py for why), or, with
        ``use_shim=False``, from this process."""
        if not self.use_shim:
            return spawn(spec)
        return self._with_shim({"op": "spawn", "spec": spec})

    def _sandbox_namespaces(self, sandbox_dir: str, hostname: str, ipc: bool) -> dict[str, str]:
        """The sandbox's UTS/IPC namespaces, made by a fork of the shim (a fork of this ~90 MB
        process costs far more: page tables, and every other thread's page faults wait for it)."""
        if not self.use_shim:
            return ns.make_sandbox_namespaces(sandbox_dir, hostname, ipc)
        return self._with_shim({"op": "sandbox_ns", "dir": os.path.abspath(sandbox_dir), "hostname": hostname, "ipc": ipc})["ns"]

    def _launch_exec(self, target: dict[str, Any], argv: list[str], fds: list[int], tty: bool) -> None:
        """Fork an exec's D: in the shim (handing it the stdio descriptors), or here."""
        if not self.use_shim:
            fork_exec(target, argv, fds, tty)
            return
        self._with_shim({"op": "exec", "target": target, "argv": argv, "tty": tty}, fds)

    def _with_shim(self, req: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        root = str(self.layout.root)
        for attempt in range(2):
            with self._shim_lock:
                if not self._shim_ready:
                    shim.ensure(root)
                    self._shim_ready = True
            try:
                reply = shim.call(root, req, fds=fds)
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody listens (the shim was killed): the request was never seen; start one.
                self._shim_ready = False
                if attempt:
                    raise
                continue
            if "shim_error" in reply:
                raise OSError(reply["shim_error"])
            return reply
        raise AssertionError("unreachable")

    async def start_container(self, container_id: str) -> None:
        rec = self._container(container_id)
        st = self._status(container_id)
        if st.state != ContainerState.CREATED or rec.get("starting"):
            raise RuntimeError_("RunContainerError", f"container {container_id} is {st.state.value}, not created")
        rec["starting"] = True
        sb = self._sandbox(rec["sandbox_id"])

        def _start() -> dict[str, Any]:
            cg = None
            if self.cgroups is not None:
                cfg = container_config_from_dict(rec["config"])
                cg = self.cgroups.new(f"{sb.get('cgroup_rel') or 'orphans'}/{container_id}")
                cg.apply(cfg.resources)
                rec["cgroup"] = cg.record()
            self._save_container(rec)
            log_dir = os.path.dirname(rec["log_path"])
            if log_dir:
                os.makedirs(log_dir, exist_ok=True)
            return self._spawn(self._spec(rec, cg))

        try:
            result = await self._blocking(_start)
        except OSError as e:
            result = {"error": str(e)}
        if "error" in result:
            d = self.layout.container(container_id)
            if read_json(d / "exit.json") is None:
                now = time.time()
                write_json(d / "exit.json", {"exit_code": 128, "reason": "StartError", "message": result["error"],
                                             "finished_at": now, "started_at": now})
            raise RuntimeError_("RunContainerError", result["error"])
        rec["init"] = result

    async def _wait_exit(self, rec: dict[str, Any]) -> None:
        """Until the container's init is gone: a pidfd where the kernel has them (no polling),
        else a check every POLL seconds."""
        init = self._init_info(rec)
        if init is None:
            await asyncio.sleep(POLL * 2)
            return
        fd = None
        with contextlib.suppress(AttributeError, OSError):
            fd = os.pidfd_open(init["init_pid"])
        if fd is None or not self._alive(init):     # opened after the pid was reused: don't trust it
            if fd is not None:
                os.close(fd)
            while self._alive(init):
                await asyncio.sleep(POLL)
            return
        try:
            await wait_readable(fd)     # a pidfd turns readable when the process exits
        finally:
            os.close(fd)

    async def wait_container(self, container_id: str) -> ContainerStatus:
        while True:
            st = self._status(container_id)
            if st.state == ContainerState.EXITED:
                return st
            await self._wait_exit(self._container(container_id))

    def _kill_tree(self, rec: dict[str, Any]) -> None:
        """SIGKILL the command and everything it started (the init then records 137)."""
        cg = cgroups.load(rec.get("cgroup"))
        if cg is not None:
            cg.kill()
            return
        init = self._init_info(rec) or {}
        pid = init.get("pid")
        if pid and self._alive(init):
            for fn in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                with contextlib.suppress(OSError):
                    fn()

    async def stop_container(self, container_id: str, timeout: float) -> None:
        rec = self._container(container_id)
        st = self._status(container_id)
        if st.state != ContainerState.RUNNING:
            return
        init = self._init_info(rec) or {}
        if timeout > 0:
            with contextlib.suppress(OSError):
                os.kill(init["init_pid"], signal.SIGTERM)     # the init forwards it to the command
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wait_container(container_id), timeout)
                return
        await self._blocking(self._kill_tree, rec)
        try:
            await asyncio.wait_for(self.wait_container(container_id), 5)
        except asyncio.TimeoutError:
            if self._alive(init):                 # a wedged init: the kernel then kills its pid ns
                with contextlib.suppress(OSError):
                    os.kill(init["init_pid"], signal.SIGKILL)
            await asyncio.wait_for(self.wait_container(container_id), 5)

    async def remove_container(self, container_id: str) -> None:
        rec = self._containers.get(container_id)
        if rec is None:
            return
        await self.stop_container(container_id, 0)

        def _remove() -> None:
            cg = cgroups.load(rec.get("cgroup"))
            if cg is not None:
                cg.remove()
            shutil.rmtree(self.layout.container(container_id), ignore_errors=True)
        await self._blocking(_remove)
        self._containers.pop(container_id, None)

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._status(container_id)

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [self._status(cid) for cid, rec in list(self._containers.items())
                if sandbox_id is None or rec["sandbox_id"] == sandbox_id]

    # --- exec, attach, port-forward ---------------------------------------------------------

    def _exec_target(self, container_id: str) -> dict[str, Any]:
        rec = self._container(container_id)
        st = self._status(container_id)
        if st.state != ContainerState.RUNNING:
            raise RuntimeError_("ContainerNotRunning", f"container {container_id} is not running")
        cfg = container_config_from_dict(rec["config"])
        sb = self._sandbox(rec["sandbox_id"])
        cg = cgroups.load(rec.get("cgroup"))
        init = self._init_info(rec) or {}
        # The command's own namespaces (its mount namespace differs from the init's with a
        # read-only root); the init's if the command is gone while the init drains.
        pid = init["pid"] if init.get("pid") and proc_start_ticks(init["pid"]) is not None else init["init_pid"]
        attrs = self._attributes(cfg)
        attrs.pop("readonly_root", None)
        return {"ns_pid": pid, "isolate": self.isolate, "namespaces": ["mnt", "pid", "uts", "ipc"],
                "cgroup_procs": cg.procs_files() if cg else [],
                "env": self._env(cfg, sandbox_config_from_dict(sb["config"])), **attrs}

    async def _start_exec(self, container_id: str, cmd: list[str], tty: bool, stdin: bool) -> ProcSession:
        if not cmd:
            raise RuntimeError_("ExecError", "no command given")
        target = self._exec_target(container_id)
        info = await self._blocking(spawn_exec, target, list(cmd), tty=tty, stdin=stdin, launch=self._launch_exec)
        if info["error"]:
            for k in ("master", "stdin", "stdout", "stderr", "status"):
                if info.get(k) is not None:
                    os.close(info[k])
            raise RuntimeError_("ExecError", info["error"])
        return ProcSession(info, tty)

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int, bytes, bytes]:
        sess = await self._start_exec(container_id, cmd, tty=False, stdin=False)
        out, err = bytearray(), bytearray()

        async def _collect() -> int:
            while (item := await sess.read()) is not None:
                (out if item[0] == 1 else err).extend(item[1])
            return await sess.wait()
        try:
            code = await asyncio.wait_for(_collect(), timeout if timeout and timeout > 0 else None)
        except asyncio.TimeoutError:
            await sess.close()
            raise TimeoutError(f"command {cmd!r} timed out after {timeout}s") from None
        await sess.close()
        return code, bytes(out), bytes(err)

    async def exec(self, container_id: str, cmd: list[str], *, tty: bool, stdin: bool) -> StreamSession:
        return await self._start_exec(container_id, cmd, tty=tty, stdin=stdin)

    async def attach(self, container_id: str, *, tty: bool, stdin: bool) -> StreamSession:
        rec = self._container(container_id)
        if self._status(container_id).state != ContainerState.RUNNING:
            raise RuntimeError_("ContainerNotRunning", f"container {container_id} is not running")
        cfg = container_config_from_dict(rec["config"])

        async def _code() -> int:
            return (await self.wait_container(container_id)).exit_code
        try:
            return await AttachSession.connect(str(self.layout.container(container_id)),
                                               stdin=stdin and cfg.stdin, exit_code=_code)
        except OSError as e:
            raise RuntimeError_("AttachError", f"cannot attach to container {container_id}: {e}") from e

    async def port_forward(self, sandbox_id: str, port: int) -> PortStream:
        rec = self._sandbox(sandbox_id)
        try:
            # Host network today; a sandbox with a pinned netns ("net" in rec["ns"]) is entered by path.
            return await open_port_stream(port, rec.get("ns", {}).get("net"))
        except OSError as e:
            raise RuntimeError_("PortForwardError",
                                f"failed to connect to localhost:{port} in pod sandbox {sandbox_id}: {e}") from e

    # --- stats ------------------------------------------------------------------------------

    @staticmethod
    def _proc_usage(pid: int) -> cgroups.Usage:
        """Best effort without cgroups: the command's own CPU time and RSS from /proc."""
        u = cgroups.Usage()
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                rest = f.read().rsplit(b")", 1)[1].split()
            u.cpu_ns = (int(rest[11]) + int(rest[12])) * 1_000_000_000 // _CLK_TCK
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            u.memory_usage = u.working_set = u.rss = rss
        except (OSError, IndexError, ValueError):
            pass
        return u

    def _container_usage(self, rec: dict[str, Any]) -> cgroups.Usage:
        cg = cgroups.load(rec.get("cgroup"))
        if cg is not None:
            return cg.usage()
        st = self._status(rec["id"])
        return self._proc_usage(st.pid) if st.state == ContainerState.RUNNING and st.pid else cgroups.Usage()

    @staticmethod
    def _log_bytes(path: str) -> int:
        return sum(os.path.getsize(p) for p in log_files(path) if os.path.exists(p))

    async def container_stats(self, container_id: str) -> ContainerStats:
        rec = self._container(container_id)

        def _read() -> ContainerStats:
            u = self._container_usage(rec)
            return ContainerStats(container_id=container_id, timestamp=time.time(), cpu_usage_core_nanoseconds=u.cpu_ns,
                                  memory_usage_bytes=u.memory_usage, memory_working_set_bytes=u.working_set,
                                  memory_rss_bytes=u.rss, logs_used_bytes=self._log_bytes(rec["log_path"]))
        return await self._blocking(_read)

    async def pod_sandbox_stats(self, sandbox_id: str) -> ContainerStats:
        rec = self._sandbox(sandbox_id)
        members = [c for c in self._containers.values() if c["sandbox_id"] == sandbox_id]

        def _read() -> ContainerStats:
            cg = cgroups.load(rec.get("cgroup"))
            if cg is not None:
                u = cg.usage()            # hierarchical: includes every container of the pod
            else:
                u = cgroups.Usage()
                for c in members:
                    cu = self._container_usage(c)
                    u.cpu_ns += cu.cpu_ns
                    u.memory_usage += cu.memory_usage
                    u.working_set += cu.working_set
                    u.rss += cu.rss
            return ContainerStats(container_id=sandbox_id, timestamp=time.time(), cpu_usage_core_nanoseconds=u.cpu_ns,
                                  memory_usage_bytes=u.memory_usage, memory_working_set_bytes=u.working_set,
                                  memory_rss_bytes=u.rss,
                                  logs_used_bytes=sum(self._log_bytes(c["log_path"]) for c in members))
        return await self._blocking(_read)
