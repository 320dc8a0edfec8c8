"""An in-memory runtime for tests: ``FakeRuntime`` implements ``RuntimeService`` and
``ImageService`` with scripted containers instead of processes (httpx' MockTransport idea at
the CRI seam), so the kubelet's pod logic is tested fast and deterministically.

A container's behaviour comes from a ``Script`` chosen by ``FakeRuntime.script_for(config)``:
by default it is looked up by the container's first argv word in ``FakeRuntime.scripts`` (so a
test writes ``command: ["crash"]`` and registers ``scripts["crash"] = Script(exit_after=0.1,
exit_code=1)``), else the container runs forever. A script says when the container exits by
itself and with which code, how it reacts to SIGTERM (exits at once, after ``term_delay``, or
ignores it until the SIGKILL), and what exec commands answer (``exec_results``: argv tuple ->
exit code or a callable). Images named ``missing/*`` fail to pull. The state survives
"agent restarts": a new ``Kubelet`` given the same ``FakeRuntime`` re-adopts its sandboxes.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable

from kubelite.kubelet.runtime.interface import (ContainerConfig, ContainerState, ContainerStats, ContainerStatus,
                                                Image, PodSandboxConfig, PodSandboxStatus, PortStream,
                                                RuntimeError_, SandboxState, StreamSession)

ExecResult = int | Callable[[], int]


@dataclass
class Script:
    exit_after: float | None = None     # seconds after start; None = runs until stopped
    exit_code: int = 0
    reason: str = ""                    # "" = Completed/Error from the exit code; "OOMKilled"...
    term_delay: float = 0.0             # seconds it takes to exit after SIGTERM
    ignore_term: bool = False           # only SIGKILL (after the stop timeout) ends it
    term_exit_code: int = 143           # exit code after a handled SIGTERM (128 + 15)
    exec_results: dict[tuple[str, ...], ExecResult] = field(default_factory=dict)
    exec_default: int = 0               # exit code of any other exec command


@dataclass
class _Container:
    status: ContainerStatus
    config: ContainerConfig
    script: Script
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Sandbox:
    status: PodSandboxStatus


class FakeRuntime:
    """``RuntimeService`` + ``ImageService`` in memory. ``calls`` records (method, arg) pairs
    so tests can assert what the kubelet asked for (``("exec_sync", ("cat", "/tmp/x"))``...)."""

    name = "fake"
    version = "0.1.0"

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.calls: list[tuple[str, object]] = []
        self.fail_sandbox: str | None = None     # message: run_pod_sandbox raises it
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._ids = itertools.count(1)

    # -- scripting ------------------------------------------------------------------------

    def script_for(self, config: ContainerConfig) -> Script:
        if config.command and config.command[0] in self.scripts:
            return self.scripts[config.command[0]]
        return Script()

    def containers_named(self, name: str) -> list[ContainerStatus]:
        return [c.status for c in self._containers.values() if c.status.name == name]

    def exit_container(self, container_id: str, code: int, reason: str = "") -> None:
        """Make a running container exit now (a test's crash)."""
        self._exit(self._containers[container_id], code, reason)

    def _new_id(self) -> str:
        return f"{next(self._ids):064x}"[-64:]

    def _exit(self, c: _Container, code: int, reason: str = "") -> None:
        if c.status.state is ContainerState.EXITED:
            return
        if c.timer is not None:
            c.timer.cancel()
            c.timer = None
        c.status.state = ContainerState.EXITED
        c.status.exit_code = code
        c.status.finished_at = time.time()
        c.status.reason = reason or ("Completed" if code == 0 else "Error")
        c.status.pid = 0
        c.exited.set()

    # -- sandboxes ------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        self.calls.append(("run_pod_sandbox", config.uid))
        if self.fail_sandbox:
            raise RuntimeError_("CreatePodSandboxError", self.fail_sandbox)
        sid = self._new_id()
        self._sandboxes[sid] = _Sandbox(PodSandboxStatus(sid, config, SandboxState.READY, time.time()))
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        self.calls.append(("stop_pod_sandbox", sandbox_id))
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            return
        for c in self._containers.values():
            if c.status.sandbox_id == sandbox_id:
                self._exit(c, 137)
        sb.status.state = SandboxState.NOTREADY

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self.calls.append(("remove_pod_sandbox", sandbox_id))
        await self.stop_pod_sandbox(sandbox_id)
        self._sandboxes.pop(sandbox_id, None)
        for cid in [k for k, c in self._containers.items() if c.status.sandbox_id == sandbox_id]:
            del self._containers[cid]

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus:
        sb = self._sandboxes.get(sandbox_id)
        if sb is None:
            raise RuntimeError_("NotFound", f"sandbox {sandbox_id} not found")
        return sb.status

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [sb.status for sb in self._sandboxes.values()]

    # -- containers -----------------------------------------------------------------------

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        self.calls.append(("create_container", config.name))
        if sandbox_id not in self._sandboxes:
            raise RuntimeError_("CreateContainerError", f"sandbox {sandbox_id} not found")
        if not config.command:
            raise RuntimeError_("CreateContainerError", "the fake runtime needs a command")
        target = self._containers.get(config.target_container_id) if config.target_container_id else None
        if config.target_container_id and (target is None or target.status.sandbox_id != sandbox_id):
            raise RuntimeError_("CreateContainerError", f"target container {config.target_container_id} not found "
                                                        f"in sandbox {sandbox_id}")
        cid = self._new_id()
        st = ContainerStatus(cid, sandbox_id, config.name, config.attempt, config.image, ContainerState.CREATED,
                             time.time(), log_path=config.log_path)
        self._containers[cid] = _Container(st, config, self.script_for(config))
        return cid

    async def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        self.calls.append(("start_container", c.status.name))
        if c.status.state is not ContainerState.CREATED:
            raise RuntimeError_("RunContainerError", f"container {container_id} is not created")
        c.status.state = ContainerState.RUNNING
        c.status.started_at = time.time()
        c.status.pid = 4242
        if c.script.exit_after is not None:
            c.timer = asyncio.get_running_loop().call_later(
                c.script.exit_after, self._exit, c, c.script.exit_code, c.script.reason)

    async def stop_container(self, container_id: str, timeout: float) -> None:
        c = self._get(container_id)
        self.calls.append(("stop_container", (c.status.name, timeout)))
        if c.status.state is ContainerState.CREATED:
            self._exit(c, 0)
            return
        if c.status.state is not ContainerState.RUNNING:
            return
        graceful = not c.script.ignore_term and c.script.term_delay <= timeout
        delay = c.script.term_delay if graceful else max(0.0, timeout)
        if delay:
            try:
                await asyncio.wait_for(c.exited.wait(), delay)
                return
            except TimeoutError:
                pass
        self._exit(c, c.script.term_exit_code if graceful else 137)

    async def remove_container(self, container_id: str) -> None:
        self.calls.append(("remove_container", container_id))
        c = self._containers.pop(container_id, None)
        if c is not None and c.timer is not None:
            c.timer.cancel()

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._get(container_id).status

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [c.status for c in self._containers.values() if sandbox_id in (None, c.status.sandbox_id)]

    async def wait_container(self, container_id: str) -> ContainerStatus:
        c = self._get(container_id)
        await c.exited.wait()
        return c.status

    def _get(self, container_id: str) -> _Container:
        c = self._containers.get(container_id)
        if c is None:
            raise RuntimeError_("NotFound", f"container {container_id} not found")
        return c

    # -- commands -------------------------------------------------------------------------

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> tuple[int, bytes, bytes]:
        c = self._get(container_id)
        self.calls.append(("exec_sync", tuple(cmd)))
        if c.status.state is not ContainerState.RUNNING:
            raise RuntimeError_("NotRunning", f"container {container_id} is not running")
        result = c.script.exec_results.get(tuple(cmd), c.script.exec_default)
        code = result() if callable(result) else result
        if code < 0:  # scripted hang: the caller's timeout fires
            await asyncio.sleep(timeout)
            raise TimeoutError(f"command {cmd} timed out after {timeout}s")
        return code, b"", b""

    async def exec(self, container_id: str, cmd: list[str], *, tty: bool, stdin: bool) -> StreamSession:
        raise RuntimeError_("NotSupported", "the fake runtime has no streaming")

    async def attach(self, container_id: str, *, tty: bool, stdin: bool) -> StreamSession:
        raise RuntimeError_("NotSupported", "the fake runtime has no streaming")

    async def port_forward(self, sandbox_id: str, port: int) -> PortStream:
        raise RuntimeError_("NotSupported", "the fake runtime has no streaming")

    async def container_stats(self, container_id: str) -> ContainerStats:
        self._get(container_id)
        return ContainerStats(container_id, time.time())

    async def pod_sandbox_stats(self, sandbox_id: str) -> ContainerStats:
        return ContainerStats(sandbox_id, time.time())

    # -- images ---------------------------------------------------------------------------

    async def pull_image(self, image: str, auth: dict[str, str] | None = None) -> str:
        if image.startswith("missing/"):
            raise RuntimeError_("ErrImagePull", f'failed to pull image "{image}": not found')
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest()

    async def image_status(self, image: str) -> Image | None:
        if image.startswith("missing/"):
            return None
        return Image(await self.pull_image(image), [image], [], 0)

    async def list_images(self) -> list[Image]:
        return []

    async def remove_image(self, image: str) -> None:
        return None
