"""What a check cannot see, and methods whose output cannot be told from the original's.

Two kinds of statement the threshold checks cannot make by themselves, added to the findings after they are decided
(``Thresholds.evaluate`` calls ``annotate_findings``, ``run_audit`` also ``unchanged_findings``):

- **notes on a check** (``annotate_findings``): the check was decided (or skipped), but by construction it cannot see
  part of what it claims to measure. The note is appended to the finding's ``why`` after ``"Cannot see: "``:

  - a fairness-gap check (``FG`` / ``FG_MAX``, Tran & Woo 2025) on a model whose per-layer fairness-gap equals the
    original's on every normalization layer (relative difference <= ``SAME_FG_RTOL``): the method changed nothing
    that feeds a normalization layer (e.g. a head-only method such as ``influence``), so the check passes whatever
    the method did;
  - an EO check when the forget set's dominant groups leave no contrast group (e.g. a random forget set, whose
    dominant groups are every group): the binarised equalized odds of De Min et al. 2025 is undefined;
  - a GA check when the dominant groups cover every test group: GA (accuracy on the dominant groups) is then TA.

- **unchanged methods** (``unchanged_findings``): a WARN finding (``check="runs"``) for a checked model whose output
  is indistinguishable from the original's on the evaluated samples: every test prediction and every forget-set
  correctness equal to the original's, and the mean absolute change of the forget-set losses at most
  ``UNCHANGED_LOSS_RTOL`` of the original's mean forget loss. Such a model passes the utility checks trivially and
  forgets nothing; for the soft-weighted (``sw_``) variants it usually means the soft weights were tiny (the log's
  ``sw_soft_max_abs_epsilon``), e.g. with a fixed ``lam`` far from the reference code's automatic choice.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Sequence

from ..report._findings import Finding, Status

if TYPE_CHECKING:  # pragma: no cover
    from ..report import AuditReport, ModelRecord

__all__ = ["annotate_findings", "unchanged_findings", "SAME_FG_RTOL", "UNCHANGED_LOSS_RTOL", "CANNOT_SEE"]

#: Relative tolerance under which a per-layer fairness-gap counts as the original's (float32 features, float64 sums).
SAME_FG_RTOL = 1e-6
#: Mean |change of forget loss| below this share of the original's mean forget loss counts as "unchanged".
UNCHANGED_LOSS_RTOL = 0.01
#: The prefix of every note (so readers of ``why`` can find it).
CANNOT_SEE = "Cannot see: "


def _ok(report: "AuditReport", name: str) -> list["ModelRecord"]:
    return [r for r in report.records(name) if r.status == "ok" and r.metrics is not None]


def _layer_values(rec: "ModelRecord") -> list[float] | None:
    fg = (rec.metrics or {}).get("fairness_gap")
    if not fg or not fg.get("values"):
        return None
    return [float(v) for v in fg["values"]]


def _same_fairness_gap(report: "AuditReport", name: str) -> bool:
    """Whether every seed of ``name`` has the original's per-layer fairness-gap on every layer."""
    orig = _ok(report, "original")
    ref = _layer_values(orig[0]) if orig else None
    recs = _ok(report, name)
    if ref is None or not recs:
        return False
    for r in recs:
        vals = _layer_values(r)
        if vals is None or len(vals) != len(ref):
            return False
        if any(abs(v - o) > SAME_FG_RTOL * max(abs(o), 1e-12) for v, o in zip(vals, ref)):
            return False
    return True


