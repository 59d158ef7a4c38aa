"""Accuracy and group-fairness metrics against fairlearn and naive per-sample oracles, plus spec C3 invariants."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from fairlearn.metrics import (MetricFrame, demographic_parity_difference, equal_opportunity_difference,
                               equalized_odds_difference, false_positive_rate, true_positive_rate)

from unlearn_audit.metrics import (accuracy, demographic_parity, dominant_group_accuracy, equal_opportunity,
                                   equalized_odds, group_accuracy, worst_group_accuracy)

SEEDS = range(10)  # fairlearn is slow (pandas); test_many_seeds_against_fairlearn (slow) runs 200 more


def _binary_case(seed: int, n_attr: int):
    """Random binary labels/predictions and an attribute with ``n_attr`` values; every (y, a) cell non-empty."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 400))
    while True:
        y = rng.integers(0, 2, n)
        a = rng.integers(0, n_attr, n)
        bias = rng.uniform(0.2, 0.8, n_attr)  # per-attribute prediction bias, so the gaps are not all ~0
        p = np.where(rng.uniform(size=n) < 0.6, y, (rng.uniform(size=n) < bias[a]).astype(int))
        if all(((y == t) & (a == v)).any() for t in (0, 1) for v in range(n_attr)):
            return y, p, a


def _pairs_mean(by_group) -> float:
    vals = list(by_group)
    return float(np.mean([abs(x - z) for x, z in itertools.combinations(vals, 2)]))


def _check_against_fairlearn(seed: int, n_attr: int) -> None:
    y, p, a = _binary_case(seed, n_attr)
    for agg in ("mean", "worst_case"):
        want = 100 * equalized_odds_difference(y, p, sensitive_features=a, agg=agg)
        got = equalized_odds(torch.as_tensor(y), torch.as_tensor(p), torch.as_tensor(a), agg=agg, between="max_min")
        assert got == pytest.approx(want, abs=1e-9), seed
        if n_attr == 2:  # one pair: the project's pairs-mean is fairlearn's between_groups
            assert equalized_odds(y, p, a, agg=agg) == pytest.approx(want, abs=1e-9)
            assert equalized_odds(y, p, a, dominant=(1, seed % 2), agg=agg) == pytest.approx(want, abs=1e-9)
    dp = 100 * demographic_parity_difference(y, p, sensitive_features=a)
    ep = 100 * equal_opportunity_difference(y, p, sensitive_features=a)
    assert demographic_parity(p, a, between="max_min") == pytest.approx(dp, abs=1e-9)
    assert equal_opportunity(y, p, a, between="max_min") == pytest.approx(ep, abs=1e-9)


@pytest.mark.parametrize("n_attr", [2, 3, 5])
def test_equalized_odds_dp_ep_match_fairlearn(n_attr):
    for seed in SEEDS:
        _check_against_fairlearn(seed, n_attr)


@pytest.mark.slow
def test_many_seeds_against_fairlearn():
    for seed in range(100, 300):
        _check_against_fairlearn(seed, 2 + seed % 4)


@pytest.mark.parametrize("n_attr", [3, 4])
def test_equalized_odds_pairs_mean_against_metricframe(n_attr):
    for seed in range(5):
        y, p, a = _binary_case(seed, n_attr)
        mf = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate}, y_true=y, y_pred=p,
                         sensitive_features=a)
        d_tpr, d_fpr = _pairs_mean(mf.by_group["tpr"]), _pairs_mean(mf.by_group["fpr"])
        assert equalized_odds(y, p, a) == pytest.approx(100 * (d_tpr + d_fpr) / 2, abs=1e-9)
        assert equalized_odds(y, p, a, agg="worst_case") == pytest.approx(100 * max(d_tpr, d_fpr), abs=1e-9)


@pytest.mark.parametrize("n_attr", [2, 3, 5])
def test_pairs_mean_defaults_for_dp_and_ep(n_attr):
    for seed in SEEDS:
        y, p, a = _binary_case(seed, n_attr)
        sel = [np.mean(p[a == v]) for v in range(n_attr)]
        tpr = [np.mean(p[(a == v) & (y == 1)]) for v in range(n_attr)]
        assert demographic_parity(p, a) == pytest.approx(100 * _pairs_mean(sel), abs=1e-9)
        assert equal_opportunity(y, p, a) == pytest.approx(100 * _pairs_mean(tpr), abs=1e-9)


def _naive_binarised_eo(y, p, a, groups, agg):
    """Per-sample loop straight from spec A3."""
    ts, ss = {g[0] for g in groups}, {g[1] for g in groups}
    cells = {(t, s): [0, 0] for t in (0, 1) for s in (0, 1)}
    for yi, pi, ai in zip(y.tolist(), p.tolist(), a.tolist()):
        c = cells[(int(yi in ts), int(ai in ss))]
        c[0] += int(yi == pi)
        c[1] += 1
    gaps = [abs(cells[(t, 0)][0] / cells[(t, 0)][1] - cells[(t, 1)][0] / cells[(t, 1)][1]) for t in (0, 1)]
    return 100 * (sum(gaps) / 2 if agg == "mean" else max(gaps))


