"""Pod-template rules the apps workloads share (ReplicaSet, Deployment, DaemonSet, StatefulSet).

Kubernetes' ``ValidatePodTemplateSpecForReplicaSet`` and its DaemonSet/StatefulSet cousins:
the template must carry labels the selector matches, a valid pod spec, ``restartPolicy: Always``
(a workload's pods are restarted in place, never left Completed) and no
``activeDeadlineSeconds`` (a deadline would kill every pod the controller keeps alive).
Called by the kind modules of this package; pure functions.
"""
from __future__ import annotations

from typing import Any

from kubelite.api.kinds._shared import dig, validate_selector_matches_template
from kubelite.api.kinds.core.pod import validate_pod_template
from kubelite.api.validation import child, required
from kubelite.machinery.errors import FieldError, forbidden, not_supported

#: the annotation apps/v1 keeps a DaemonSet's internal ``templateGeneration`` in
DAEMONSET_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def validate_restart_and_deadline(template: dict[str, Any] | None, template_path: str,
                                  kind: str) -> list[FieldError]:
    """``restartPolicy`` must be Always and ``activeDeadlineSeconds`` unset for ``kind``'s pods."""
    errs: list[FieldError] = []
    pod_spec = dig(template, "spec") or {}
    policy = pod_spec.get("restartPolicy")
    if policy != "Always":
        errs.append(not_supported(child(template_path, "spec", "restartPolicy"), policy or "", ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(child(template_path, "spec", "activeDeadlineSeconds"),
                              f"activeDeadlineSeconds in {kind} is not Supported"))
    return errs


def validate_replica_template(spec: dict[str, Any], spec_path: str, kind: str) -> list[FieldError]:
    """A ReplicaSet's or Deployment's ``spec.template`` (Kubernetes reports both as "ReplicaSet")."""
    template = spec.get("template")
    tpath = child(spec_path, "template")
    if template is None:
        return [required(tpath)]
    errs = validate_selector_matches_template(spec.get("selector"), template, tpath)
    errs += validate_pod_template(template, tpath)
    errs += validate_restart_and_deadline(template, tpath, kind)
    return errs
