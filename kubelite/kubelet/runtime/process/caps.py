"""Linux capabilities of a container's command, from its securityContext: the runtime default
set (containerd's and Docker's 14), plus ``capabilities.add``, minus ``capabilities.drop``
(``ALL`` allowed in both), everything for ``privileged``. Applied by dropping the rest from the
bounding set right before ``execve``: a root command then cannot hold more (its permitted set
after exec is the bounding set, the inheritable set being empty). ``no_new_privs`` backs
``allowPrivilegeEscalation: false``.
"""
from __future__ import annotations

import ctypes
import sys

CAPS = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
        "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
        "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
NUMBER = {name: i for i, name in enumerate(CAPS)}
DEFAULT = {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
           "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38


def _norm(name: str) -> str:
    name = name.upper()
    return name[4:] if name.startswith("CAP_") else name


def effective(add: tuple[str, ...], drop: tuple[str, ...], privileged: bool) -> set[str]:
    """The capability names a container keeps (Kubernetes' names, with or without ``CAP_``),
    in containerd's order: ``ALL`` in add, then ``ALL`` in drop, then single adds, then single
    drops — so add ``[ALL]`` + drop ``[CHOWN]`` is everything but CHOWN, drop ``[ALL]`` + add
    ``[NET_BIND_SERVICE]`` is just that one."""
    if privileged:
        return set(CAPS)
    adds, drops = {_norm(c) for c in add}, {_norm(c) for c in drop}
    keep = set(DEFAULT)
    if "ALL" in adds:
        keep = set(CAPS)
    if "ALL" in drops:
        keep = set()
    keep |= adds & set(CAPS)
    keep -= drops
    return keep


def to_drop(keep: set[str]) -> list[int]:
    return [NUMBER[c] for c in CAPS if c not in keep]


def apply(drop_numbers: list[int], no_new_privs: bool) -> None:
    """In the forked child, right before execve."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for n in drop_numbers:
        libc.prctl(PR_CAPBSET_DROP, n, 0, 0, 0)   # EINVAL for caps this kernel lacks: fine
    if no_new_privs:
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
