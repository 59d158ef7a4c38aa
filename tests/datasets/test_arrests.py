"""arrests: the Toronto arrests table from scikit-lego as a tabular audit."""

from __future__ import annotations

import sys

import pytest
import torch

pytest.importorskip("sklego")

from unlearn_audit.datasets import arrests  # noqa: E402
from unlearn_audit.datasets._arrests import ARRESTS_FEATURES  # noqa: E402


@pytest.fixture(scope="module")
def colour():
    return arrests(seed=0)


def _all(data):
    return {name: getattr(data, name) for name in ("train", "val", "test")}


def test_shapes_and_names(colour):
    train = colour.train
    assert train.x.dtype == torch.float32 and train.x.shape[1:] == (len(ARRESTS_FEATURES["colour"]),) == (6,)
    assert not train.is_image and train.value_range is None and train.mean is None
    assert train.classes == ("not released", "released") and train.attr_names == ("Black", "White")
    assert sum(len(ds) for ds in _all(colour).values()) == 5226


def test_documented_group_counts(colour):
    assert colour.train.group_counts().tolist() == [199, 335, 573, 2027]
    assert colour.val.group_counts().tolist() == colour.test.group_counts().tolist() == [67, 112, 191, 676]
    total = sum(ds.group_counts() for ds in _all(colour).values())
    assert total.tolist() == [333, 559, 955, 3379]
    assert colour.dominant_groups == ((0, 0),) and len(colour.forget) == 99
    assert colour.forget.group_counts().tolist() == [99, 0, 0, 0]
    assert sorted(colour.reweight_weights().unique().tolist()) == pytest.approx([1.0, 199 / 100])


def test_sex_attribute():
    data = arrests(attribute="sex", seed=0)
    assert data.train.attr_names == ("Female", "Male")
    assert data.train.group_counts().tolist() == [37, 497, 228, 2372]
    total = sum(ds.group_counts() for ds in _all(data).values())
    assert total.tolist() == [63, 829, 380, 3954]
    assert len(data.forget) == 18


def test_standardized_with_train_statistics_only(colour):
    x = colour.train.x.double()
    assert torch.allclose(x.mean(0), torch.zeros(6, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(x.std(0), torch.ones(6, dtype=torch.float64), atol=1e-5)
    # val/test use the train statistics, so their moments are close to but not exactly 0 / 1
    assert not torch.allclose(colour.test.x.double().mean(0), torch.zeros(6, dtype=torch.float64), atol=1e-5)


def test_attribute_excluded_by_default(colour):
    """No feature column equals the (standardized) attribute; with include_attribute the last column does."""
    for ds in _all(colour).values():
        a = ds.a.double()
        for j in range(ds.x.shape[1]):
            col = ds.x[:, j].double()
            assert abs(torch.corrcoef(torch.stack([col, a]))[0, 1]) < 0.99
    leaky = arrests(include_attribute=True, seed=0)
    assert leaky.train.x.shape[1] == 7
    last = leaky.train.x[:, -1]
    assert torch.equal(last > 0, leaky.train.a == 1)  # White -> the larger standardized value
    assert torch.equal(leaky.train.x[:, :6], colour.train.x)


def test_determinism(colour):
    assert arrests(seed=0).fingerprint() == colour.fingerprint()
    other = arrests(seed=1)
    assert other.train.fingerprint() != colour.train.fingerprint()
    assert other.train.group_counts().tolist() == colour.train.group_counts().tolist()  # stratified: same counts


def test_forget_options():
    data = arrests(forget_groups=((1, 0),), forget_ratio=0.1, seed=0)
    assert data.forget.group_counts().tolist() == [0, 0, 57, 0]


@pytest.mark.parametrize("kwargs, arg", [
    ({"attribute": "race"}, "attribute"), ({"val_fraction": 0.0}, "val_fraction"),
    ({"val_fraction": 0.6, "test_fraction": 0.5}, "val_fraction"),
])
def test_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=rf"^{arg}"):
        arrests(**kwargs)


def test_missing_scikit_lego(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklego.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'unlearn-audit\[tabular\]'"):
        arrests()


def test_a_small_mlp_learns_it(colour):
    from unlearn_audit.models import TabularMLP
    from unlearn_audit.training import TrainRecipe, fit

    torch.manual_seed(0)
    model = fit(TabularMLP(6, 2, hidden=(32,)), colour.train, TrainRecipe(epochs=2, lr=0.05, batch_size=128),
                device="cpu", progress=False)
    with torch.no_grad():
        acc = float((model(colour.test.x).argmax(1) == colour.test.y).float().mean())
    assert acc > 0.8  # base rate of release is 0.83
