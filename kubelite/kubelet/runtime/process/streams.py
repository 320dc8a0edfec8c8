"""exec, attach and port-forward sessions of the process runtime.

- **exec**: D (forked by the runtime shim, or by an agent thread without one, through a
  short-lived middle process so that it is nobody's child) opens the container init's
  ``/proc/<pid>/ns/{ipc,uts,pid,mnt}``, ``setns``-es into them and forks E — E is then inside
  the container's pid namespace (a pid namespace applies to children only), joins the
  container's cgroup, and execs the command with pipes or a pty (``tty``) that the agent reads
  without blocking the loop. D writes E's pid on an info pipe and, when E exits, its exit code
  on a status pipe; it closes every other descriptor it inherited.
- **attach**: a connection to the container init's ``attach.sock`` (see ``init.py`` for the
  frames): output as it is produced, stdin when the container has ``stdin``, resize with a tty.
- **port-forward**: on the host network, a TCP connection to 127.0.0.1:port. With pod networking
  the connection is made from a thread that has ``setns``-ed into the sandbox's netns (the
  ``netns`` argument of ``open_port_stream`` is where that plugs in).
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import os
import signal
import socket
import struct
import termios
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.kubelet.runtime.process import namespaces as ns
from kubelite.kubelet.runtime.process.init import (
    F_CLOSE,
    F_EXIT,
    F_RESIZE,
    F_STDIN,
    FRAME,
    SOCK_NAME,
    _reset_signals,
    exec_error,
    process_attributes,
)

NS_ORDER = ("ipc", "uts", "net", "pid", "mnt")   # mnt last: it changes how /proc resolves


def _exit_code(status: int) -> int:
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status)


Launcher = Callable[[dict[str, Any], list[str], list[int], bool], None]


def fork_exec(target: dict[str, Any], argv: list[str], fds: list[int], tty: bool) -> None:
    """Fork D (through a short-lived middle process, so that D is nobody's child and needs no
    reaping by the forker) with ``fds`` = stdin, stdout, stderr, info pipe, status pipe.
    Runs in the shim, or in an agent thread without one."""
    d0 = os.fork()
    if d0 == 0:
        try:
            if os.fork() == 0:
                _exec_d(target, argv, fds, tty)
        finally:
            os._exit(0)
    os.waitpid(d0, 0)


def spawn_exec(target: dict[str, Any], argv: list[str], *, tty: bool, stdin: bool,
               launch: Launcher = fork_exec) -> dict[str, Any]:
    """Start an exec (blocking: from a worker thread). ``target``: ns_pid (whose namespaces to join), isolate,
    namespaces (names to join), cgroup_procs, env, cwd. The exit code comes back on the status
    pipe (D writes it when E exits), so it does not matter who forked D."""
    if tty:
        master, slave = os.openpty()
        child = [slave, slave, slave]
        ours: dict[str, Any] = {"master": master}
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if stdin:
            in_r, in_w = os.pipe()
        else:
            in_r, in_w = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), None
        child = [in_r, out_w, err_w]
        ours = {"stdin": in_w, "stdout": out_r, "stderr": err_r}
    info_r, info_w = os.pipe()
    status_r, status_w = os.pipe()
    try:
        launch(target, argv, child + [info_w, status_w], tty)
    finally:
        for fd in set(child + [info_w, status_w]):
            os.close(fd)
    data = b""
    while True:
        chunk = os.read(info_r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(info_r)
    text = data.decode(errors="replace")
    e_pid = int(text.split("\n", 1)[0]) if text[:1].isdigit() else 0
    return {"e": e_pid, "status": status_r, "error": "" if e_pid else (text or "exec failed"), **ours}


def _exec_d(target: dict[str, Any], argv: list[str], fds: list[int], tty: bool) -> None:
    gc.disable()
    try:
        dup = [os.dup(fd) for fd in fds]
        for i, fd in enumerate(dup[:3]):
            os.dup2(fd, i)
        os.dup2(dup[3], 3, inheritable=False)
        os.dup2(dup[4], 4, inheritable=False)
        os.closerange(5, 1 << 20)
        if target.get("isolate"):
            pid = target["ns_pid"]
            nsfds = [(os.open(f"/proc/{pid}/ns/{n}", os.O_RDONLY | os.O_CLOEXEC), n)
                     for n in NS_ORDER if n in target.get("namespaces", ())]
            for fd, n in nsfds:
                ns.setns(fd, ns.NS_FLAGS[n])
                os.close(fd)
        e = os.fork()
        if e == 0:
            try:
                os.setsid()
                if tty:
                    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
                for path in target.get("cgroup_procs", ()):
                    with open(path, "w") as f:
                        f.write("0")
                _reset_signals()
                process_attributes(target)
                os.execvpe(argv[0], argv, target["env"])
            except BaseException as ex:  # noqa: BLE001
                msg = exec_error(argv[0], ex) if isinstance(ex, OSError) else str(ex)
                os.write(2, f"{msg}\n".encode())
                os._exit(127 if isinstance(ex, FileNotFoundError) else 126)
        os.write(3, f"{e}\n".encode())
        os.close(3)
        for fd in (0, 1, 2):
            os.close(fd)
        _, st = os.waitpid(e, 0)
        os.write(4, str(_exit_code(st)).encode())
        os._exit(0)
    except BaseException as ex:  # noqa: BLE001
        with contextlib.suppress(OSError):
            os.write(3, f"exec: {ex}".encode())
        os._exit(126)


async def wait_readable(fd: int) -> None:
    """Until ``fd`` is readable (data, EOF, or -- for a pidfd -- the process exited), without a
    thread: the event loop's reader callback."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def wake() -> None:
        if not fut.done():
            fut.set_result(None)
    loop.add_reader(fd, wake)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _read_status(fd: int) -> int:
    """The exit code D writes on the status pipe when the command exits (137 if D vanished)."""
    os.set_blocking(fd, False)
    data = b""
    try:
        while True:
            await wait_readable(fd)
            try:
                chunk = os.read(fd, 64)
            except BlockingIOError:
                continue
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return int(data) if data.strip().isdigit() else 137


