"""A small real-process runtime for the streaming tests: the parts of ``RuntimeService`` the
kubelet's server uses, backed by host processes (no namespaces, no cgroups).

A "container" is a host process started with pipes; its output goes to a CRI-format log file
(as a runtime writes it) and to whoever is attached. ``exec`` runs a host command (with a pty
for tty sessions), ``port_forward`` dials 127.0.0.1, ``container_stats`` reads /proc. The
resolver maps (namespace, pod, container) to these containers.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import termios
import time
from dataclasses import dataclass, field

from kubelite.kubelet.config import ResolvedContainer
from kubelite.kubelet.runtime.process.logs import CRILogWriter
from kubelite.kubelet.runtime.interface import ContainerState, ContainerStats, ContainerStatus, RuntimeError_


@dataclass
class HostContainer:
    id: str
    sandbox_id: str
    name: str
    log_path: str
    proc: asyncio.subprocess.Process | None = None
    attached: list[asyncio.Queue] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    exit_code: int | None = None
    pump: asyncio.Task | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class PipeSession:
    """exec/attach over pipes (no tty) or over a pty (tty)."""

    def __init__(self) -> None:
        self.out: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._stdin = None
        self._wait = None
        self._close = None
        self._resize = None

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin is not None:
            await self._stdin(data)

    async def close_stdin(self) -> None:
        if self._stdin is not None:
            await self._stdin(None)

    async def read(self) -> tuple[int, bytes] | None:
        return await self.out.get()

    async def resize(self, width: int, height: int) -> None:
        if self._resize is not None:
            self._resize(width, height)

    async def wait(self) -> int:
        return await self._wait()

    async def close(self) -> None:
        if self._close is not None:
            await self._close()


class _Port:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r, self.w = reader, writer

    async def read(self, n: int = 65536) -> bytes:
        return await self.r.read(n)

    async def write(self, data: bytes) -> None:
        self.w.write(data)
        await self.w.drain()

    async def close_write(self) -> None:
        with contextlib.suppress(OSError):
            self.w.write_eof()

    async def close(self) -> None:
        self.w.close()


class HostRuntime:
    name = "host-test"
    version = "0.1"

    def __init__(self) -> None:
        self.containers: dict[str, HostContainer] = {}
        self.exec_calls: list[list[str]] = []

    async def start_container_process(self, c: HostContainer, argv: list[str]) -> None:
        c.proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        c.started_at = time.time()
        self.containers[c.id] = c

        writer = CRILogWriter(c.log_path)

        async def pump(stream: asyncio.StreamReader, name: str, ch: int) -> None:
            while True:
                line = await stream.readline()
                if not line:
                    return
                for q in list(c.attached):
                    q.put_nowait((ch, line))
                writer.feed(name, line)

        async def run() -> None:
            await asyncio.gather(pump(c.proc.stdout, "stdout", 1), pump(c.proc.stderr, "stderr", 2))
            writer.flush()
            writer.close()
            c.exit_code = await c.proc.wait()
            c.finished_at = time.time()
            for q in list(c.attached):
                q.put_nowait(None)
            c.done.set()

        c.pump = asyncio.create_task(run())

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [await self.container_status(cid) for cid, c in self.containers.items()
                if sandbox_id is None or c.sandbox_id == sandbox_id]

    async def container_status(self, container_id: str) -> ContainerStatus:
        c = self.containers.get(container_id)
        if c is None:
            raise RuntimeError_("NotFound", f"no container {container_id}")
        running = c.proc is not None and c.exit_code is None
        return ContainerStatus(id=c.id, sandbox_id=c.sandbox_id, name=c.name, attempt=0, image="",
                               state=ContainerState.RUNNING if running else ContainerState.EXITED,
                               created_at=c.started_at, started_at=c.started_at, finished_at=c.finished_at,
                               exit_code=c.exit_code or 0, pid=c.proc.pid if c.proc else 0, log_path=c.log_path)

    async def exec(self, container_id: str, cmd: list[str], *, tty: bool, stdin: bool) -> PipeSession:
        if container_id not in self.containers:
            raise RuntimeError_("NotFound", f"container {container_id} not found")
        self.exec_calls.append(cmd)
        s = PipeSession()
        if tty:
            master, slave = pty.openpty()
            try:
                proc = await asyncio.create_subprocess_exec(*cmd, stdin=slave, stdout=slave, stderr=slave,
                                                            start_new_session=True)
            except OSError as e:
                os.close(master)
                os.close(slave)
                raise RuntimeError_("RunContainerError", f'exec: "{cmd[0]}": {e.strerror}') from None
            os.close(slave)
            loop = asyncio.get_running_loop()
            os.set_blocking(master, False)

            def readable() -> None:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if data:
                    s.out.put_nowait((1, data))
                else:
                    loop.remove_reader(master)
                    s.out.put_nowait(None)

            loop.add_reader(master, readable)

            async def write(data: bytes | None) -> None:
                if data is None:
                    with contextlib.suppress(OSError):
                        os.write(master, b"\x04")
                    return
                with contextlib.suppress(OSError):
                    os.write(master, data)

            def resize(w: int, h: int) -> None:
                with contextlib.suppress(OSError):
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", h, w, 0, 0))

            async def close() -> None:
                loop.remove_reader(master)
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
                with contextlib.suppress(OSError):
                    os.close(master)

            s._stdin, s._resize, s._close = write, resize, close
            s._wait = proc.wait
            return s
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as e:
            raise RuntimeError_("RunContainerError", f'exec: "{cmd[0]}": {e.strerror}') from None
        left = [2]

        async def pump(stream: asyncio.StreamReader, ch: int) -> None:
            while True:
                data = await stream.read(65536)
                if not data:
                    break
                s.out.put_nowait((ch, data))
            left[0] -= 1
            if left[0] == 0:
                s.out.put_nowait(None)

        tasks = [asyncio.create_task(pump(proc.stdout, 1)), asyncio.create_task(pump(proc.stderr, 2))]

        async def write(data: bytes | None) -> None:
            if proc.stdin is None:
                return
            if data is None:
                proc.stdin.close()
                return
            with contextlib.suppress(ConnectionError):
                proc.stdin.write(data)
                await proc.stdin.drain()

        async def close() -> None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            for t in tasks:
                t.cancel()

        s._stdin, s._close, s._wait = write, close, proc.wait
        return s

    async def attach(self, container_id: str, *, tty: bool, stdin: bool) -> PipeSession:
        c = self.containers[container_id]
        s = PipeSession()
        c.attached.append(s.out)

        async def write(data: bytes | None) -> None:
            if c.proc is None or c.proc.stdin is None:
                return
            if data is None:
                return  # stdinOnce is not modelled: detaching leaves the container's stdin open
            c.proc.stdin.write(data)
            await c.proc.stdin.drain()

        async def wait() -> int:
            await c.done.wait()
            return c.exit_code or 0

        async def close() -> None:
            with contextlib.suppress(ValueError):
                c.attached.remove(s.out)

        s._stdin, s._wait, s._close = write, wait, close
        return s

    async def port_forward(self, sandbox_id: str, port: int) -> _Port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return _Port(reader, writer)

    async def container_stats(self, container_id: str) -> ContainerStats:
        c = self.containers[container_id]
        pid = c.proc.pid if c.proc else 0
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        log_bytes = os.path.getsize(c.log_path) if os.path.exists(c.log_path) else 0
        return ContainerStats(container_id=c.id, timestamp=time.time(),
                              cpu_usage_core_nanoseconds=ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK"),
                              memory_usage_bytes=rss, memory_working_set_bytes=rss, memory_rss_bytes=rss,
                              logs_used_bytes=log_bytes)

    async def stop_all(self) -> None:
        for c in self.containers.values():
            if c.proc is not None and c.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    c.proc.kill()
                await c.proc.wait()
            if c.pump is not None:
                with contextlib.suppress(Exception):
                    await c.pump


class DictResolver:
    """(namespace, pod, container) -> the test's containers."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str, str], ResolvedContainer] = {}
        self.uids: dict[tuple[str, str], tuple[str, str]] = {}   # (ns, pod) -> (uid, sandbox)
        self.volumes: dict[tuple[str, str], dict[str, str]] = {}

    def add(self, rc: ResolvedContainer) -> None:
        self.entries[(rc.namespace, rc.pod, rc.container)] = rc
        self.uids[(rc.namespace, rc.pod)] = (rc.pod_uid, rc.sandbox_id)

    def resolve(self, namespace: str, pod: str, container: str | None) -> ResolvedContainer | None:
        if container is None:
            found = [rc for (ns, p, _), rc in self.entries.items() if (ns, p) == (namespace, pod)]
            return found[0] if len(found) == 1 else None
        return self.entries.get((namespace, pod, container))

    def sandbox_id(self, namespace: str, pod: str) -> str | None:
        v = self.uids.get((namespace, pod))
        return v[1] if v else None

    def pods(self) -> list[tuple[str, str, str, str]]:
        return [(ns, p, uid, sid) for (ns, p), (uid, sid) in self.uids.items()]

    def volume_paths(self, namespace: str, pod: str) -> dict[str, str]:
        return self.volumes.get((namespace, pod), {})
