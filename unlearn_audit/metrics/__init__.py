"""Audit metrics: pure functions on tensors, and ``evaluate`` deriving all of them from one pass per split.

Definitions follow ``shared/spec/methods-and-metrics.md`` section A; each function's docstring states its formula
and the project decision it implements. Functional API:

- accuracy / fairness: ``accuracy``, ``group_accuracy``, ``worst_group_accuracy``, ``dominant_group_accuracy``,
  ``equalized_odds``, ``demographic_parity``, ``equal_opportunity``;
- privacy: ``loss_threshold_attack``, ``mia_efficacy`` (project default), ``mia_grmu``, ``mia_svc_confidence``;
- fairness-gap: ``fairness_gap``, ``fairness_gap_change``;
- robustness: ``fgsm``, ``pgd``, ``adversarial_accuracy``;
- gaps against a reference: ``deltas``, ``avg_gap``, ``tow``.
"""

from ._adversarial import adversarial_accuracy, fgsm, pgd
from ._classification import (accuracy, demographic_parity, dominant_group_accuracy, equal_opportunity,
                              equalized_odds, group_accuracy, worst_group_accuracy)
from ._config import MetricConfig
from ._engine import evaluate, metrics_from_outputs
from ._fairness_gap import FairnessGap, FairnessGapChange, fairness_gap, fairness_gap_change, norm_layers
from ._gaps import DEFAULT_GAP_KEYS, avg_gap, deltas, mean_abs_delta, tow
from ._info import METRIC_INFO, MetricInfo, NotApplicableError, metric_info
from ._mia import loss_threshold_attack, mia_efficacy, mia_grmu, mia_svc_confidence, modified_entropy, roc_auc
from ._model_metrics import ModelMetrics
from ._passes import SplitOutputs, forward_split

__all__ = [
    # engine and results
    "evaluate", "MetricConfig", "ModelMetrics", "METRIC_INFO", "MetricInfo", "metric_info", "NotApplicableError",
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
