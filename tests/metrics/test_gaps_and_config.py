"""Avg. Gap / ToW / deltas (spec A5 and C3), ``MetricConfig`` and ``ModelMetrics`` containers."""

from __future__ import annotations

import json
import math

import pytest

from unlearn_audit.metrics import (DEFAULT_GAP_KEYS, METRIC_INFO, MetricConfig, MetricInfo, ModelMetrics, avg_gap,
                                   deltas, mean_abs_delta, tow)

M = {"RA": 98.0, "FA": 90.0, "UA": 10.0, "TA": 85.0, "MIA": 20.0, "EO": 12.0, "GA": 60.0}
R = {"RA": 97.0, "FA": 70.0, "UA": 30.0, "TA": 84.0, "MIA": 35.0, "EO": 8.0, "GA": 55.0}


def test_gap_of_a_model_against_itself():
    """Spec C3: a model against itself is indistinguishable: Avg. Gap = 100 (paper form), ToW = 100."""
    assert avg_gap(M, M) == 100.0 and tow(M, M) == 100.0
    assert avg_gap([M, R], [M, R]) == 100.0 and tow([M, R], [M, R]) == 100.0
    assert all(v == 0.0 for v in deltas(M, M).values())


def test_avg_gap_tow_and_deltas_by_hand():
    d = {"RA": 1.0, "UA": 20.0, "TA": 1.0, "MIA": 15.0, "EO": 4.0, "GA": 5.0}
    assert mean_abs_delta(M, R) == pytest.approx(d)
    assert avg_gap(M, R) == pytest.approx(100 - sum(d.values()) / 6)
    assert tow(M, R) == pytest.approx(100 * (1 - 0.01) * (1 - 0.20) * (1 - 0.01))
    assert deltas(M, R) == pytest.approx({k: M[k] - R[k] for k in M})
    assert deltas(M, R, keys=["EO"]) == {"EO": pytest.approx(4.0)}
    assert avg_gap(M, R, keys=("EO",)) == pytest.approx(96.0)


def test_per_seed_lists_take_abs_per_seed_then_mean():
    m1, m2 = dict(M), dict(M, EO=4.0)  # EO deltas vs R: +4 and -4 -> mean |.| = 4, mean signed = 0
    assert deltas([m1, m2], [R, R])["EO"] == pytest.approx(0.0)
    assert deltas([m1, m2], [R, R], absolute=True)["EO"] == pytest.approx(4.0)
    assert mean_abs_delta([m1, m2], [R, R])["EO"] == pytest.approx(4.0)
    per_seed = [avg_gap(m1, R), avg_gap(m2, R)]
    assert avg_gap([m1, m2], [R, R]) == pytest.approx(sum(per_seed) / 2)
    assert tow([m1, m2], [R, R]) == pytest.approx(tow(M, R))
    with pytest.raises(ValueError, match="pair them by seed"):
        avg_gap([m1, m2], [R])


def test_gaps_accept_model_metrics_and_explain_missing_keys():
    mm, rr = ModelMetrics(values=dict(M)), ModelMetrics(values=dict(R))
    assert avg_gap(mm, rr) == pytest.approx(avg_gap(M, R))
    assert deltas(mm, rr) == pytest.approx(deltas(M, R))
    rr.mark_not_applicable("EO", "the sensitive attribute takes a single value in the test split")
    with pytest.raises(KeyError, match="single value"):
        avg_gap(mm, rr)
    with pytest.raises(KeyError, match="'GA'"):
        avg_gap({"RA": 1.0}, {"RA": 1.0}, keys=("RA", "GA"))
    assert set(deltas(mm, rr)) == set(M) - {"EO"}  # default keys: those present in both


def test_metric_info_contract():
    assert list(METRIC_INFO) == ["RA", "FA", "UA", "TA", "VA", "MIA", "MIA_AUC", "LT_AUC", "LT_TPR1", "MIA_GRMU",
                                 "MIA_SVC", "EO", "EO_WORST", "GA", "WG", "DP", "EP", "FG", "FG_MAX", "FGSM", "PGD",
                                 "FQ"]
    hib = {k: v.higher_is_better for k, v in METRIC_INFO.items()}
    assert [k for k, v in hib.items() if v is True] == ["RA", "TA", "VA", "GA", "WG", "FGSM", "PGD", "FQ"]
    assert [k for k, v in hib.items() if v is False] == ["EO", "EO_WORST", "DP", "EP", "FG", "FG_MAX"]
    assert all(isinstance(v, MetricInfo) and v.key == k and v.label and v.description for k, v in METRIC_INFO.items())
    assert set(DEFAULT_GAP_KEYS) <= set(METRIC_INFO)


def test_metric_config_presets_round_trip_and_validation():
    smoke, ci, full = (MetricConfig.preset(n) for n in ("smoke", "ci", "full"))
    assert not smoke.pgd and smoke.fgsm and ci.pgd and ci.pgd_steps == 10
    assert full.eps_sweep == (1 / 255, 2 / 255, 4 / 255, 8 / 255) and full.mia_protocols == ("efficacy", "grmu", "svc")
    assert MetricConfig().eps == 8 / 255 and MetricConfig().tabular_eps == 0.1
    assert MetricConfig.preset("ci", seed=3).seed == 3
    for cfg in (smoke, ci, full, MetricConfig(fairness_gap_layers="features", eps_sweep=[0.01])):
        assert MetricConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert hash(full) == hash(MetricConfig.preset("full"))
    bad = [dict(eps=0), dict(eps_sweep=(-1.0,)), dict(mia_protocols=("lira",)), dict(fairness_gap_split="val"),
           dict(fairness_gap_statistic="mad"), dict(fairness_gap_layers="("), dict(pgd_steps=0), dict(batch_size=0),
           dict(attack_max_samples=0), dict(fgsm="yes")]
    for kw in bad:
        with pytest.raises(ValueError, match="MetricConfig"):
            MetricConfig(**kw)
    with pytest.raises(ValueError, match="unknown preset"):
        MetricConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown keys"):
        MetricConfig.from_dict({"epsilon": 1})
    with pytest.raises(TypeError):
        MetricConfig(8 / 255)  # keyword-only


def test_model_metrics_contract():
    mm = ModelMetrics()
    mm.set("TA", 90.0, reason_if_nan="x")
    mm.set("FA", float("nan"), reason_if_nan="the forget set is empty")
    mm.set("UA", None, reason_if_nan="the forget set is empty")
    assert mm["TA"] == 90.0 and mm.get("FA") is None and mm.get("FA", -1) == -1 and "FA" not in mm
    with pytest.raises(KeyError, match="not applicable: the forget set is empty"):
        mm["FA"]
    with pytest.raises(KeyError, match="not requested"):
        mm["PGD"]
    with pytest.raises(KeyError, match="unknown metric"):
        mm["XYZ"]
    with pytest.raises(KeyError, match="unknown metric"):
        mm.set("XYZ", 1.0, reason_if_nan="")
    assert not set(mm.values) & set(mm.not_applicable)
    mm.mia["efficacy"] = {"efficacy": float("nan"), "auc": 50.0}
    d = mm.to_dict()
    assert d["mia"]["efficacy"]["efficacy"] is None  # JSON-safe
    json.dumps(d, allow_nan=False)
    back = ModelMetrics.from_dict(json.loads(json.dumps(d)))
    assert back.values == mm.values and back.not_applicable == mm.not_applicable
    assert math.isnan(mm.mia["efficacy"]["efficacy"]) and back.mia["efficacy"]["efficacy"] is None
