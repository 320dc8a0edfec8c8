"""batch/v1 Job: defaults, the generated selector, validation and ``kubectl get jobs`` columns.

A Job normally gets its selector from the server: at create (when ``metadata.uid`` is known)
the template is labelled ``batch.kubernetes.io/controller-uid=<uid>`` and
``batch.kubernetes.io/job-name=<name>`` (plus the legacy unprefixed pair) and the selector
matches the uid, so two Jobs with the same name over time never adopt each other's pods.
``manualSelector: true`` turns that off.

Kubernetes re-applies defaults whenever it reads a Job back, and one default copies the
template labels onto an unlabelled Job -- so a Job created without labels reads back with the
four generated labels. ``prepare_for_create`` reproduces that final state.

The pod template is immutable after create, except the scheduling directives of a suspended
Job that never started (Kueue-style admission rewrites them). Served through ``RESOURCE``.
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubelite.api.helpers.times import try_parse_time
from kubelite.api.kinds._shared import (
    default_template, set_default,
    AGE_COLUMN, CONTAINERS_COLUMN, IMAGES_COLUMN, NAME_COLUMN, StatusStrategy, age_cell,
    container_cells, format_label_selector, nonneg, validate_selector_matches_template,
)
from kubelite.api.kinds.core.pod import validate_pod_template
from kubelite.api.registry import Column, ResourceType, human_duration
from kubelite.api.validation import required, selector_matches, validate_immutable, validate_label_selector
from kubelite.machinery.errors import FieldError, invalid, not_supported

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
MAX_INT32 = 2**31 - 1
#: Kubernetes caps parallelism of Indexed Jobs (each index is tracked in status)
MAX_PARALLELISM_INDEXED = 100_000


def default_job_spec(spec: dict[str, Any]) -> None:
    """``SetDefaults_Job`` for the spec part (shared with nothing else: CronJob templates are
    not defaulted this way in Kubernetes)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    set_default(spec, "parallelism", 1)
    # With per-index limits the global backoff limit must not end the Job first.
    set_default(spec, "backoffLimit", MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
    set_default(spec, "completionMode", "NonIndexed")
    set_default(spec, "suspend", False)
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in rule.get("onPodConditions") or []:
            set_default(pattern, "status", "True")
    set_default(spec, "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    set_default(spec, "manualSelector", False)


def validate_job_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """``validateJobSpec``: counts, modes and the pod template (the selector is checked by callers)."""
    errs: list[FieldError] = []
    for f in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        errs += nonneg(spec.get(f), f"{path}.{f}")
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed":
        if spec.get("completions") is None:
            errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
        parallelism = spec.get("parallelism")
        if isinstance(parallelism, int) and parallelism > MAX_PARALLELISM_INDEXED:
            errs.append(invalid(f"{path}.parallelism", parallelism, f"must be less than or equal to "
                                f"{MAX_PARALLELISM_INDEXED} when completion mode is Indexed"))
    if spec.get("backoffLimitPerIndex") is not None:
        errs += nonneg(spec["backoffLimitPerIndex"], f"{path}.backoffLimitPerIndex")
        if mode != "Indexed":
            errs.append(invalid(f"{path}.backoffLimitPerIndex", spec["backoffLimitPerIndex"],
                                "requires indexed completion mode"))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        allowed = ["Failed"] if spec.get("podFailurePolicy") else ["TerminatingOrFailed", "Failed"]
        if replacement not in allowed:
            errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, allowed))
    template = spec.get("template")
    tpath = f"{path}.template"
    if template is None:
        return errs + [required(tpath)]
    errs += validate_pod_template(template, tpath)
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        # A Job's pods must be able to finish; "Always" would restart them forever.
        errs.append(not_supported(f"{tpath}.spec.restartPolicy", policy or "", ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") and policy != "Never":
        errs.append(invalid(f"{tpath}.spec.restartPolicy", policy,
                            "only \"Never\" is supported when podFailurePolicy is specified"))
    return errs


class JobStrategy(StatusStrategy):
    columns = (
        NAME_COLUMN,
        Column("Status", description="Status of the job."),
        Column("Completions", description="The number of pods which reached phase Succeeded."),
        Column("Duration", description="Time required to complete the job."),
        AGE_COLUMN,
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description="A label query over pods that should match the pod count."),
    )

    def defaults(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        default_job_spec(spec)
        default_template(spec)
        _copy_template_labels(obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        if not spec.get("manualSelector"):
            generate_selector(obj)
        # Kubernetes defaults the Job again when it reads it back, which copies the (now
        # generated) template labels onto a Job that had none: store that final state.
        _copy_template_labels(obj)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = _validate_generated_selector(obj)
        errs += validate_job_spec(spec, "spec")
        sel = spec.get("selector")
        if sel is None:
            errs.append(required("spec.selector"))
        else:
            errs += validate_label_selector(sel, "spec.selector")
            errs += validate_selector_matches_template(sel, spec.get("template"), "spec.template")
        return errs

    def validate_update(self, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(obj)
        spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        if not _elastic_indexed_change(spec, old_spec):
            errs += validate_immutable(spec.get("completions"), old_spec.get("completions"), "spec.completions")
        for f in ("selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy"):
            errs += validate_immutable(spec.get(f), old_spec.get(f), f"spec.{f}")
        template, old_template = spec.get("template") or {}, copy.deepcopy(old_spec.get("template") or {})
        suspended_never_started = bool(old_spec.get("suspend")) and not (old.get("status") or {}).get("startTime")
        if suspended_never_started:
            # Scheduling directives may still move before the Job first runs.
            old_template.setdefault("metadata", {})
            old_template.setdefault("spec", {})
            for f in ("labels", "annotations"):
                _copy_key(template.get("metadata") or {}, old_template["metadata"], f)
            for f in ("affinity", "nodeSelector", "tolerations", "schedulingGates"):
                _copy_key(template.get("spec") or {}, old_template["spec"], f)
            if not old_template["metadata"]:
                old_template.pop("metadata")
        if template != old_template:
            errs.append(FieldError("spec.template", "Invalid value: core.PodTemplateSpec{...}: field is immutable"))
        return errs

    def field_labels(self, obj: dict[str, Any]) -> dict[str, str]:
        return {"status.successful": str((obj.get("status") or {}).get("succeeded") or 0)}

    def row(self, obj: dict[str, Any], now: dt.datetime) -> list[Any]:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        succeeded = status.get("succeeded") or 0
        if spec.get("completions") is not None:
            completions = f"{succeeded}/{spec['completions']}"
        elif (spec.get("parallelism") or 0) > 1:
            completions = f"{succeeded}/1 of {spec['parallelism']}"
        else:
            completions = f"{succeeded}/1"
        names, images = container_cells((spec.get("template") or {}).get("spec", {}).get("containers"))
        return [obj["metadata"].get("name", ""), job_status(obj), completions, job_duration(status, now),
                age_cell(obj, now), names, images, format_label_selector(spec.get("selector"))]


def generate_selector(job: dict[str, Any]) -> None:
    """Label the template with the Job's uid and name and select on the uid (labels a user
    already set are kept; validation then rejects them if they conflict)."""
    meta = job.get("metadata") or {}
    uid, name = meta.get("uid", ""), meta.get("name", "")
    spec = job.setdefault("spec", {})
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(key, name)
    for key in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        labels.setdefault(key, uid)
    selector = set_default(spec, "selector", {})
    set_default(selector, "matchLabels", {}).setdefault(CONTROLLER_UID_LABEL, uid)


def job_status(job: dict[str, Any]) -> str:
    """The STATUS column: Complete, Failed, Terminating, Suspended, FailureTarget or Running."""
    conditions = (job.get("status") or {}).get("conditions") or []

    def true(kind: str) -> bool:
        for c in conditions:
            if c.get("type") == kind:
                return c.get("status") == "True"
        return False

    if true("Complete"):
        return "Complete"
    if true("Failed"):
        return "Failed"
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if true("Suspended"):
        return "Suspended"
    if true("FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_duration(status: dict[str, Any], now: dt.datetime) -> str:
    start = try_parse_time(status.get("startTime"))
    if start is None:
        return ""
    return human_duration((try_parse_time(status.get("completionTime")) or now) - start)


def _copy_template_labels(job: dict[str, Any]) -> None:
    template_labels = ((job.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels")
    meta = job.setdefault("metadata", {})
    if template_labels and not meta.get("labels"):
        meta["labels"] = dict(template_labels)


def _copy_key(src: dict[str, Any], dst: dict[str, Any], key: str) -> None:
    if key in src:
        dst[key] = copy.deepcopy(src[key])
    else:
        dst.pop(key, None)


def _elastic_indexed_change(spec: dict[str, Any], old: dict[str, Any]) -> bool:
    """Indexed Jobs may scale by changing completions and parallelism together."""
    return (spec.get("completionMode") == "Indexed" and old.get("completionMode") == "Indexed"
            and spec.get("completions") == spec.get("parallelism")
            and old.get("completions") == old.get("parallelism"))


def _validate_generated_selector(job: dict[str, Any]) -> list[FieldError]:
    """With a generated selector the template must carry the uid and name labels and the
    selector must pick them (a hand-edited selector could otherwise adopt foreign pods)."""
    spec = job.get("spec") or {}
    if spec.get("manualSelector") or spec.get("selector") is None:
        return []
    meta = job.get("metadata") or {}
    uid, name = meta.get("uid", ""), meta.get("name", "")
    errs: list[FieldError] = []
    if not uid:
        errs.append(required("metadata.uid"))
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    for key, want in ((LEGACY_CONTROLLER_UID_LABEL, uid), (LEGACY_JOB_NAME_LABEL, name),
                      (CONTROLLER_UID_LABEL, uid), (JOB_NAME_LABEL, name)):
        path = f"spec.template.metadata.labels[{key}]"
        if key not in labels:
            errs.append(required(path))
        elif labels[key] != want:
            errs.append(invalid(path, labels[key], f"must be '{want}'"))
    expected = {LEGACY_CONTROLLER_UID_LABEL: uid, LEGACY_JOB_NAME_LABEL: name,
                CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: name}
    sel = spec["selector"]
    if isinstance(sel, dict) and not validate_label_selector(sel, "x") and not selector_matches(sel, expected):
        errs.append(invalid("spec.selector", format_label_selector(sel), "`selector` not auto-generated"))
    return errs


RESOURCE = ResourceType(
    group="batch", version="v1", kind="Job", plural="jobs", singular="job", namespaced=True,
    strategy=JobStrategy(), schema="io.k8s.api.batch.v1.Job", categories=("all",), subresources=("status",),
)
