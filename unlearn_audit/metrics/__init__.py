"""Audit metrics: pure functions on tensors, and ``evaluate`` deriving all of them from one pass per split.

Definitions follow the papers the metrics come from (De Min et al. 2025; Tran & Woo 2025); each function's
docstring states its formula and the project decision it implements. Functional API:

- accuracy / fairness: ``accuracy``, ``group_accuracy``, ``worst_group_accuracy``, ``dominant_group_accuracy``,
  ``equalized_odds``, ``demographic_parity``, ``equal_opportunity``;
- privacy: ``loss_threshold_attack``, ``mia_efficacy`` (project default), ``mia_grmu``, ``mia_svc_confidence``;
- fairness-gap: ``fairness_gap``, ``fairness_gap_change``;
- robustness: ``fgsm``, ``pgd``, ``adversarial_accuracy``;
- gaps against a reference: ``deltas``, ``avg_gap``, ``tow``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported lazily (PEP 562): the torch-free parts (metric metadata, thresholds) import without torch.
_LAZY: dict[str, str] = {
    "adversarial_accuracy": "._adversarial",
    "fgsm": "._adversarial",
    "pgd": "._adversarial",
    "accuracy": "._classification",
    "demographic_parity": "._classification",
    "dominant_group_accuracy": "._classification",
    "equal_opportunity": "._classification",
    "equalized_odds": "._classification",
    "group_accuracy": "._classification",
    "worst_group_accuracy": "._classification",
    "MetricConfig": "._config",
    "evaluate": "._engine",
    "metrics_from_outputs": "._engine",
    "FairnessGap": "._fairness_gap",
    "FairnessGapChange": "._fairness_gap",
    "fairness_gap": "._fairness_gap",
    "fairness_gap_change": "._fairness_gap",
    "norm_layers": "._fairness_gap",
    "DEFAULT_GAP_KEYS": "._gaps",
    "avg_gap": "._gaps",
    "deltas": "._gaps",
    "mean_abs_delta": "._gaps",
    "tow": "._gaps",
    "METRIC_INFO": "._info",
    "MetricInfo": "._info",
    "NotApplicableError": "._info",
    "metric_info": "._info",
    "loss_threshold_attack": "._mia",
    "mia_efficacy": "._mia",
    "mia_grmu": "._mia",
    "mia_svc_confidence": "._mia",
    "modified_entropy": "._mia",
    "roc_auc": "._mia",
    "ModelMetrics": "._model_metrics",
    "SAMPLE_KEYS": "._model_metrics",
    "EvalLayout": "._replicates",
    "replicate_metrics": "._replicates",
    "SplitOutputs": "._passes",
    "forward_split": "._passes",
}

__all__ = [
    # engine and results
    "evaluate", "MetricConfig", "ModelMetrics", "SAMPLE_KEYS", "EvalLayout", "replicate_metrics", "METRIC_INFO", "MetricInfo", "metric_info", "NotApplicableError",
    "metrics_from_outputs", "SplitOutputs", "forward_split",
    # accuracy and group fairness
    "accuracy", "group_accuracy", "worst_group_accuracy", "dominant_group_accuracy", "equalized_odds",
    "demographic_parity", "equal_opportunity",
    # privacy
    "loss_threshold_attack", "roc_auc", "mia_efficacy", "mia_grmu", "mia_svc_confidence", "modified_entropy",
    # fairness-gap
    "FairnessGap", "FairnessGapChange", "fairness_gap", "fairness_gap_change", "norm_layers",
    # robustness
    "fgsm", "pgd", "adversarial_accuracy",
    # gaps
    "DEFAULT_GAP_KEYS", "avg_gap", "deltas", "mean_abs_delta", "tow",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
