"""Bootstrap replicates of the group metrics against the point formulas applied to the drawn samples, with
clusters of unequal size (so a replicate's group sizes vary): each replicate must be what ``evaluate``'s formula
gives on the resampled test set."""

from __future__ import annotations

import numpy as np
import pytest

from unlearn_audit.metrics._classification import (demographic_parity, dominant_group_accuracy, equal_opportunity,
                                                   equalized_odds, worst_group_accuracy)
from unlearn_audit.metrics._replicates import EvalLayout, replicate_metrics, seeded_bootstrap


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 5, 60)                      # 60 clusters of 1-4 samples
    clusters = np.repeat(np.arange(60), sizes)
    y = np.repeat(rng.integers(0, 2, 60), sizes)        # label and attribute constant within a cluster
    a = np.repeat(rng.integers(0, 2, 60), sizes)
    pred = np.where(rng.random(clusters.size) < 0.75, y, 1 - y)
    layout = EvalLayout(groups={"test": a + 2 * y}, n_attrs=2, n_classes=2, dominant=((1, 0),),
                        clusters={"test": clusters})
    samples = [{"test.correct": (pred == y).astype(float), "test.pred": pred}]
    reps = replicate_metrics(layout, samples, bootstrap=seeded_bootstrap(n_boot=100, seed=3))[0]
    boot = seeded_bootstrap(n_boot=100, seed=3)("test", a + 2 * y, clusters)
    return y, a, pred, reps, boot.counts.astype(int)


@pytest.mark.parametrize("b", [0, 41, 99])
def test_group_replicates_equal_the_point_formulas_on_the_drawn_samples(clustered, b):
    y, a, pred, reps, counts = clustered
    yb, ab, pb = (np.repeat(v, counts[b]) for v in (y, a, pred))
    assert reps["GA"][b] == pytest.approx(dominant_group_accuracy(yb, pb, ab, groups=(1, 0)))
    assert reps["EO"][b] == pytest.approx(equalized_odds(yb, pb, ab, dominant=(1, 0)))
    assert reps["WG"][b] == pytest.approx(worst_group_accuracy(yb, pb, ab + 2 * yb))
    assert reps["DP"][b] == pytest.approx(demographic_parity(pb, ab))
    assert reps["EP"][b] == pytest.approx(equal_opportunity(yb, pb, ab))


def test_clusters_are_drawn_whole(clustered):
    _, _, _, _, counts = clustered
    rng = np.random.default_rng(5)
    clusters = np.repeat(np.arange(60), rng.integers(1, 5, 60))
    for k in range(60):
        member = counts[:, clusters == k]
        assert (member == member[:, :1]).all()
