"""Starting a container: the fork chain and the container's tiny init.

No new Python interpreter is started per container (that costs 200–300 ms here); the agent's
own process is forked, from a worker thread::

    agent thread ── fork ──► A: join the sandbox's UTS/IPC namespaces, unshare PID + mount,
                             fork B, exit at once (so B is nobody's child in the agent)
                     B ("init", PID 1 of the container's pid namespace):
                        private mounts: /etc/hosts, /etc/resolv.conf, volumes (bind, ro),
                        a fresh /proc; pipes (or a pty) for the command's stdio;
                        fork ──► C: setsid, join the container cgroup, reset signals,
                                    setgid/setuid, chdir, execve(command)
                        then loops: output of C → the CRI log file (and attached clients),
                        attach socket → C's stdin, signals → forwarded to C, reaps orphans,
                        and when C exits writes ``exit.json`` and exits.

The init owns the container's output pipes and log file, so the agent can restart (or crash)
while the container keeps running and logging; the agent only reads files: ``init.json`` (pids,
start time) and ``exit.json`` (exit code, signal, OOM kills) in the container's state dir. That
is also what re-adoption reads. B is a forked copy of the agent: it disables the GC (no
copy-on-write of the whole heap), closes every inherited descriptor (the agent's listening
sockets must not stay open in it) and never returns into agent code (``os._exit`` always).

Without namespaces (not root) the same chain runs minus the unshare/setns/mount steps: B is then
a subreaper instead of a PID 1.

Attach protocol on ``attach.sock`` (frames ``!BI`` type + length, then the payload): client →
init: 0 stdin data, 1 close stdin, 2 resize (``!HH`` cols, rows); init → client: 1 stdout,
2 stderr, 3 exit (``!i`` exit code).
"""
from __future__ import annotations

import errno
import fcntl
import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import termios
import time
from typing import Any

from kubelite.kubelet.runtime.process import caps
from kubelite.kubelet.runtime.process import namespaces as ns
from kubelite.kubelet.runtime.process.logs import CRILogWriter

FRAME = struct.Struct("!BI")
F_STDIN, F_CLOSE, F_RESIZE = 0, 1, 2
F_STDOUT, F_STDERR, F_EXIT = 1, 2, 3
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)
MAX_CLIENT_BUFFER = 4 << 20
PR_SET_CHILD_SUBREAPER = 36
SOCK_NAME = "attach.sock"
START_TIMEOUT = 30.0       # seconds from fork to the command running


