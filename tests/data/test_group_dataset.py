"""GroupDataset: groups, subset, to, fingerprint, adapter from a torch Dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearn_audit.data import GroupDataset


def _images(n: int = 12, seed: int = 0) -> GroupDataset:
    gen = torch.Generator().manual_seed(seed)
    return GroupDataset(torch.rand(n, 3, 4, 4, generator=gen), torch.arange(n) % 3, (torch.arange(n) // 3) % 2,
                        classes=("a", "b", "c"), attr_names=("m", "f"), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2),
                        name="toy")


def test_dtypes_and_counts():
    ds = GroupDataset(np.zeros((4, 2)), np.array([0, 1, 2, 1], dtype=np.int32), [0, 1, 1, 0])
    assert ds.x.dtype == torch.float32  # numpy float64 tabular data becomes float32 (models are float32)
    assert ds.y.dtype == ds.a.dtype == torch.int64
    assert (ds.n_classes, ds.n_attrs, ds.n_groups) == (3, 2, 6)
    assert not ds.is_image and ds.value_range is None
    assert _images().is_image and _images().value_range == (0.0, 1.0)


def test_int_inputs_become_float():
    ds = GroupDataset(torch.ones(2, 3, dtype=torch.int64), [0, 1], [0, 1])
    assert ds.x.dtype == torch.float32


def test_groups_encoding():
    ds = _images()
    assert torch.equal(ds.groups(), ds.a + ds.y * 2)
    assert torch.equal(ds.groups(5), ds.a + ds.y * 5)
    counts = ds.group_counts()
    assert counts.shape == (6,) and int(counts.sum()) == len(ds)
    for g in range(6):
        y, a = divmod(g, 2)
        assert int(counts[g]) == int(((ds.y == y) & (ds.a == a)).sum())
    assert ds.group_name(3) == "y=1 (b), a=1 (f)"


def test_explicit_counts_keep_absent_values():
    ds = GroupDataset(torch.zeros(2, 2), [0, 0], [0, 0], n_classes=4, n_attrs=3)
    assert ds.n_groups == 12 and ds.group_counts().tolist() == [2] + [0] * 11


def test_subset_keeps_metadata():
    ds = _images()
    sub = ds.subset([5, 0, 7])
    assert len(sub) == 3
    assert torch.equal(sub.x, ds.x[[5, 0, 7]]) and torch.equal(sub.y, ds.y[[5, 0, 7]])
    assert torch.equal(sub.a, ds.a[[5, 0, 7]])
    assert (sub.classes, sub.attr_names, sub.mean, sub.std, sub.name) == (ds.classes, ds.attr_names, ds.mean,
                                                                             ds.std, ds.name)
    one_class = ds.subset(ds.y == 0)  # bool mask; class/attr counts are kept even if values disappear
    assert len(one_class) == 4 and (one_class.n_classes, one_class.n_attrs) == (3, 2)
    assert len(ds.subset([])) == 0


def test_subset_bad_index():
    with pytest.raises(ValueError, match=r"^idx: index 12 is out of range"):
        _images().subset([12])


def test_to_device():
    ds = _images()
    assert ds.to("cpu") is ds
    assert ds.to(torch.device("cpu")) is ds
    moved = ds.to("meta")  # a real device change without a GPU
    assert moved.device.type == "meta" and moved.y.device.type == "meta" and moved.a.device.type == "meta"
    assert moved.classes == ds.classes


def test_fingerprint():
    a, b = _images(seed=0), _images(seed=0)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != _images(seed=1).fingerprint()
    assert a.fingerprint() != a.subset(range(11)).fingerprint()
    relabelled = GroupDataset(a.x, a.y, 1 - a.a, classes=a.classes, attr_names=a.attr_names, mean=a.mean, std=a.std)
    assert a.fingerprint() != relabelled.fingerprint()
    renamed = GroupDataset(a.x, a.y, a.a, classes=("x", "y", "z"), attr_names=a.attr_names, mean=a.mean, std=a.std)
    assert a.fingerprint() != renamed.fingerprint()


def test_summary():
    s = _images().summary()
    assert s["n"] == 12 and s["x_shape"] == [3, 4, 4] and sum(s["group_counts"].values()) == 12


class _Triples(torch.utils.data.Dataset):
    def __init__(self, ds: GroupDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        return self.ds.x[i], int(self.ds.y[i]), int(self.ds.a[i])


def test_from_torch_dataset_roundtrip():
    ds = _images(n=11)
    back = GroupDataset.from_torch_dataset(_Triples(ds), batch_size=4, classes=ds.classes, attr_names=ds.attr_names,
                                           mean=ds.mean, std=ds.std, name=ds.name)
    assert back.fingerprint() == ds.fingerprint()


def test_from_torch_dataset_rejects_pairs_and_empty():
    pairs = [(torch.zeros(2), 0)] * 3
    with pytest.raises(TypeError, match=r"^dataset: items must be \(x, y, a\) triples"):
        GroupDataset.from_torch_dataset(pairs)
    with pytest.raises(ValueError, match=r"^dataset: is empty"):
        GroupDataset.from_torch_dataset([])


def test_getitem_and_len():
    ds = _images()
    x, y, a = ds[4]
    assert torch.equal(x, ds.x[4]) and int(y) == 1 and int(a) == 1 and len(ds) == 12
