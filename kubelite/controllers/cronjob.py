"""The CronJob controller (Kubernetes' ``cronjob_controllerv2.go``): Jobs on a schedule.

One sync of a CronJob, at the controller clock's ``now``:

1. Reconcile ``status.active`` with the Jobs it owns: finished Jobs leave the list
   (``SawCompletedJob``; a Complete one advances ``lastSuccessfulTime``), vanished ones too
   (``MissingJob``), running owned Jobs missing from it are added.
2. Prune finished Jobs beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``
   (oldest first, background propagation).
3. Unless suspended: find the most recent scheduled time in (lastScheduleTime or creation,
   now] (``cron.missed_runs``; with ``startingDeadlineSeconds`` the window starts no earlier
   than now - deadline; more than 100 missed -> ``TooManyMissedTimes``). None -> wait for the
   next one. Too late for the deadline -> ``MissedSchedule``. Already started -> wait.
   ``concurrencyPolicy``: Forbid skips while a Job is active (``JobAlreadyActive``), Replace
   deletes the active ones first, Allow runs alongside.
4. Create Job ``<cronjob>-<scheduled minutes since epoch>`` from ``jobTemplate`` (controller
   owner reference, annotation ``batch.kubernetes.io/cronjob-scheduled-timestamp``), record it
   in ``active`` and ``lastScheduleTime``, and requeue for the next scheduled time.

Example: ``*/5 * * * *`` created 10:02, now 10:16 -> runs due 10:05, 10:10, 10:15: only the
most recent (10:15) starts, as Job ``<name>-29017935``-style; the next wake-up is 10:20.
Started by the controller manager.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from kubelite.api.helpers.conditions import find_condition
from kubelite.api.helpers.times import format_time, format_time_in, try_parse_time
from kubelite.client import (
    CRONJOBS,
    JOBS,
    NORMAL,
    WARNING,
    copy_object,
    is_already_exists,
    is_not_found,
)
from kubelite.client.informer import index_by_controller_uid
from kubelite.controllers import cron
from kubelite.controllers.base import Controller
from kubelite.controllers.podcontrol import (
    controller_ref, ensure_index, is_deleting, meta, name_of, owner_reference, uid_of, write_status,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
UTC = dt.UTC


def job_finished(job: Mapping[str, Any]) -> str | None:
    for kind in ("Complete", "Failed"):
        c = find_condition((job.get("status") or {}).get("conditions"), kind)
        if c is not None and c.get("status") == "True":
            return kind
    return None


def job_reference(job: Mapping[str, Any]) -> Obj:
    md = meta(job)
    return {"kind": "Job", "namespace": md.get("namespace"), "name": md.get("name"), "uid": md.get("uid"),
            "apiVersion": "batch/v1", "resourceVersion": md.get("resourceVersion")}


def job_from_template(cj: Mapping[str, Any], scheduled: dt.datetime, zone: dt.tzinfo) -> Obj:
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = format_time_in(scheduled, zone)
    md: Obj = {"name": cron.job_name(name_of(cj), scheduled), "namespace": meta(cj).get("namespace"),
               "annotations": annotations,
               "ownerReferences": [owner_reference(cj, api_version="batch/v1", kind="CronJob")]}
    if tmeta.get("labels"):
        md["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md,
            "spec": copy_object(template.get("spec") or {})}


def next_schedule(cj: Mapping[str, Any], schedule: cron.Schedule,
                  now: dt.datetime) -> tuple[dt.datetime | None, int]:
    """(most recent unmet scheduled time or None, number missed) -- pure."""
    status, spec = cj.get("status") or {}, cj.get("spec") or {}
    earliest = try_parse_time(status.get("lastScheduleTime")) or try_parse_time(meta(cj).get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        window_start = now - dt.timedelta(seconds=int(deadline))
        earliest = max(earliest, window_start)
    return cron.missed_runs(schedule, earliest, now)


def history_to_delete(jobs: Sequence[Mapping[str, Any]], kind: str, limit: int | None) -> list[Mapping[str, Any]]:
    """Finished Jobs of ``kind`` beyond ``limit``, oldest first."""
    if limit is None:
        return []
    done = [j for j in jobs if job_finished(j) == kind and not is_deleting(j)]
    done.sort(key=lambda j: ((j.get("status") or {}).get("startTime") or meta(j).get("creationTimestamp") or "",
                             name_of(j)))
    surplus = len(done) - int(limit)
    return done[:surplus] if surplus > 0 else []


class CronJobController(Controller):
    name: ClassVar[str] = "cronjob"
    workers: ClassVar[int] = 2

    def setup(self) -> None:
        f = self.ctx.factory
        self.cj_informer = f.informer(CRONJOBS)
        self.job_informer = f.informer(JOBS)
        ensure_index(self.job_informer, "controller", index_by_controller_uid)
        self.cj_informer.add_handler(**self.enqueue_handlers())
        self.job_informer.add_handler(**self.enqueue_handlers(self._owner_key))

    def _owner_key(self, job: Obj) -> str | None:
        ref = controller_ref(job)
        if ref is None or ref.get("kind") != "CronJob":
            return None
        return f"{meta(job).get('namespace')}/{ref.get('name')}"

    async def sync(self, key: str) -> None:
        cached = self.cj_informer.get(key)
        if cached is None:
            return
        cj: Obj = copy_object(cached)
        jobs = [j for j in self.job_informer.by_index("controller", uid_of(cj))]
        status: Obj = copy_object(cj.get("status") or {})
        now = self.clock.wall()
        await self._reconcile_active(cj, status, jobs)
        await self._cleanup(cj, jobs)
        requeue: float | None = None
        if not is_deleting(cj) and not (cj.get("spec") or {}).get("suspend"):
            requeue = await self._maybe_run(cj, status, jobs, now)
        if status != (cj.get("status") or {}):
            await write_status(self.client, CRONJOBS, cj, status)
        if requeue is not None:
            self.enqueue(key, after=requeue)

    async def _live_job(self, ref: Mapping[str, Any]) -> Obj | None:
        try:
            job = await self.client.get(JOBS, str(ref.get("name")), namespace=ref.get("namespace"))
        except Exception as e:
            if is_not_found(e):
                return None
            raise
        return job if uid_of(job) == ref.get("uid") else None

    async def _reconcile_active(self, cj: Obj, status: Obj, jobs: list[Obj]) -> None:
        by_uid = {uid_of(j): j for j in jobs}
        active: list[Obj] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid", ""))
            if job is None:
                # The cache may simply lag behind our own create: ask the server.
                job = await self._live_job(ref)
                if job is None:
                    self.recorder.event(cj, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}")
                    continue
            finished = job_finished(job)
            if finished is None:
                active.append(ref)  # as recorded at creation (rewriting it per job update is churn)
                continue
            self.recorder.event(cj, NORMAL, "SawCompletedJob",
                                f"Saw completed job: {name_of(job)}, condition: {finished}")
            if finished == "Complete":
                done_at = try_parse_time((job.get("status") or {}).get("completionTime"))
                last = try_parse_time(status.get("lastSuccessfulTime"))
                if done_at is not None and (last is None or done_at > last):
                    status["lastSuccessfulTime"] = format_time(done_at)
        listed = {r.get("uid") for r in active}
        for job in jobs:
            if uid_of(job) not in listed and job_finished(job) is None and not is_deleting(job):
                active.append(job_reference(job))
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    async def _cleanup(self, cj: Obj, jobs: list[Obj]) -> None:
        spec = cj.get("spec") or {}
        doomed = history_to_delete(jobs, "Complete", spec.get("successfulJobsHistoryLimit")) + \
            history_to_delete(jobs, "Failed", spec.get("failedJobsHistoryLimit"))
        for job in doomed:
            await self._delete_job(cj, job)

    async def _delete_job(self, cj: Obj, job: Mapping[str, Any]) -> None:
        try:
            await self.client.delete(JOBS, name_of(job), namespace=meta(job).get("namespace"),
                                     propagation_policy="Background", preconditions={"uid": uid_of(job)})
        except Exception as e:
            if is_not_found(e):
                return
            self.recorder.event(cj, WARNING, "FailedDelete", f"Deleted job: {getattr(e, 'message', e)}")
            raise
        self.recorder.event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {name_of(job)}")

    async def _maybe_run(self, cj: Obj, status: Obj, jobs: list[Obj], now: dt.datetime) -> float | None:
        """Start the due Job if allowed; returns seconds until the next look."""
        spec = cj.get("spec") or {}
        try:
            schedule = cron.parse(spec.get("schedule") or "", spec.get("timeZone"))
        except ValueError as e:
            if spec.get("timeZone") and "time zone" in str(e):
                self.recorder.event(cj, WARNING, "UnknownTimeZone", f"invalid timeZone: {spec.get('timeZone')!r}: {e}")
            else:
                self.recorder.event(cj, WARNING, "UnparseableSchedule",
                                    f"unparseable schedule: {spec.get('schedule')!r} : {e}")
            return None
        scheduled, missed = next_schedule({**cj, "status": status}, schedule, now)
        if missed > cron.MISSED_LIMIT:
            self.recorder.event(cj, WARNING, "TooManyMissedTimes",
                                f"too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds "
                                "or check clock skew")
        wait = self._until_next(schedule, now)
        if scheduled is None:
            return wait
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + dt.timedelta(seconds=int(deadline)) < now:
            self.recorder.event(cj, WARNING, "MissedSchedule",
                                f"Missed scheduled time to start a job: {scheduled.strftime('%a, %d %b %Y %H:%M:%S %z')}")
            return wait
        name = cron.job_name(name_of(cj), scheduled)
        if any(r.get("name") == name for r in status.get("active") or []) or \
                any(name_of(j) == name for j in jobs):
            return wait
        policy = spec.get("concurrencyPolicy") or "Allow"
        active = status.get("active") or []
        if policy == "Forbid" and active:
            self.recorder.event(cj, NORMAL, "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return wait
        if policy == "Replace":
            for ref in active:
                await self._delete_job(cj, {"metadata": {"name": ref.get("name"), "namespace": ref.get("namespace"),
                                                         "uid": ref.get("uid")}})
            status.pop("active", None)
        job = job_from_template(cj, scheduled, schedule.zone)
        try:
            created = await self.client.create(JOBS, job)
        except Exception as e:
            if not is_already_exists(e):
                self.recorder.event(cj, WARNING, "FailedCreate", f"Error creating job: {getattr(e, 'message', e)}")
                raise
            created = await self.client.get(JOBS, name, namespace=meta(cj).get("namespace"))
            if (controller_ref(created) or {}).get("uid") != uid_of(cj):
                raise
        else:
            self.recorder.event(cj, NORMAL, "SuccessfulCreate", f"Created job {name_of(created)}")
        refs = [r for r in status.get("active") or [] if r.get("uid") != uid_of(created)]
        status["active"] = refs + [job_reference(created)]
        status["lastScheduleTime"] = format_time(scheduled)
        return wait

    @staticmethod
    def _until_next(schedule: cron.Schedule, now: dt.datetime) -> float | None:
        nxt = schedule.next_after(now)
        if nxt is None:
            return None
        # A little past the minute boundary so the sync lands after the scheduled time.
        return max((nxt - now).total_seconds(), 0.0) + 0.1


__all__ = ["CronJobController", "history_to_delete", "job_from_template", "next_schedule"]
