"""The synthetic reports these tests use keep the shape of the real data (``ModelMetrics.to_dict``)."""

from __future__ import annotations

from unlearn_audit.metrics import METRIC_INFO, FairnessGap, ModelMetrics
from unlearn_audit.report._table import COLUMNS

from ._make_report import LAYERS, metrics_dict


def test_metrics_dict_has_the_model_metrics_shape():
    fake = metrics_dict("original", 0)
    real = ModelMetrics(values={"TA": 90.0}, fairness_gap=FairnessGap(layer_names=list(LAYERS), values=[0.1] * 4),
                        adversarial={"fgsm": {f"{8 / 255:.6g}": 40.0}}).to_dict()
    hint = ("ModelMetrics.to_dict() changed shape: update metrics_dict in tests/report/_make_report.py, then "
            "regenerate the golden file (see test_golden_json.py)")
    assert list(fake) == list(real), hint
    assert set(fake["fairness_gap"]) == set(real["fairness_gap"]), hint
    assert set(fake["adversarial"]["fgsm"]) >= set(real["adversarial"]["fgsm"])  # same ε key format
    assert set(fake["values"]) <= set(METRIC_INFO)
    assert ModelMetrics.from_dict(fake).to_dict()["values"] == fake["values"]  # the real class reads it


def test_table_columns_are_known_metrics():
    assert set(COLUMNS) <= set(METRIC_INFO)
