"""Assembling the report: the records of every step -> ``AuditReport`` with config, intervals and findings."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import torch

from ..report import AuditReport, Finding, ModelRecord, Status
from ._blind_spots import unchanged_findings
from ._environment import collect_environment
from ._plan import Plan
from ._spec import AuditSpec
from ._thresholds import checked_models
from ._uncertainty import assemble_uncertainty

__all__ = ["assemble", "REFERENCE_RULE"]

#: How each model's reference is chosen, recorded in the report's config.
REFERENCE_RULE = ("retrain+reweight for MIU and +reweight variants, retrain otherwise; the first available "
                  "reference when that one is not audited")


def assemble(spec: AuditSpec, plan: Plan, records: list[ModelRecord], *, device: torch.device,
             cache: dict[str, Any], execution: dict[str, Any], t_start: float) -> AuditReport:
    """The ``AuditReport`` of ``records`` (in the plan's order): config, uncertainty, then the findings.

    Args:
        spec: the audit.
        plan: its plan (its notes go to ``config["notes"]``).
        records: one per step.
        device: the controller's device (for the environment section).
        cache: ``{"dir", "hits", "misses", "recovered"}`` over every worker.
        execution: ``{"executor", "workers", "threads_per_step", ...}``: how the steps were run.
        t_start: ``time.perf_counter()`` when the audit started (for ``config["seconds"]``).
    """
    data = spec.data
    user = spec.user_method.name if spec.user_method is not None else None
    report = AuditReport(rows=list(records), data=describe_data(data), environment=collect_environment(device),
                         user_method=user, created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    report.config = {**spec.describe(), "reference_rule": REFERENCE_RULE,
                     "reference_of": {r.name: r.reference for r in records if r.reference is not None},
                     "cache": cache, "execution": execution, "notes": list(plan.notes),
                     "seconds": round(time.perf_counter() - t_start, 3)}
    thresholds = spec.thresholds
    report.uncertainty = assemble_uncertainty(report, data, n_boot=spec.n_boot,
                                              level=thresholds.level)  # type: ignore[union-attr]
    findings: list[Finding] = []
    if user is not None:
        for r in report.records(user):
            if r.status == "failed":
                findings.append(Finding(check="runs", metric="-", model=user, status=Status.FAIL,
                                        why=f"seed {r.seed}: {r.error}"))
    findings += thresholds.evaluate(report)  # type: ignore[union-attr]
    findings += unchanged_findings(report, checked_models(report))
    report.findings = findings
    report.config["seconds"] = round(time.perf_counter() - t_start, 3)
    return report


def describe_data(data: Any) -> dict[str, Any]:
    """Sizes, group counts, fingerprints and the forget request (``AuditReport.data``)."""
    train = data.train
    return {
        "name": (train.name or "").split("/")[0] or None,
        "n_train": len(train), "n_forget": len(data.forget_idx), "n_retain": len(train) - len(data.forget_idx),
        "n_test": len(data.test), "n_val": len(data.val) if data.val is not None else None,
        "n_classes": data.n_classes, "n_attrs": data.n_attrs,
        "classes": list(train.classes) if train.classes else None,
        "attr_names": list(train.attr_names) if train.attr_names else None,
        "input_shape": list(train.x.shape[1:]),
        "dominant_groups": [list(g) for g in data.dominant_groups],
        "dominant_group_names": [train.group_name(a + y * data.n_attrs) for y, a in data.dominant_groups],
        "group_counts": {split: ds.summary()["group_counts"] for split, ds in data.splits().items()},
        "fingerprint": data.fingerprint(),
    }
