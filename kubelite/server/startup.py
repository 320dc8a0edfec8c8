"""Start-up failures of ``kubelite server`` explained: the cause and the fix in one line.

``explain(exc, cfg)`` maps what ``run_server`` raised -- the port taken, a data dir that cannot
be written, another server holding the data dir's lock, a controller that does not import -- to
the sentence the CLI prints (``None``: not a start-up problem it knows). Pure.
"""
from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from kubelite.storage import StorageError

if TYPE_CHECKING:
    from kubelite.server.run import ServerConfig


def explain(exc: BaseException, cfg: "ServerConfig") -> str | None:
    from kubelite.controllers.manager import ControllerImportError

    where = f"{cfg.bind_address}:{cfg.https_port}"
    if isinstance(exc, ControllerImportError):
        return f"{exc} (a broken installation: reinstall kubelite)"
    if isinstance(exc, StorageError):
        text = str(exc)
        if "in use by another process" in text:
            return (f"another kubelite server is using the data dir {cfg.data_dir} (its lock is held); "
                    "stop that server or choose another --data-dir")
        return f"cannot open the datastore in {cfg.data_dir}: {text}"
    if isinstance(exc, OSError):
        if exc.errno == errno.EADDRINUSE:
            return (f"cannot listen on {where}: the address is already in use (another kubelite or API "
                    "server?); stop it or choose another --https-listen-port")
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"cannot listen on {where}: no such address on this machine; check --bind-address"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and exc.filename is None:
            return f"cannot listen on {where}: {exc.strerror} (ports below 1024 need root)"
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.ENOENT):
            return (f"the data dir {cfg.data_dir} cannot be written ({exc.strerror}: {exc.filename}); "
                    "choose another with --data-dir or fix its permissions")
        if exc.errno == errno.ENOSPC:
            return f"no space left on the device of {cfg.data_dir}"
    if isinstance(exc, OSError) and "bind" in str(exc).lower():
        return f"cannot listen on {where}: {exc}"
    return None