def write_json_atomic(path: str, obj: dict[str, Any]) -> None:
    """Readers never see a torn record (rename is atomic). No fsync (5 ms each here): the
    records must survive an agent restart, which they do; after a machine crash the processes
    they describe are gone anyway."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def proc_start_ticks(pid: int, proc: str = "/proc") -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks): with the pid it names one
    process for good (pids are reused); None if gone or a zombie."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    if not rest or rest[0] == b"Z":
        return None
    return int(rest[19])


def _reset_signals() -> None:
    for s in range(1, signal.NSIG):
        if s in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(s, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _prepare_fds(keep: list[int]) -> list[int]:
    """Move ``keep`` to 3, 4, … and close everything else above 2 (the agent's sockets, epoll,
    other containers' pipes a concurrent fork left us)."""
    tmp = [os.dup(fd) for fd in keep]
    out = []
    for i, fd in enumerate(tmp):
        os.dup2(fd, 3 + i, inheritable=False)
        out.append(3 + i)
    os.closerange(3 + len(keep), 1 << 20)
    # And not the agent's stdio either: a container must not hold its terminal or log pipe.
    null = os.open(os.devnull, os.O_RDWR)
    for i in range(3):
        os.dup2(null, i)
    os.close(null)
    return out


def spawn(spec: dict[str, Any]) -> dict[str, Any]:
    """Start a container (blocking: call from a worker thread). Returns what the init reported:
    ``{"init_pid", "pid", "started_at"}`` or ``{"error": message}``."""
    a, r = spawn_begin(spec)
    chunks = []
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                return spawn_timed_out(a)
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(r)
        os.waitpid(a, 0)
    return spawn_result(chunks)


def spawn_begin(spec: dict[str, Any]) -> tuple[int, int]:
    """The non-blocking half of ``spawn``: fork the container's stage A and return its pid and
    the pipe the init reports on (EOF once the command runs or failed). The shim reads many of
    these at once, so that one container's start does not wait for another's."""
    r, w = os.pipe()
    a = os.fork()
    if a == 0:
        try:
            os.close(r)
            _stage_a(spec, w)
        finally:
            os._exit(1)
    os.close(w)
    return a, r


def spawn_timed_out(a: int) -> dict[str, Any]:
    """Stuck before the command ran (a mount that hangs, say): a stuck start must not hold up
    every other one. A and B share A's process group (A called setsid)."""
    try:
        os.killpg(a, signal.SIGKILL)
    except OSError:
        pass
    return {"error": f"the container did not start within {START_TIMEOUT:.0f}s"}


def spawn_result(chunks: list[bytes]) -> dict[str, Any]:
    text = b"".join(chunks).decode(errors="replace")
    if not text:
        return {"error": "container init died before it reported"}
    return json.loads(text)


def _stage_a(spec: dict[str, Any], w: int) -> None:
    try:
        gc.disable()
        os.setsid()
        if spec.get("isolate"):
            for kind, path in (spec.get("join") or {}).items():
                ns.setns_path(path, ns.NS_FLAGS[kind])
            flags = ns.CLONE_NEWNS | (ns.CLONE_NEWPID if spec.get("new_pid") else 0)
            ns.unshare(flags)
        b = os.fork()
        if b == 0:
            try:
                _init(spec, w)
            except BaseException as e:  # noqa: BLE001 - reported to the agent
                try:
                    os.write(w, json.dumps({"error": f"init: {e}"}).encode())
                except OSError:
                    pass
            os._exit(0)
        os._exit(0)
    except BaseException as e:  # noqa: BLE001
        os.write(w, json.dumps({"error": f"{e}"}).encode())
        os._exit(1)


def _ensure_mountpoint(src: str, dst: str) -> None:
    if os.path.exists(dst):
        return
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.close(os.open(dst, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def _init(spec: dict[str, Any], w: int) -> None:
    """The container's init (B). Never returns."""
    d = spec["dir"]
    for s in FORWARDED + (signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(s, signal.SIG_DFL)
    (w,) = _prepare_fds([w])
    host_proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    my_pid = int(os.readlink("self", dir_fd=host_proc))
    my_ticks = proc_start_ticks(my_pid, f"/proc/self/fd/{host_proc}")
    if spec.get("isolate"):
        ns.make_private("/")
        # This mount namespace is a copy of the host's, with every pod's namespace pins in it:
        # drop them here, or they would keep other pods' namespaces alive as long as we run.
        for point in ns.mounted_under(spec.get("state_root") or d):
            ns.unpin(point)
        for src, dst, ro in spec.get("mounts", ()):
            _ensure_mountpoint(src, dst)
            ns.bind(src, dst, readonly=ro)
        if spec.get("new_pid") or "pid" in (spec.get("join") or {}):
            # a /proc of the PID namespace it runs in (its own, or a target's it joined)
            ns.mount("proc", "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    if not (spec.get("isolate") and spec.get("new_pid")) and sys.platform == "linux":
        # Not a PID 1 (no namespaces, hostPID, or a joined target's PID namespace): orphans of the command are still ours to reap.
        import ctypes
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    tty = bool(spec.get("tty"))
    if tty:
        master, slave = os.openpty()
        child_fds = [slave, slave, slave]
        outputs = {master: "stdout"}
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        child_fds = [-1, out_w, err_w]
        outputs = {out_r: "stdout", err_r: "stderr"}
    stdin_w = None
    if spec.get("stdin"):
        if tty:
            stdin_w = master
        else:
            in_r, stdin_w = os.pipe()
            child_fds[0] = in_r
    if child_fds[0] < 0:
        child_fds[0] = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    err_pipe_r, err_pipe_w = os.pipe()
    writer = CRILogWriter(spec["log_path"], spec.get("log_max_size", 10 << 20), spec.get("log_max_files", 5))
    # Signals are caught from before the fork: a command that exits at once must not have its
    # SIGCHLD arrive while the disposition is still the default (ignored).
    sig_r, sig_w = os.pipe()
    os.set_blocking(sig_w, False)
    os.set_blocking(sig_r, False)
    signal.set_wakeup_fd(sig_w, warn_on_full_buffer=False)
    for s in FORWARDED + (signal.SIGCHLD,):
        signal.signal(s, lambda *_: None)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    c = os.fork()
    if c == 0:
        _exec_child(spec, child_fds, err_pipe_w, host_proc, tty)
    os.close(err_pipe_w)
    for fd in set(child_fds):
        os.close(fd)
    report = b""
    while True:
        chunk = os.read(err_pipe_r, 4096)
        if not chunk:
            break
        report += chunk
    os.close(err_pipe_r)
    lines = report.decode(errors="replace").split("\n", 1)
    c_host = int(lines[0]) if lines[0].isdigit() else c
    failure = lines[1].strip() if len(lines) > 1 else ""
    now = time.time()
    if failure:
        os.waitpid(c, 0)
        write_json_atomic(f"{d}/exit.json", {"exit_code": 128, "reason": "StartError", "message": failure,
                                             "finished_at": now, "started_at": now})
        os.write(w, json.dumps({"error": failure}).encode())
        os._exit(0)
    loop = _Init(spec, writer, c, outputs, stdin_w, tty, sig_r)
    info = {"init_pid": my_pid, "init_ticks": my_ticks, "pid": c_host, "started_at": now}
    write_json_atomic(f"{d}/init.json", info)
    os.write(w, json.dumps(info).encode())
    os.close(w)
    loop.run()


def _exec_child(spec: dict[str, Any], fds: list[int], err_w: int, host_proc: int, tty: bool) -> None:
    """C: becomes the command. Only simple syscalls until execve; failures go to ``err_w``."""
    try:
        try:
            os.write(err_w, (os.readlink("self", dir_fd=host_proc) + "\n").encode())
        except OSError:
            os.write(err_w, b"\n")
        os.setsid()
        for i, fd in enumerate(fds):
            os.dup2(fd, i)
        if tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        for path in spec.get("cgroup_procs", ()):
            with open(path, "w") as f:
                f.write("0")
        _reset_signals()
        if spec.get("readonly_root"):
            # Its own mount namespace, so that only the command (and execs, which join its
            # namespaces) sees / read-only; the init keeps writing its log and records. The
            # kernel refuses the remount while this process holds files open for writing:
            # close everything but stdio and the report pipe first.
            keep = sorted({err_w, host_proc})
            for lo, hi in zip([3] + [k + 1 for k in keep], keep + [1 << 20]):
                os.closerange(lo, hi)
            ns.unshare(ns.CLONE_NEWNS)
            ns.mount("", "/", None, ns.MS_REMOUNT | ns.MS_BIND | ns.MS_RDONLY)
        process_attributes(spec)
        argv = spec["argv"]
        try:
            os.execvpe(argv[0], argv, spec["env"])
        except OSError as e:
            raise _StartError(exec_error(argv[0], e)) from None
    except BaseException as e:  # noqa: BLE001
        try:
            os.write(err_w, str(e).encode() or b"exec failed")
        finally:
            os._exit(127)


class _StartError(Exception):
    pass


def process_attributes(spec: dict[str, Any]) -> None:
    """Working dir, capabilities, no_new_privs, groups and user of a container's command (or
    of an exec in it): the last steps before execve, in the order the kernel needs (the
    bounding set can only shrink while we still hold CAP_SETPCAP, i.e. before setuid)."""
    if spec.get("cwd"):
        try:
            os.chdir(spec["cwd"])
        except OSError as e:
            raise _StartError(f'chdir to cwd ("{spec["cwd"]}") failed: {(e.strerror or "").lower()}') from None
    if spec.get("cap_drop") or spec.get("no_new_privs"):
        caps.apply(spec.get("cap_drop") or [], bool(spec.get("no_new_privs")))
    gid, uid = spec.get("gid"), spec.get("uid")
    if spec.get("groups") is not None and (uid is not None or gid is not None):
        os.setgroups(spec["groups"])
    if gid is not None:
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)


def exec_error(cmd: str, e: OSError) -> str:
    """The message runc gives for a command that cannot be executed (what kubectl shows)."""
    if e.errno == errno.ENOENT and "/" not in cmd:
        return f'exec: "{cmd}": executable file not found in $PATH'
    return f'exec: "{cmd}": {(e.strerror or str(e)).lower()}'


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.inbuf, self.outbuf = sock, bytearray(), bytearray()


class _Init:
    """B's event loop: poll on output fds, the attach socket, its clients and a signal pipe."""

    def __init__(self, spec: dict[str, Any], writer: CRILogWriter, child: int, outputs: dict[int, str],
                 stdin_w: int | None, tty: bool, sig_r: int) -> None:
        self.spec, self.child, self.outputs, self.stdin_w, self.tty = spec, child, outputs, stdin_w, tty
        self.writer = writer
        self.stdin_buf = bytearray()
        self.stdin_closing = False
        if stdin_w is not None:
            os.set_blocking(stdin_w, False)
        self.status: int | None = None
        self.clients: dict[int, _Client] = {}
        self.stdin_claimed = False
        self.poll = select.poll()
        self.sig_r = sig_r
        self.poll.register(sig_r, select.POLLIN)
        for fd in outputs:
            os.set_blocking(fd, False)
            self.poll.register(fd, select.POLLIN)
        self.listener = self._listen()

    def _listen(self) -> socket.socket | None:
        dfd = os.open(self.spec["dir"], os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            path = f"/proc/self/fd/{dfd}/{SOCK_NAME}"
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.listen(8)
            s.setblocking(False)
        except OSError:
            return None
        finally:
            os.close(dfd)
        self.poll.register(s.fileno(), select.POLLIN)
        return s

    def run(self) -> None:
        drain_deadline = None
        while True:
            if self.status is not None:
                if not self.outputs:
                    break
                if drain_deadline is None:
                    # Output still open after the command exited: a daemonised grandchild may
                    # hold it. Take what comes for a moment, then end (PID 1 exiting kills them).
                    drain_deadline = time.monotonic() + 1.0
                if time.monotonic() > drain_deadline:
                    break
            try:
                events = self.poll.poll(100 if self.status is not None else 2000)
            except InterruptedError:
                continue
            if not events:
                if self.status is not None:
                    break
                self._reap()        # belt and braces: a lost wakeup costs at most 2 s
                continue
            for fd, ev in events:
                if fd == self.stdin_w and ev & select.POLLOUT:
                    self._flush_stdin()
                    if not ev & ~select.POLLOUT:
                        continue
                if fd == self.sig_r:
                    self._signals()
                elif fd in self.outputs:
                    self._output(fd)
                elif self.listener is not None and fd == self.listener.fileno():
                    self._accept()
                elif fd in self.clients:
                    self._client(fd, ev)
        self._finish()

    def _signals(self) -> None:
        try:
            data = os.read(self.sig_r, 512)
        except BlockingIOError:
            data = b""
        for s in data:
            if s == signal.SIGCHLD:
                continue
            if self.status is None:
                try:
                    os.kill(self.child, s)
                except OSError:
                    pass
        self._reap()

    def _reap(self) -> None:
        while True:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.child:
                self.status = st

    def _output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:             # EIO: the pty's last holder closed it
            data = b""
        if not data:
            self.poll.unregister(fd)
            del self.outputs[fd]
            if fd != self.stdin_w:
                os.close(fd)
            return
        stream = self.outputs[fd]
        self.writer.feed(stream, data)
        self._broadcast(F_STDOUT if stream == "stdout" else F_STDERR, data)

    def _broadcast(self, kind: int, data: bytes) -> None:
        frame = FRAME.pack(kind, len(data)) + data
        for fd, cl in list(self.clients.items()):
            cl.outbuf += frame
            if len(cl.outbuf) > MAX_CLIENT_BUFFER:
                self._drop(fd)            # a stalled reader must not stall the container
                continue
            self._flush(fd)

    def _flush(self, fd: int) -> None:
        cl = self.clients[fd]
        try:
            n = cl.sock.send(cl.outbuf)
            del cl.outbuf[:n]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(fd)
            return
        self.poll.modify(fd, select.POLLIN | (select.POLLOUT if cl.outbuf else 0))

    def _accept(self) -> None:
        if self.listener is None:  # only polled when listening; keeps the type honest
            return
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        sock.setblocking(False)
        self.clients[sock.fileno()] = _Client(sock)
        self.poll.register(sock.fileno(), select.POLLIN)

    def _client(self, fd: int, ev: int) -> None:
        cl = self.clients[fd]
        if ev & select.POLLOUT:
            self._flush(fd)
            if fd not in self.clients:
                return
        if not ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
            return
        try:
            data = cl.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(fd)
            return
        cl.inbuf += data
        while len(cl.inbuf) >= FRAME.size:
            kind, n = FRAME.unpack_from(cl.inbuf)
            if len(cl.inbuf) < FRAME.size + n:
                break
            payload = bytes(cl.inbuf[FRAME.size:FRAME.size + n])
            del cl.inbuf[:FRAME.size + n]
            self._frame(kind, payload)

    def _frame(self, kind: int, payload: bytes) -> None:
        if kind == F_STDIN and self.stdin_w is not None and not self.stdin_closing:
            self.stdin_claimed = True
            if len(self.stdin_buf) + len(payload) <= MAX_CLIENT_BUFFER:   # beyond: dropped
                self.stdin_buf += payload
            self._flush_stdin()
        elif kind == F_CLOSE:
            self._close_stdin()
        elif kind == F_RESIZE and self.tty and len(payload) == 4:
            cols, rows = struct.unpack("!HH", payload)
            fd = next(iter(self.outputs), None)
            if fd is not None:
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _flush_stdin(self) -> None:
        """Write what clients sent to the command's stdin without ever blocking the init (a
        command that does not read its stdin must not stop its output being logged)."""
        fd = self.stdin_w
        if fd is None:
            self.stdin_buf.clear()
            return
        while self.stdin_buf:
            try:
                del self.stdin_buf[:os.write(fd, self.stdin_buf)]
            except BlockingIOError:
                break
            except OSError:
                self.stdin_buf.clear()
        mask = (select.POLLIN if fd in self.outputs else 0) | (select.POLLOUT if self.stdin_buf else 0)
        if mask:
            self.poll.register(fd, mask)        # (re-)registering sets the mask
        else:
            try:
                self.poll.unregister(fd)
            except KeyError:
                pass
        if not self.stdin_buf and self.stdin_closing:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin_w is None:
            return
        if self.stdin_buf:                      # after what is still buffered
            self.stdin_closing = True
            return
        if self.tty:
            try:
                os.write(self.stdin_w, b"\x04")   # EOF on a terminal is ^D
            except OSError:
                pass
        else:
            os.close(self.stdin_w)
        self.stdin_w = None

    def _drop(self, fd: int) -> None:
        cl = self.clients.pop(fd)
        try:
            self.poll.unregister(fd)
        except KeyError:
            pass
        cl.sock.close()
        if self.spec.get("stdin_once") and self.stdin_claimed:
            self._close_stdin()

    def _finish(self) -> None:
        if self.status is None:
            os.waitpid(self.child, 0)
        st = self.status or 0
        if os.WIFSIGNALED(st):
            sig = os.WTERMSIG(st)
            code = 128 + sig
        else:
            sig, code = 0, os.waitstatus_to_exitcode(st)
        try:
            self.writer.close()
        except OSError:
            pass
        oom = 0
        path = self.spec.get("oom_file")
        if path:
            try:
                with open(path) as f:
                    for line in f:
                        k, _, v = line.partition(" ")
                        if k == "oom_kill":
                            oom = int(v)
            except OSError:
                pass
        write_json_atomic(f"{self.spec['dir']}/exit.json",
                          {"exit_code": code, "signal": sig, "oom_kills": oom, "finished_at": time.time()})
        frame = FRAME.pack(F_EXIT, 4) + struct.pack("!i", code)
        for fd, cl in list(self.clients.items()):
            try:
                cl.sock.setblocking(True)
                cl.sock.settimeout(1.0)
                cl.sock.sendall(bytes(cl.outbuf) + frame)
            except OSError:
                pass
        os._exit(0)
