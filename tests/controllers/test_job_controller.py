"""Job controller: pure planning and index helpers, and runs against the in-process API server
(the test plays kubelet by setting pod phases)."""
from __future__ import annotations

import datetime as dt

from kubelite.client import JOBS, PODS, FakeClock
from kubelite.controllers.job import (
    TRACKING_FINALIZER,
    JobController,
    backoff_delay,
    format_indexes,
    job_pod_template,
    parse_indexes,
    plan,
)
from tests.inprocess import api_client

from .workloads import eventually, list_pods, running, set_pod_phase, template

OPTS = {"job_pod_failure_backoff": 0}
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def job(name="pi", **spec):
    t = template({}, "busybox")
    t["spec"]["restartPolicy"] = "Never"
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": t, **spec}}


def test_index_notation_round_trip():
    assert format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert parse_indexes("0-2,5,7-8") == {0, 1, 2, 5, 7, 8}
    assert format_indexes([]) == "" and parse_indexes("") == set()


def test_backoff_doubles_and_caps():
    assert [backoff_delay(n) for n in range(5)] == [0, 10, 20, 40, 80]
    assert backoff_delay(30) == 600


def test_plan_nonindexed_and_indexed():
    j = {"spec": {"completions": 5, "parallelism": 2}}
    assert plan(j, [], 0, set(), NOW).create_indexes == [None, None]
    assert plan(j, [], 4, set(), NOW).create_indexes == [None]  # only one completion left
    # Work queue (no completions): once one succeeded, no new pods.
    wq = {"spec": {"parallelism": 3}}
    assert plan(wq, [], 1, set(), NOW).create_indexes == []
    idx = {"spec": {"completions": 5, "parallelism": 2, "completionMode": "Indexed"}}
    running_pod = {"metadata": {"name": "p", "annotations": {"batch.kubernetes.io/job-completion-index": "0"}}}
    assert plan(idx, [running_pod], 0, {1}, NOW).create_indexes == [2]


def test_indexed_pod_template():
    j = job(completionMode="Indexed", completions=3)
    t = job_pod_template(j, 2)
    assert t["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert t["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "2"
    assert t["metadata"]["finalizers"] == [TRACKING_FINALIZER]
    assert t["spec"]["hostname"] == "pi-2"
    assert t["spec"]["containers"][0]["env"][-1]["name"] == "JOB_COMPLETION_INDEX"


async def _finish(client, selector, phase, limit=None):
    n = 0
    for p in await list_pods(client, selector):
        if limit is not None and n >= limit:
            break
        await set_pod_phase(client, p, phase=phase, ready=False)
        n += 1
    return n


async def _status(client, name="pi"):
    return (await client.get(JOBS, name, namespace="default")).get("status") or {}


def _cond(status, kind):
    return {c["type"]: c for c in status.get("conditions", [])}.get(kind)


async def test_completions_with_parallelism(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, JobController, options=OPTS):
            await client.create(JOBS, job(completions=3, parallelism=2))
            pods = await eventually(lambda: _n_pods(client, "job-name=pi", 2), what="2 pods")
            assert all(TRACKING_FINALIZER in p["metadata"]["finalizers"] for p in pods)
            assert all(p["metadata"]["name"].startswith("pi-") for p in pods)

            async def done():
                await _finish(client, "job-name=pi", "Succeeded")
                s = await _status(client)
                return s if _cond(s, "Complete") else None
            s = await eventually(done, what="Complete", timeout=10)
            assert s["succeeded"] == 3 and not s.get("failed") and not s.get("active")
            assert _cond(s, "SuccessCriteriaMet")["reason"] == "CompletionsReached"
            assert _cond(s, "Complete")["message"] == "Reached expected number of succeeded pods"
            assert s["startTime"] and s["completionTime"]
            assert s.get("uncountedTerminatedPods") in (None, {})
            pods = (await client.list(PODS, namespace="default", label_selector="job-name=pi")).items
            assert len(pods) == 3 and not any(p["metadata"].get("finalizers") for p in pods)


async def test_backoff_limit_fails_job(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, JobController, options=OPTS):
            await client.create(JOBS, job(backoffLimit=1))

            async def failed():
                await _finish(client, "job-name=pi", "Failed")
                s = await _status(client)
                return s if _cond(s, "Failed") else None
            s = await eventually(failed, what="Failed", timeout=10)
            assert s["failed"] == 2
            assert _cond(s, "FailureTarget")["reason"] == "BackoffLimitExceeded"
            assert _cond(s, "Failed")["reason"] == "BackoffLimitExceeded"
            assert _cond(s, "Failed")["message"] == "Job has reached the specified backoff limit"
            assert not s.get("completionTime")


async def test_indexed_job(tmp_path):
    async with api_client(tmp_path) as (_, client):
        async with running(client, JobController, options=OPTS):
            await client.create(JOBS, job(completionMode="Indexed", completions=3, parallelism=3))
            pods = await eventually(lambda: _n_pods(client, "job-name=pi", 3), what="3 indexed pods")
            idx = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods)
            assert idx == ["0", "1", "2"]
            assert sorted(p["spec"]["hostname"] for p in pods) == ["pi-0", "pi-1", "pi-2"]

            async def done():
                await _finish(client, "job-name=pi", "Succeeded")
                s = await _status(client)
                return s if _cond(s, "Complete") else None
            s = await eventually(done, what="indexed Complete")
            assert s["completedIndexes"] == "0-2" and s["succeeded"] == 3


async def test_deadline_suspend_and_ttl_with_fake_clock(tmp_path):
    clock = FakeClock(wall_start=dt.datetime.now(dt.UTC))
    async with api_client(tmp_path) as (_, client):
        async with running(client, JobController, clock=clock, options=OPTS):
            await client.create(JOBS, job(activeDeadlineSeconds=30, ttlSecondsAfterFinished=60, parallelism=1))
            await eventually(lambda: _n_pods(client, "job-name=pi", 1), what="pod")
            await clock.advance(31)

            async def failed():
                s = await _status(client)
                return s if _cond(s, "Failed") else None
            s = await eventually(failed, what="DeadlineExceeded", clock=clock)
            assert _cond(s, "Failed")["reason"] == "DeadlineExceeded"

            await clock.advance(61)

            async def gone():
                try:
                    await client.get(JOBS, "pi", namespace="default")
                except Exception as e:  # noqa: BLE001
                    return getattr(e, "code", None) == 404
                return False
            await eventually(gone, what="ttl deletion", clock=clock)

            await client.create(JOBS, job("sleepy", suspend=True))

            async def suspended():
                s = await _status(client, "sleepy")
                return s if (_cond(s, "Suspended") or {}).get("status") == "True" else None
            s = await eventually(suspended, what="Suspended", clock=clock)
            assert _cond(s, "Suspended")["reason"] == "JobSuspended"
            assert await list_pods(client, "job-name=sleepy") == []
            await client.patch(JOBS, "sleepy", {"spec": {"suspend": False}}, namespace="default")
            await eventually(lambda: _n_pods(client, "job-name=sleepy", 1), what="resumed pod", clock=clock)
            s = await _status(client, "sleepy")
            assert _cond(s, "Suspended")["status"] == "False"


async def _n_pods(client, selector, n):
    pods = await list_pods(client, selector)
    return pods if len(pods) == n else None
