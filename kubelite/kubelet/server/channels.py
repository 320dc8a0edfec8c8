"""The remote-command channel protocol of exec and attach over WebSocket (``v4.channel.k8s.io``
and ``v5.channel.k8s.io``), as client-go's ``remotecommand`` speaks it.

Every binary WebSocket message starts with one byte naming its stream: 0 stdin (client to
server), 1 stdout, 2 stderr, 3 error -- the final ``Status`` of the command --, 4 resize (JSON
``{"Width":W,"Height":H}`` from the client). v5 adds 255 *close*: ``ff <id>`` half-closes
stream ``id`` (kubectl sends ``ff 00`` when its stdin reaches EOF). The Status on channel 3 is
``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and the exit code as a cause, which
kubectl turns into its own exit code. Pure functions: no I/O.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
#: in the kubelet's order of preference
PROTOCOLS = (V5, V4)

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def negotiate(offered: str) -> str | None:
    """The subprotocol to answer a ``Sec-WebSocket-Protocol`` header with (None: none we speak)."""
    names = [p.strip() for p in offered.split(",") if p.strip()]
    for p in PROTOCOLS:
        if p in names:
            return p
    return None


def frame(channel: int, data: bytes) -> bytes:
    return bytes((channel,)) + data


@dataclass(frozen=True)
class Message:
    channel: int
    data: bytes


def parse(message: bytes) -> Message | None:
    """A received binary message; None for an empty one (gorilla sends none, but be lenient)."""
    if not message:
        return None
    return Message(message[0], bytes(message[1:]))


def parse_resize(data: bytes) -> tuple[int, int] | None:
    """``{"Width":80,"Height":24}`` -> (80, 24); None if malformed (ignored, as the kubelet does)."""
    try:
        obj = json.loads(data)
        w, h = obj.get("Width"), obj.get("Height")
    except (ValueError, AttributeError):
        return None
    if not isinstance(w, int) or not isinstance(h, int) or w < 0 or h < 0 or w > 65535 or h > 65535:
        return None
    return w, h


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, cmd: list[str] | None = None) -> dict[str, Any]:
    """The channel-3 Status for a finished command (the kubelet's wording)."""
    if code == 0:
        return success_status()
    what = f"error executing command {_go_list(cmd)}, exit code {code}" if cmd else f"exit code {code}"
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: {what}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def error_status(message: str) -> dict[str, Any]:
    """A failure that is not an exit code (the command could not be started...)."""
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
            "code": 500}


def status_frame(status: dict[str, Any]) -> bytes:
    return frame(ERROR, json.dumps(status, separators=(",", ":")).encode())


def _go_list(cmd: list[str]) -> str:
    return "[" + " ".join(cmd) + "]"
