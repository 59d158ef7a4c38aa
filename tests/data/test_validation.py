"""Bad input -> clear error: every case listed in issue 2 for the data model and forget builders."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unlearn_audit.data import AuditData, GroupDataset, forget_class, forget_from_groups, forget_random


def _tab(n: int = 10, *, y=None, a=None) -> GroupDataset:
    y = torch.arange(n) % 2 if y is None else y
    a = (torch.arange(n) // 2) % 2 if a is None else a
    return GroupDataset(torch.randn(n, 3), y, a)


def _audit(forget_idx, n: int = 10) -> AuditData:
    return AuditData(train=_tab(n), test=_tab(6), forget_idx=forget_idx)


# ------------------------------------------------------------------------------------------------ GroupDataset
@pytest.mark.parametrize("lengths", [(5, 4, 4), (4, 5, 4), (4, 4, 5)])
def test_mismatched_lengths(lengths):
    nx, ny, na = lengths
    with pytest.raises(ValueError, match=r"x, y, a: lengths differ \(x: %d, y: %d, a: %d\)" % lengths):
        GroupDataset(torch.zeros(nx, 2), torch.zeros(ny, dtype=torch.long), torch.zeros(na, dtype=torch.long))


@pytest.mark.parametrize("arg", ["y", "a"])
def test_non_integer_labels(arg):
    vals = {"y": torch.tensor([0, 1, 0]), "a": torch.tensor([1, 0, 1])}
    vals[arg] = torch.tensor([0.0, 0.5, 1.0])
    with pytest.raises(TypeError, match=rf"^{arg}: expected integer labels, got non-integer value 0\.5"):
        GroupDataset(torch.zeros(3, 2), vals["y"], vals["a"])


@pytest.mark.parametrize("bad", [[0.0, float("nan"), 1.0], [0.0, float("inf"), 1.0]])
def test_non_finite_labels(bad):
    with pytest.raises(TypeError, match=r"^y: expected integer labels"):
        GroupDataset(torch.zeros(3, 2), torch.tensor(bad), [0, 1, 0])


def test_bool_and_string_labels():
    with pytest.raises(TypeError, match=r"^y: expected integer labels, got dtype torch.bool"):
        GroupDataset(torch.zeros(2, 2), torch.tensor([True, False]), [0, 1])
    with pytest.raises(TypeError, match=r"^a: expected numbers"):
        GroupDataset(torch.zeros(2, 2), [0, 1], np.array(["m", "f"]))


def test_integer_valued_float_labels_are_accepted():
    ds = GroupDataset(torch.zeros(3, 2), np.array([0.0, 1.0, 1.0]), [0, 1, 0])
    assert ds.y.dtype == torch.int64 and ds.y.tolist() == [0, 1, 1]


def test_label_outside_classes():
    with pytest.raises(ValueError, match=r"^y: value 5 is outside 0\.\.1 \(n_classes=2\)"):
        GroupDataset(torch.zeros(3, 2), [0, 5, 1], [0, 0, 1], classes=("no", "yes"))
    with pytest.raises(ValueError, match=r"^y: value 5 is outside 0\.\.1 \(n_classes=2\)"):
        GroupDataset(torch.zeros(3, 2), [0, 5, 1], [0, 0, 1], n_classes=2)
    with pytest.raises(ValueError, match=r"^a: value 3 is outside 0\.\.1 \(n_attrs=2\)"):
        GroupDataset(torch.zeros(3, 2), [0, 1, 1], [0, 3, 1], attr_names=("m", "f"))


def test_negative_labels():
    with pytest.raises(ValueError, match=r"^y: labels must be >= 0, found -1"):
        GroupDataset(torch.zeros(3, 2), [0, -1, 1], [0, 0, 1])


def test_classes_disagree_with_n_classes():
    with pytest.raises(ValueError, match=r"n_classes=3 disagrees with classes of length 2"):
        GroupDataset(torch.zeros(2, 2), [0, 1], [0, 1], classes=("a", "b"), n_classes=3)


@pytest.mark.parametrize("lo, hi", [(-0.1, 1.0), (0.0, 1.5), (0.0, 255.0)])
def test_images_outside_unit_range(lo, hi):
    x = torch.full((2, 3, 4, 4), 0.5)
    x[0, 0, 0, 0], x[1, 0, 0, 0] = lo, hi
    with pytest.raises(ValueError, match=r"^x: images must be in \[0, 1\] pixel space \(found range"):
        GroupDataset(x, [0, 1], [0, 1])


def test_uint8_images_are_rejected_not_silently_rescaled():
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"^x: images must be in \[0, 1\]"):
        GroupDataset(x, [0, 1], [0, 1])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_features(value):
    x = torch.zeros(4, 3)
    x[2, 1] = value
    with pytest.raises(ValueError, match=r"^x: contains NaN or inf values in 1 sample\(s\), the first at index 2"):
        GroupDataset(x, [0, 1, 0, 1], [0, 0, 1, 1])


def test_non_finite_image():
    x = torch.zeros(2, 3, 4, 4)
    x[1, 2, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"^x: contains NaN or inf"):
        GroupDataset(x, [0, 1], [0, 1])


def test_x_needs_a_sample_dimension():
    with pytest.raises(ValueError, match=r"^x: expected at least 2 dimensions"):
        GroupDataset(torch.zeros(4), [0, 1, 0, 1], [0, 0, 1, 1])


def test_bad_std():
    with pytest.raises(ValueError, match=r"^std: every entry must be > 0"):
        GroupDataset(torch.zeros(2, 2), [0, 1], [0, 1], mean=(0.0, 0.0), std=(1.0, 0.0))


# ------------------------------------------------------------------------------------------------ AuditData
def test_forget_idx_empty():
    with pytest.raises(ValueError, match=r"^forget_idx: is empty"):
        _audit([])
    with pytest.raises(ValueError, match=r"^forget_idx: is empty"):
        _audit(torch.zeros(10, dtype=torch.bool))


def test_forget_idx_duplicated():
    with pytest.raises(ValueError, match=r"^forget_idx: contains duplicated indices \(1 duplicates, e\.g\. index 3\)"):
        _audit([1, 3, 3])


@pytest.mark.parametrize("bad", [10, 99, -1])
def test_forget_idx_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"^forget_idx: index {bad} is out of range for a dataset of 10 samples"):
        _audit([0, bad])


def test_forget_idx_not_integers():
    with pytest.raises(TypeError, match=r"^forget_idx: expected integer indices"):
        _audit([0.0, 1.5])


def test_forget_idx_bad_mask_length():
    with pytest.raises(ValueError, match=r"^forget_idx: a boolean mask must have length 10, got 3"):
        _audit(torch.tensor([True, False, True]))


def test_forget_set_is_whole_train():
    with pytest.raises(ValueError, match=r"^forget_idx: covers the whole train set"):
        _audit(list(range(10)))
    with pytest.raises(ValueError, match=r"^forget_idx: covers the whole train set"):
        _audit(torch.ones(10, dtype=torch.bool))


def test_split_type_and_shape():
    with pytest.raises(TypeError, match=r"^train: expected a GroupDataset, got list"):
        AuditData(train=[1, 2], test=_tab(4), forget_idx=[0])
    with pytest.raises(ValueError, match=r"^test: input shape \(4,\) differs from train's \(3,\)"):
        AuditData(train=_tab(), test=GroupDataset(torch.zeros(2, 4), [0, 1], [0, 1]), forget_idx=[0])
    with pytest.raises(ValueError, match=r"^val: has n_classes=3"):
        AuditData(train=_tab(), test=_tab(4), val=GroupDataset(torch.zeros(3, 3), [0, 1, 2], [0, 1, 0]),
                  forget_idx=[0])


def test_bad_dominant_groups():
    with pytest.raises(ValueError, match=r"^dominant_groups: group \(2, 0\) is outside"):
        AuditData(train=_tab(), test=_tab(4), forget_idx=[0], dominant_groups=[(2, 0)])
    with pytest.raises(ValueError, match=r"^dominant_groups: expected \(y, a\) pairs"):
        AuditData(train=_tab(), test=_tab(4), forget_idx=[0], dominant_groups=[1])


# ------------------------------------------------------------------------------------------------ forget builders
@pytest.mark.parametrize("group", [(2, 0), (0, 2), (-1, 0)])
def test_forget_from_groups_unknown_group(group):
    with pytest.raises(ValueError, match=rf"^groups: \({group[0]}, {group[1]}\) does not exist"):
        forget_from_groups(_tab(), groups=[group], ratio=0.5)


def test_forget_from_groups_group_without_samples():
    train = _tab(8, y=torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), a=torch.tensor([0, 0, 1, 1, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"^groups: \(1, 1\) has no sample in train"):
        forget_from_groups(train, groups=[(1, 1)], ratio=0.5)


def test_forget_from_groups_bare_pair_is_a_clear_error():
    with pytest.raises(TypeError, match=r"^groups: expected a sequence of \(y, a\) pairs"):
        forget_from_groups(_tab(), groups=(1, 0), ratio=0.5)


def test_forget_from_groups_empty_groups():
    with pytest.raises(ValueError, match=r"^groups: name at least one"):
        forget_from_groups(_tab(), groups=[], ratio=0.5)


@pytest.mark.parametrize("ratio", [0, 0.0, -0.1, 1.01, 2, math.nan, "0.5", None])
def test_forget_from_groups_ratio_outside_unit_interval(ratio):
    with pytest.raises(ValueError, match=r"^ratio: expected a number in \(0, 1\], got"):
        forget_from_groups(_tab(), groups=[(0, 0)], ratio=ratio)


def test_forget_from_groups_ratio_too_small_for_group():
    with pytest.raises(ValueError, match=r"^groups: floor\(0\.1 \* 3\) = 0 samples"):
        forget_from_groups(_tab(10), groups=[(0, 0)], ratio=0.1)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2])
def test_forget_random_fraction(fraction):
    with pytest.raises(ValueError, match=r"^fraction: expected a number in \(0, 1\)"):
        forget_random(_tab(), fraction=fraction)


@pytest.mark.parametrize("cls", [2, -1, "0"])
def test_forget_class_bad_class(cls):
    with pytest.raises(ValueError, match=r"^cls: expected a class in 0\.\.1"):
        forget_class(_tab(), cls)


def test_builders_need_a_group_dataset():
    with pytest.raises(TypeError, match=r"^train: expected a GroupDataset"):
        forget_random(torch.zeros(3), fraction=0.5)
