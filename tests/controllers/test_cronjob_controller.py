"""CronJob controller against the in-process API server, driven by a fake clock."""
from __future__ import annotations

import datetime as dt

from kubelite.client import CRONJOBS, EVENTS, JOBS, FakeClock
from kubelite.controllers.cronjob import CronJobController
from tests.inprocess import api_client

from .workloads import eventually, template


def cronjob(name="tick", schedule="* * * * *", **spec):
    t = template({}, "busybox")
    t["spec"]["restartPolicy"] = "OnFailure"
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": t}}, **spec}}


async def _jobs(client):
    return sorted((await client.list(JOBS, namespace="default")).items, key=lambda j: j["metadata"]["name"])


async def _complete(client, job, clock):
    stamp = clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
    job = await client.get(JOBS, job["metadata"]["name"], namespace="default")
    job["status"] = {"startTime": stamp, "completionTime": stamp, "succeeded": 1, "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": stamp},
        {"type": "Complete", "status": "True", "reason": "CompletionsReached", "lastTransitionTime": stamp}]}
    await client.update_status(JOBS, job)


async def test_fires_on_schedule_with_forbid_and_history(tmp_path):
    # Start the fake wall clock a little after real time so creationTimestamp is in its past.
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).replace(microsecond=0)
    clock = FakeClock(wall_start=start)
    async with api_client(tmp_path) as (_, client):
        async with running_cj(client, clock):
            await client.create(CRONJOBS, cronjob(concurrencyPolicy="Forbid", successfulJobsHistoryLimit=1))
            await clock.advance(1)
            assert await _jobs(client) == []
            await clock.advance(61)
            jobs = await eventually(lambda: _jobs(client), what="first job", clock=clock)
            assert len(jobs) == 1
            first = jobs[0]
            scheduled = dt.datetime.fromisoformat(first["metadata"]["annotations"][
                "batch.kubernetes.io/cronjob-scheduled-timestamp"])
            assert first["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
            assert first["metadata"]["ownerReferences"][0]["kind"] == "CronJob"

            async def active_recorded():
                cj = await client.get(CRONJOBS, "tick", namespace="default")
                s = cj.get("status") or {}
                return s if s.get("active") and s.get("lastScheduleTime") else None
            s = await eventually(active_recorded, what="status.active", clock=clock)
            assert s["active"][0]["name"] == first["metadata"]["name"]

            # Forbid: the next minute passes while the first job runs -> no second job.
            await clock.advance(60)

            async def forbidden_event():
                evs = (await client.list(EVENTS, namespace="default")).items
                return any(e["reason"] == "JobAlreadyActive" for e in evs)
            await eventually(forbidden_event, what="JobAlreadyActive", clock=clock)
            assert len(await _jobs(client)) == 1

            await _complete(client, first, clock)

            async def saw_completion():
                cj = await client.get(CRONJOBS, "tick", namespace="default")
                return (cj.get("status") or {}).get("lastSuccessfulTime")
            await eventually(saw_completion, what="lastSuccessfulTime", clock=clock)
            # The run Forbid held back is still due: it starts as soon as the first job is done.
            jobs = await eventually(lambda: _two_or_pruned(client, first), what="second job", clock=clock)
            second = [j for j in jobs if j["metadata"]["name"] != first["metadata"]["name"]][0]
            await _complete(client, second, clock)

            # successfulJobsHistoryLimit 1: the older completed job is deleted.
            async def pruned():
                names = [j["metadata"]["name"] for j in await _jobs(client)
                         if not j["metadata"].get("deletionTimestamp")]
                return names == [second["metadata"]["name"]]
            await eventually(pruned, what="history pruned", clock=clock)


async def test_suspend_and_replace(tmp_path):
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)).replace(microsecond=0)
    clock = FakeClock(wall_start=start)
    async with api_client(tmp_path) as (_, client):
        async with running_cj(client, clock):
            await client.create(CRONJOBS, cronjob(suspend=True, concurrencyPolicy="Replace"))
            await clock.advance(62)
            assert await _jobs(client) == []
            await client.patch(CRONJOBS, "tick", {"spec": {"suspend": False}}, namespace="default")
            # The missed run (within the last minute) starts at once.
            first = (await eventually(lambda: _jobs(client), what="job after resume", clock=clock))[0]
            await clock.advance(60)

            async def replaced():
                live = [j for j in await _jobs(client) if not j["metadata"].get("deletionTimestamp")]
                return live if len(live) == 1 and live[0]["metadata"]["name"] != first["metadata"]["name"] else None
            await eventually(replaced, what="Replace", clock=clock)


async def _two_or_pruned(client, first):
    jobs = await _jobs(client)
    return jobs if any(j["metadata"]["name"] != first["metadata"]["name"] for j in jobs) else None


def running_cj(client, clock):
    from .workloads import running
    return running(client, CronJobController, clock=clock)
