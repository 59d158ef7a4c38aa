"""Audit profiles (``smoke`` / ``ci`` / ``full``) and the documented default method subset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Profile", "PROFILES", "DEFAULT_METHODS", "DEFAULT_REFERENCES", "REFERENCE_ALIASES"]

#: The ``methods="default"`` suite: one representative per family of approximate unlearning methods, chosen so
#: that the ``ci`` audit of ``colored_digits`` stays a few minutes on 2 CPU cores (``benchmarks/audit_speed.py``):
#:
#: - ``ft``: fine-tune on the retain set (the "CF" of Tran & Woo 2025; finetune family),
#: - ``ga``: gradient ascent on the forget set (gradient family),
#: - ``rl``: random labels on the forget set (relabel family),
#: - ``bad_teacher``: distillation from a competent and an incompetent teacher (distill family),
#: - ``fisher``: Fisher forgetting, Gaussian noise scaled by the retain-set Fisher information (noise family),
#: - ``influence``: one influence-function (Newton) step on the head (influence family),
#: - ``miu``: mutual-information unlearning, the group-robust method of De Min et al. 2025.
#:
#: Slower or more specialised methods (``salun``, ``l1_sparse``, ``scrub``, ``ssd``, ``boundary_*``, ``cf_k``,
#: ``eu_k``, ``sw_*``) run with ``methods="all"`` or by name. Names that are not registered in the installed
#: version are skipped (the report's config lists them).
DEFAULT_METHODS: tuple[str, ...] = ("ft", "ga", "rl", "bad_teacher", "fisher", "influence", "miu")

#: Reference models computed by default (De Min et al. 2025: ``retrain+reweight`` is the reference of MIU and of the
#: ``+reweight`` variants, ``retrain`` of everything else).
DEFAULT_REFERENCES: tuple[str, ...] = ("retrain", "retrain+reweight")

#: Accepted spellings of the reference models -> the name used in reports.
REFERENCE_ALIASES: dict[str, str] = {"retrain_reweight": "retrain+reweight", "retrain+groupdro": "retrain_groupdro"}


@dataclass(frozen=True)
class Profile:
    """A named audit size: which methods, seeds, references and metric preset.

    Attributes:
        name: ``smoke``, ``ci`` or ``full``.
        methods: ``"none"``, ``"default"``, ``"all"`` or names.
        seeds: seeds of the user's method (the audited, gated one).
        suite_seeds: seeds of the suite methods (``None``: ``seeds``); they are context for your method, not gated.
        references: reference retrains.
        reference_seeds: seeds of the reference retrains (their spread is the seed noise of every interval).
        metric_preset: ``MetricConfig.preset`` name.
        description: one line for help texts.
    """

    name: str
    methods: str | tuple[str, ...]
    seeds: tuple[int, ...]
    references: tuple[str, ...]
    reference_seeds: tuple[int, ...]
    metric_preset: str
    description: str
    suite_seeds: tuple[int, ...] | None = None

    def metric_config(self) -> Any:
        from ..metrics import MetricConfig

        return MetricConfig.preset(self.metric_preset)

    def spec_kwargs(self) -> dict[str, Any]:
        """The ``AuditSpec`` keyword arguments this profile sets."""
        return {"methods": self.methods, "seeds": self.seeds, "suite_seeds": self.suite_seeds,
                "references": self.references, "reference_seeds": self.reference_seeds,
                "metric_config": self.metric_config()}


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "none", (0,), ("retrain",), (0, 1, 2), "smoke",
                     "your method against 3 plain retrains, one seed of yours, fast metrics (FGSM only)"),
    "ci": Profile("ci", "default", (0, 1, 2), DEFAULT_REFERENCES, (0, 1, 2, 3, 4), "ci",
                  "your method (3 seeds) and the default suite (one seed) against both reference retrains (5 seeds "
                  "each), FGSM + PGD", suite_seeds=(0,)),
    "full": Profile("full", "all", (0, 1, 2), DEFAULT_REFERENCES + ("retrain_groupdro",), (0, 1, 2, 3, 4), "full",
                    "every registered method with three seeds, all references with five, eps sweep and every MIA "
                    "protocol"),
}
