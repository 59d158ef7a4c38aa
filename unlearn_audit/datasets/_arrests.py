"""``arrests``: the Toronto arrests table bundled with scikit-lego, as a tabular group-fairness benchmark."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from ..data import AuditData, GroupDataset, forget_from_groups

__all__ = ["arrests", "ARRESTS_FEATURES"]

#: Attribute values (index = attribute code ``a``), alphabetical, per sensitive column.
_ATTR_VALUES = {"colour": ("Black", "White"), "sex": ("Female", "Male")}
_NUMERIC = ("year", "age", "checks")
_BINARY = ("employed", "citizen")
#: Feature columns, in order, for each ``attribute`` (the other sensitive column stays an ordinary feature).
ARRESTS_FEATURES = {
    "colour": _NUMERIC + _BINARY + ("sex=Male",),
    "sex": _NUMERIC + _BINARY + ("colour=White",),
}


def arrests(*, attribute: Literal["colour", "sex"] = "colour", include_attribute: bool = False,
            val_fraction: float = 0.2, test_fraction: float = 0.2,
            forget_groups: tuple[tuple[int, int], ...] | None = None, forget_ratio: float = 0.5,
            seed: int = 0) -> AuditData:
    """Toronto arrests for simple possession of marijuana: predict release with a summons, audit by colour or sex.

    Data source: the *Toronto Star* data on police treatment of individuals arrested in Toronto for simple
    possession of small quantities of marijuana (5,226 arrests, 1997-2002), distributed as ``Arrests`` in the R
    package carData (Fox & Weisberg) and bundled with scikit-lego (``sklego.datasets.load_arrests``), from which
    it is read here; nothing is downloaded.

    Target ``y``: ``released`` (``"No"`` -> 0, ``"Yes"`` -> 1; classes ``("not released", "released")``).
    Attribute ``a``: ``colour`` (``Black`` = 0, ``White`` = 1) or ``sex`` (``Female`` = 0, ``Male`` = 1).
    Features (float32, standardized with the **train** split's mean and std only): ``year``, ``age``,
    ``checks`` (numeric), ``employed`` and ``citizen`` (``Yes`` = 1), and the *other* sensitive column as a 0/1
    indicator (``sex=Male`` when auditing colour, ``colour=White`` when auditing sex) -- see
    ``ARRESTS_FEATURES``. **Leakage decision:** the audited attribute itself is *excluded* from the features
    by default (the model cannot read it directly, though it may infer it from proxies); pass
    ``include_attribute=True`` to append it as a last indicator column.

    Splits are stratified by group ``(y, a)`` and fixed by ``seed``: each group is split
    ``test_fraction`` / ``val_fraction`` / rest (rounded per group). Group counts of the whole table:
    colour -- (not released, Black) 333, (not released, White) 559, (released, Black) 955,
    (released, White) 3,379; sex -- (not released, Female) 63, (not released, Male) 829,
    (released, Female) 380, (released, Male) 3,954. With the default fractions the train split holds 60% of
    each group: colour (0,0) 199, (0,1) 335, (1,0) 573, (1,1) 2,027; sex (0,0) 37, (0,1) 497, (1,0) 228,
    (1,1) 2,372 (3,134 train, 1,046 val and 1,046 test samples either way).

    The default forget request is half (``forget_ratio``) of the smallest group, ``(y=0, a=0)``: people *not*
    released who are Black (colour; 99 of 199 train samples) or female (sex; 18 of 37 train samples).

    Args:
        attribute: the sensitive column, ``"colour"`` or ``"sex"``.
        include_attribute: also feed the attribute to the model as a feature (default: excluded).
        val_fraction, test_fraction: split sizes, positive and summing to < 1.
        forget_groups: ``(y, a)`` groups to forget from (default ``((0, 0),)``).
        forget_ratio: fraction of each forget group to forget, in ``(0, 1]``.
        seed: fixes the splits and the forget set.

    Returns:
        ``AuditData`` with tabular ``(N, 6)`` features (``(N, 7)`` with ``include_attribute``).

    Raises:
        ImportError: scikit-lego is not installed.
        ValueError: an unknown ``attribute`` or bad fractions.
    """
    if attribute not in _ATTR_VALUES:
        raise ValueError(f"attribute: expected 'colour' or 'sex', got {attribute!r}")
    if not (isinstance(val_fraction, (int, float)) and isinstance(test_fraction, (int, float))
            and 0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction, test_fraction: expected positive fractions summing to < 1, got "
                         f"{val_fraction!r}, {test_fraction!r}")
    df = _load_table()
    other = "sex" if attribute == "colour" else "colour"
    y = _code(df["released"], ("No", "Yes"), "released")
    a = _code(df[attribute], _ATTR_VALUES[attribute], attribute)
    columns = [df[c].to_numpy(dtype=np.float64) for c in _NUMERIC]
    columns += [_code(df[c], ("No", "Yes"), c).astype(np.float64) for c in _BINARY]
    columns.append(_code(df[other], _ATTR_VALUES[other], other).astype(np.float64))
    if include_attribute:
        columns.append(a.astype(np.float64))
    features = torch.tensor(np.stack(columns, axis=1))
    y_t, a_t = torch.from_numpy(y), torch.from_numpy(a)
    split = _stratified_split(y_t * 2 + a_t, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    mean = features[split["train"]].mean(0)
    std = features[split["train"]].std(0).clamp_min(1e-12)
    x = ((features - mean) / std).to(torch.float32)
    splits = {name: GroupDataset(x[idx], y_t[idx], a_t[idx], classes=("not released", "released"),
                                 attr_names=_ATTR_VALUES[attribute], name=f"arrests/{name}", n_classes=2, n_attrs=2)
              for name, idx in split.items()}
    groups = tuple(forget_groups) if forget_groups is not None else ((0, 0),)
    forget_idx = forget_from_groups(splits["train"], groups=groups, ratio=forget_ratio, seed=seed)
    return AuditData(train=splits["train"], val=splits["val"], test=splits["test"], forget_idx=forget_idx,
                     dominant_groups=groups)


def _load_table() -> Any:
    try:
        from sklego.datasets import load_arrests
    except ImportError as exc:
        raise ImportError("arrests() needs scikit-lego, which ships the table: pip install 'unlearn-audit[tabular]' "
                          f"({exc})") from None
    return load_arrests(as_frame=True)


def _code(column: Any, values: tuple[str, ...], name: str) -> np.ndarray:
    """Map a string column onto ``0..len(values)-1`` (vectorised); unknown values raise ``ValueError``."""
    arr = np.asarray(column, dtype=str)
    codes = np.full(arr.shape, -1, dtype=np.int64)
    for i, v in enumerate(values):
        codes[arr == v] = i
    if (codes < 0).any():
        raise ValueError(f"{name}: unexpected value {arr[codes < 0][0]!r} in the arrests table (expected {values})")
    return codes


def _stratified_split(groups: torch.Tensor, *, val_fraction: float, test_fraction: float,
                      seed: int) -> dict[str, torch.Tensor]:
    """Per group, a seeded shuffle; the first ``round(test_fraction * n_g)`` go to test, the next
    ``round(val_fraction * n_g)`` to val, the rest to train. Returns sorted indices per split."""
    gen = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(len(groups), generator=gen)
    order = order[torch.argsort(groups[order], stable=True)]
    counts = torch.bincount(groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(groups)
    rank[order] = torch.arange(len(groups)) - starts[groups[order]]
    n_test = torch.round(test_fraction * counts.double()).long()[groups]
    n_val = torch.round(val_fraction * counts.double()).long()[groups]
    test = rank < n_test
    val = ~test & (rank < n_test + n_val)
    train = ~(test | val)
    return {"train": train.nonzero().flatten(), "val": val.nonzero().flatten(), "test": test.nonzero().flatten()}
