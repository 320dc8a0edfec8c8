"""The runtime shim: one small, long-lived process per state dir that forks every container's
init (``init.spawn``) on the agent's behalf.

Why not fork the inits from the agent itself: a forked init shares the agent's heap pages only
until the agent writes to them, and a Python agent writes to nearly all of them over time
(reference counts, every GC pass). Measured: an init forked from a 170 MB agent owned 3 MB at
start and 86 MB once the agent had touched its heap and collected — per container. Forked from
the shim (a ~20 MB interpreter whose heap barely changes), an init stays at a few MB. Starting
a fresh interpreter *per container* would cost 200–300 ms; this costs one interpreter start per
node (lazily, at the first container) and ~a socket round trip per container.

The shim detaches (new session, reparented away from the agent), so it and the containers
outlive agent restarts; a restarted agent reconnects to it through ``shim.sock`` in the state
dir, and replaces it when its code differs from the agent's (``VERSION``). It exits by itself
once its state dir is gone (checked every 30 s when idle), and on ``killall``. It is
single-threaded, so its forks are the plain, safe kind, yet spawns overlap (``serve``). Protocol: one JSON request line per
connection, one JSON reply line: ``{"op": "spawn", "spec": {...}}`` → what ``init.spawn``
returns; ``{"op": "exec", "target", "argv", "tty"}`` with five descriptors passed along
(SCM_RIGHTS: stdin, stdout, stderr, info and status pipes) → ``streams.fork_exec``;
``{"op": "sandbox_ns", "dir", "hostname", "ipc"}`` → ``{"ns": {kind: pinned path}}`` (a
pod sandbox's UTS/IPC namespaces); ``{"op": "ping"}`` → ``{"version", "pid"}``;
``{"op": "quit"}``. Exec sessions are forked
here too, for the same copy-on-write reason (a ``kubectl exec -it`` can last hours).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.kubelet.runtime.process.init import START_TIMEOUT, spawn_begin, spawn_result, spawn_timed_out
from kubelite.kubelet.runtime.process.namespaces import make_sandbox_namespaces
from kubelite.kubelet.runtime.process.streams import fork_exec

SOCK = "shim.sock"
IDLE_CHECK = 30.0        # seconds between checks that the state dir still exists
_HERE = Path(__file__).resolve().parent
VERSION = hashlib.sha256(b"".join((_HERE / f).read_bytes() for f in
                                  ("init.py", "logs.py", "namespaces.py", "shim.py", "streams.py"))).hexdigest()[:16]


def _sock_path(dfd: int) -> str:
    # A unix socket path is limited to 108 bytes: reach the state dir through a descriptor.
    return f"/proc/self/fd/{dfd}/{SOCK}"


@dataclass
class _Spawn:
    """A spawn request whose init has not reported yet."""

    conn: socket.socket
    a: int                       # stage A's pid (exits as soon as it forked the init)
    r: int                       # the report pipe
    deadline: float
    chunks: list[bytes] = field(default_factory=list)


def _reply(conn: socket.socket, reply: dict[str, Any]) -> None:
    with conn, contextlib.suppress(OSError):
        conn.sendall(json.dumps(reply).encode() + b"\n")


def _finish(sel: selectors.BaseSelector, p: _Spawn, reply: dict[str, Any] | None = None) -> None:
    sel.unregister(p.r)
    os.close(p.r)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(p.a, 0)
    _reply(p.conn, reply if reply is not None else spawn_result(p.chunks))


def serve(state_dir: str, idle_check: float = IDLE_CHECK) -> None:
    """Serve until the state dir is gone or told to quit. Spawns proceed concurrently: the
    request forks stage A at once and the reply goes out when that init's report pipe reaches
    EOF, so one container's start (~10-40 ms of forks, mounts and cgroup joins) does not hold
    up the next pod's -- still one thread, so the forks stay the plain, safe kind."""
    dfd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"/proc/self/fd/{dfd}/{SOCK}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    srv.bind(tmp)
    srv.listen(128)
    os.replace(tmp, _sock_path(dfd))        # atomically replaces an older shim's socket
    home = os.stat(state_dir)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ, None)
    pending: dict[int, _Spawn] = {}
    while True:
        now = time.monotonic()
        timeout = min(p.deadline for p in pending.values()) - now if pending else idle_check
        events = sel.select(max(0.0, timeout))
        if not events and not pending:
            # Nobody needs a shim whose state dir was deleted (or replaced): leave.
            try:
                st = os.stat(state_dir)
                gone = (st.st_ino, st.st_dev) != (home.st_ino, home.st_dev)
            except FileNotFoundError:
                gone = True
            if gone:
                os._exit(0)
            continue
        for key, _mask in events:
            p = key.data
            if p is None:
                conn, _ = srv.accept()
                _request(srv, dfd, sel, pending, conn)
                continue
            try:
                b = os.read(p.r, 65536)
            except OSError:
                b = b""
            if b:
                p.chunks.append(b)
            else:
                del pending[p.r]
                _finish(sel, p)
        now = time.monotonic()
        for p in [p for p in pending.values() if p.deadline <= now]:
            del pending[p.r]
            _finish(sel, p, spawn_timed_out(p.a))


