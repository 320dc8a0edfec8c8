"""Jobs: defaults, the generated selector, validation, immutability, status column, field selector."""
from __future__ import annotations

import pytest

from kubelite.api.kinds.batch.job import RESOURCE as JOB
from tests.api.kinds.kindtest import UID, changed, container, create, created, fields, meta, row, update


def job(labels: dict | None = None, **spec: object) -> dict:
    tmpl: dict = {"spec": {"restartPolicy": "Never", "containers": [container("pi", "perl")]}}
    if labels is not None:
        tmpl["metadata"] = {"labels": labels}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("pi"), "spec": {"template": tmpl, **spec}}


GENERATED = {"batch.kubernetes.io/controller-uid": UID, "batch.kubernetes.io/job-name": "pi",
             "controller-uid": UID, "job-name": "pi"}


def test_defaults_and_generated_selector() -> None:
    j = created(JOB, job())
    spec = j["spec"]
    assert {k: spec[k] for k in ("completions", "parallelism", "backoffLimit", "completionMode", "suspend",
                                 "podReplacementPolicy", "manualSelector")} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed", "manualSelector": False}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    assert spec["template"]["metadata"]["labels"] == GENERATED
    # Read-back defaulting copies template labels onto an unlabelled Job.
    assert j["metadata"]["labels"] == GENERATED


def test_labelled_job_keeps_its_labels_and_parallel_job_no_completions() -> None:
    obj = job(parallelism=3)
    obj["metadata"]["labels"] = {"team": "a"}
    j = created(JOB, obj)
    assert j["metadata"]["labels"] == {"team": "a"}
    assert j["spec"]["parallelism"] == 3 and "completions" not in j["spec"]


def test_backoff_limit_per_index_raises_the_global_limit() -> None:
    j = created(JOB, job(completionMode="Indexed", completions=3, backoffLimitPerIndex=1))
    assert j["spec"]["backoffLimit"] == 2**31 - 1


def test_manual_selector_is_not_generated() -> None:
    j = job(labels={"app": "x"}, manualSelector=True, selector={"matchLabels": {"app": "x"}})
    assert create(JOB, j) == []
    assert j["spec"]["template"]["metadata"]["labels"] == {"app": "x"}


@pytest.mark.parametrize("spec,expected", [
    ({"parallelism": -1}, ["spec.parallelism"]),
    ({"completionMode": "Indexed"}, []),  # completions defaulted to 1 together with parallelism
    ({"completionMode": "Indexed", "parallelism": 2}, ["spec.completions"]),
    ({"completionMode": "Sometimes"}, ["spec.completionMode"]),
    ({"backoffLimitPerIndex": 1}, ["spec.backoffLimitPerIndex"]),
    ({"podFailurePolicy": {"rules": []}, "podReplacementPolicy": "TerminatingOrFailed"},
     ["spec.podReplacementPolicy"]),
])
def test_invalid_specs(spec: dict, expected: list[str]) -> None:
    assert fields(create(JOB, job(**spec))) == expected


def test_restart_policy_always_is_rejected() -> None:
    errs = create(JOB, changed(job(), "spec.template.spec.restartPolicy", "Always"))
    assert fields(errs) == ["spec.template.spec.restartPolicy"]
    assert errs[0].message == 'Unsupported value: "Always": supported values: "OnFailure", "Never"'


def test_conflicting_generated_labels_are_rejected() -> None:
    errs = create(JOB, job(labels={"job-name": "other"}))
    assert fields(errs) == ["spec.template.metadata.labels[job-name]"]
    assert errs[0].message == "Invalid value: \"other\": must be 'pi'"


def test_hand_written_selector_must_match_generated_labels() -> None:
    errs = create(JOB, job(selector={"matchLabels": {"app": "x"}}))
    assert fields(errs) == ["spec.selector", "spec.template.metadata.labels"]


def test_template_and_selector_are_immutable() -> None:
    old = created(JOB, job())
    new = changed(old, "spec.template.spec.containers", [container("pi", "perl:2")])
    assert fields(update(JOB, new, old)) == ["spec.template"]
    assert update(JOB, changed(old, "spec.suspend", True), old) == []
    assert fields(update(JOB, changed(old, "spec.completions", 3), old)) == ["spec.completions"]


def test_suspended_job_that_never_ran_may_move_its_pods() -> None:
    old = created(JOB, job(suspend=True))
    new = changed(old, "spec.template.spec.nodeSelector", {"zone": "a"})
    assert update(JOB, new, old) == []
    old["status"] = {"startTime": "2024-05-01T11:56:00Z"}
    assert fields(update(JOB, changed(old, "spec.template.spec.nodeSelector", {"zone": "a"}), old)) == \
        ["spec.template"]


def test_elastic_indexed_jobs_may_scale() -> None:
    old = created(JOB, job(completionMode="Indexed", completions=2, parallelism=2))
    new = changed(changed(old, "spec.completions", 4), "spec.parallelism", 4)
    assert update(JOB, new, old) == []


@pytest.mark.parametrize("status,deleting,expected", [
    ({}, False, ("Running", "0/1", "")),
    ({"succeeded": 1, "startTime": "2024-05-01T11:55:00Z", "completionTime": "2024-05-01T11:55:42Z",
      "conditions": [{"type": "Complete", "status": "True"}]}, False, ("Complete", "1/1", "42s")),
    ({"startTime": "2024-05-01T11:58:00Z", "conditions": [{"type": "Failed", "status": "True"}]}, False,
     ("Failed", "0/1", "2m")),
    ({"conditions": [{"type": "Suspended", "status": "True"}]}, False, ("Suspended", "0/1", "")),
    ({}, True, ("Terminating", "0/1", "")),
])
def test_status_column(status: dict, deleting: bool, expected: tuple) -> None:
    j = created(JOB, job())
    j["status"] = status
    if deleting:
        j["metadata"]["deletionTimestamp"] = "2024-05-01T11:59:00Z"
    cells = row(JOB, j)
    assert (cells["Status"], cells["Completions"], cells["Duration"]) == expected
    assert cells["Selector"] == f"batch.kubernetes.io/controller-uid={UID}"


def test_completions_column_without_completions() -> None:
    j = created(JOB, job(parallelism=3))
    assert row(JOB, j)["Completions"] == "0/1 of 3"


def test_field_selector() -> None:
    j = created(JOB, job())
    j["status"] = {"succeeded": 1}
    assert JOB.strategy.field_labels(j) == {"status.successful": "1"}


def test_duration_column_needs_a_readable_start_time() -> None:
    import datetime as dt

    from kubelite.api.kinds.batch.job import job_duration
    now = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.timezone.utc)
    assert job_duration({}, now) == ""
    assert job_duration({"startTime": "not a time"}, now) == ""
    assert job_duration({"startTime": "2026-01-01T00:00:00Z"}, now) == "60s"
    assert job_duration({"startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:05Z"}, now) == "5s"
