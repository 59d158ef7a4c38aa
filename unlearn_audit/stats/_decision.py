"""Deciding a check from an interval: PASS when shown, FAIL when shown, otherwise INCONCLUSIVE with what would decide.

For a claim ``Q <= bound`` and the interval ``[lo, hi]`` of ``Q`` at the audit's level:

- PASS when ``hi <= bound`` (the whole interval inside: compliance shown, an equivalence / non-inferiority test);
- FAIL when ``lo > bound`` (the whole interval outside: a violation shown);
- INCONCLUSIVE otherwise: the data cannot tell. ``what_would_decide`` estimates how much more data would: the
  interval must shrink until its half-width is below the distance ``d = |bound - Q_hat|``, i.e. the variance must
  fall below ``(d / q)^2``. The sample part of the variance scales as ``1 / n`` (evaluation samples), the seed part
  as ``(1 / n_model + 1 / n_reference)`` (seeds).

``Q >= bound`` (``min`` checks) is the mirror image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ._intervals import Interval

__all__ = ["Decision", "decide_at_most", "decide_at_least", "what_would_decide"]

Outcome = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class Decision:
    """The outcome of one claim: ``outcome``, the interval of the checked quantity ``[lo, hi]`` and ``estimate``."""

    outcome: Outcome
    estimate: float
    lo: float
    hi: float


def decide_at_most(estimate: float, lo: float, hi: float, bound: float) -> Decision:
    """The claim ``Q <= bound``: PASS if ``hi <= bound``, FAIL if ``lo > bound``, else INCONCLUSIVE."""
    outcome: Outcome = "PASS" if hi <= bound else "FAIL" if lo > bound else "INCONCLUSIVE"
    return Decision(outcome, estimate, lo, hi)


def decide_at_least(estimate: float, lo: float, hi: float, bound: float) -> Decision:
    """The claim ``Q >= bound``: PASS if ``lo >= bound``, FAIL if ``hi < bound``, else INCONCLUSIVE."""
    outcome: Outcome = "PASS" if lo >= bound else "FAIL" if hi < bound else "INCONCLUSIVE"
    return Decision(outcome, estimate, lo, hi)


def what_would_decide(interval: Interval, *, distance: float, n_samples: int | None, sample_split: str | None,
                      n_model_seeds: int, n_reference_seeds: int | None) -> str:
    """A sentence estimating what would resolve an INCONCLUSIVE check.

    Args:
        interval: the interval of the compared quantity (its variance components are used).
        distance: ``|bound - estimate|`` in the quantity's unit.
        n_samples: evaluation samples behind the sample variance (``None`` when it has no sample part).
        sample_split: the split those samples come from (``"forget set"``, ``"test split"``...).
        n_model_seeds, n_reference_seeds: seeds of the model and of its reference (``None``: a fixed reference
            such as the original).
    """
    q = interval.quantile
    if not distance > 0 or not math.isfinite(distance):
        return "the estimate sits on the bound: no amount of data can move it off; the bound itself is the question"
    target = (distance / q) ** 2  # the variance that would make the half-width equal the distance
    parts = []
    vs, vseed = interval.sample_var, interval.seed_var
    if n_samples and vs > 0 and vseed < target:
        factor = vs / (target - vseed)
        parts.append(f"about {factor:.1f}x the {sample_split or 'evaluation samples'} "
                     f"(~{math.ceil(factor * n_samples):,} samples instead of {n_samples:,})")
    if vseed > 0 and vs < target:
        # seed variance per unit: s^2 with V_seed = s^2 (1/n_m + 1/n_r); audit both with S seeds -> s^2 * 2/S
        inv = 1.0 / n_model_seeds + (1.0 / n_reference_seeds if n_reference_seeds else 0.0)
        s2 = vseed / inv
        per = 2.0 if n_reference_seeds else 1.0
        seeds = math.ceil(per * s2 / (target - vs))
        current = max(n_model_seeds, n_reference_seeds or 0)
        if seeds > current:
            who = "the method and its reference" if n_reference_seeds else "the method"
            parts.append(f"about {seeds} seeds of {who} (now {n_model_seeds}"
                         + (f" and {n_reference_seeds}" if n_reference_seeds else "") + ")")
    factor = (interval.half_width / distance) ** 2
    head = (f"to decide, the half-width ({interval.half_width:.3g}) must fall below the distance to the bound "
            f"({distance:.3g}): a variance about {factor:.1f}x smaller")
    if not parts:
        if n_samples or vseed > 0:
            return head + f", e.g. about {factor:.1f}x both the evaluation samples and the seeds"
        return head
    return head + ": " + " or ".join(parts)
