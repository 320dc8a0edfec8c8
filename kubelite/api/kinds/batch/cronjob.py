"""batch/v1 CronJob: defaults, schedule and time zone checks, ``kubectl get cronjobs`` columns.

Defaults: ``concurrencyPolicy: Allow``, ``suspend: false``, keep 3 successful and 1 failed
Job. The job template's pod template gets pod defaults, but the Job spec inside it is *not*
defaulted (Kubernetes leaves that to the Jobs the controller creates). The selector of the
job template must stay unset: every Job generates its own. Names are limited to 52
characters because the controller appends an 11-character suffix to name each Job.
Served through ``RESOURCE``.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from kubelite.api.helpers.times import try_parse_time
from kubelite.api.kinds._shared import (
    default_template, set_default,
    AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, StatusStrategy, age_cell,
    container_cells, format_label_selector, nonneg,
)
from kubelite.api.kinds.batch.cron import parse_schedule
from kubelite.api.kinds.batch.job import validate_job_spec
from kubelite.api.registry import Column, ResourceType, human_duration
from kubelite.api.validation import required, validate_annotations, validate_labels
from kubelite.machinery.errors import FieldError, invalid, not_supported

#: 63 (DNS label) minus the 11 characters of "-<unix minutes>" the controller appends
MAX_NAME_LENGTH = 52


class CronJobStrategy(StatusStrategy):
    columns = (
        NAME_COLUMN,
        Column("Schedule", description="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
        Column("Timezone", description=(
            "The time zone name for the given schedule, see "
            "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.")),
        Column("Suspend", type="boolean", description=(
            "This flag tells the controller to suspend subsequent executions, it does not apply to already started "
            "executions.")),
        Column("Active", type="integer", description="A list of pointers to currently running jobs."),
        Column("Last Schedule", description="Information when was the last time the job was successfully scheduled."),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description="A label query over pods that should match the pod count."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        set_default(spec, "concurrencyPolicy", "Allow")
        set_default(spec, "suspend", False)
        set_default(spec, "successfulJobsHistoryLimit", 3)
        set_default(spec, "failedJobsHistoryLimit", 1)
        job_spec = set_default(set_default(spec, "jobTemplate", {}), "spec", {})
        default_template(job_spec)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = self._validate_spec(obj.get("spec") or {})
        name = (obj.get("metadata") or {}).get("name") or ""
        if len(name) > MAX_NAME_LENGTH:
            errs.append(invalid("metadata.name", name, f"must be no more than {MAX_NAME_LENGTH} characters"))
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        # The name cannot change, and older objects may predate the length rule.
        return self._validate_spec(obj.get("spec") or {})

    def _validate_spec(self, spec: dict[str, Any]) -> list[FieldError]:
        errs: list[FieldError] = []
        schedule = spec.get("schedule")
        if not schedule:
            errs.append(required("spec.schedule"))
        else:
            errs += validate_schedule(schedule, "spec.schedule")
        errs += validate_time_zone(spec.get("timeZone"), "spec.timeZone")
        errs += nonneg(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds")
        policy = spec.get("concurrencyPolicy")
        if not policy:
            errs.append(required("spec.concurrencyPolicy"))
        elif policy not in ("Allow", "Forbid", "Replace"):
            errs.append(not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
        errs += nonneg(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit")
        errs += nonneg(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit")
        template = spec.get("jobTemplate") or {}
        meta = template.get("metadata") or {}
        errs += validate_labels(meta.get("labels"), "spec.jobTemplate.metadata.labels")
        errs += validate_annotations(meta.get("annotations"), "spec.jobTemplate.metadata.annotations")
        job_spec = template.get("spec") or {}
        errs += validate_job_spec(job_spec, "spec.jobTemplate.spec")
        if job_spec.get("selector") is not None:
            errs.append(invalid("spec.jobTemplate.spec.selector", format_label_selector(job_spec["selector"]),
                                "`selector` will be auto-generated"))
        if job_spec.get("manualSelector"):
            errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
        return errs

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        last = try_parse_time(status.get("lastScheduleTime"))
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        names, images = container_cells((job_spec.get("template") or {}).get("spec", {}).get("containers"))
        suspend = spec.get("suspend")
        return [
            obj["metadata"].get("name", ""),
            spec.get("schedule", ""),
            spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else ("True" if suspend else "False"),
            len(status.get("active") or []),
            human_duration(now - last) if last else "<none>",
            age_cell(obj, now),
            names, images, format_label_selector(job_spec.get("selector")),
        ]


def validate_schedule(schedule: Any, path: str) -> list[FieldError]:
    if not isinstance(schedule, str):
        return [invalid(path, schedule, "must be a string")]
    if "TZ=" in schedule:
        # robfig/cron would accept "CRON_TZ=..." but Kubernetes wants the timeZone field.
        return [invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")]
    try:
        parse_schedule(schedule)
    except ValueError as e:
        return [invalid(path, schedule, str(e))]
    return []


def validate_time_zone(tz: Any, path: str) -> list[FieldError]:
    if tz is None:
        return []
    if not isinstance(tz, str) or not tz:
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    if tz.lower() == "local":
        return [invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return [invalid(path, tz, f"unknown time zone {tz}")]
    return []


RESOURCE = ResourceType(
    group="batch", version="v1", kind="CronJob", plural="cronjobs", singular="cronjob", namespaced=True,
    strategy=CronJobStrategy(), schema="io.k8s.api.batch.v1.CronJob", short_names=("cj",),
    categories=("all",), subresources=("status",),
)
