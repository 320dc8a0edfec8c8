"""The process runtime with real processes (and, as root, real namespaces and cgroups)."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubelite.kubelet.runtime.interface import (
    ContainerState,
    ImageService,
    Mount,
    Resources,
    RuntimeError_,
    RuntimeService,
    SandboxState,
)
from kubelite.kubelet.runtime.process import ProcessImageService, ProcessRuntime
from kubelite.kubelet.runtime.process.killall import killall
from kubelite.kubelet.runtime.process.logs import read_log
from tests.kubelet.runtime.conftest import cgroup_dirs, ctr, pod, root_only

HOSTS = "127.0.0.1\tlocalhost\n10.1.2.3\tweb-0.example\n"


def log_lines(path: str) -> list[str]:
    return [f"{e.stream}:{e.content.decode()}" for e in read_log(path)[0]]


async def run(rt: ProcessRuntime, sid: str, tmp_path: Path, *cmd: str, **kw):  # noqa: ANN003, ANN201
    cid = await rt.create_container(sid, ctr(tmp_path, *cmd, **kw))
    await rt.start_container(cid)
    st = await asyncio.wait_for(rt.wait_container(cid), 10)
    return st, log_lines(st.log_path)


def test_protocols() -> None:
    assert isinstance(ProcessRuntime.__new__(ProcessRuntime), RuntimeService)
    assert isinstance(ProcessImageService(), ImageService)


async def test_image_service_is_trivial_and_honest() -> None:
    imgs = ProcessImageService()
    assert await imgs.pull_image("busybox:1.36") == "busybox:1.36"
    a, b = await imgs.image_status("busybox:1.36"), await imgs.image_status("busybox:1.36")
    assert a is not None and a.id == b.id and a.id.startswith("sha256:") and a.repo_tags == ["busybox:1.36"]
    assert (await imgs.image_status("nginx")).id != a.id
    assert {i.repo_tags[0] for i in await imgs.list_images()} == {"busybox:1.36", "nginx"}
    await imgs.remove_image("nginx")
    assert [i.repo_tags[0] for i in await imgs.list_images()] == ["busybox:1.36"]


async def test_exit_codes_reasons_and_logs(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    st, lines = await run(rt, sid, tmp_path, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 3, "Error")
    assert lines == ["stdout:out", "stderr:err"]
    assert st.started_at > 0 and st.finished_at >= st.started_at
    raw = Path(st.log_path).read_text().splitlines()[0]
    ts, stream, tag, content = raw.split(" ", 3)
    assert ts.endswith("Z") and len(ts.split(".")[1]) == 10 and (stream, tag, content) == ("stdout", "F", "out")
    st, _ = await run(rt, sid, tmp_path, "true")
    assert (st.exit_code, st.reason) == (0, "Completed")
    st, lines = await run(rt, sid, tmp_path, "sh", "-c", "echo $GREETING $HOSTNAME; pwd", env=(("GREETING", "hi"),),
                          working_dir="/tmp")
    assert lines == ["stdout:hi web", "stdout:/tmp"]
    assert len(await rt.list_containers(sid)) == 3


async def test_no_command_and_missing_binary(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    with pytest.raises(RuntimeError_) as e:
        await rt.create_container(sid, ctr(tmp_path))
    assert e.value.reason == "CreateContainerConfigError" and "command" in e.value.message
    cid = await rt.create_container(sid, ctr(tmp_path, "no-such-binary-kubelite"))
    with pytest.raises(RuntimeError_) as e:
        await rt.start_container(cid)
    assert e.value.reason == "RunContainerError" and "no-such-binary-kubelite" in e.value.message
    st = await rt.container_status(cid)
    assert (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 128, "StartError")
    assert "executable file not found" in st.message


async def test_stop_sigterm_then_sigkill(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    polite = await rt.create_container(sid, ctr(tmp_path, "sleep", "100", name="polite"))
    stubborn = await rt.create_container(sid, ctr(tmp_path, "sh", "-c", 'trap "" TERM; echo ready; sleep 100',
                                                  name="stubborn"))
    await rt.start_container(polite)
    await rt.start_container(stubborn)
    assert (await rt.container_status(polite)).state == ContainerState.RUNNING
    await asyncio.sleep(0.1)
    t = time.monotonic()
    await rt.stop_container(polite, 5)
    assert time.monotonic() - t < 2
    st = await rt.container_status(polite)
    assert (st.state, st.exit_code, st.reason) == (ContainerState.EXITED, 143, "Error")
    t = time.monotonic()
    await rt.stop_container(stubborn, 0.5)
    took = time.monotonic() - t
    st = await rt.container_status(stubborn)
    assert 0.5 <= took < 3 and (st.exit_code, st.reason) == (137, "Error")
    await rt.stop_container(stubborn, 1)          # stopping an exited container is a no-op


async def test_plain_processes_without_isolation(tmp_path: Path) -> None:
    """The non-root path (forced here): plain host processes, same lifecycle and logs."""
    state = tmp_path / "plain"
    rt = ProcessRuntime(state, isolate=False, use_shim=False)     # and inits forked by the agent itself
    assert rt.isolate is False and rt.cgroups is None
    sid = await rt.run_pod_sandbox(pod(hosts_file=HOSTS))
    st, lines = await run(rt, sid, tmp_path, "sh", "-c", "echo plain; exit 4")
    assert (st.exit_code, lines) == (4, ["stdout:plain"])
    cid = await rt.create_container(sid, ctr(tmp_path, "sh", "-c", "sleep 100"))
    await rt.start_container(cid)
    stats = await rt.container_stats(cid)
    assert stats.memory_usage_bytes > 0
    code, out, _ = await rt.exec_sync(cid, ["sh", "-c", "echo in-exec"], 5)
    assert (code, out) == (0, b"in-exec\n")
    await rt.stop_container(cid, 2)
    assert (await rt.container_status(cid)).exit_code == 143
    await rt.remove_pod_sandbox(sid)
    assert await rt.list_pod_sandboxes() == [] and await rt.list_containers() == []
    killall(state, cgroup_root=None)


@root_only
async def test_oom_kill_reported(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    st, _ = await run(rt, sid, tmp_path, sys.executable, "-c", "b = b'x' * (200 * 2**20)",
                      resources=Resources(memory_limit_bytes=40 * 2**20))
    assert (st.exit_code, st.reason) == (137, "OOMKilled")


@root_only
async def test_cgroup_limits_written(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod(resources=Resources(memory_limit_bytes=256 * 2**20)))
    res = Resources(cpu_shares=256, cpu_quota_us=50_000, cpu_period_us=100_000, memory_limit_bytes=64 * 2**20,
                    pids_limit=64)
    cid = await rt.create_container(sid, ctr(tmp_path, "sh", "-c", "cat /proc/self/cgroup; sleep 100", resources=res))
    await rt.start_container(cid)
    rec = rt._containers[cid]["cgroup"]
    if rec["version"] == 1:
        d = rec["dirs"]
        assert Path(d["cpu"], "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert Path(d["cpu"], "cpu.cfs_period_us").read_text().strip() == "100000"
        assert Path(d["cpu"], "cpu.shares").read_text().strip() == "256"
        assert Path(d["memory"], "memory.limit_in_bytes").read_text().strip() == str(64 * 2**20)
        assert Path(d["pids"], "pids.max").read_text().strip() == "64"
        pod_mem = Path(d["memory"]).parent / "memory.limit_in_bytes"
        assert pod_mem.read_text().strip() == str(256 * 2**20)
        pid = (await rt.container_status(cid)).pid
        assert str(pid) in Path(d["memory"], "cgroup.procs").read_text().split()
    stats = await rt.container_stats(cid)
    assert stats.memory_usage_bytes > 0 and stats.memory_working_set_bytes <= stats.memory_usage_bytes
    assert stats.cpu_usage_core_nanoseconds > 0
    pstats = await rt.pod_sandbox_stats(sid)
    assert pstats.memory_usage_bytes >= stats.memory_usage_bytes
    await rt.stop_container(cid, 0)


@root_only
async def test_sandbox_namespaces_hostname_hosts(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod(hostname="web-0", hosts_file=HOSTS, dns_config="nameserver 10.43.0.10\n"))
    script = ("hostname; echo pid=$$; cat /etc/hosts /etc/resolv.conf; ls /proc | grep -c '^[0-9]'; "
              "echo done; sleep 100")
    cids = [await rt.create_container(sid, ctr(tmp_path, "sh", "-c", script, name=n)) for n in ("a", "b")]
    for c in cids:
        await rt.start_container(c)
    sts = [await rt.container_status(c) for c in cids]
    for _ in range(100):
        if all("stdout:done" in log_lines(st.log_path) for st in sts):
            break
        await asyncio.sleep(0.05)
    la, lb = (log_lines(st.log_path) for st in sts)
    assert la[0] == lb[0] == "stdout:web-0"
    assert la[1] == "stdout:pid=2"                                  # the init is PID 1
    assert "stdout:10.1.2.3\tweb-0.example" in la and "stdout:nameserver 10.43.0.10" in la
    assert int(la[-2].split(":")[1]) <= 4                           # its own /proc: init, sh, ls, grep
    nsa, nsb, host = ({n: os.readlink(f"/proc/{pid}/ns/{n}") for n in ("uts", "ipc", "pid", "mnt")}
                      for pid in (sts[0].pid, sts[1].pid, os.getpid()))
    assert nsa["uts"] == nsb["uts"] != host["uts"] and nsa["ipc"] == nsb["ipc"] != host["ipc"]  # the pod's
    assert len({nsa["pid"], nsb["pid"], host["pid"]}) == 3 and len({nsa["mnt"], nsb["mnt"], host["mnt"]}) == 3
    assert socket.gethostname() != "web-0"
    assert "web-0.example" not in Path("/etc/hosts").read_text()   # the host's file is untouched
    # An exec joins the same namespaces.
    code, out, _ = await rt.exec_sync(cids[1], ["sh", "-c", "hostname; readlink /proc/self/ns/ipc"], 5)
    assert out.decode().split() == ["web-0", nsb["ipc"]]


@root_only
async def test_bind_mounts_readonly(rt: ProcessRuntime, tmp_path: Path) -> None:
    src = tmp_path / "vol"
    src.mkdir()
    (src / "data.txt").write_text("from the host\n")
    rw_src = tmp_path / "rw"
    rw_src.mkdir()
    target, rw_target = tmp_path / "mnt-ro", tmp_path / "mnt-rw"
    target.mkdir()
    rw_target.mkdir()
    sid = await rt.run_pod_sandbox(pod())
    st, lines = await run(rt, sid, tmp_path, "sh", "-c",
                          f"cat {target}/data.txt; touch {target}/new || echo ro-refused; "
                          f"echo written > {rw_target}/out.txt && echo rw-ok",
                          mounts=(Mount(str(target), str(src), readonly=True),
                                  Mount(str(rw_target), str(rw_src))))
    assert lines[0] == "stdout:from the host"
    assert "stdout:ro-refused" in lines and "stdout:rw-ok" in lines
    assert (rw_src / "out.txt").read_text() == "written\n"
    assert not (src / "new").exists()
    assert list(target.iterdir()) == [] and list(rw_target.iterdir()) == []   # nothing leaked to the host


async def test_exec_sync_stdin_and_timeout(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod(hostname="exec-pod", hosts_file=HOSTS))
    cid = await rt.create_container(sid, ctr(tmp_path, "sleep", "100"))
    await rt.start_container(cid)
    code, out, err = await rt.exec_sync(cid, ["sh", "-c", "echo $HOSTNAME; hostname; echo bad >&2; exit 5"], 5)
    assert code == 5 and err == b"bad\n"
    if rt.isolate:
        assert out == b"exec-pod\nexec-pod\n"
        code, out, _ = await rt.exec_sync(cid, ["sh", "-c", "grep -c web-0.example /etc/hosts; echo $$"], 5)
        assert out.split()[0] == b"1" and int(out.split()[1]) < 10      # the container's mnt and pid ns
    t = time.monotonic()
    with pytest.raises(TimeoutError):
        await rt.exec_sync(cid, ["sleep", "30"], 0.3)
    assert time.monotonic() - t < 3
    code, out, err = await rt.exec_sync(cid, ["no-such-cmd-kubelite"], 5)
    assert code == 127 and b"not found" in err
    sess = await rt.exec(cid, ["sh", "-c", "cat; echo done >&2"], tty=False, stdin=True)
    await sess.write_stdin(b"hello ")
    await sess.write_stdin(b"world\n")
    await sess.close_stdin()
    chunks = []
    while (item := await sess.read()) is not None:
        chunks.append(item)
    assert b"".join(d for ch, d in chunks if ch == 1) == b"hello world\n"
    assert b"".join(d for ch, d in chunks if ch == 2) == b"done\n"
    assert await sess.wait() == 0
    await sess.close()


async def test_exec_tty_and_resize(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    cid = await rt.create_container(sid, ctr(tmp_path, "sleep", "100"))
    await rt.start_container(cid)
    sess = await rt.exec(cid, ["sh", "-c", "read x; tty; stty size; exit 9"], tty=True, stdin=True)
    await sess.resize(100, 40)
    await sess.write_stdin(b"go\n")
    out = b""
    while (item := await asyncio.wait_for(sess.read(), 5)) is not None:
        assert item[0] == 1
        out += item[1]
    assert b"/dev/pts/" in out and b"40 100" in out
    assert await sess.wait() == 9
    await sess.close()


async def test_attach_stdin_and_output(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    cid = await rt.create_container(sid, ctr(tmp_path, "sh", "-c", "while read l; do echo got $l; done; exit 6",
                                             stdin=True, stdin_once=True))
    await rt.start_container(cid)
    sess = await rt.attach(cid, tty=False, stdin=True)
    await sess.write_stdin(b"one\n")
    assert await asyncio.wait_for(sess.read(), 5) == (1, b"got one\n")
    await sess.close_stdin()
    assert await asyncio.wait_for(sess.read(), 5) is None
    assert await asyncio.wait_for(sess.wait(), 5) == 6
    await sess.close()
    assert log_lines((await rt.container_status(cid)).log_path) == ["stdout:got one"]


async def test_port_forward(rt: ProcessRuntime, tmp_path: Path) -> None:
    async def echo(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"pong:" + await r.read(100))
        await w.drain()
        w.close()
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sid = await rt.run_pod_sandbox(pod())
    stream = await rt.port_forward(sid, port)
    await stream.write(b"ping")
    assert await stream.read() == b"pong:ping"
    await stream.close()
    server.close()
    await server.wait_closed()
    with pytest.raises(RuntimeError_):
        await rt.port_forward(sid, port)


async def test_log_rotation_by_the_init(tmp_path: Path, state: Path, cgroup_root: str) -> None:
    rt = ProcessRuntime(state, cgroup_root=cgroup_root, log_max_size=4096, log_max_files=3)
    sid = await rt.run_pod_sandbox(pod())
    st, _ = await run(rt, sid, tmp_path, "sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); done")
    assert [Path(f"{st.log_path}{s}").exists() for s in ("", ".1", ".2", ".3")] == [True, True, True, False]
    assert log_lines(st.log_path)[-1] == "stdout:line 399"
    stats = await rt.container_stats(st.id)
    assert 3 * 3000 < stats.logs_used_bytes <= 3 * 4096


async def test_readoption_by_a_new_runtime(tmp_path: Path, state: Path, cgroup_root: str) -> None:
    rt1 = ProcessRuntime(state, cgroup_root=cgroup_root)
    sid = await rt1.run_pod_sandbox(pod(name="keep"))
    quick = await rt1.create_container(sid, ctr(tmp_path, "sh", "-c", "exit 2", name="quick"))
    slow = await rt1.create_container(sid, ctr(tmp_path, "sh", "-c", "sleep 1; echo bye; exit 7", name="slow"))
    created = await rt1.create_container(sid, ctr(tmp_path, "true", name="later"))
    await rt1.start_container(quick)
    await rt1.start_container(slow)
    await rt1.wait_container(quick)
    del rt1
    rt2 = ProcessRuntime(state, cgroup_root=cgroup_root)
    assert [s.id for s in await rt2.list_pod_sandboxes()] == [sid]
    assert (await rt2.pod_sandbox_status(sid)).state == SandboxState.READY
    by_id = {c.id: c for c in await rt2.list_containers(sid)}
    assert by_id[quick].state == ContainerState.EXITED and by_id[quick].exit_code == 2
    assert by_id[slow].state == ContainerState.RUNNING and by_id[slow].pid > 0
    assert by_id[created].state == ContainerState.CREATED
    st = await asyncio.wait_for(rt2.wait_container(slow), 5)
    assert (st.exit_code, st.reason) == (7, "Error")
    assert log_lines(st.log_path) == ["stdout:bye"]
    await rt2.start_container(created)
    assert (await rt2.wait_container(created)).exit_code == 0
    killall(state, cgroup_root=cgroup_root)


async def test_container_outlives_the_agent_process(tmp_path: Path, state: Path, cgroup_root: str) -> None:
    """A real agent restart: another process starts the container and exits; the container
    keeps running and logging, and a new runtime here sees its exit code."""
    script = f"""
