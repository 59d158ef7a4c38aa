"""Audit metrics: pure functions on tensors, and ``evaluate`` deriving all of them from one pass per split.

Definitions follow ``shared/spec/methods-and-metrics.md`` section A; each function's docstring states its formula.
"""

from ._adversarial import adversarial_accuracy, fgsm, pgd
from ._classification import (accuracy, demographic_parity, dominant_group_accuracy, equal_opportunity,
                              equalized_odds, group_accuracy, worst_group_accuracy)
from ._config import MetricConfig
from ._engine import SplitOutputs, evaluate, forward_split
from ._fairness_gap import (FairnessGap, FairnessGapChange, NormStatsCollector, fairness_gap, fairness_gap_change,
                            norm_layers)
from ._gaps import DEFAULT_GAP_KEYS, avg_gap, deltas, mean_abs_delta, tow
from ._info import METRIC_INFO, MetricInfo, metric_info
from ._mia import loss_threshold_attack, mia_efficacy, mia_grmu, mia_svc_confidence, modified_entropy, roc_auc
from ._model_metrics import ModelMetrics

__all__ = ["DEFAULT_GAP_KEYS", "METRIC_INFO", "FairnessGap", "FairnessGapChange", "MetricConfig", "MetricInfo",
           "ModelMetrics", "NormStatsCollector", "SplitOutputs", "accuracy", "adversarial_accuracy", "avg_gap",
           "deltas", "demographic_parity", "dominant_group_accuracy", "equal_opportunity", "equalized_odds",
           "evaluate", "fairness_gap", "fairness_gap_change", "fgsm", "forward_split", "group_accuracy",
           "loss_threshold_attack", "mean_abs_delta", "metric_info", "mia_efficacy", "mia_grmu",
           "mia_svc_confidence", "modified_entropy", "norm_layers", "pgd", "roc_auc", "tow",
           "worst_group_accuracy"]