class ProcSession:
    """A running exec: (channel, bytes) from its pipes or pty; its exit code from D."""

    def __init__(self, info: dict[str, Any], tty: bool) -> None:
        self.e, self.tty, self._status_fd = info["e"], tty, info["status"]
        self.master = info.get("master")
        self.stdin_fd = self.master if tty else info.get("stdin")
        self.queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self.open: dict[int, int] = {}
        self._code: int | None = None
        self._waiter: asyncio.Task[int] | None = None
        loop = asyncio.get_running_loop()
        outs: dict[int, int] = {info["master"]: 1} if tty else {info["stdout"]: 1, info["stderr"]: 2}
        for fd, ch in outs.items():
            os.set_blocking(fd, False)
            self.open[fd] = ch
            loop.add_reader(fd, self._readable, fd)

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""          # EIO on a pty once the command's side closed
        if data:
            self.queue.put_nowait((self.open[fd], data))
            return
        asyncio.get_running_loop().remove_reader(fd)
        del self.open[fd]
        if fd != self.master:
            os.close(fd)
        if not self.open:
            self.queue.put_nowait(None)

    async def read(self) -> tuple[int, bytes] | None:
        if not self.open and self.queue.empty():
            return None
        return await self.queue.get()

    async def write_stdin(self, data: bytes) -> None:
        fd = self.stdin_fd
        if fd is None:
            return

        def _write() -> None:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    import select
                    select.select([], [fd], [], 1.0)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(_write)

    async def close_stdin(self) -> None:
        if self.tty:
            await self.write_stdin(b"\x04")
        elif self.stdin_fd is not None:
            fd, self.stdin_fd = self.stdin_fd, None
            os.close(fd)

    async def resize(self, width: int, height: int) -> None:
        if self.master is not None:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        if self._code is None:
            if self._waiter is None:
                self._waiter = asyncio.ensure_future(_read_status(self._status_fd))
            self._code = await asyncio.shield(self._waiter)
        return self._code

    def kill(self) -> None:
        if self._code is None and self.e:
            for target in (lambda: os.killpg(self.e, signal.SIGKILL), lambda: os.kill(self.e, signal.SIGKILL)):
                with contextlib.suppress(OSError):
                    target()

    async def close(self) -> None:
        self.kill()
        loop = asyncio.get_running_loop()
        for fd in list(self.open):
            loop.remove_reader(fd)
            if fd != self.master:
                os.close(fd)
        self.open.clear()
        if not self.tty and self.stdin_fd is not None:
            os.close(self.stdin_fd)
            self.stdin_fd = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.wait(), 5)
        if self.master is not None:
            os.close(self.master)
            self.master = None