def _request(srv: socket.socket, dfd: int, sel: selectors.BaseSelector, pending: dict[int, _Spawn],
             conn: socket.socket) -> None:
    """Read one request from ``conn`` and answer it, or (a spawn) register it as pending."""
    fds: list[int] = []
    try:
        conn.settimeout(10)
        data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 8)
        while data and not data.endswith(b"\n"):
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        req = json.loads(data or b"{}")
        op = req.get("op")
        if op == "spawn":
            a, r = spawn_begin(req["spec"])
            pending[r] = _Spawn(conn, a, r, time.monotonic() + START_TIMEOUT)
            sel.register(r, selectors.EVENT_READ, pending[r])
            return
        if op == "exec" and len(fds) == 5:
            fork_exec(req["target"], req["argv"], fds, bool(req.get("tty")))
            reply: dict[str, Any] = {"ok": True}
        elif op == "sandbox_ns":
            reply = {"ns": make_sandbox_namespaces(req["dir"], req["hostname"], bool(req.get("ipc")))}
        elif op == "ping":
            reply = {"version": VERSION, "pid": os.getpid()}
        elif op == "quit":
            conn.sendall(b'{"ok": true}\n')
            with contextlib.suppress(OSError):
                if os.stat(_sock_path(dfd)).st_ino == os.fstat(srv.fileno()).st_ino:
                    os.unlink(_sock_path(dfd))
            os._exit(0)
        else:
            reply = {"error": f"unknown op {op!r}"}
        _reply(conn, reply)
    except (OSError, ValueError, KeyError) as e:
        _reply(conn, {"shim_error": f"shim: {e}"})
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def call(state_dir: str, req: dict[str, Any], timeout: float = 30, fds: list[int] | None = None) -> dict[str, Any]:
    """One request to the shim of ``state_dir`` (blocking), handing it ``fds`` if given.
    Raises OSError if none listens."""
    dfd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(_sock_path(dfd))
            payload = json.dumps(req).encode() + b"\n"
            if fds:
                socket.send_fds(s, [payload], fds)
            else:
                s.sendall(payload)
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
    finally:
        os.close(dfd)
    if not data:
        raise ConnectionError("the runtime shim closed the connection")
    return json.loads(data)


def start(state_dir: str, idle_check: float = IDLE_CHECK) -> None:
    """Start a shim for ``state_dir`` and wait until it answers (blocking, ~0.1–0.3 s)."""
    root = str(_HERE.parents[3])                 # the directory holding the kubelite package
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with open(os.path.join(state_dir, "shim.log"), "ab") as logf:
        p = subprocess.Popen([sys.executable, "-S", "-c", "from kubelite.kubelet.runtime.process.shim import _main; _main()",
                              state_dir, str(idle_check)],
                             stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, cwd="/", env=env,
                             start_new_session=True, close_fds=True)
    # -S: no site-packages (the shim needs only the standard library and kubelite, found via
    # PYTHONPATH), which also saves the .pth processing of every installed package.
    p.wait(30)                                   # the launcher exits as soon as the shim forked
    deadline = time.monotonic() + 15
    while True:
        try:
            if call(state_dir, {"op": "ping"}, timeout=2).get("version") == VERSION:
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise OSError("the runtime shim did not start (see shim.log in the state dir)")
        time.sleep(0.01)


def ensure(state_dir: str) -> None:
    """A shim of this code's version serves ``state_dir`` (an old one is told to quit)."""
    try:
        if call(state_dir, {"op": "ping"}, timeout=5).get("version") == VERSION:
            return
        call(state_dir, {"op": "quit"}, timeout=5)
    except (OSError, ValueError):
        pass
    start(state_dir)


def stop(state_dir: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        call(state_dir, {"op": "quit"}, timeout=5)


def _main() -> None:
    state_dir = sys.argv[1]
    idle_check = float(sys.argv[2]) if len(sys.argv) > 2 else IDLE_CHECK
    if os.fork() != 0:
        os._exit(0)                              # the launcher: the agent reaps it at once
    os.setsid()
    os.chdir("/")
    serve(state_dir, idle_check)


if __name__ == "__main__":
    _main()