@pytest.mark.parametrize("groups", [[(3, 1)], [(0, 2)], [(1, 0), (4, 2)], [(2, 1), (3, 1), (5, 0)]])
def test_binarised_eo_multiclass_against_naive_loop(groups):
    for seed in range(15):
        rng = np.random.default_rng(seed)
        n = 600
        y, a = rng.integers(0, 6, n), rng.integers(0, 3, n)
        p = np.where(rng.uniform(size=n) < 0.5 + 0.1 * a, y, rng.integers(0, 6, n))
        for agg in ("mean", "worst_case"):
            want = _naive_binarised_eo(y, p, a, groups, agg)
            assert equalized_odds(y, p, a, dominant=groups, agg=agg) == pytest.approx(want, abs=1e-9)


def test_eo_invariants_spec_c3():
    """Symmetric in the attribute coding, 0 for a perfect classifier, always in [0, 100]."""
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(30, 300))
        k = int(rng.integers(2, 5))
        y, a = rng.integers(0, k, n), rng.integers(0, 2, n)
        p = np.where(rng.uniform(size=n) < 0.7, y, rng.integers(0, k, n))
        dom = (int(rng.integers(0, k)), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for agg in ("mean", "worst_case"):
                eo = equalized_odds(y, p, a, dominant=dom, agg=agg)
                swapped = equalized_odds(y, p, 1 - a, dominant=(dom[0], 1), agg=agg)
                assert eo == pytest.approx(swapped, abs=1e-12) or (math.isnan(eo) and math.isnan(swapped))
                assert math.isnan(eo) or 0.0 <= eo <= 100.0
                perfect = equalized_odds(y, y, a, dominant=dom, agg=agg)
                assert perfect == 0.0 or math.isnan(perfect)
        yb, pb = y % 2, p % 2
        perm = rng.permutation(2)
        assert equalized_odds(yb, pb, a) == pytest.approx(equalized_odds(yb, pb, perm[a]), abs=1e-12)
        assert demographic_parity(pb, a) == pytest.approx(demographic_parity(pb, perm[a]), abs=1e-12)
        assert equalized_odds(yb, yb, a) == 0.0 and equal_opportunity(yb, yb, a) == 0.0


def test_group_worst_and_dominant_accuracy_against_naive():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n, k, s = 500, 4, 3
        y, a = rng.integers(0, k, n), rng.integers(0, s, n)
        p = np.where(rng.uniform(size=n) < 0.6, y, rng.integers(0, k, n))
        g = a + y * s
        accs = group_accuracy(y, p, g)
        for gid in range(k * s):
            m = g == gid
            assert accs[gid] == pytest.approx(100 * np.mean(p[m] == y[m]), abs=1e-9)
        assert worst_group_accuracy(y, p, g) == pytest.approx(min(accs.values()))
        assert accuracy(y, p) == pytest.approx(100 * np.mean(y == p))
        groups = [(0, 1), (2, 2)]  # cross product {0, 2} x {1, 2}
        m = np.isin(y, [0, 2]) & np.isin(a, [1, 2])
        assert dominant_group_accuracy(y, p, a, groups=groups) == pytest.approx(100 * np.mean(p[m] == y[m]))
        assert dominant_group_accuracy(y, p, a, (1, 0)) == pytest.approx(
            100 * np.mean((p == y)[(y == 1) & (a == 0)]))


def test_edge_cases_empty_single_attribute_and_constant_predictions():
    empty = torch.zeros(0, dtype=torch.long)
    assert math.isnan(accuracy(empty, empty))
    assert group_accuracy(empty, empty, empty) == {}
    assert math.isnan(worst_group_accuracy(empty, empty, empty))
    assert math.isnan(equalized_odds(empty, empty, empty))
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    p = torch.tensor([0, 1, 0, 0, 1, 1])
    one = torch.zeros(6, dtype=torch.long)  # an attribute with a single value: nothing to compare
    assert math.isnan(equalized_odds(y, p, one))
    with pytest.warns(UserWarning, match="one side of the attribute"):
        assert math.isnan(equalized_odds(y, p, one, dominant=(1, 0)))
    assert math.isnan(demographic_parity(p, one)) and math.isnan(equal_opportunity(y, p, one))
    assert math.isnan(dominant_group_accuracy(y, p, one, groups=[(1, 1)]))
    a = torch.tensor([0, 0, 0, 1, 1, 1])
    ones = torch.ones(6, dtype=torch.long)  # all predictions equal: DP = 0, TPR = FPR = 1 everywhere
    assert demographic_parity(ones, a) == 0.0 and equalized_odds(y, ones, a) == 0.0
    assert equal_opportunity(y, ones, a) == 0.0


def test_one_sided_cell_is_dropped_with_a_warning():
    # t = 1 (y = 1) only has a = 0 samples: only the t = 0 pair is left (spec A3 edge case)
    y = torch.tensor([0, 0, 0, 0, 1, 1])
    a = torch.tensor([0, 0, 1, 1, 0, 0])
    p = torch.tensor([0, 1, 0, 0, 1, 1])
    with pytest.warns(UserWarning, match="left out"):
        eo = equalized_odds(y, p, a, dominant=(1, 0))
    assert eo == pytest.approx(50.0)


def test_multiclass_without_dominant_is_refused_and_validation():
    y = torch.tensor([0, 1, 2, 2])
    with pytest.raises(ValueError, match="dominant"):
        equalized_odds(y, y, torch.tensor([0, 1, 0, 1]))
    assert equalized_odds(y, y, torch.tensor([0, 1, 0, 1]), positive=2) == 0.0
    with pytest.raises(ValueError, match="agg"):
        equalized_odds(y, y, y, agg="max", dominant=(1, 0))
    with pytest.raises(ValueError, match="lengths"):
        accuracy(torch.tensor([0, 1]), torch.tensor([0]))
