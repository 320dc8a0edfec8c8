"""The remote-command channel protocol (v4/v5.channel.k8s.io)."""
from __future__ import annotations

import json

from kubelite.kubelet.server import channels


def test_negotiation_prefers_v5_and_refuses_unknown() -> None:
    assert channels.negotiate("v5.channel.k8s.io") == "v5.channel.k8s.io"
    assert channels.negotiate("v4.channel.k8s.io, v5.channel.k8s.io") == "v5.channel.k8s.io"
    assert channels.negotiate("v4.channel.k8s.io") == "v4.channel.k8s.io"
    assert channels.negotiate("channel.k8s.io, base64.channel.k8s.io") is None
    assert channels.negotiate("") is None


def test_frames_and_messages() -> None:
    assert channels.frame(channels.STDOUT, b"hi") == b"\x01hi"
    assert channels.parse(b"\x00input") == channels.Message(0, b"input")
    assert channels.parse(b"\xff\x00") == channels.Message(255, b"\x00")
    assert channels.parse(b"") is None


def test_resize() -> None:
    assert channels.parse_resize(b'{"Width":120,"Height":40}') == (120, 40)
    for bad in (b"", b"[]", b'{"Width":"x","Height":1}', b'{"Width":-1,"Height":1}', b"{"):
        assert channels.parse_resize(bad) is None


def test_exit_statuses_are_what_kubectl_reads() -> None:
    assert channels.exit_status(0) == {"metadata": {}, "status": "Success"}
    st = channels.exit_status(3, ["sh", "-c", "exit 3"])
    assert st["reason"] == "NonZeroExitCode"
    assert st["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert st["message"] == "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
    raw = channels.status_frame(st)
    assert raw[0] == channels.ERROR and json.loads(raw[1:]) == st
