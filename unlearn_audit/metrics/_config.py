"""``MetricConfig``: which metrics ``evaluate`` computes and with which knobs; presets ``smoke``, ``ci``, ``full``."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping

__all__ = ["MetricConfig", "MIA_PROTOCOLS", "PRESETS"]

MiaProtocol = Literal["efficacy", "grmu", "svc"]
MIA_PROTOCOLS = ("efficacy", "grmu", "svc")

#: Overrides of the defaults per preset (documented in ``MetricConfig.preset``).
PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"pgd": False, "attack_max_samples": 512},
    "ci": {"attack_max_samples": 500},
    "full": {"eps_sweep": (1 / 255, 2 / 255, 4 / 255, 8 / 255), "mia_protocols": MIA_PROTOCOLS},
}


@dataclass(frozen=True, kw_only=True)
class MetricConfig:
    """Knobs of ``evaluate`` (all keyword-only; the object is immutable and hashable).

    Args:
        eps: FGSM/PGD budget for images, in ``[0, 1]`` pixel space (default ``8/255``).
        tabular_eps: budget for tabular data, in standardized feature units (default 0.1; no clamp).
        eps_sweep: extra image budgets (FGSM, and PGD when enabled) for accuracy-vs-eps curves in
            ``ModelMetrics.adversarial``; ignored for tabular data (the values are pixel budgets).
        fgsm, pgd: run those attacks (the ``FGSM`` / ``PGD`` keys are absent when off).
        pgd_steps: PGD iterations (step ``2.5 * eps / pgd_steps``, random start).
        mia_protocols: subset of ``("efficacy", "grmu", "svc")``: ``efficacy`` = the project default (``MIA``,
            ``MIA_AUC``), ``grmu`` = De Min et al. 2025's best-of-6 (``MIA_GRMU``), ``svc`` = SalUn's SVC on confidence
            (``MIA_SVC``). The loss-threshold attack (``LT_AUC``, ``LT_TPR1``) always runs.
        fairness_gap_split: ``"retain"`` (the paper's) or ``"test"``.
        fairness_gap_statistic: ``"var"`` or ``"std"``.
        fairness_gap_layers: regex on layer names selecting the normalization layers, or ``None`` for all.
        batch_size: evaluation and attack batch size.
        attack_max_samples: attack a seeded uniform subset of this many test samples (``None`` = all).
        seed: seeds the attack subset, PGD's random starts and the MIA forest.
        amp: bf16 autocast on CUDA for the passes and attacks (no effect on CPU).
    """

    eps: float = 8 / 255
    tabular_eps: float = 0.1
    eps_sweep: tuple[float, ...] = ()
    fgsm: bool = True
    pgd: bool = True
    pgd_steps: int = 10
    mia_protocols: tuple[MiaProtocol, ...] = ("efficacy",)
    fairness_gap_split: Literal["retain", "test"] = "retain"
    fairness_gap_statistic: Literal["var", "std"] = "var"
    fairness_gap_layers: str | None = None
    batch_size: int = 512
    attack_max_samples: int | None = None
    seed: int = 0
    amp: bool = True

    def __post_init__(self) -> None:
        def fix(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if isinstance(self.mia_protocols, str):
            fix("mia_protocols", (self.mia_protocols,))
        fix("eps_sweep", tuple(float(e) for e in self.eps_sweep))
        fix("mia_protocols", tuple(dict.fromkeys(self.mia_protocols)))
        for key in ("eps", "tabular_eps"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"MetricConfig.{key}: expected a finite number > 0, got {v!r}")
            fix(key, float(v))
        if any(not (math.isfinite(e) and e > 0) for e in self.eps_sweep):
            raise ValueError(f"MetricConfig.eps_sweep: every budget must be a finite number > 0, got "
                             f"{self.eps_sweep!r}")
        unknown = [p for p in self.mia_protocols if p not in MIA_PROTOCOLS]
        if unknown:
            raise ValueError(f"MetricConfig.mia_protocols: unknown {unknown}; choose from {', '.join(MIA_PROTOCOLS)}")
        if self.fairness_gap_split not in ("retain", "test"):
            raise ValueError(f"MetricConfig.fairness_gap_split: expected 'retain' or 'test', got "
                             f"{self.fairness_gap_split!r}")
        if self.fairness_gap_statistic not in ("var", "std"):
            raise ValueError(f"MetricConfig.fairness_gap_statistic: expected 'var' or 'std', got "
                             f"{self.fairness_gap_statistic!r}")
        if self.fairness_gap_layers is not None:
            try:
                re.compile(self.fairness_gap_layers)
            except (re.error, TypeError) as exc:
                raise ValueError(f"MetricConfig.fairness_gap_layers: not a valid regex "
                                 f"({self.fairness_gap_layers!r}: {exc})") from None
        for key, lo in (("pgd_steps", 1), ("batch_size", 1), ("seed", 0)):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"MetricConfig.{key}: expected an int >= {lo}, got {v!r}")
        m = self.attack_max_samples
        if m is not None and (not isinstance(m, int) or isinstance(m, bool) or m < 1):
            raise ValueError(f"MetricConfig.attack_max_samples: expected None or an int >= 1, got {m!r}")
        for key in ("fgsm", "pgd", "amp"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"MetricConfig.{key}: expected a bool, got {getattr(self, key)!r}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "MetricConfig":
        """A named configuration, with ``overrides`` on top.

        - ``smoke``: FGSM only (no PGD) on a 512-sample test subset, default MIA. Seconds.
        - ``ci``: FGSM + 10-step PGD on a 500-sample test subset, default MIA.
        - ``full``: every test sample, FGSM and PGD at 8/255 plus the sweep {1, 2, 4, 8}/255, and all three MIA
          protocols (GRMU's and SalUn's are slow). PGD keeps 10 steps so its numbers compare across presets.

        Raises:
            ValueError: unknown preset.
        """
        if name not in PRESETS:
            raise ValueError(f"MetricConfig.preset: unknown preset {name!r}; use {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes: Any) -> "MetricConfig":
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples as lists)."""
        d = dataclasses.asdict(self)
        d["eps_sweep"] = list(self.eps_sweep)
        d["mia_protocols"] = list(self.mia_protocols)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MetricConfig":
        """Inverse of ``to_dict``.

        Raises:
            ValueError: an unknown key (e.g. a config written by a newer version).
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"MetricConfig.from_dict: unknown keys {unknown}")
        return cls(**dict(d))
