"""The uint8 image store: file format, errors, and the three backings (in-memory float, memory-mapped,
on-device) giving identical training, metrics and audits."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from unlearn_audit.data import GroupDataset, StoredImages, cat_inputs, gathered_batches, take_rows
from unlearn_audit.data._store import StoreError, open_store, write_store

from ._stores import write_png_folder

pytest.importorskip("PIL")


def _random_store(path, n=30, chw=(3, 6, 5), seed=0, **kw):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, *chw), dtype=np.uint8)
    write_store(path, chw=chw, labels=np.arange(n) % 2, attrs=(np.arange(n) // 2) % 3,
                split=np.arange(n) % 3, chunks=iter([images[:7], images[7:]]),
                metadata={"classes": ["no", "yes"], "name": "toy"}, **kw)
    return images


# ------------------------------------------------------------------------------------------------ format
def test_store_round_trip_and_is_safetensors(tmp_path):
    from safetensors.numpy import load_file

    images = _random_store(tmp_path / "s.uastore")
    store = open_store(tmp_path / "s.uastore")
    assert isinstance(store.images, np.memmap) and np.array_equal(store.images, images)
    assert store.classes == ("no", "yes") and store.attr_names is None and len(store) == 30
    assert store.labels.tolist() == [i % 2 for i in range(30)]
    tensors = load_file(str(tmp_path / "s.uastore"))  # other tools read it as a plain safetensors file
    assert np.array_equal(tensors["images"], images) and tensors["split"].dtype == np.int8
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed into place


def test_truncated_other_version_and_foreign_files_are_rejected(tmp_path):
    path = tmp_path / "s.uastore"
    _random_store(path)
    data = path.read_bytes()
    (tmp_path / "cut.uastore").write_bytes(data[:-10])
    with pytest.raises(StoreError, match=r"cut.uastore' is truncated or damaged .* `unlearn-audit prepare`"):
        open_store(tmp_path / "cut.uastore")
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["version"] = "99"
    body = json.dumps(header, separators=(",", ":")).encode().ljust(n)
    assert len(body) == n
    (tmp_path / "v99.uastore").write_bytes(data[:8] + body + data[8 + n:])
    with pytest.raises(StoreError, match=r"is format version '99', this unlearn-audit reads version 1"):
        open_store(tmp_path / "v99.uastore")
    (tmp_path / "junk.uastore").write_bytes(b"not a store at all")
    with pytest.raises(StoreError, match=r"is not an unlearn-audit image store"):
        open_store(tmp_path / "junk.uastore")
    with pytest.raises(StoreError, match=r"does not exist"):
        open_store(tmp_path / "missing.uastore")


def test_store_larger_than_free_disk_writes_nothing(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**6, 10**6 - 100, 100))
    with pytest.raises(StoreError, match=r"needs .* GiB but only .* GiB are free.*nothing was written"):
        _random_store(tmp_path / "big.uastore")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_removes_the_partial_file(tmp_path):
    def chunks():
        yield np.zeros((3, 3, 4, 4), dtype=np.uint8)
        raise RuntimeError("decoder crashed")

    with pytest.raises(RuntimeError, match="decoder crashed"):
        write_store(tmp_path / "s.uastore", chw=(3, 4, 4), labels=[0] * 6, attrs=[0] * 6, chunks=chunks(),
                    metadata={})
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------ indexing
def test_stored_images_index_like_a_float_tensor(tmp_path):
    images = _random_store(tmp_path / "s.uastore")
    store = open_store(tmp_path / "s.uastore")
    ref = torch.from_numpy(images).float() / 255
    for placement in ("stream", "device"):
        x = StoredImages(store.images, placement=placement).to("cpu")
        assert x.is_resident == (placement == "device")
        assert x.shape == ref.shape and len(x) == 30 and x.ndim == 4
        idx = torch.tensor([5, 0, 29, 5])
        assert torch.equal(x[idx], ref[idx]) and torch.equal(x[3:9], ref[3:9]) and torch.equal(x[-1], ref[-1])
        mask = torch.arange(30) % 4 == 0
        assert torch.equal(x[mask], ref[mask])
        sub = take_rows(x, torch.tensor([2, 4, 6, 8]))
        assert isinstance(sub, StoredImages) and torch.equal(sub[torch.tensor([3, 0])], ref[[8, 2]])
        both = cat_inputs([sub, take_rows(x, torch.tensor([1]))])
        assert isinstance(both, StoredImages) and torch.equal(both[:], ref[[2, 4, 6, 8, 1]])
        batches = [torch.tensor([1, 2]), torch.tensor([9, 3, 0]), slice(20, 30)]
        got = list(gathered_batches(x, batches))
        assert [torch.equal(g, ref[b]) for g, b in zip(got, batches)] == [True] * 3
    # a consumer that stops early leaves no prefetch thread behind
    stream = StoredImages(store.images)
    it = gathered_batches(stream, [torch.tensor([i]) for i in range(30)])
    next(it)
    it.close()
    import threading
    assert not [t for t in threading.enumerate() if t.name == "unlearn-audit-prefetch"]


def test_store_datasets_keep_the_group_dataset_api(tmp_path):
    _random_store(tmp_path / "s.uastore")
    store = open_store(tmp_path / "s.uastore")
    train = store.dataset("train")
    assert isinstance(train, GroupDataset) and isinstance(train.x, StoredImages) and train.is_image
    assert len(train) == 10 and train.n_classes == 2 and train.n_attrs == 3 and train.name == "toy/train"
    sub = train.subset([1, 3])
    assert isinstance(sub.x, StoredImages) and torch.equal(sub.x[:], train.x[torch.tensor([1, 3])])
    assert sub.fingerprint() != train.fingerprint() and train.fingerprint() == store.dataset("train").fingerprint()
    memory = store.dataset("train", placement="memory")
    assert isinstance(memory.x, torch.Tensor) and torch.equal(memory.x, train.x[:])
    with pytest.raises(ValueError, match="placement: expected 'stream', 'device' or 'memory'"):
        store.dataset("train", placement="gpu")


def test_three_backings_give_identical_training_and_metrics(tmp_path):
    """In-memory float32, memory-mapped uint8 and on-device (here: the CPU) uint8: same weights, same metrics."""
    from unlearn_audit.datasets._prepare import prepare_table
    from unlearn_audit.metrics import MetricConfig, evaluate
    from unlearn_audit.models import SmallConvNet
    from unlearn_audit.training import TrainRecipe, fit

    csv_path = write_png_folder(tmp_path / "photos", n=80)
    store = prepare_table(csv_path, out=tmp_path / "s.uastore", workers=1, progress=False).store
    recipe = TrainRecipe(epochs=2, lr=0.05, batch_size=16, augment="crop_flip")
    cfg = MetricConfig.preset("smoke", attack_max_samples=16)
    results = {}
    for placement in ("memory", "stream", "device"):
        data = store.audit_data(forget_groups=[(1, 0)], placement=placement, seed=0)
        torch.manual_seed(0)
        model = SmallConvNet(2, width=4, mean=(0.5,) * 3, std=(0.5,) * 3)
        fit(model, data.train, recipe, seed=0, device="cpu", progress=False)
        results[placement] = (model.state_dict(), evaluate(model, data, config=cfg, device="cpu").values)
    ref_state, ref_metrics = results["memory"]
    for placement in ("stream", "device"):
        state, metrics = results[placement]
        assert all(torch.equal(ref_state[k], state[k]) for k in ref_state), placement
        assert metrics == ref_metrics or all(
            (np.isnan(v) and np.isnan(metrics[k])) or v == metrics[k] for k, v in ref_metrics.items()), placement


def test_device_placement_that_does_not_fit_streams_with_one_warning(tmp_path, monkeypatch):
    import warnings

    import unlearn_audit.data._images as images

    _random_store(tmp_path / "s.uastore")
    store = open_store(tmp_path / "s.uastore")
    monkeypatch.setattr(images, "free_bytes", lambda device: 1000)  # the 2,700-byte store does not fit
    train, test = store.dataset("train", placement="device"), store.dataset("test", placement="device")
    with pytest.warns(RuntimeWarning, match=r"do not fit in the .* GiB free on cpu; streaming batches"):
        placed = train.to("cpu")
    assert not placed.x.is_resident and torch.equal(placed.x[:], store.dataset("train", placement="memory").x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per store, not one per split
        assert not test.to("cpu").x.is_resident


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_streamed_and_resident_batches_equal_the_float_batches(tmp_path):
    """On CUDA: streaming through pinned buffers + the prefetch thread, and the store copied to the GPU, deliver
    exactly the in-memory float batches; fit runs on both."""
    from unlearn_audit.models import SmallConvNet
    from unlearn_audit.training import TrainRecipe, fit

    _random_store(tmp_path / "s.uastore", n=300)
    store = open_store(tmp_path / "s.uastore")
    ref = store.dataset(placement="memory").x.cuda()
    batches = [torch.randperm(300)[:64] for _ in range(8)] + [slice(250, 300)]
    for placement in ("stream", "device"):
        ds = store.dataset(placement=placement).to("cuda")
        assert ds.x.is_resident == (placement == "device")
        for got, b in zip(gathered_batches(ds.x, batches), batches):
            assert got.device.type == "cuda" and torch.equal(got, ref[b])
        model = SmallConvNet(2, width=4)
        fit(model, ds, TrainRecipe(epochs=1, batch_size=32), seed=0, device="cuda", progress=False)
