"""``kubelite server`` start-up failures, as a new user meets them: one line naming the cause
and the fix, exit status 1, no traceback (``--debug`` adds it). Real processes on loopback."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, make_cluster


def kubelite(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubelite.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = kubelite("server", "--disable-agent", "--data-dir", str(tmp_path / "d"), "--https-listen-port", str(port))
    line = one_line_error(res)
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in line
    assert "--https-listen-port" in line


def test_port_in_use_with_debug_shows_the_traceback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = kubelite("server", "--debug", "--disable-agent", "--data-dir", str(tmp_path / "d"),
                       "--https-listen-port", str(port))
    assert res.returncode == 1 and "Traceback" in res.stderr
    assert "Error: cannot listen on" in res.stderr.splitlines()[-1]


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_data_dir_not_writable(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    data = tmp_path / where
    line = one_line_error(kubelite("server", "--disable-agent", "--data-dir", str(data),
                                   "--https-listen-port", str(free_port())))
    assert f"the data dir {data} cannot be written" in line and "--data-dir" in line


def test_another_server_on_the_same_data_dir(tmp_path: Path) -> None:
    first = make_cluster(tmp_path)
    first.start()
    try:
        line = one_line_error(kubelite("server", "--disable-agent", "--data-dir", str(first.data_dir),
                                       "--https-listen-port", str(free_port())))
        assert f"another kubelite server is using the data dir {first.data_dir}" in line
        assert first.kubectl("get", "--raw", "/readyz").stdout == "ok"  # the first one is unharmed
    finally:
        first.stop()


@pytest.mark.parametrize("args,expect", [
    (["--https-listen-port", "abc"], "Invalid value for '--https-listen-port'"),
    (["--event-ttl", "soon"], "Invalid value for '--event-ttl'"),
    (["--no-such-flag"], "No such option '--no-such-flag'"),
])
def test_bad_flag_values(args: list[str], expect: str) -> None:
    line = one_line_error(kubelite("server", *args))
    assert expect in line


def test_version_and_logging_flags_after_the_subcommand() -> None:
    res = kubelite("--version")
    assert res.returncode == 0 and res.stdout.startswith("kubelite version ")
    res = kubelite("server", "-v", "--debug", "--help")
    assert res.returncode == 0 and "--debug" in res.stdout and "--verbose" in res.stdout


def test_logs_are_one_line_iso_records_when_not_a_terminal(tmp_path: Path) -> None:
    c = make_cluster(tmp_path)
    c.start()
    c.stop()
    assert c.log_path is not None
    lines = [line for line in c.log_path.read_text().splitlines() if line.strip()]
    records = [line for line in lines if line[:4].isdigit()]
    assert records, lines
    import re
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")
    for line in records:
        assert iso.match(line), line
    long_ones = [line for line in records if len(line) > 100]
    assert long_ones, "some record is longer than a terminal line, and stays one line"