import asyncio
from kubelite.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig
from kubelite.kubelet.runtime.process import ProcessRuntime
async def main():
    rt = ProcessRuntime({str(state)!r}, cgroup_root={cgroup_root!r})
    sid = await rt.run_pod_sandbox(PodSandboxConfig(name="p", namespace="d", uid="u"))
    cid = await rt.create_container(sid, ContainerConfig(name="c", attempt=0, image="",
        command=("sh", "-c", "echo start; sleep 2; echo end; exit 3"), log_path={str(tmp_path / "c.log")!r}))
    await rt.start_container(cid)
    print(cid)
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr
    cid = out.stdout.strip()
    rt = ProcessRuntime(state, cgroup_root=cgroup_root)
    assert (await rt.container_status(cid)).state == ContainerState.RUNNING
    st = await asyncio.wait_for(rt.wait_container(cid), 5)
    assert st.exit_code == 3 and log_lines(str(tmp_path / "c.log")) == ["stdout:start", "stdout:end"]
    killall(state, cgroup_root=cgroup_root)


async def test_vanished_init_is_unknown(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    cid = await rt.create_container(sid, ctr(tmp_path, "sleep", "100"))
    await rt.start_container(cid)
    init = rt._containers[cid]["init"]
    os.kill(init["init_pid"], 9)                         # the init dies without recording
    if not rt.isolate:
        os.kill(init["pid"], 9)
    rt2 = ProcessRuntime(rt.layout.root, cgroup_root="unused")
    st = await asyncio.wait_for(rt2.wait_container(cid), 5)
    assert (st.exit_code, st.reason) == (137, "ContainerStatusUnknown")


async def test_remove_and_killall(tmp_path: Path, state: Path, cgroup_root: str) -> None:
    rt = ProcessRuntime(state, cgroup_root=cgroup_root)
    sid = await rt.run_pod_sandbox(pod(hostname="k"))
    cids = [await rt.create_container(sid, ctr(tmp_path, "sh", "-c", 'trap "" TERM; sleep 100', name=f"c{i}"))
            for i in range(2)]
    for c in cids:
        await rt.start_container(c)
    gone = await rt.run_pod_sandbox(pod(name="gone"))
    await rt.remove_pod_sandbox(gone)
    assert [s.id for s in await rt.list_pod_sandboxes()] == [sid]
    pids = [(await rt.container_status(c)).pid for c in cids]
    counts = killall(state, cgroup_root=cgroup_root)
    assert counts["containers"] == 2
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    from kubelite.kubelet.runtime.process import namespaces as ns
    assert ns.mounted_under(str(state)) == []
    assert [d for d in cgroup_dirs(cgroup_root) if os.path.exists(d)] == []
    rt2 = ProcessRuntime(state, cgroup_root=cgroup_root)
    assert {c.exit_code for c in await rt2.list_containers()} == {137}
    assert (await rt2.pod_sandbox_status(sid)).state == SandboxState.NOTREADY


async def test_killall_command(tmp_path: Path) -> None:
    from kubelite.kubelet.runtime.process import default_state_dir
    state = default_state_dir(tmp_path / "data" / "agent")
    rt = ProcessRuntime(state)
    sid = await rt.run_pod_sandbox(pod())
    cid = await rt.create_container(sid, ctr(tmp_path, "sleep", "100"))
    await rt.start_container(cid)
    try:
        out = subprocess.run([sys.executable, "-m", "kubelite.cli.main", "killall", "--data-dir", str(tmp_path / "data")],
                             capture_output=True, text=True, timeout=30, cwd=Path(__file__).resolve().parents[3])
        assert out.returncode == 0, out.stderr
        assert "killed 1 containers" in out.stderr.replace("\n", " ")
        st = await asyncio.wait_for(rt.wait_container(cid), 5)
        assert st.exit_code == 137
        from kubelite.kubelet.runtime.process import namespaces as ns
        assert ns.mounted_under(str(state)) == []
        rec = rt._containers[cid]["cgroup"]
        if rec:
            dirs = rec["dirs"].values() if rec["version"] == 1 else [rec["dir"]]
            assert not any(os.path.exists(d) for d in dirs)
    finally:
        killall(state)


async def test_attach_tty_container(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    cid = await rt.create_container(sid, ctr(tmp_path, "sh", "-c", "read x; echo got $x; stty size",
                                             stdin=True, tty=True))
    await rt.start_container(cid)
    sess = await rt.attach(cid, tty=True, stdin=True)
    await sess.resize(90, 30)
    await asyncio.sleep(0.05)
    await sess.write_stdin(b"hi\n")
    out = b""
    while (item := await asyncio.wait_for(sess.read(), 5)) is not None:
        out += item[1]
    assert b"got hi" in out and b"30 90" in out
    assert await sess.wait() == 0
    await sess.close()
    assert "stdout:got hi\r" in log_lines((await rt.container_status(cid)).log_path)


async def test_shim_restarts_and_containers_survive_it(rt: ProcessRuntime, state: Path, tmp_path: Path) -> None:
    from kubelite.kubelet.runtime.process import shim
    sid = await rt.run_pod_sandbox(pod())
    first = await rt.create_container(sid, ctr(tmp_path, "sleep", "100", name="first"))
    await rt.start_container(first)
    old = shim.call(str(state), {"op": "ping"})
    assert old["version"] == shim.VERSION
    os.kill(old["pid"], 9)
    await asyncio.sleep(0.1)
    assert (await rt.container_status(first)).state == ContainerState.RUNNING
    assert (await rt.exec_sync(first, ["echo", "still here"], 5))[1] == b"still here\n"
    second = await rt.create_container(sid, ctr(tmp_path, "sh", "-c", "exit 4", name="second"))
    await rt.start_container(second)
    assert (await rt.wait_container(second)).exit_code == 4
    assert shim.call(str(state), {"op": "ping"})["pid"] != old["pid"]


@root_only
async def test_security_context(rt: ProcessRuntime, tmp_path: Path) -> None:
    from kubelite.kubelet.runtime.interface import SecurityContext
    from kubelite.kubelet.runtime.process import caps
    sid = await rt.run_pod_sandbox(pod())
    vol, target, probe = tmp_path / "vol", tmp_path / "data", tmp_path / "root-probe"
    vol.mkdir()
    target.mkdir()
    sec = SecurityContext(read_only_root_filesystem=True, allow_privilege_escalation=False,
                          capabilities_drop=("ALL",), capabilities_add=("NET_BIND_SERVICE",))
    cid = await rt.create_container(sid, ctr(
        tmp_path, "sh", "-c", f"grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; "
        f"touch {probe} 2>/dev/null || echo ro-root; touch {target}/ok && echo vol-rw; sleep 100",
        security=sec, mounts=(Mount(str(target), str(vol)),)))
    await rt.start_container(cid)
    code, out, err = await rt.exec_sync(cid, ["sh", "-c", f"touch {probe} 2>/dev/null || echo exec-ro"], 5)
    assert out == b"exec-ro\n", (out, err)                   # an exec sees the same read-only root
    await rt.stop_container(cid, 0)
    lines = log_lines((await rt.container_status(cid)).log_path)
    assert lines[:2] == [f"stdout:CapBnd:\t{1 << caps.NUMBER['NET_BIND_SERVICE']:016x}", "stdout:NoNewPrivs:\t1"]
    assert lines[2:] == ["stdout:ro-root", "stdout:vol-rw"]
    assert not probe.exists() and (vol / "ok").exists()
    # The default set: root keeps containerd's 14 capabilities, not CAP_SYS_ADMIN; users apply.
    st, lines = await run(rt, sid, tmp_path, "sh", "-c", "grep CapBnd /proc/self/status; id -u; id -g",
                          security=SecurityContext(run_as_user=65534, run_as_group=65534))
    expected = sum(1 << caps.NUMBER[c] for c in caps.DEFAULT)
    assert lines == [f"stdout:CapBnd:\t{expected:016x}", "stdout:65534", "stdout:65534"]


def test_capability_sets() -> None:
    from kubelite.kubelet.runtime.process.caps import CAPS, DEFAULT, effective
    assert effective((), (), False) == DEFAULT
    assert effective((), (), True) == set(CAPS)
    assert effective(("NET_ADMIN",), ("CAP_CHOWN",), False) == DEFAULT - {"CHOWN"} | {"NET_ADMIN"}
    assert effective(("ALL",), ("CHOWN",), False) == set(CAPS) - {"CHOWN"}
    assert effective(("NET_BIND_SERVICE",), ("ALL",), False) == {"NET_BIND_SERVICE"}
    assert effective(("BOGUS",), (), False) == DEFAULT


def test_shim_leaves_when_its_state_dir_is_gone(tmp_path: Path) -> None:
    import shutil

    from kubelite.kubelet.runtime.process import shim
    d = tmp_path / "shimdir"
    d.mkdir()
    shim.start(str(d), idle_check=0.1)
    pid = shim.call(str(d), {"op": "ping"})["pid"]
    shutil.rmtree(d)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        raise AssertionError("the shim outlived its state dir")


async def test_unread_stdin_does_not_stall_the_logs(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod())
    cid = await rt.create_container(sid, ctr(tmp_path, "sh", "-c", "sleep 0.3; i=0; while [ $i -lt 50 ]; "
                                             "do echo $i; i=$((i+1)); done; sleep 100", stdin=True))
    await rt.start_container(cid)
    sess = await rt.attach(cid, tty=False, stdin=True)
    await sess.write_stdin(b"x" * (300 * 1024))         # far more than a pipe holds; nobody reads it
    path = (await rt.container_status(cid)).log_path
    for _ in range(100):
        if "stdout:49" in log_lines(path):
            break
        await asyncio.sleep(0.05)
    assert "stdout:49" in log_lines(path)
    await sess.close()
    await rt.stop_container(cid, 0)


@root_only
async def test_host_pid_and_ipc(rt: ProcessRuntime, tmp_path: Path) -> None:
    sid = await rt.run_pod_sandbox(pod(hostname="hp", host_pid=True, host_ipc=True))
    st, lines = await run(rt, sid, tmp_path, "sh", "-c", "hostname; readlink /proc/self/ns/pid /proc/self/ns/ipc; "
                          "echo $$")
    assert lines[0] == "stdout:hp"                                  # still the pod's UTS namespace
    assert lines[1:3] == [f"stdout:{os.readlink('/proc/self/ns/pid')}", f"stdout:{os.readlink('/proc/self/ns/ipc')}"]
    assert int(lines[3].split(":")[1]) > 2                          # a host pid


UNPRIVILEGED_SCRIPT = """
import asyncio, os, sys
from kubelite.kubelet.runtime.process import ProcessRuntime, killall
from kubelite.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig
async def main(d):
    rt = ProcessRuntime(d + "/state")
    assert not rt.isolate and rt.cgroups is None
    sid = await rt.run_pod_sandbox(PodSandboxConfig(name="p", namespace="d", uid="u"))
    cid = await rt.create_container(sid, ContainerConfig(name="c", attempt=0, image="",
        command=("sh", "-c", "id -u; sleep 30"), log_path=d + "/c.log"))
    await rt.start_container(cid)
    code, out, _ = await rt.exec_sync(cid, ["id", "-u"], 5)
    await rt.stop_container(cid, 2)
    st = await rt.container_status(cid)
    print(os.geteuid(), code, out.decode().strip(), st.exit_code, open(d + "/c.log").read().split()[-1])
    killall(d + "/state")
asyncio.run(main(sys.argv[1]))
"""


@root_only
def test_unprivileged_user_gets_plain_processes() -> None:
    """The non-root path for real: as ``nobody`` (with the system's Python: the test's own may
    live under /root), no namespaces, no cgroups, same lifecycle."""
    import shutil
    import tempfile
    py = "/usr/bin/python3"
    if not (shutil.which("runuser") and os.path.exists(py)):
        pytest.skip("needs runuser and /usr/bin/python3")
    d = tempfile.mkdtemp(prefix="kl-nobody-", dir="/tmp")
    try:
        os.chmod(d, 0o777)
        Path(d, "s.py").write_text(UNPRIVILEGED_SCRIPT)
        out = subprocess.run(["runuser", "-u", "nobody", "--", "env", f"PYTHONPATH={Path(__file__).resolve().parents[3]}",
                              py, f"{d}/s.py", d], capture_output=True, text=True, timeout=60, cwd="/tmp")
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["65534", "0", "65534", "143", "65534"]
    finally:
        shutil.rmtree(d, ignore_errors=True)


@root_only
async def test_containers_hold_no_other_pods_pins(rt: ProcessRuntime, state: Path, tmp_path: Path) -> None:
    """A container's mount namespace starts as a copy of the host's, pins of every pod included;
    the init drops them so that a removed pod's namespaces do not live on inside other pods."""
    first = await rt.run_pod_sandbox(pod(name="first"))
    second = await rt.run_pod_sandbox(pod(name="second"))
    cid = await rt.create_container(second, ctr(tmp_path, "sleep", "100"))
    await rt.start_container(cid)
    init = rt._containers[cid]["init"]["init_pid"]
    mounts = Path(f"/proc/{init}/mountinfo").read_text()
    assert str(state) not in mounts
    assert str(state / "sandboxes" / first) in Path("/proc/self/mountinfo").read_text()
    await rt.remove_pod_sandbox(first)
    assert str(state / "sandboxes" / first) not in Path("/proc/self/mountinfo").read_text()
    # The container still runs in its own pod's namespaces.
    assert (await rt.exec_sync(cid, ["hostname"], 5))[1] == b"second\n"


def test_shim_of_other_code_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubelite.kubelet.runtime.process import shim
    d = tmp_path / "s"
    d.mkdir()
    shim.ensure(str(d))
    old = shim.call(str(d), {"op": "ping"})["pid"]
    shim.ensure(str(d))                                     # same code: kept
    assert shim.call(str(d), {"op": "ping"})["pid"] == old
    started: list[str] = []
    monkeypatch.setattr(shim, "VERSION", "an-upgrade")    # the agent's code changed
    monkeypatch.setattr(shim, "start", lambda state_dir, idle_check=0: started.append(state_dir))
    shim.ensure(str(d))
    assert started == [str(d)]                              # a new one is started...
    for _ in range(100):                                    # ...after the old one was told to quit
        if not Path(f"/proc/{old}").exists():
            break
        time.sleep(0.02)
    assert not Path(f"/proc/{old}").exists()
    monkeypatch.undo()
    shim.ensure(str(d))
    assert shim.call(str(d), {"op": "ping"})["pid"] != old
    shim.stop(str(d))


@root_only
async def test_target_container_pid_namespace(rt: ProcessRuntime, tmp_path: Path) -> None:
    """An ephemeral container with a target (CRI NamespaceMode TARGET) runs in the target's PID
    namespace with a /proc of it; any other container keeps its own; an unknown target is refused."""
    sid = await rt.run_pod_sandbox(pod())
    app = await rt.create_container(sid, ctr(tmp_path, "sleep", "30", name="app"))
    await rt.start_container(app)
    app_ns = os.readlink(f"/proc/{(await rt.container_status(app)).pid}/ns/pid")
    show = ("readlink /proc/self/ns/pid; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f; echo; done"
            " | grep -c '^sleep 30 $'")
    st, lines = await run(rt, sid, tmp_path, "sh", "-c", show, name="dbg", target_container_id=app)
    assert st.exit_code == 0 and lines == [f"stdout:{app_ns}", "stdout:1"]
    st, lines = await run(rt, sid, tmp_path, "sh", "-c", show + "; true", name="other")
    assert lines[0] != f"stdout:{app_ns}" and lines[1] == "stdout:0"
    with pytest.raises(RuntimeError_) as e:
        await rt.create_container(sid, ctr(tmp_path, "true", name="x", target_container_id="nope"))
    assert e.value.reason == "CreateContainerError"
    await rt.stop_container(app, 0)
    late = await rt.create_container(sid, ctr(tmp_path, "true", name="late", target_container_id=app))
    with pytest.raises(RuntimeError_) as e:
        await rt.start_container(late)
    assert e.value.reason == "RunContainerError" and "is not running" in e.value.message
