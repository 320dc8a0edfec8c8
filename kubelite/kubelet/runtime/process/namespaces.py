"""Linux namespaces and mounts from pure Python (ctypes over libc): ``unshare``, ``setns``,
``mount``/``umount2``, and the two recipes the process runtime builds on — keeping a namespace
alive by bind-mounting its ``/proc/<pid>/ns/<type>`` file onto a plain file (what
``ip netns add`` does, so a pod sandbox needs no pause process), and joining such a file again;
and ``make_sandbox_namespaces``, a pod sandbox's UTS/IPC namespaces (forked by the runtime shim).

Everything here is a thin syscall wrapper: it is called in forked children right before
``execve`` (where only simple syscalls are safe) and by the runtime's worker threads, never on
the event loop.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import socket
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# /proc/<pid>/ns/<name> -> the CLONE_* flag setns() checks it against.
NS_FLAGS = {"mnt": CLONE_NEWNS, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC, "pid": CLONE_NEWPID,
            "net": CLONE_NEWNET, "cgroup": CLONE_NEWCGROUP}

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True) if sys.platform == "linux" else None


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    assert _libc is not None
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    assert _libc is not None
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def setns_path(path: str, nstype: int = 0) -> None:
    """Join the namespace that ``path`` (a /proc/<pid>/ns/* file or a bind mount of one) names."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(fd, nstype)
    finally:
        os.close(fd)


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    assert _libc is not None
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                       data.encode() if data else None), f"mount {source} on {target}")


def umount(target: str, flags: int = 0) -> None:
    assert _libc is not None
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def bind(source: str, target: str, *, readonly: bool = False, recursive: bool = True) -> None:
    """Bind ``source`` onto ``target``; read-only needs a second remount (the kernel ignores
    MS_RDONLY on the first MS_BIND)."""
    flags = MS_BIND | (MS_REC if recursive else 0)
    mount(source, target, None, flags)
    if readonly:
        mount("", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | (MS_REC if recursive else 0))


def make_private(target: str = "/") -> None:
    """Stop mount events propagating out of a fresh mount namespace (the host's / is usually
    shared: without this a bind mount inside a container would appear on the host)."""
    mount("", target, None, MS_REC | MS_PRIVATE)


def pin_namespace(pid: int, ns: str, target: str) -> None:
    """Keep ``pid``'s namespace ``ns`` alive after the process exits by binding its nsfs file
    onto ``target`` (created empty if missing)."""
    if not os.path.exists(target):
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
    mount(f"/proc/{pid}/ns/{ns}", target, None, MS_BIND)


def unpin(target: str) -> None:
    """Undo ``pin_namespace`` / any mount on ``target``; a no-op if nothing is mounted."""
    try:
        umount(target, MNT_DETACH)
    except OSError:
        pass


def mounted_under(prefix: str) -> list[str]:
    """Mount points (of this mount namespace) at or below ``prefix``, deepest first."""
    prefix = os.path.realpath(prefix).rstrip("/")
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + "/"):
                    out.append(point)
    except OSError:
        return []
    return sorted(out, key=len, reverse=True)


def available() -> bool:
    """Whether this process can make namespaces (root on Linux)."""
    return _libc is not None and os.geteuid() == 0


def make_sandbox_namespaces(sandbox_dir: str, hostname: str, ipc: bool) -> dict[str, str]:
    """Create the sandbox's UTS (with ``hostname``) and IPC namespaces in a forked child and pin
    them under ``sandbox_dir/ns`` (blocking: from a worker thread)."""
    os.makedirs(f"{sandbox_dir}/ns", exist_ok=True)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r1)
            os.close(w2)
            unshare(CLONE_NEWUTS | (CLONE_NEWIPC if ipc else 0))
            socket.sethostname(hostname)
            os.write(w1, b"k")
            os.read(r2, 1)
        except BaseException as e:  # noqa: BLE001
            with contextlib.suppress(OSError):
                os.write(w1, b"e" + str(e).encode())
        os._exit(0)
    os.close(w1)
    os.close(r2)
    out: dict[str, str] = {}
    try:
        msg = os.read(r1, 4096)
        if msg != b"k":
            raise OSError(msg[1:].decode(errors="replace") or "sandbox namespace helper died")
        for kind in ("uts", "ipc") if ipc else ("uts",):
            path = f"{sandbox_dir}/ns/{kind}"
            pin_namespace(pid, kind, path)
            out[kind] = path
    finally:
        with contextlib.suppress(OSError):
            os.write(w2, b"x")
        os.close(w2)
        os.close(r1)
        os.waitpid(pid, 0)
    return out