class AttachSession:
    """A connection to a container init's attach socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, stdin: bool,
                 exit_code: Callable[[], Awaitable[int]]) -> None:
        self.reader, self.writer, self.stdin, self._exit_code = reader, writer, stdin, exit_code
        self._code: int | None = None

    @classmethod
    async def connect(cls, container_dir: str, *, stdin: bool, exit_code: Callable[[], Awaitable[int]],
                      ) -> AttachSession:
        # A unix socket path is limited to 108 bytes: reach it through a directory descriptor.
        dfd = os.open(container_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            reader, writer = await asyncio.open_unix_connection(f"/proc/self/fd/{dfd}/{SOCK_NAME}")
        finally:
            os.close(dfd)
        return cls(reader, writer, stdin=stdin, exit_code=exit_code)

    async def _send(self, kind: int, payload: bytes) -> None:
        try:
            self.writer.write(FRAME.pack(kind, len(payload)) + payload)
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    async def read(self) -> tuple[int, bytes] | None:
        while True:
            try:
                head = await self.reader.readexactly(FRAME.size)
                kind, n = FRAME.unpack(head)
                data = await self.reader.readexactly(n)
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            if kind == F_EXIT:
                self._code = struct.unpack("!i", data)[0]
                return None
            return kind, data

    async def write_stdin(self, data: bytes) -> None:
        if self.stdin and data:
            await self._send(F_STDIN, data)

    async def close_stdin(self) -> None:
        if self.stdin:
            await self._send(F_CLOSE, b"")

    async def resize(self, width: int, height: int) -> None:
        await self._send(F_RESIZE, struct.pack("!HH", width, height))

    async def wait(self) -> int:
        if self._code is None:
            self._code = await self._exit_code()
        return self._code

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


class TcpPortStream:
    """One port-forward connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self, n: int = 65536) -> bytes:
        try:
            return await self.reader.read(n)
        except ConnectionError:
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def open_port_stream(port: int, netns: str | None = None) -> TcpPortStream:
    """A connection to ``port`` in the sandbox's network. ``netns`` (a pinned netns file) is
    for pod networking: then the socket is created in a thread that joined the netns (a socket
    stays in the namespace it was created in) and handed to asyncio."""
    if netns:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[socket.socket] = loop.create_future()

        def _make() -> None:
            # setns(CLONE_NEWNET) changes only the calling thread: a throwaway thread, never a
            # pool thread that would stay in the pod's network.
            try:
                ns.setns_path(netns, ns.CLONE_NEWNET)
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.setblocking(False)
                loop.call_soon_threadsafe(fut.set_result, s)
            except BaseException as e:  # noqa: BLE001
                loop.call_soon_threadsafe(fut.set_exception, e)
        threading.Thread(target=_make, name="portforward-netns", daemon=True).start()
        sock = await fut
        reader, writer = await asyncio.open_connection(sock=sock)
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return TcpPortStream(reader, writer)
