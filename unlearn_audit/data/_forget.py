"""Forget-set builders: group-imbalanced (De Min et al. 2025 protocol), uniform random, whole class."""

from __future__ import annotations

import math
from typing import Iterable

import torch

from ._group_dataset import GroupDataset

__all__ = ["forget_from_groups", "forget_random", "forget_class"]


def _check_train(train: GroupDataset) -> None:
    if not isinstance(train, GroupDataset):
        raise TypeError(f"train: expected a GroupDataset, got {type(train).__name__}")


def forget_from_groups(train: GroupDataset, *, groups: Iterable[tuple[int, int]], ratio: float = 0.5,
                       seed: int = 0) -> torch.Tensor:
    """De Min et al. 2025 protocol: for each named group ``(y, a)`` uniformly sample exactly
    ``floor(ratio * |G|)`` samples.

    Args:
        train: the training split.
        groups: ``(y, a)`` pairs naming the dominant forget group(s).
        ratio: fraction ``r`` in ``(0, 1]`` of each group to forget.
        seed: sampling seed (deterministic).

    Returns:
        Sorted int64 indices into ``train``.

    Raises:
        ValueError: ratio outside ``(0, 1]``; a group that does not exist in ``train``; a group so small that
            ``floor(r * |G|) = 0``.
    """
    _check_train(train)
    if not isinstance(ratio, (int, float)) or not (0.0 < float(ratio) <= 1.0):
        raise ValueError(f"ratio: expected a number in (0, 1], got {ratio!r}")
    groups = _parse_groups(groups)
    if not groups:
        raise ValueError("groups: name at least one (y, a) group")
    gen = torch.Generator().manual_seed(int(seed))
    g_all = train.groups().cpu()
    picked = []
    for y, a in dict.fromkeys(groups):
        if not (0 <= y < train.n_classes and 0 <= a < train.n_attrs):
            raise ValueError(f"groups: {(y, a)} does not exist (n_classes={train.n_classes}, n_attrs={train.n_attrs})")
        members = (g_all == a + y * train.n_attrs).nonzero().flatten()
        if members.numel() == 0:
            raise ValueError(f"groups: {(y, a)} has no sample in train")
        k = math.floor(float(ratio) * members.numel())
        if k == 0:
            raise ValueError(f"groups: floor({ratio} * {members.numel()}) = 0 samples of group {(y, a)}; "
                             f"raise ratio")
        picked.append(members[torch.randperm(members.numel(), generator=gen)[:k]])
    return torch.sort(torch.cat(picked)).values


def _parse_groups(groups: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``groups`` as a list of ``(y, a)`` int pairs; a bare pair such as ``(1, 0)`` is a common slip."""
    try:
        items = list(groups)
    except TypeError:
        raise TypeError(f"groups: expected a sequence of (y, a) pairs, got {groups!r}") from None
    out = []
    for g in items:
        if isinstance(g, (str, bytes)) or not hasattr(g, "__len__") or len(g) != 2:
            raise TypeError(f"groups: expected a sequence of (y, a) pairs such as [(1, 0)], got {groups!r}")
        try:
            out.append((int(g[0]), int(g[1])))
        except (TypeError, ValueError):
            raise TypeError(f"groups: (y, a) must be integers, got {g!r}") from None
    return out


def forget_random(train: GroupDataset, *, fraction: float = 0.1, seed: int = 0) -> torch.Tensor:
    """Uniformly sample ``floor(fraction * |train|)`` samples (the "random" forget type).

    Raises:
        ValueError: fraction outside ``(0, 1)`` or yielding zero samples.
    """
    _check_train(train)
    if not isinstance(fraction, (int, float)) or not (0.0 < float(fraction) < 1.0):
        raise ValueError(f"fraction: expected a number in (0, 1), got {fraction!r}")
    k = math.floor(float(fraction) * len(train))
    if k == 0:
        raise ValueError(f"fraction: floor({fraction} * {len(train)}) = 0 samples; raise fraction")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.sort(torch.randperm(len(train), generator=gen)[:k]).values


def forget_class(train: GroupDataset, cls: int) -> torch.Tensor:
    """Every training sample of class ``cls`` (class-wise forgetting).

    Raises:
        ValueError: ``cls`` outside ``0..n_classes-1`` or absent from train.
    """
    _check_train(train)
    if not isinstance(cls, int) or not (0 <= cls < train.n_classes):
        raise ValueError(f"cls: expected a class in 0..{train.n_classes - 1}, got {cls!r}")
    idx = (train.y.cpu() == cls).nonzero().flatten()
    if idx.numel() == 0:
        raise ValueError(f"cls: class {cls} has no sample in train")
    return idx