def _dominant_cover(report: "AuditReport") -> tuple[bool, bool]:
    """``(no EO contrast, GA is TA)`` from the report's data description: whether the dominant groups leave no
    attribute value outside them on some label side, and whether they hold every test sample."""
    data = report.data or {}
    dom = {tuple(g) for g in data.get("dominant_groups") or []}
    counts = (data.get("group_counts") or {}).get("test")
    n_attrs = data.get("n_attrs")
    if not dom or not counts or not n_attrs:
        return False, False
    present = {(int(g) // n_attrs, int(g) % n_attrs) for g, c in _items(counts) if c}
    ga_is_ta = bool(present) and present <= dom
    attrs = {a for _, a in dom}
    no_contrast = len(attrs) >= n_attrs or ga_is_ta
    return no_contrast, ga_is_ta


def _items(counts: Any) -> list[tuple[int, int]]:
    if isinstance(counts, dict):  # group name -> count, in group order g = a + y * n_attrs
        counts = list(counts.values())
    return [(i, int(v)) for i, v in enumerate(counts)]


def _note(f: Finding, text: str) -> Finding:
    why = f.why.rstrip()
    sep = " " if not why or why.endswith(".") else ". "
    return dataclasses.replace(f, why=f"{why}{sep}{CANNOT_SEE}{text}".strip())


def annotate_findings(report: "AuditReport", findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` with a ``"Cannot see: ..."`` note appended to the ``why`` of each check that is blind to part of
    what it claims (see the module docstring); the statuses are unchanged."""
    no_contrast, ga_is_ta = _dominant_cover(report)
    out = []
    for f in findings:
        if f.metric in ("FG", "FG_MAX") and f.status is not Status.FAIL and _same_fairness_gap(report, f.model):
            f = _note(f, "the model's per-layer fairness-gap equals the original's on every normalization layer: "
                         "the method changed no layer that feeds a normalization layer (e.g. a head-only change, or "
                         "none at all), so "
                         "this check cannot fail it whatever the method did; judge it by UA/MIA/TA instead.")
        elif f.metric in ("EO", "EO_WORST") and no_contrast:
            f = _note(f, "the forget set's dominant groups cover every attribute value (e.g. a random forget set), "
                         "so there is no contrast group and the equalized odds around the forget group (De Min et "
                         "al. 2025) is undefined: this check cannot see a fairness change; read WG (worst-group "
                         "accuracy) and the per-group accuracies instead.")
        elif f.metric == "GA" and ga_is_ta:
            f = _note(f, "the dominant forget groups cover every test group, so GA (accuracy on the dominant "
                         "groups) equals TA: this check repeats the test-accuracy check and cannot see a "
                         "group-specific loss; read WG instead.")
        out.append(f)
    return out


def output_change(model: "ModelRecord", original: "ModelRecord") -> dict[str, float] | None:
    """How far a model's evaluated outputs are from the original's (``None`` without per-sample outcomes).

    Keys: ``test_pred_changed`` (share of test predictions that differ), ``forget_correct_changed`` (share of forget
    samples whose correctness differs), ``forget_loss_change`` (mean ``|loss - loss_original|`` on the forget set
    divided by the original's mean forget loss).
    """
    import numpy as np

    ms, os_ = model.samples or {}, original.samples or {}
    keys = ("test.pred", "forget.correct", "forget.loss")
    if not all(k in ms and k in os_ for k in keys):
        return None
    a, b = np.asarray(ms["test.pred"]), np.asarray(os_["test.pred"])
    c, d = np.asarray(ms["forget.correct"]), np.asarray(os_["forget.correct"])
    la, lb = np.asarray(ms["forget.loss"], np.float64), np.asarray(os_["forget.loss"], np.float64)
    if a.shape != b.shape or c.shape != d.shape or la.shape != lb.shape or not la.size:
        return None
    scale = float(np.mean(np.abs(lb))) or 1.0
    return {"test_pred_changed": float(np.mean(a != b)) if a.size else 0.0,
            "forget_correct_changed": float(np.mean(c != d)),
            "forget_loss_change": float(np.mean(np.abs(la - lb))) / scale}


def unchanged_findings(report: "AuditReport", models: Sequence[str]) -> list[Finding]:
    """A WARN finding (``check="runs"``) for each of ``models`` whose every seed's output is indistinguishable from
    the original's (module docstring); models without per-sample outcomes are not judged."""
    orig = [r for r in _ok(report, "original") if r.samples]
    if not orig:
        return []
    out = []
    for name in models:
        recs = _ok(report, name)
        changes = [output_change(r, orig[0]) for r in recs]
        if not recs or any(c is None for c in changes):
            continue
        same = all(c["test_pred_changed"] == 0 and c["forget_correct_changed"] == 0  # type: ignore[index]
                   and c["forget_loss_change"] <= UNCHANGED_LOSS_RTOL for c in changes)  # type: ignore[index]
        if not same:
            continue
        worst = max(c["forget_loss_change"] for c in changes)  # type: ignore[index]
        eps = [r.log.get("sw_soft_max_abs_epsilon") for r in recs if r.log.get("sw_soft_max_abs_epsilon") is not None]
        lam = [r.log.get("sw_soft_lambda") for r in recs if r.log.get("sw_soft_lambda") is not None]
        why = (f"the output is indistinguishable from the original's on the evaluated samples: no test prediction and "
               f"no forget-set correctness changed, and the forget-set losses moved by {worst:.2%} of their mean "
               f"(at most {UNCHANGED_LOSS_RTOL:.0%})")
        if eps:
            why += (f"; the soft weights were tiny (max |epsilon| = {max(eps):.3g}"
                    + (f", lambda = {lam[0]:.3g}" if lam and isinstance(lam[0], (int, float)) else "")
                    + "): try lam='auto', the reference code's choice")
        why += ". Its passing checks show nothing was forgotten, not that unlearning worked."
        out.append(Finding(check="runs", metric="-", model=name, status=Status.WARN, why=why,
                           value=None if not math.isfinite(worst) else worst))
    return out
