"""Metric metadata: label, direction and unit of every metric key an audit reports."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MetricInfo", "METRIC_INFO", "metric_info", "NotApplicableError"]


class NotApplicableError(ValueError):
    """A metric does not apply to this model or data (e.g. fairness-gap of a model without normalization layers);
    the message is the human reason ``ModelMetrics.not_applicable`` records."""


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric.

    Attributes:
        key: short key used everywhere (``"EO"``).
        label: human label.
        higher_is_better: ``True`` / ``False``, or ``None`` for two-sided metrics where closeness to the reference
            retrain is what matters (forget accuracy, MIA).
        unit: ``"%"`` or ``""``.
        description: one sentence with the definition.
    """

    key: str
    label: str
    higher_is_better: bool | None
    unit: str
    description: str


def _m(key: str, label: str, hib: bool | None, unit: str, desc: str) -> tuple[str, MetricInfo]:
    return key, MetricInfo(key, label, hib, unit, desc)


METRIC_INFO: dict[str, MetricInfo] = dict([
    _m("RA", "retain acc", True, "%", "accuracy on the retain set D_r"),
    _m("FA", "forget acc", None, "%", "accuracy on the forget set D_f"),
    _m("UA", "unlearn acc", None, "%", "100 - FA (SalUn convention)"),
    _m("TA", "test acc", True, "%", "accuracy on the test split"),
    _m("VA", "val acc", True, "%", "accuracy on the validation split"),
    _m("MIA", "MIA efficacy", None, "%",
        "% of D_f a loss-based RandomForest attack (trained on D_r vs D_val) calls non-member"),
    _m("MIA_AUC", "MIA AUC", None, "%", "AUC x100 of the default attack, D_f (members) vs test (non-members)"),
    _m("LT_AUC", "loss-threshold AUC", None, "%", "AUC x100 of the loss-threshold attack, D_f vs test"),
    _m("LT_TPR1", "LT TPR@1%FPR", None, "%", "TPR x100 at 1% FPR of the loss-threshold attack"),
    _m("MIA_GRMU", "MIA (GRMU)", None, "%", "De Min et al. 2025's protocol: best-of-6 RandomForest efficacy"),
    _m("MIA_SVC", "MIA (SVC conf.)", None, "%", "SalUn protocol: SVC on confidence, efficacy on D_f"),
    _m("EO", "equalized odds", False, "%",
        "100 * mean over t of |A[t][0] - A[t][1]|, cells binarised around the dominant group"),
    _m("EO_WORST", "EO (worst)", False, "%", "100 * max over t of |A[t][0] - A[t][1]| (worst case)"),
    _m("GA", "dominant-group acc", True, "%", "test accuracy on the dominant forget group(s)"),
    _m("WG", "worst-group acc", True, "%", "minimum test accuracy over (y, a) groups"),
    _m("DP", "demographic parity", False, "%",
        "100 * |P(yhat=1|a) - P(yhat=1|a')|, mean over attribute pairs (binary tasks)"),
    _m("EP", "equal opportunity", False, "%", "100 * |TPR(a) - TPR(a')|, mean over attribute pairs (binary tasks)"),
    _m("FG", "fairness-gap", False, "",
        "mean over normalization layers of max_c sigma_c - min_c sigma_c (class-wise feature variance)"),
    _m("FG_MAX", "fairness-gap (max)", False, "", "max over normalization layers of the fairness-gap"),
    _m("FGSM", "FGSM acc", True, "%", "test accuracy under a one-step FGSM attack at eps"),
    _m("PGD", "PGD acc", True, "%", "test accuracy under an L-inf PGD attack at eps (random start)"),
    _m("FQ", "forget quality", True, "",
        "p-value of the two-sample KS test of forget-set losses vs the reference's (TOFU; high = alike)"),
])


def metric_info(key: str) -> MetricInfo:
    """``METRIC_INFO[key]`` with a helpful error."""
    try:
        return METRIC_INFO[key]
    except KeyError:
        raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRIC_INFO)}") from None
