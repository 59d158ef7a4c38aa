"""``AuditData``: the train/test/val splits of an audit and the forget request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from ._group_dataset import GroupDataset, as_index_tensor

__all__ = ["AuditData"]


@dataclass(frozen=True, eq=False, repr=False)
class AuditData:
    """Splits of an audit: ``train`` (which contains the forget set), ``test``, optional ``val``.

    The forget set is ``D_f = train[forget_idx]`` and the retain set ``D_r = train \\ D_f``.

    Args:
        train, test, val: ``GroupDataset`` splits with the same input shape, classes and attributes.
        forget_idx: indices into ``train`` of the samples to forget (unique, in range, not all of train).
        dominant_groups: the ``(y, a)`` group(s) that make up the forget set; by default the groups whose count
            in ``D_f`` is at least half of the largest group's count (for a single-group forget request: that
            group). GA and the binarised EO are measured on them.

    Raises:
        TypeError: a split is not a ``GroupDataset``.
        ValueError: shapes, class or attribute counts disagree; forget indices empty, duplicated, out of range
            or covering the whole train set.
    """

    train: GroupDataset
    test: GroupDataset
    val: GroupDataset | None
    forget_idx: torch.Tensor

    def __init__(self, *, train: GroupDataset, test: GroupDataset, val: GroupDataset | None = None,
                 forget_idx: Any, dominant_groups: Any = None, clusters: Any = None) -> None:
        for key, split in (("train", train), ("test", test), ("val", val)):
            if split is None and key == "val":
                continue
            if not isinstance(split, GroupDataset):
                raise TypeError(f"{key}: expected a GroupDataset, got {type(split).__name__}")
            if len(split) == 0:
                raise ValueError(f"{key}: is empty")
        for key, split in (("test", test), ("val", val)):
            if split is None:
                continue
            if tuple(split.x.shape[1:]) != tuple(train.x.shape[1:]):
                raise ValueError(f"{key}: input shape {tuple(split.x.shape[1:])} differs from train's "
                                 f"{tuple(train.x.shape[1:])}")
            if split.n_classes != train.n_classes or split.n_attrs != train.n_attrs:
                raise ValueError(f"{key}: has n_classes={split.n_classes}, n_attrs={split.n_attrs} but train has "
                                 f"n_classes={train.n_classes}, n_attrs={train.n_attrs}")
        idx = as_index_tensor(forget_idx, name="forget_idx", length=len(train))
        if idx.numel() == 0:
            raise ValueError("forget_idx: is empty; an audit needs at least one sample to forget")
        uniq, counts = torch.unique(idx, return_counts=True)
        if uniq.numel() != idx.numel():
            raise ValueError(f"forget_idx: contains duplicated indices ({idx.numel() - uniq.numel()} duplicates, "
                             f"e.g. index {int(uniq[counts > 1][0])})")
        if idx.numel() >= len(train):
            raise ValueError("forget_idx: covers the whole train set; nothing would be left to retain")
        object.__setattr__(self, "train", train)
        object.__setattr__(self, "test", test)
        object.__setattr__(self, "val", val)
        object.__setattr__(self, "forget_idx", torch.sort(idx).values)
        object.__setattr__(self, "_dominant", self._parse_dominant(dominant_groups))
        object.__setattr__(self, "_clusters", self._parse_clusters(clusters))

    def _parse_clusters(self, clusters: Any) -> dict[str, torch.Tensor]:
        if clusters is None:
            return {}
        if not hasattr(clusters, "items"):
            raise TypeError(f"clusters: expected a mapping of split name ('train', 'test', 'val') to cluster ids, "
                            f"got {type(clusters).__name__}")
        sizes = {"train": len(self.train), "test": len(self.test), "val": len(self.val) if self.val else None}
        out = {}
        for name, ids in clusters.items():
            if sizes.get(name) is None:
                raise ValueError(f"clusters: unknown split {name!r}; expected one of "
                                 f"{[k for k, v in sizes.items() if v is not None]}")
            try:
                t = torch.as_tensor(ids)
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(f"clusters[{name!r}]: expected a 1-d sequence of integer ids, got "
                                f"{type(ids).__name__}") from None
            if t.is_floating_point() or t.dtype == torch.bool or t.ndim != 1:
                raise TypeError(f"clusters[{name!r}]: expected a 1-d sequence of integer ids, got dtype {t.dtype} "
                                f"and shape {tuple(t.shape)}")
            if t.numel() != sizes[name]:
                raise ValueError(f"clusters[{name!r}]: expected one id per sample ({sizes[name]}), got {t.numel()}")
            out[name] = t.to(torch.int64).cpu()
        return out

    def cluster_ids(self, split: str) -> "Any | None":
        """The cluster id of every sample of ``split`` (``retain``, ``forget``, ``test``, ``val``, ``train``) as an
        int64 numpy array, or ``None`` when that split's samples are independent (see ``clusters``)."""
        base = "train" if split in ("retain", "forget") else split
        ids = self._clusters.get(base)  # type: ignore[attr-defined]
        if ids is None:
            return None
        if split == "retain":
            ids = ids[self.retain_idx]
        elif split == "forget":
            ids = ids[self.forget_idx]
        return ids.numpy()

    def _parse_dominant(self, groups: Any) -> tuple[tuple[int, int], ...] | None:
        if groups is None:
            return None
        out = []
        for g in groups:
            if not (isinstance(g, (tuple, list)) and len(g) == 2):
                raise ValueError(f"dominant_groups: expected (y, a) pairs, got {g!r}")
            y, a = int(g[0]), int(g[1])
            if not (0 <= y < self.n_classes and 0 <= a < self.n_attrs):
                raise ValueError(f"dominant_groups: group {(y, a)} is outside n_classes={self.n_classes}, "
                                 f"n_attrs={self.n_attrs}")
            out.append((y, a))
        if not out:
            raise ValueError("dominant_groups: is empty")
        return tuple(out)

    def __repr__(self) -> str:
        return (f"AuditData(train={len(self.train)}, forget={len(self.forget_idx)}, test={len(self.test)}, "
                f"val={len(self.val) if self.val is not None else None}, dominant_groups={self.dominant_groups})")

    @property
    def n_classes(self) -> int:
        return self.train.n_classes

    @property
    def n_attrs(self) -> int:
        return self.train.n_attrs

    @cached_property
    def retain_idx(self) -> torch.Tensor:
        """Sorted indices into ``train`` of the retain set."""
        mask = torch.ones(len(self.train), dtype=torch.bool)
        mask[self.forget_idx] = False
        return mask.nonzero().flatten()

    @cached_property
    def forget(self) -> GroupDataset:
        """``D_f``."""
        return self.train.subset(self.forget_idx)

    @cached_property
    def retain(self) -> GroupDataset:
        """``D_r = train \\ D_f``."""
        return self.train.subset(self.retain_idx)

    @property
    def dominant_groups(self) -> tuple[tuple[int, int], ...]:
        """The ``(y, a)`` groups that make up the forget set (see the class docstring)."""
        if self._dominant is not None:  # type: ignore[attr-defined]
            return self._dominant  # type: ignore[attr-defined]
        counts = self.forget.group_counts()
        top = int(counts.max())
        gs = (counts * 2 >= top).logical_and(counts > 0).nonzero().flatten().tolist()
        return tuple(divmod(g, self.n_attrs) for g in gs)

    def splits(self) -> dict[str, GroupDataset]:
        """The named evaluation splits: ``retain``, ``forget``, ``test`` and ``val`` when present."""
        out = {"retain": self.retain, "forget": self.forget, "test": self.test}
        if self.val is not None:
            out["val"] = self.val
        return out

    def reweight_weights(self) -> torch.Tensor:
        """REWEIGHT (De Min et al. 2025) weight of every retain sample: ``w(g) = N_train(g) / N_retain(g)``.

        Sampling the retain set with replacement proportionally to these weights restores the original training
        group distribution. Groups untouched by the forget set get weight 1.

        Raises:
            ValueError: a group present in train has no sample left in the retain set (its weight is undefined).
        """
        n_train = self.train.group_counts().to(torch.float64)
        n_retain = self.retain.group_counts().to(torch.float64)
        emptied = ((n_train > 0) & (n_retain == 0)).nonzero().flatten().tolist()
        if emptied:
            names = ", ".join(self.train.group_name(g) for g in emptied)
            raise ValueError(f"reweight_weights: group(s) {names} have no sample left in the retain set, so the "
                             f"REWEIGHT weight N_train(g)/N_retain(g) is undefined; forget fewer samples of them")
        w = torch.where(n_retain > 0, n_train / n_retain.clamp_min(1), torch.zeros_like(n_train))
        return w[self.retain.groups().cpu()].to(torch.float32)

    def fingerprint(self) -> dict[str, str]:
        """Fingerprints of every split and of the forget indices (used as cache keys and in reports)."""
        import hashlib

        out = {"train": self.train.fingerprint(), "test": self.test.fingerprint(),
               "forget_idx": hashlib.sha256(self.forget_idx.numpy().tobytes()).hexdigest()}
        if self.val is not None:
            out["val"] = self.val.fingerprint()
        return out
