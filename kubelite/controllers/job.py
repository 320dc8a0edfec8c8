"""The Job controller (Kubernetes' ``pkg/controller/job``, 1.32 behaviour) and the
ttl-after-finished clean-up for Jobs.

Runs pods to completion. Each sync:

1. *Count*: pods carry the ``batch.kubernetes.io/job-tracking`` finalizer. A finished pod (or
   one being deleted, which counts as failed) that still has it is first recorded in
   ``status.uncountedTerminatedPods``, then its finalizer is removed, then it moves to the
   ``succeeded``/``failed`` counters -- so a crash between steps never counts a pod twice and
   finished pods can be deleted without losing the count.
2. *Decide*: failed > ``backoffLimit`` -> ``FailureTarget`` (BackoffLimitExceeded); running
   longer than ``activeDeadlineSeconds`` -> ``FailureTarget`` (DeadlineExceeded); enough
   successes (``completions``; without completions, any success once no pod runs) ->
   ``SuccessCriteriaMet`` (CompletionsReached). Active pods are then deleted, and once no pod
   is left uncounted the terminal condition follows: ``Failed`` or ``Complete`` (with
   ``completionTime``). ``suspend`` deletes the active pods and records ``Suspended``.
3. *Manage*: keep min(parallelism, completions - succeeded) pods active. ``Indexed`` jobs give
   each pod an index (annotation + label ``batch.kubernetes.io/job-completion-index``, env
   ``JOB_COMPLETION_INDEX``, hostname ``<job>-<index>``, name ``<job>-<index>-xxxxx``), run the
   lowest missing indexes, and report ``completedIndexes`` ("0-2,5"). A failed pod is replaced
   after an exponential back-off (10 s doubling to 10 min, per job, from the controller clock).

Example: completions 3, parallelism 2, backoffLimit 1: two pods start; one fails -> failed 1,
a replacement starts after 10 s; another fails -> failed 2 > 1: FailureTarget, the running pod
is deleted, then ``Failed BackoffLimitExceeded``.

``ttlSecondsAfterFinished``: once Complete/Failed for that long (controller clock), the Job is
deleted with background propagation (the garbage collector removes its pods). Started by the
controller manager.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from kubelite.api.helpers.conditions import find_condition
from kubelite.api.helpers.podutil import is_pod_ready, pod_phase
from kubelite.api.helpers.times import format_time, try_parse_time
from kubelite.client import JOBS, NORMAL, PODS, WARNING, copy_object, is_not_found
from kubelite.client.informer import index_by_controller_uid, object_key
from kubelite.controllers.base import Controller
from kubelite.controllers.podcontrol import (
    PodExpectations, claim, controller_ref, ensure_index, index_by_namespace, is_deleting, labels_of, meta,
    name_of, pod_from_template, rank_for_deletion, slow_start_batch, uid_of, write_status,
)
from kubelite.machinery.selectors import LabelSelector, from_label_selector

log = logging.getLogger(__name__)
Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 600.0


# -- indexes (pure) -------------------------------------------------------------------------

def parse_indexes(text: str | None) -> set[int]:
    """``"0-2,5"`` -> {0, 1, 2, 5}; malformed parts are ignored."""
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if hi else a
        except ValueError:
            continue
        out.update(range(a, b + 1))
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """{0, 1, 2, 5} -> ``"0-2,5"`` (Kubernetes' interval notation)."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(indexes)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def pod_index(pod: Mapping[str, Any]) -> int | None:
    value = (meta(pod).get("annotations") or {}).get(COMPLETION_INDEX) or labels_of(pod).get(COMPLETION_INDEX)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_indexed(job: Mapping[str, Any]) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def counts_as_failed(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """Failed, or deleted before succeeding (unless only Failed pods are replaced)."""
    if pod_phase(pod) == "Failed":
        return True
    if (job.get("spec") or {}).get("podReplacementPolicy") == "Failed":
        return False
    return is_deleting(pod) and pod_phase(pod) != "Succeeded"


def finished_condition(job: Mapping[str, Any]) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def backoff_delay(failures: int, base: float = DEFAULT_BACKOFF) -> float:
    """10 s, 20 s, 40 s, ... capped at 10 min (0 failures -> 0)."""
    if failures <= 0 or base <= 0:
        return 0.0
    return min(base * (2 ** (failures - 1)), MAX_BACKOFF)


def job_pod_template(job: Mapping[str, Any], index: int | None) -> Obj:
    """The pod template for one pod: the Job's, with the tracking finalizer and, for Indexed
    Jobs, the completion index (annotation, label, env var, hostname)."""
    template = copy_object((job.get("spec") or {}).get("template") or {})
    md = template.setdefault("metadata", {})
    finalizers = md.setdefault("finalizers", [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    if index is not None:
        md.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
        md.setdefault("labels", {})[COMPLETION_INDEX] = str(index)
        spec = template.setdefault("spec", {})
        if not spec.get("hostname"):
            spec["hostname"] = f"{name_of(job)}-{index}"
        env_var = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}
        for kind in ("initContainers", "containers"):
            for c in spec.get(kind) or []:
                env = [e for e in c.get("env") or [] if e.get("name") != "JOB_COMPLETION_INDEX"]
                c["env"] = env + [dict(env_var)]
    return template


def _normal(status: Mapping[str, Any]) -> dict[str, Any]:
    """Status without empty/zero fields, for "did anything change" (the server may drop them)."""
    return {k: v for k, v in status.items() if v not in (None, 0, "", [], {})}


@dataclass
class Plan:
    """What one sync decided (pure output of ``plan``)."""

    create_indexes: list[int | None]
    delete: list[Obj]
    wait_backoff: float = 0.0


def plan(job: Mapping[str, Any], active: list[Obj], succeeded: int, completed: set[int],
         now: dt.datetime) -> Plan:
    """Pods to create (by index; None for NonIndexed) and to delete, for a running Job."""
    spec = job.get("spec") or {}
    parallelism = 1 if spec.get("parallelism") is None else int(spec["parallelism"])
    completions = spec.get("completions")
    if is_indexed(job):
        total = int(completions or 0)
        by_index: dict[int, list[Obj]] = {}
        delete: list[Obj] = []
        for p in active:
            i = pod_index(p)
            if i is None or i >= total or i < 0 or i in completed:
                delete.append(p)  # invalid or already done: not needed
            else:
                by_index.setdefault(i, []).append(p)
        for pods in by_index.values():
            if len(pods) > 1:
                delete.extend(rank_for_deletion(pods, now=now)[:-1])
        running = len(by_index)
        missing = [i for i in range(total) if i not in completed and i not in by_index]
        want = max(min(parallelism, total - len(completed)) - running, 0)
        if running > parallelism:
            keep = sorted(by_index)[:parallelism]
            for i in sorted(by_index):
                if i not in keep:
                    delete.extend(by_index[i])
        return Plan(list[int | None](missing[:want]), delete)
    if completions is None:
        want_active = len(active) if succeeded > 0 else parallelism
    else:
        want_active = max(min(int(completions) - succeeded, parallelism), 0)
    diff = len(active) - want_active
    if diff > 0:
        return Plan([], rank_for_deletion(active, now=now)[:diff])
    return Plan([None] * (-diff), [])


class JobController(Controller):
    name: ClassVar[str] = "job"
    workers: ClassVar[int] = 4

    def setup(self) -> None:
        f = self.ctx.factory
        self.expectations = PodExpectations(self.clock)
        self.job_informer = f.informer(JOBS)
        self.pod_informer = f.informer(PODS)
        ensure_index(self.job_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "namespace", index_by_namespace)
        ensure_index(self.pod_informer, "controller", index_by_controller_uid)
        self.job_informer.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                      on_delete=lambda j: self._forget(object_key(j)))
        self.pod_informer.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted)
        self.backoff_base = float(self.ctx.options.get("job_pod_failure_backoff", DEFAULT_BACKOFF))
        #: job uid -> (failures seen, clock.now() of the latest): the back-off record
        self._failures: dict[str, tuple[int, float]] = {}

    def _forget(self, key: str) -> None:
        self.expectations.forget(key)

    def _owner_key(self, pod: Mapping[str, Any]) -> str | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        key = f"{meta(pod).get('namespace')}/{ref.get('name')}"
        job = self.job_informer.get(key)
        return key if job is not None and uid_of(job) == ref.get("uid") else None

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed_add(key)
            self.enqueue(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        key = self._owner_key(new) or self._owner_key(old)
        if key is None:
            return
        if is_deleting(new) and not is_deleting(old):
            self.expectations.deletion_observed(key, uid_of(new))
        self.enqueue(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, uid_of(pod))
            self.enqueue(key)

    @staticmethod
    def selector(job: Mapping[str, Any]) -> LabelSelector:
        try:
            return from_label_selector((job.get("spec") or {}).get("selector"))
        except Exception:  # noqa: BLE001
            return LabelSelector.nothing()

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.job_informer.get(key)
        if cached is None:
            self.expectations.forget(key)
            return
        job: Obj = copy_object(cached)
        ns = meta(job).get("namespace", "")
        pods = await claim(self.client, PODS, job, self.selector(job), self.pod_informer.by_index("namespace", ns),
                           api_version="batch/v1", kind="Job")
        finished = finished_condition(job)
        if finished is not None:
            await self._remove_finalizers([p for p in pods if TRACKING_FINALIZER in (meta(p).get("finalizers") or ())])
            await self._ttl(job, key)
            return
        now = self.clock.wall()
        stamp = format_time(now)
        status: Obj = copy_object(job.get("status") or {})
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        unc_ok, unc_bad = set(uncounted.get("succeeded") or ()), set(uncounted.get("failed") or ())
        completed = parse_indexes(status.get("completedIndexes"))
        new_failures = 0
        # Step 1: record newly finished pods as uncounted (completed indexes at once).
        for p in pods:
            if TRACKING_FINALIZER not in (meta(p).get("finalizers") or ()) or uid_of(p) in unc_ok | unc_bad:
                continue
            if pod_phase(p) == "Succeeded":
                idx = pod_index(p)
                if is_indexed(job) and (idx is None or idx in completed
                                        or idx >= int((job.get("spec") or {}).get("completions") or 0)):
                    unc_ok.add(uid_of(p))  # finalizer still goes; the success does not count
                    continue
                unc_ok.add(uid_of(p))
                if idx is not None:
                    completed.add(idx)
            elif counts_as_failed(p, job):
                unc_bad.add(uid_of(p))
                new_failures += 1
        if new_failures:
            count, _ = self._failures.get(uid_of(job), (0, 0.0))
            self._failures[uid_of(job)] = (count + new_failures, self.clock.now())
        if set(uncounted.get("succeeded") or ()) != unc_ok or set(uncounted.get("failed") or ()) != unc_bad:
            uncounted["succeeded"], uncounted["failed"] = sorted(unc_ok), sorted(unc_bad)
            if is_indexed(job):
                status["completedIndexes"] = format_indexes(completed)
            job = await write_status(self.client, JOBS, job, status)
            status = copy_object(job.get("status") or {})
        # Step 2: remove the finalizers of everything uncounted.
        pending = unc_ok | unc_bad
        await self._remove_finalizers([p for p in pods if uid_of(p) in pending
                                       and TRACKING_FINALIZER in (meta(p).get("finalizers") or ())])
        # Step 3: move uncounted into the counters.
        ok_uids = set(((job.get("status") or {}).get("uncountedTerminatedPods") or {}).get("succeeded") or ())
        bad_uids = set(((job.get("status") or {}).get("uncountedTerminatedPods") or {}).get("failed") or ())
        status["succeeded"] = int(status.get("succeeded") or 0) + len(ok_uids)
        status["failed"] = int(status.get("failed") or 0) + len(bad_uids)
        status["uncountedTerminatedPods"] = {}
        if is_indexed(job):
            status["succeeded"] = len(completed)
            status["completedIndexes"] = format_indexes(completed)
        active = [p for p in pods if pod_phase(p) not in ("Succeeded", "Failed") and not is_deleting(p)]
        await self._decide_and_manage(key, job, status, active, completed, now, stamp)
        status["active"] = len([p for p in active if not is_deleting(p)])
        status["ready"] = sum(1 for p in active if is_pod_ready(p))
        status["terminating"] = sum(1 for p in pods if is_deleting(p) and pod_phase(p) not in ("Succeeded", "Failed"))
        for k in ("active", "succeeded", "failed"):
            if not status.get(k):
                status.pop(k, None)
        if _normal(status) != _normal(job.get("status") or {}):
            job = await write_status(self.client, JOBS, job, status)
        if finished_condition(job) is not None:
            await self._ttl(job, key)

    async def _decide_and_manage(self, key: str, job: Obj, status: Obj, active: list[Obj], completed: set[int],
                                 now: dt.datetime, stamp: str) -> None:
        spec = job.get("spec") or {}
        conditions: list[Obj] = status.setdefault("conditions", [])
        suspended = bool(spec.get("suspend"))
        if not suspended and not status.get("startTime"):
            status["startTime"] = stamp
        failure = find_condition(conditions, "FailureTarget")
        success = find_condition(conditions, "SuccessCriteriaMet")
        if failure is None and success is None:
            limit = 6 if spec.get("backoffLimit") is None else int(spec["backoffLimit"])
            if int(status.get("failed") or 0) > limit:
                failure = self._add(conditions, "FailureTarget", "BackoffLimitExceeded",
                                    "Job has reached the specified backoff limit", stamp)
            elif self._past_deadline(job, status, now):
                failure = self._add(conditions, "FailureTarget", "DeadlineExceeded",
                                    "Job was active longer than specified deadline", stamp)
            elif self._complete(job, status, active, completed):
                success = self._add(conditions, "SuccessCriteriaMet", "CompletionsReached",
                                    "Reached expected number of succeeded pods", stamp)
        if failure is not None or success is not None:
            await self._delete_pods(key, job, active)
            active.clear()
            pending = any(TRACKING_FINALIZER in (meta(p).get("finalizers") or ())
                          for p in self.pod_informer.by_index("controller", uid_of(job)))
            if not pending and not status.get("uncountedTerminatedPods", {}).get("failed") and \
                    not status.get("uncountedTerminatedPods", {}).get("succeeded"):
                if failure is not None:
                    self._add(conditions, "Failed", str(failure.get("reason")), str(failure.get("message")), stamp)
                    self.recorder.event(job, WARNING, str(failure.get("reason")), str(failure.get("message")))
                else:
                    self._add(conditions, "Complete", "CompletionsReached", "Reached expected number of succeeded pods", stamp)
                    status["completionTime"] = stamp
                    self.recorder.event(job, NORMAL, "Completed", "Job completed")
            return
        suspended_cond = find_condition(conditions, "Suspended")
        if suspended:
            if suspended_cond is None or suspended_cond.get("status") != "True":
                self._set(conditions, "Suspended", "True", "JobSuspended", "Job suspended", stamp)
                self.recorder.event(job, NORMAL, "Suspended", "Job suspended")
            await self._delete_pods(key, job, active)
            active.clear()
            return
        if suspended_cond is not None and suspended_cond.get("status") == "True":
            self._set(conditions, "Suspended", "False", "JobResumed", "Job resumed", stamp)
            status["startTime"] = stamp  # the deadline restarts on resume
            self.recorder.event(job, NORMAL, "Resumed", "Job resumed")
        if not conditions:
            status.pop("conditions", None)
        if not self.expectations.satisfied(key):
            return
        decided = plan(job, active, int(status.get("succeeded") or 0), completed, now)
        if decided.delete:
            await self._delete_pods(key, job, decided.delete)
            gone = {uid_of(p) for p in decided.delete}
            active[:] = [p for p in active if uid_of(p) not in gone]
        if decided.create_indexes:
            count, last = self._failures.get(uid_of(job), (0, 0.0))
            wait = last + backoff_delay(count, self.backoff_base) - self.clock.now()
            if count and wait > 0:
                self.enqueue(key, after=wait)
            else:
                await self._create_pods(key, job, decided.create_indexes)
        deadline = spec.get("activeDeadlineSeconds")
        start = try_parse_time(status.get("startTime"))
        if deadline is not None and start is not None:
            remaining = (start + dt.timedelta(seconds=int(deadline)) - now).total_seconds()
            self.enqueue(key, after=max(remaining, 0.0) + 0.5)

    @staticmethod
    def _past_deadline(job: Mapping[str, Any], status: Mapping[str, Any], now: dt.datetime) -> bool:
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        start = try_parse_time(status.get("startTime"))
        return deadline is not None and start is not None and now - start >= dt.timedelta(seconds=int(deadline))

    @staticmethod
    def _complete(job: Mapping[str, Any], status: Mapping[str, Any], active: list[Obj], completed: set[int]) -> bool:
        completions = (job.get("spec") or {}).get("completions")
        succeeded = int(status.get("succeeded") or 0)
        if is_indexed(job):
            return len(completed) >= int(completions or 0)
        if completions is None:
            return succeeded > 0 and not active
        return succeeded >= int(completions)

    @staticmethod
    def _add(conditions: list[Obj], kind: str, reason: str, message: str, stamp: str) -> Obj:
        cond = {"type": kind, "status": "True", "lastProbeTime": stamp, "lastTransitionTime": stamp,
                "reason": reason, "message": message}
        conditions[:] = [c for c in conditions if c.get("type") != kind] + [cond]
        return cond

    @staticmethod
    def _set(conditions: list[Obj], kind: str, status: str, reason: str, message: str, stamp: str) -> None:
        cond = {"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
                "reason": reason, "message": message}
        conditions[:] = [c for c in conditions if c.get("type") != kind] + [cond]

    # -- pods ---------------------------------------------------------------------------------

    async def _create_pods(self, key: str, job: Obj, indexes: list[int | None]) -> None:
        self.expectations.expect(key, adds=len(indexes))

        async def create(i: int) -> None:
            index = indexes[i]
            template = job_pod_template(job, index)
            prefix = f"{name_of(job)}-{index}-" if index is not None else f"{name_of(job)}-"
            pod = pod_from_template(template, job, generate_name=prefix, api_version="batch/v1", kind="Job")
            try:
                created = await self.client.create(PODS, pod)
            except Exception as e:
                self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {getattr(e, 'message', e)}")
                raise
            self.recorder.event(job, NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")

        done, err = await slow_start_batch(len(indexes), create)
        if done < len(indexes):
            self.expectations.lower(key, adds=len(indexes) - done)
        if err is not None:
            raise err

    async def _delete_pods(self, key: str, job: Obj, pods: list[Obj]) -> None:
        pods = [p for p in pods if not is_deleting(p)]
        if not pods:
            return
        self.expectations.expect_deletions(key, [uid_of(p) for p in pods])

        async def delete(pod: Obj) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), namespace=meta(pod).get("namespace"),
                                         preconditions={"uid": uid_of(pod)})
            except Exception as e:
                self.expectations.deletion_observed(key, uid_of(pod))
                if is_not_found(e):
                    return
                self.recorder.event(job, WARNING, "FailedDelete", f"Error deleting: {getattr(e, 'message', e)}")
                raise
            self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def _remove_finalizers(self, pods: list[Obj]) -> None:
        async def strip(pod: Obj) -> None:
            finalizers = [f for f in meta(pod).get("finalizers") or () if f != TRACKING_FINALIZER]
            patch = [{"op": "test", "path": "/metadata/uid", "value": uid_of(pod)},
                     {"op": "replace", "path": "/metadata/finalizers", "value": finalizers}]
            try:
                await self.client.patch(PODS, name_of(pod), patch, namespace=meta(pod).get("namespace"), type="json")
            except Exception as e:
                if not is_not_found(e):
                    raise

        results = await asyncio.gather(*(strip(p) for p in pods), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    # -- ttl-after-finished -------------------------------------------------------------------

    async def _ttl(self, job: Obj, key: str) -> None:
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if ttl is None or is_deleting(job):
            return
        status = job.get("status") or {}
        finished_at = try_parse_time(status.get("completionTime"))
        if finished_at is None:
            cond = find_condition(status.get("conditions"), "Failed") or find_condition(status.get("conditions"), "Complete")
            finished_at = try_parse_time((cond or {}).get("lastTransitionTime"))
        if finished_at is None:
            return
        remaining = (finished_at + dt.timedelta(seconds=int(ttl)) - self.clock.wall()).total_seconds()
        if remaining > 0:
            self.enqueue(key, after=remaining)
            return
        try:
            await self.client.delete(JOBS, name_of(job), namespace=meta(job).get("namespace"),
                                     propagation_policy="Background", preconditions={"uid": uid_of(job)})
        except Exception as e:
            if not is_not_found(e):
                raise
