"""Forget-set builders: exact counts (seed 004 protocol) and determinism."""

from __future__ import annotations

import math

import pytest
import torch

from unlearn_audit.data import GroupDataset, forget_class, forget_from_groups, forget_random

SIZES = (37, 23, 11, 29)  # odd sizes so that floor(r * |G|) actually floors


def _train(sizes=SIZES) -> GroupDataset:
    g = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    g = g[torch.randperm(len(g), generator=torch.Generator().manual_seed(1))]
    return GroupDataset(torch.randn(len(g), 2), g // 2, g % 2)


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("groups", [[(0, 0)], [(0, 1)], [(1, 0), (1, 1)], [(0, 0), (0, 1), (1, 0), (1, 1)]])
def test_forget_from_groups_exact_counts(groups, ratio):
    train = _train()
    idx = forget_from_groups(train, groups=groups, ratio=ratio, seed=0)
    assert idx.dtype == torch.int64 and torch.equal(idx, torch.sort(idx).values)
    assert idx.unique().numel() == idx.numel()
    counts = torch.bincount(train.groups()[idx], minlength=4).tolist()
    named = {a + 2 * y for y, a in groups}
    for g in range(4):
        assert counts[g] == (math.floor(ratio * SIZES[g]) if g in named else 0)


def test_forget_from_groups_duplicate_group_counts_once():
    train = _train()
    once = forget_from_groups(train, groups=[(0, 1)], ratio=0.5)
    twice = forget_from_groups(train, groups=[(0, 1), (0, 1)], ratio=0.5)
    assert torch.equal(once, twice)


def test_forget_from_groups_determinism():
    train = _train()
    a = forget_from_groups(train, groups=[(0, 0)], ratio=0.5, seed=7)
    b = forget_from_groups(train, groups=[(0, 0)], ratio=0.5, seed=7)
    c = forget_from_groups(train, groups=[(0, 0)], ratio=0.5, seed=8)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert len(a) == len(c) == 18


def test_forget_from_groups_does_not_touch_global_rng():
    train = _train()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    forget_from_groups(train, groups=[(0, 0)], ratio=0.5, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_forget_from_groups_accepts_numpy_style_pairs():
    train = _train()
    assert torch.equal(forget_from_groups(train, groups=[torch.tensor([1, 1])], ratio=0.5),
                       forget_from_groups(train, groups=[(1, 1)], ratio=0.5))


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.5, 0.99])
def test_forget_random_counts_and_determinism(fraction):
    train = _train()
    a = forget_random(train, fraction=fraction, seed=0)
    assert len(a) == math.floor(fraction * len(train)) and a.unique().numel() == len(a)
    assert torch.equal(a, forget_random(train, fraction=fraction, seed=0))
    assert not torch.equal(a, forget_random(train, fraction=fraction, seed=1))


def test_forget_class():
    train = _train()
    idx = forget_class(train, 1)
    assert idx.tolist() == (train.y == 1).nonzero().flatten().tolist()
    assert len(idx) == SIZES[2] + SIZES[3]


def test_forget_class_absent():
    train = GroupDataset(torch.zeros(3, 2), [0, 0, 1], [0, 1, 0], n_classes=3)
    with pytest.raises(ValueError, match=r"^cls: class 2 has no sample in train"):
        forget_class(train, 2)
