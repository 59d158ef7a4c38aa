"""``prepare``: image stores from folders + CSVs, tables and local benchmark layouts (all written in tmp_path);
bad input gives errors naming the file / column / row; an audit runs end to end on a store."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import torch

from unlearn_audit.data._store import open_store
from unlearn_audit.datasets._decode import PrepareError
from unlearn_audit.datasets._prepare import prepare_table

from ..data._stores import write_png_folder
from .test_local import celeba_root, cifar_root, fairface_root, no_md5, waterbirds_root  # noqa: F401 (fixtures)

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _cli(*argv: str) -> int:
    from unlearn_audit.cli import main

    return main(list(argv))


def test_folder_and_csv_store_matches_the_images(tmp_path):
    csv_path = write_png_folder(tmp_path / "photos", n=20, size=(9, 7))
    result = prepare_table(csv_path, out=tmp_path / "s.uastore", workers=1, progress=False)
    store = result.store
    assert not result.unchanged and store.images.shape == (20, 3, 9, 7)
    first = np.asarray(Image.open(tmp_path / "photos/img/0000.png").convert("RGB")).transpose(2, 0, 1)
    assert np.array_equal(store.images[0], first)
    assert store.attr_names == ("blue", "red") and store.classes is None  # string attributes encoded, sorted
    assert store.attrs[:4].tolist() == [1, 1, 0, 0] and store.labels[:4].tolist() == [0, 1, 0, 1]
    assert [int((store.split == k).sum()) for k in range(3)] == [12, 4, 4]


def test_rerun_on_an_unchanged_source_is_a_no_op_and_a_change_rebuilds(tmp_path):
    csv_path = write_png_folder(tmp_path / "photos", n=10)
    out = tmp_path / "s.uastore"
    prepare_table(csv_path, out=out, workers=1, progress=False)
    stamp = out.stat().st_mtime_ns
    again = prepare_table(csv_path, out=out, workers=1, progress=False)
    assert again.unchanged and out.stat().st_mtime_ns == stamp
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "photos/img/0003.png")  # same name, new bytes
    changed = prepare_table(csv_path, out=out, workers=1, progress=False)
    assert not changed.unchanged and int(changed.store.images[3].max()) == 0


def test_resize_matches_the_loaders_transform_and_workers_agree(tmp_path):
    from torchvision import transforms

    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(70):  # mixed sizes: fine with size=
        pixels = rng.integers(0, 256, (12 + i % 5, 10 + i % 3, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"img/{i}.png")
        rows.append([f"img/{i}.png", i % 2, "ab"[i % 2]])
    with open(tmp_path / "t.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "label", "attribute"], *rows])
    one = prepare_table(tmp_path / "t.csv", out=tmp_path / "a.uastore", size=8, workers=1, progress=False).store
    two = prepare_table(tmp_path / "t.csv", out=tmp_path / "b.uastore", size=8, workers=2, progress=False).store
    assert np.array_equal(one.images, two.images)  # worker processes decode the same pixels, in order
    tf = transforms.Compose([transforms.Resize(8), transforms.CenterCrop(8), transforms.ToTensor()])
    ref = tf(Image.open(tmp_path / "img/13.png").convert("RGB"))
    assert torch.equal(one.dataset().x[13], ref)
    assert bool((one.split < 0).all())  # no split column: audit_data cuts a seeded split
    data = one.audit_data(forget_groups=[(1, 1)], seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (49, 7, 14)


def test_parquet_table_with_named_columns(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    write_png_folder(tmp_path, n=12)
    frame = pd.read_csv(tmp_path / "labels.csv").rename(columns={"label": "smiling", "attribute": "skin"})
    frame.to_parquet(tmp_path / "t.parquet")
    store = prepare_table(tmp_path / "t.parquet", out=tmp_path / "s.uastore", label_column="smiling",
                          attribute_column="skin", workers=1, progress=False).store
    assert len(store) == 12 and store.attr_names == ("blue", "red")


def test_bad_sources_name_what_is_wrong(tmp_path):
    csv_path = write_png_folder(tmp_path, n=6)
    out = tmp_path / "s.uastore"
    with pytest.raises(PrepareError, match=r"labels.csv' has no column 'group' .*attribute_column="):
        prepare_table(csv_path, out=out, attribute_column="group", workers=1, progress=False)
    lines = csv_path.read_text().splitlines()
    (tmp_path / "empty_attr.csv").write_text("\n".join([lines[0], lines[1], "img/0001.png,1,,train"]) + "\n")
    with pytest.raises(PrepareError, match=r"column 'attribute' is empty in data row 2"):
        prepare_table(tmp_path / "empty_attr.csv", out=out, workers=1, progress=False)
    (tmp_path / "img/0002.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(PrepareError, match=r"img/0002.png: cannot decode the image"):
        prepare_table(csv_path, out=out, workers=1, progress=False)
    os.remove(tmp_path / "img/0002.png")
    with pytest.raises(PrepareError, match=r"img/0002.png: image file is missing"):
        prepare_table(csv_path, out=out, workers=1, progress=False)
    Image.fromarray(np.zeros((5, 9, 3), dtype=np.uint8)).save(tmp_path / "img/0002.png")
    with pytest.raises(PrepareError, match=r"img/0002.png: image is 9x5 but the first image is 8x8; .*size="):
        prepare_table(csv_path, out=out, workers=1, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".s.uastore.tmp*"))  # nothing half-written


def test_cli_prepare_folder_csv_and_errors(tmp_path, capsys):
    csv_path = write_png_folder(tmp_path / "photos", n=10, header=("file", "y", "group", "split"))
    out = tmp_path / "s.uastore"
    args = [str(tmp_path / "photos"), "--csv", str(csv_path), "--out", str(out), "--workers", "1", "--no-progress"]
    assert _cli("prepare", *args) == 2
    assert "has no column 'path'" in capsys.readouterr().err
    named = ["--path-column", "file", "--label-column", "y", "--attribute-column", "group"]
    assert _cli("prepare", *args, *named) == 0
    assert "wrote" in capsys.readouterr().out and open_store(out).attr_names == ("blue", "red")
    assert _cli("prepare", *args, *named) == 0
    assert "up to date" in capsys.readouterr().out


def test_audit_end_to_end_on_a_store(tmp_path):
    from unlearn_audit.audit import AuditSpec, run_audit
    from unlearn_audit.metrics import MetricConfig
    from unlearn_audit.models import SmallConvNet
    from unlearn_audit.training import TrainRecipe

    csv_path = write_png_folder(tmp_path / "photos", n=80)
    store = prepare_table(csv_path, out=tmp_path / "s.uastore", workers=1, progress=False).store
    data = store.audit_data(forget_groups=[(1, 0)], seed=0)
    spec = AuditSpec(data=data, model_factory=lambda: SmallConvNet(2, width=4, mean=(0.5,) * 3, std=(0.5,) * 3),
                     unlearn_fn="ft", recipe=TrainRecipe(epochs=8, lr=0.05, batch_size=16), methods="none",
                     references=("retrain",), seeds=(0,), reference_seeds=(0,),
                     metric_config=MetricConfig.preset("smoke", attack_max_samples=16), cache_dir=False, n_boot=200,
                     device="cpu")
    report = run_audit(spec, progress=False)
    assert all(r.status == "ok" for r in report.rows), [r.error for r in report.rows]
    assert {r.role for r in report.rows} == {"original", "reference", "user"}
    assert report.data["n_train"] == len(data.train) and report.data["input_shape"] == [3, 8, 8]
    assert report.data["attr_names"] == ["blue", "red"]
    assert report.records("original")[0].values["TA"] > 60  # the images are learnable: the store fed real data


# ------------------------------------------------------------------------------------------------ local layouts
def test_prepare_local_layouts_keep_every_sample(tmp_path, waterbirds_root, fairface_root, celeba_root, cifar_root,
                                                 no_md5):
    from unlearn_audit.datasets import celeba, cifar10, fairface, waterbirds
    from unlearn_audit.datasets._prepare_local import prepare_local

    with pytest.raises(PrepareError, match=r"bird_\d+.png: image is .* but the first image is .*size="):
        prepare_local("waterbirds", waterbirds_root, out=tmp_path / "wb.uastore", workers=1, progress=False)
    assert not (tmp_path / "wb.uastore").exists()
    cases = {"waterbirds": (waterbirds_root, waterbirds, {}), "fairface": (fairface_root, fairface, {}),
             "celeba": (celeba_root, celeba, {"target": "Smiling"})}
    for name, (root, loader, options) in cases.items():
        store = prepare_local(name, root, out=tmp_path / f"{name}.uastore", size=8, workers=1, progress=False,
                              **options).store
        data = store.audit_data(forget_groups=loader(root, size=8, **options).dominant_groups)
        ref = loader(root, size=8, **options)
        for split in ("train", "val", "test"):
            got, want = getattr(data, split), getattr(ref, split)
            assert torch.equal(got.x[:], want.x), (name, split)  # the loaders' pixels, uint8 -> float exactly
            assert torch.equal(got.y, want.y) and torch.equal(got.a, want.a)
        assert data.train.classes == ref.train.classes and torch.equal(data.forget_idx, ref.forget_idx)
    cifar = prepare_local("cifar10", cifar_root, out=tmp_path / "c.uastore", workers=1, progress=False,
                          skew=0.75).store
    ref = cifar10(cifar_root, skew=0.75)
    assert cifar.images.shape == (230, 3, 32, 32) and cifar.attr_names == ("colour", "grayscale")
    assert torch.allclose(cifar.dataset("train").x[:], ref.train.x, atol=0.5 / 255)
    again = prepare_local("cifar10", cifar_root, out=tmp_path / "c.uastore", workers=1, progress=False, skew=0.75)
    assert again.unchanged
    with pytest.raises(FileNotFoundError, match=r"does not exist; CelebA is never downloaded"):
        prepare_local("celeba", tmp_path / "nowhere", out=tmp_path / "x.uastore", progress=False)


# ------------------------------------------------------------------------------------------------ reference audits
def test_reference_spec_on_a_local_copy(tmp_path, waterbirds_root, capsys):
    from unlearn_audit.audit import REFERENCE_AUDITS, reference_spec
    from unlearn_audit.data import StoredImages
    from unlearn_audit.datasets import waterbirds

    assert set(REFERENCE_AUDITS) == {"celeba", "waterbirds", "fairface", "cifar10"}
    store = tmp_path / "wb.uastore"
    spec = reference_spec("waterbirds", root=waterbirds_root, store=store, size=8, workers=1, progress=False,
                          device="cpu", cache_dir=False)
    ref = waterbirds(waterbirds_root, size=8)
    assert isinstance(spec.data.train.x, StoredImages) and torch.equal(spec.data.forget_idx, ref.forget_idx)
    assert spec.data.dominant_groups == ((1, 0),) and spec.recipe.lr == 1e-2 and spec.recipe.schedule == "constant"
    assert spec.recipe.epochs == 30 and spec.recipe.batch_size == 32
    model = spec.model_factory()
    assert model(spec.data.train.x[:2]).shape == (2, 2)
    assert _cli("reference", "waterbirds", "--root", str(tmp_path / "absent"), "--no-progress") == 2
    err = capsys.readouterr().err
    assert "absent' does not exist; Waterbirds is never downloaded" in err and "metadata.csv" in err
