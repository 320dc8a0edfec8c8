"""CronJobs: defaults, schedule and time zone validation, job template rules, columns; the cron parser."""
from __future__ import annotations

import datetime as dt

import pytest

from kubelite.api.kinds.batch.cron import parse_schedule
from kubelite.api.kinds.batch.cronjob import RESOURCE as CRONJOB
from tests.api.kinds.kindtest import changed, container, create, created, fields, meta, row, update


def cronjob(schedule: str = "*/5 * * * *", **spec: object) -> dict:
    job_spec = {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [container("hello", "busybox")]}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("hello"),
            "spec": {"schedule": schedule, "jobTemplate": {"spec": job_spec}, **spec}}


def test_defaults() -> None:
    cj = created(CRONJOB, cronjob())
    spec = cj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    job_spec = spec["jobTemplate"]["spec"]
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "backoffLimit" not in job_spec  # the Job spec is defaulted when Jobs are created


@pytest.mark.parametrize("schedule,message", [
    ("*/5 * * * *", None),
    ("@hourly", None),
    ("@every 1h30m", None),
    ("0 9-17 * jan-jun mon-fri", None),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
])
def test_schedule_validation(schedule: str, message: str | None) -> None:
    errs = create(CRONJOB, cronjob(schedule))
    if message is None:
        assert errs == []
    else:
        assert fields(errs) == ["spec.schedule"]
        assert errs[0].message == f'Invalid value: "{schedule}": {message}'


@pytest.mark.parametrize("tz,ok", [("Europe/Berlin", True), ("UTC", True), ("Mars/Olympus", False),
                                   ("Local", False), ("", False)])
def test_time_zone(tz: str, ok: bool) -> None:
    assert fields(create(CRONJOB, cronjob(timeZone=tz))) == ([] if ok else ["spec.timeZone"])


def test_other_invalid() -> None:
    obj = cronjob(concurrencyPolicy="Sometimes", startingDeadlineSeconds=-1)
    obj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert fields(create(CRONJOB, obj)) == ["spec.startingDeadlineSeconds", "spec.concurrencyPolicy",
                                            "spec.jobTemplate.spec.template.spec.restartPolicy",
                                            "spec.jobTemplate.spec.selector"]


def test_name_length_only_checked_on_create() -> None:
    obj = cronjob()
    obj["metadata"]["name"] = "x" * 53
    errs = create(CRONJOB, obj)
    assert fields(errs) == ["metadata.name"]
    assert errs[0].message.endswith("must be no more than 52 characters")
    assert update(CRONJOB, changed(obj, "spec.suspend", True), obj) == []


def test_columns() -> None:
    cj = created(CRONJOB, cronjob(timeZone="UTC"))
    cj["status"] = {"active": [{"name": "hello-1"}], "lastScheduleTime": "2024-05-01T11:59:00Z"}
    assert row(CRONJOB, cj) == {"Name": "hello", "Schedule": "*/5 * * * *", "Timezone": "UTC", "Suspend": "False",
                                "Active": 1, "Last Schedule": "60s", "Age": "5m", "Containers": "hello",
                                "Images": "busybox", "Selector": "<none>"}
    cj["status"] = {}
    cells = row(CRONJOB, changed(cj, "spec.timeZone", None))
    assert (cells["Timezone"], cells["Last Schedule"], cells["Active"]) == ("<none>", "<none>", 0)


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


@pytest.mark.parametrize("schedule,after,expected", [
    ("*/15 * * * *", "2024-05-01T12:07:30", "2024-05-01T12:15:00"),
    ("0 0 * * *", "2024-05-01T12:00:00", "2024-05-02T00:00:00"),
    ("30 9 * * mon", "2024-05-01T12:00:00", "2024-05-06T09:30:00"),  # 2024-05-01 is a Wednesday
    ("0 0 1 * mon", "2024-05-01T00:00:00", "2024-05-06T00:00:00"),  # day OR weekday when both restricted
    ("0 0 29 2 *", "2024-05-01T00:00:00", "2028-02-29T00:00:00"),
    ("0 0 30 2 *", "2024-05-01T00:00:00", None),
    ("@every 90s", "2024-05-01T12:00:00", "2024-05-01T12:01:30"),
])
def test_next_run(schedule: str, after: str, expected: str | None) -> None:
    nxt = parse_schedule(schedule).next_after(t(after))
    assert nxt == (t(expected) if expected else None)
