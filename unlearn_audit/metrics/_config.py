"""``MetricConfig``: which metrics to compute and with which knobs; presets ``smoke``, ``ci``, ``full``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["MetricConfig"]

MiaProtocol = Literal["efficacy", "grmu", "svc"]


@dataclass(frozen=True, kw_only=True)
class MetricConfig:
    """Metric knobs.

    Args:
        eps: FGSM/PGD budget for images, pixel space (default 8/255, spec A8).
        tabular_eps: budget for tabular data, in standardized feature units (default 0.1).
        eps_sweep: extra budgets evaluated (FGSM, and PGD when enabled) for accuracy-vs-eps curves.
        fgsm, pgd: run those attacks.
        pgd_steps: PGD iterations (step size ``2.5 * eps / steps``).
        mia_protocols: subset of ``("efficacy", "grmu", "svc")``; the loss-threshold attack always runs.
        fairness_gap_split: ``"retain"`` (paper) or ``"test"``.
        fairness_gap_statistic: ``"var"`` or ``"std"``.
        fairness_gap_layers: regex filtering normalization layers by name, or ``None`` for all.
        batch_size: evaluation batch size.
        attack_max_samples: cap on attacked test samples (``None`` = all).
        seed: seeds the attacks' random starts and the MIA classifiers.
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

    def __post_init__(self) -> None:
        if not self.eps > 0 or not self.tabular_eps > 0:
            raise ValueError(f"MetricConfig.eps: expected > 0, got eps={self.eps!r}, tabular_eps={self.tabular_eps!r}")
        if any(not e > 0 for e in self.eps_sweep):
            raise ValueError(f"MetricConfig.eps_sweep: every budget must be > 0, got {self.eps_sweep!r}")
        unknown = set(self.mia_protocols) - {"efficacy", "grmu", "svc"}
        if unknown:
            raise ValueError(f"MetricConfig.mia_protocols: unknown {sorted(unknown)}; use efficacy, grmu, svc")
        if self.fairness_gap_split not in ("retain", "test"):
            raise ValueError(f"MetricConfig.fairness_gap_split: expected 'retain' or 'test', got "
                             f"{self.fairness_gap_split!r}")
        if self.fairness_gap_statistic not in ("var", "std"):
            raise ValueError(f"MetricConfig.fairness_gap_statistic: expected 'var' or 'std', got "
                             f"{self.fairness_gap_statistic!r}")
        if not isinstance(self.pgd_steps, int) or self.pgd_steps < 1:
            raise ValueError(f"MetricConfig.pgd_steps: expected a positive int, got {self.pgd_steps!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"MetricConfig.batch_size: expected a positive int, got {self.batch_size!r}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "MetricConfig":
        """``smoke``: FGSM only, 5-step PGD off, default MIA; ``ci``: FGSM + 10-step PGD; ``full``: an eps sweep
        {1, 2, 4, 8}/255, 20-step PGD and all three MIA protocols."""
        presets = {
            "smoke": dict(pgd=False),
            "ci": dict(),
            "full": dict(eps_sweep=(1 / 255, 2 / 255, 4 / 255, 8 / 255), pgd_steps=20,
                         mia_protocols=("efficacy", "grmu", "svc")),
        }
        if name not in presets:
            raise ValueError(f"MetricConfig.preset: unknown preset {name!r}; use smoke, ci or full")
        return cls(**{**presets[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["eps_sweep"] = list(self.eps_sweep)
        d["mia_protocols"] = list(self.mia_protocols)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MetricConfig":
        d = dict(d)
        d["eps_sweep"] = tuple(d.get("eps_sweep", ()))
        d["mia_protocols"] = tuple(d.get("mia_protocols", ("efficacy",)))
        return cls(**d)
