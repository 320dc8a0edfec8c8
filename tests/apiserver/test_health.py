"""``/livez`` and ``/readyz`` report real checks: each named for what it tests, each failing
when that thing is broken (watch hub dead, storage writer stopped, a component crashed), with
the reason logged and withheld from the reply, as kube-apiserver does.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kubelite.apiserver.request import ANONYMOUS, ApiRequest
from kubelite.server.components import ComponentStatus, supervise
from tests.inprocess import api_client


async def get(api, path: str, **query: str):  # noqa: ANN001, ANN201
    q = {k: v for k, v in query.items() if k != "exclude"}
    qa = {k: [v] for k, v in query.items()}
    r = await api.handle(ApiRequest("GET", path, q, {}, b"", ANONYMOUS, query_all=qa))
    return r.status, r.body.decode()


async def test_verbose_readyz_lists_the_real_checks(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        assert await get(api, "/readyz") == (200, "ok")
        assert await get(api, "/livez") == (200, "ok")
        status, text = await get(api, "/readyz", verbose="")
        assert status == 200
        assert text.splitlines() == [
            "[+]ping ok", "[+]storage ok", "[+]storage-writer ok", "[+]watch-hub ok",
            "[+]poststarthook/crd-informer-synced ok", "[+]poststarthook/namespace-index ok",
            "[+]poststarthook/bootstrap ok", "[+]shutdown ok", "readyz check passed"]
        status, text = await get(api, "/livez", verbose="")
        assert text.splitlines() == ["[+]ping ok", "[+]storage-writer ok", "[+]watch-hub ok", "livez check passed"]


async def test_a_dead_watch_hub_fails_livez_and_readyz(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with api_client(tmp_path) as (api, _):
        api.hub._task.cancel()
        await asyncio.sleep(0)
        for path in ("/readyz", "/livez", "/healthz"):
            status, text = await get(api, path)
            assert status == 500, (path, text)
            assert "[-]watch-hub failed: reason withheld" in text and text.endswith("check failed\n")
        assert "health check watch-hub failing: stopped" in caplog.text
        # exclude= skips it, as in kube
        status, text = await get(api, "/readyz", exclude="watch-hub", verbose="")
        assert status == 200 and "[+]watch-hub excluded: ok" in text


async def test_a_stopped_storage_writer_fails_livez(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with api_client(tmp_path) as (api, _):
        writer = api.storage._writer
        writer.stop()
        await asyncio.to_thread(writer.join)
        status, text = await get(api, "/livez")
        assert status == 500 and "[-]storage-writer failed" in text
        assert "health check storage-writer failing: the writer thread has stopped" in caplog.text


async def test_a_crashed_component_turns_readyz_not_ready_then_recovers(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with api_client(tmp_path) as (api, _):
        status = ComponentStatus("scheduler")
        api.health.add("scheduler", status.check)
        crashed = asyncio.Event()
        go_on = asyncio.Event()

        async def run() -> None:
            if not crashed.is_set():
                crashed.set()
                raise RuntimeError("boom")
            go_on.set()
            await asyncio.Event().wait()

        import kubelite.server.components as comp
        old, comp.RESTART_DELAY = comp.RESTART_DELAY, 0.5
        task = asyncio.create_task(supervise("scheduler", run, status))
        try:
            await crashed.wait()
            await asyncio.sleep(0.05)
            code, text = await get(api, "/readyz", verbose="")
            assert code == 500 and "[-]scheduler failed: reason withheld" in text
            assert "health check scheduler failing: crashed (RuntimeError: boom); restarting" in caplog.text
            await asyncio.wait_for(go_on.wait(), 5)
            assert await get(api, "/readyz") == (200, "ok")
        finally:
            comp.RESTART_DELAY = old
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_readyz_fails_once_shutdown_begins(tmp_path: Path) -> None:
    async with api_client(tmp_path) as (api, _):
        api.stopping = True
        code, text = await get(api, "/readyz")
        assert code == 500 and "[-]shutdown failed" in text
        api.stopping = False


async def test_version_build_fields_are_not_made_up(tmp_path: Path) -> None:
    """gitCommit / gitTreeState / buildDate come from git when running from a checkout, else
    they keep kube's unset values -- never a fixed date."""
    import re
    import subprocess

    import kubelite

    async with api_client(tmp_path) as (api, _):
        r = await api.handle(ApiRequest("GET", "/version", {}, {}, b"", ANONYMOUS))
    import json
    v = json.loads(r.body)
    root = Path(kubelite.__file__).resolve().parent.parent
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0 and (root / ".git").exists():
        assert v["gitCommit"] == head.stdout.strip()
        assert v["gitTreeState"] in ("clean", "dirty")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v["buildDate"])
        assert v["buildDate"] != "1970-01-01T00:00:00Z"
    else:
        assert (v["gitCommit"], v["gitTreeState"], v["buildDate"]) == ("", "", "1970-01-01T00:00:00Z")
