"""colored_digits: group structure, spurious-correlation strength, balance of val/test, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from unlearn_audit.datasets import colored_digits
from unlearn_audit.datasets._colored_digits import COLORS


def _majority_share(ds) -> dict[int, float]:
    """Per class, the share of samples with the class's majority colour ``a = y mod 2``."""
    return {int(c): float((ds.a[ds.y == c] == c % 2).float().mean()) for c in ds.y.unique()}


def test_documented_group_counts(digits_data):
    """The counts the docstring states for seed 0 (the split does not depend on the image size)."""
    assert len(digits_data.train) == 1079 and len(digits_data.val) == len(digits_data.test) == 359
    assert digits_data.train.group_counts().tolist() == [480, 53, 55, 491]
    assert len(digits_data.forget) == 27 and digits_data.dominant_groups == ((1, 0),)
    assert digits_data.forget.group_counts().tolist() == [0, 0, 27, 0]
    w = digits_data.reweight_weights()
    assert sorted(w.unique().tolist()) == pytest.approx([1.0, 55 / 28])


def test_structure(digits_data):
    train = digits_data.train
    assert train.x.shape[1:] == (3, 8, 8) and train.is_image
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    assert (train.n_classes, train.n_attrs) == (2, 2)
    assert train.classes == ("<5", ">=5") and train.attr_names == ("red", "green")
    assert train.mean == (0.5, 0.5, 0.5) and train.std == (0.5, 0.5, 0.5)
    total = len(train) + len(digits_data.val) + len(digits_data.test)
    assert total == 1797  # every sklearn digit used once


def test_spurious_correlation_strength_in_train(digits_data):
    """In train, each class carries its majority colour with share = ``majority`` (0.9), up to rounding."""
    train = digits_data.train
    for c, share in _majority_share(train).items():
        n_c = int((train.y == c).sum())
        assert share == pytest.approx(1 - round(0.1 * n_c) / n_c)
        assert abs(share - 0.9) <= 0.501 / n_c


@pytest.mark.parametrize("split", ["val", "test"])
def test_val_test_colour_balanced(digits_data, split):
    ds = getattr(digits_data, split)
    for c in range(2):
        a = ds.a[ds.y == c]
        assert abs(int((a == 0).sum()) - int((a == 1).sum())) <= 1


def test_colour_is_the_attribute(digits_data):
    """x = grey * colour(a): the channel ratios of every lit pixel are those of the sample's colour."""
    x, a = digits_data.train.x, digits_data.train.a
    palette = torch.tensor(COLORS)
    red = x[:, 0]
    lit = red > 0.05
    for k in range(2):
        mask = lit & (a == k)[:, None, None]
        ratio = x[:, 1][mask] / red[mask]
        assert torch.allclose(ratio, palette[k, 1] / palette[k, 0], rtol=1e-4)


@pytest.mark.parametrize("majority", [0.8, 0.95])
def test_majority_knob(majority):
    data = colored_digits(scale=1, size=8, majority=majority, test_majority=0.7, seed=0)
    for c, share in _majority_share(data.train).items():
        n_c = int((data.train.y == c).sum())
        assert abs(share - majority) <= 0.501 / n_c
    for c, share in _majority_share(data.test).items():
        n_c = int((data.test.y == c).sum())
        assert abs(share - 0.7) <= 0.501 / n_c


def test_determinism(digits_data):
    again = colored_digits(scale=1, majority=0.9, size=8, seed=0)
    other = colored_digits(scale=1, majority=0.9, size=8, seed=1)
    assert again.fingerprint() == digits_data.fingerprint()
    assert other.train.fingerprint() != digits_data.train.fingerprint()
    assert other.test.fingerprint() != digits_data.test.fingerprint()
    assert other.fingerprint()["forget_idx"] != digits_data.fingerprint()["forget_idx"]


def test_ten_class_option():
    data = colored_digits(scale=1, majority=0.9, target="digit", size=8, seed=0)
    train = data.train
    assert (train.n_classes, train.n_attrs, train.n_groups) == (10, 2, 20)
    assert train.classes == tuple(str(d) for d in range(10))
    assert set(train.y.unique().tolist()) == set(range(10))
    for c, share in _majority_share(train).items():  # majority colour = digit parity
        n_c = int((train.y == c).sum())
        assert abs(share - 0.9) <= 0.501 / n_c
    (y, a), = data.dominant_groups
    n_group = int(train.group_counts()[a + y * 2])
    assert len(data.forget) == math.floor(0.5 * n_group)


def test_size_and_forget_options():
    data = colored_digits(scale=1, majority=0.9, size=16, forget_groups=((0, 1), (1, 0)), forget_ratio=0.2, seed=0)
    assert data.train.x.shape[1:] == (3, 16, 16)
    counts = data.forget.group_counts().tolist()
    assert counts == [0, math.floor(0.2 * 53), math.floor(0.2 * 55), 0]
    assert data.dominant_groups == ((0, 1), (1, 0))


@pytest.mark.parametrize("kwargs, arg", [
    ({"target": "parity"}, "target"), ({"size": 4}, "size"), ({"majority": 0.5}, "majority"),
    ({"majority": 1.0}, "majority"), ({"test_majority": 0.4}, "test_majority"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction"), ({"scale": 0}, "scale"), ({"scale": 1.5}, "scale"),
])
def test_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=rf"^{arg}"):
        colored_digits(**kwargs)


# ---------------------------------------------------------------------------------------------- the default (scale 9)
@pytest.fixture(scope="module")
def default_data():
    return colored_digits()


def test_default_counts_as_documented(default_data):
    """README / docstring: 9 versions of each image, forget = 41 whole source images of (y=1, a=0)."""
    d = default_data
    assert d.train.x.shape[1:] == (3, 8, 8)
    assert (len(d.train), len(d.val), len(d.test)) == (9711, 3231, 3231)
    assert d.train.group_counts().tolist() == [4077, 720, 738, 4176]
    assert len(d.forget) == 369 and d.forget.group_counts().tolist() == [0, 0, 369, 0]


def test_every_copy_of_a_source_image_stays_together(default_data):
    """Copies are image-major (rows ``9i .. 9i+8``): same label and colour, copy 0 the image itself; the forget
    set holds every copy of its source images and no copy of any other."""
    d, k = default_data, 9
    for split in (d.train, d.val, d.test):
        assert (split.y.view(-1, k) == split.y.view(-1, k)[:, :1]).all()
        assert (split.a.view(-1, k) == split.a.view(-1, k)[:, :1]).all()
    sources = d.forget_idx.view(-1, k)
    assert (sources == sources[:, :1] + torch.arange(k)).all() and (sources[:, 0] % k == 0).all()
    small = colored_digits(scale=1, size=8)
    assert torch.equal(d.train.x[::k], small.train.x) and torch.equal(d.forget_idx[::k] // k, small.forget_idx)


def test_deformed_copies_differ_but_keep_the_digit(default_data):
    """Each deformed copy differs from its source image, yet stays closer to it than to other digits on average."""
    x = default_data.test.x.view(-1, 9, 3 * 8 * 8)
    src, copies = x[:, :1], x[:, 1:]
    own = (copies - src).norm(dim=-1)
    assert (own > 1e-3).all()
    other = (copies - src.roll(1, dims=0)).norm(dim=-1)
    assert float(own.mean()) < 0.8 * float(other.mean())
