"""AuditData: retain/forget partition, dominant groups, REWEIGHT weights (spec B1)."""

from __future__ import annotations

import pytest
import torch

from unlearn_audit.data import AuditData, GroupDataset, forget_from_groups

#: group sizes of the synthetic train set, indexed by g = a + 2 * y
SIZES = (40, 20, 10, 30)


def _synthetic(sizes=SIZES) -> GroupDataset:
    g = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    gen = torch.Generator().manual_seed(0)
    g = g[torch.randperm(len(g), generator=gen)]  # interleave the groups
    return GroupDataset(torch.randn(len(g), 3, generator=gen), g // 2, g % 2)


def _data(forget_idx, **kw) -> AuditData:
    train = _synthetic()
    return AuditData(train=train, test=train.subset(range(10)), forget_idx=forget_idx, **kw)


def test_partition():
    train = _synthetic()
    forget = [3, 17, 50, 99]
    data = AuditData(train=train, test=train.subset(range(5)), forget_idx=[99, 3, 50, 17])
    assert data.forget_idx.tolist() == forget  # sorted
    assert len(data.forget) + len(data.retain) == len(train)
    assert set(data.retain_idx.tolist()).isdisjoint(forget)
    assert sorted(data.retain_idx.tolist() + forget) == list(range(len(train)))
    assert torch.equal(data.forget.x, train.x[forget])
    assert torch.equal(data.retain.y, train.y[data.retain_idx])
    assert set(data.splits()) == {"retain", "forget", "test"}
    assert "val" in AuditData(train=train, test=train, val=train, forget_idx=[0]).splits()


def test_bool_mask_forget_idx():
    mask = torch.zeros(100, dtype=torch.bool)
    mask[[4, 8]] = True
    assert _data(mask).forget_idx.tolist() == [4, 8]


def _members(train: GroupDataset, g: int) -> torch.Tensor:
    return (train.groups() == g).nonzero().flatten()


def test_dominant_groups_single_group():
    train = _synthetic()
    data = _data(_members(train, 1)[:5])
    assert data.dominant_groups == ((0, 1),)


def test_dominant_groups_half_of_largest_rule():
    train = _synthetic()
    # 10 of group 0 and 5 of group 3: 5 * 2 >= 10, both dominant
    both = torch.cat([_members(train, 0)[:10], _members(train, 3)[:5]])
    assert _data(both).dominant_groups == ((0, 0), (1, 1))
    # 10 of group 0 and 4 of group 3: only group 0
    one = torch.cat([_members(train, 0)[:10], _members(train, 3)[:4]])
    assert _data(one).dominant_groups == ((0, 0),)


def test_dominant_groups_explicit_wins():
    train = _synthetic()
    data = _data(_members(train, 0)[:10], dominant_groups=[(1, 1)])
    assert data.dominant_groups == ((1, 1),)


@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.75, 0.9])
def test_reweight_weights_exact(ratio):
    """REWEIGHT: 1.0 for untouched groups and exactly 1 / (1 - r) for the group forgotten at ratio r."""
    train = _synthetic()
    forget = forget_from_groups(train, groups=[(0, 0)], ratio=ratio, seed=0)  # |G| = 40, r * 40 is an integer
    assert len(forget) == round(ratio * 40)
    data = AuditData(train=train, test=train, forget_idx=forget)
    w = data.reweight_weights()
    assert w.shape == (len(data.retain),) and w.dtype == torch.float32
    g = data.retain.groups()
    assert torch.all(w[g != 0] == 1.0)
    assert w[g == 0].unique().tolist() == pytest.approx([1.0 / (1.0 - ratio)], rel=1e-6)
    # the weighted retain group distribution equals the original train distribution
    mass = torch.zeros(4, dtype=torch.float64).index_add_(0, g, w.double())
    assert mass.tolist() == pytest.approx([float(s) for s in SIZES], rel=1e-6)


def test_reweight_weights_two_groups():
    train = _synthetic()
    forget = forget_from_groups(train, groups=[(0, 1), (1, 1)], ratio=0.5, seed=3)
    w = AuditData(train=train, test=train, forget_idx=forget).reweight_weights()
    data = AuditData(train=train, test=train, forget_idx=forget)
    g = data.retain.groups()
    assert torch.all(w[(g == 0) | (g == 2)] == 1.0)
    assert torch.allclose(w[(g == 1) | (g == 3)], torch.tensor(2.0))


def test_reweight_weights_emptied_group():
    train = _synthetic()
    forget = forget_from_groups(train, groups=[(1, 0)], ratio=1.0)
    data = AuditData(train=train, test=train, forget_idx=forget)
    assert len(data.forget) == 10
    with pytest.raises(ValueError, match=r"^reweight_weights: group\(s\) y=1, a=0 have no sample left in the retain"):
        data.reweight_weights()


def test_fingerprint_and_repr():
    a, b = _data([1, 2]), _data([1, 2])
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint()["forget_idx"] != _data([1, 3]).fingerprint()["forget_idx"]
    assert "forget=2" in repr(a)


def test_clusters_follow_retain_and_forget():
    import numpy as np

    from unlearn_audit.datasets import colored_digits

    data = colored_digits(scale=3, size=8, seed=1)
    forget, retain = data.cluster_ids("forget"), data.cluster_ids("retain")
    assert forget.size == len(data.forget_idx) and retain.size == len(data.retain_idx)
    assert not set(forget) & set(retain)            # a source image is forgotten with all its copies
    ids, counts = np.unique(data.cluster_ids("test"), return_counts=True)
    assert (counts == 3).all() and ids.size == len(data.test) // 3
    assert colored_digits(scale=1, size=8).cluster_ids("test") is None


@pytest.mark.parametrize("clusters, error, match", [
    ({"tests": [0]}, ValueError, "unknown split 'tests'"),
    ({"train": [0, 1]}, ValueError, r"clusters\['train'\]: expected one id per sample"),
    ({"train": "abc"}, (TypeError, ValueError), "clusters"),
    ([1, 2], TypeError, "clusters: expected a mapping"),
])
def test_bad_clusters_are_named(clusters, error, match):
    from unlearn_audit.datasets import colored_digits

    d = colored_digits(scale=1, size=8)
    with pytest.raises(error, match=match):
        AuditData(train=d.train, test=d.test, forget_idx=d.forget_idx, clusters=clusters)
