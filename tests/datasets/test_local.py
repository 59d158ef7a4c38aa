"""Loaders of local benchmark copies, on tiny fake roots built in tmp_path (nothing is downloaded)."""

from __future__ import annotations

import csv
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from unlearn_audit.datasets import celeba, cifar10, fairface, waterbirds
from unlearn_audit.datasets._local import FAIRFACE_AGES, FAIRFACE_RACES

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _png(path: Path, rng: np.random.Generator, size=(12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


# ------------------------------------------------------------------------------------------------ Waterbirds
#: (y, place, split, count): 3 waterbirds on land in train, so the default forget request takes 1
WATERBIRDS = [(0, 0, 0, 4), (0, 1, 0, 2), (1, 0, 0, 3), (1, 1, 0, 4),
              (0, 0, 1, 2), (1, 1, 1, 2), (0, 1, 2, 2), (1, 0, 2, 2)]


@pytest.fixture(scope="module")
def waterbirds_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wb") / "waterbird_complete95_forest2water2"
    rng = np.random.default_rng(0)
    rows, i = [], 0
    for y, place, split, count in WATERBIRDS:
        for _ in range(count):
            fname = f"{'001.Albatross' if y else '002.Sparrow'}/bird_{i:03d}.png"
            _png(root / fname, rng, size=(14 + i % 3, 11))
            rows.append([i, fname, y, split, place, f"place_{i}.jpg"])
            i += 1
    _write_csv(root / "metadata.csv", ["img_id", "img_filename", "y", "split", "place", "place_filename"], rows)
    return root


def test_waterbirds(waterbirds_root):
    data = waterbirds(waterbirds_root.parent, size=8)  # the parent holding waterbird_complete95_forest2water2/
    assert (len(data.train), len(data.val), len(data.test)) == (13, 4, 4)
    assert data.train.x.shape[1:] == (3, 8, 8) and data.train.x.dtype == torch.float32
    assert 0.0 <= float(data.train.x.min()) and float(data.train.x.max()) <= 1.0
    assert data.train.group_counts().tolist() == [4, 2, 3, 4]
    assert data.val.group_counts().tolist() == [2, 0, 0, 2]
    assert data.train.classes == ("landbird", "waterbird") and data.train.attr_names == ("land", "water")
    assert data.dominant_groups == ((1, 0),) and data.forget.group_counts().tolist() == [0, 0, 1, 0]
    assert data.train.mean == (0.5, 0.5, 0.5)


def test_waterbirds_pixels_match_the_files(waterbirds_root):
    """The first train image, read back at its own size-independent check: resize + centre-crop of the PNG."""
    from torchvision import transforms

    data = waterbirds(waterbirds_root, size=10)
    first = next(r for r in csv.DictReader(open(waterbirds_root / "metadata.csv")) if r["split"] == "0")
    img = Image.open(waterbirds_root / first["img_filename"]).convert("RGB")
    expected = transforms.Compose([transforms.Resize(10), transforms.CenterCrop(10), transforms.ToTensor()])(img)
    torch.testing.assert_close(data.train.x[0], expected)


def test_waterbirds_max_samples_and_seed(waterbirds_root):
    kw = dict(size=8, max_samples=10, forget_groups=((0, 0),), forget_ratio=1.0)  # >= 1 of the 4 (0, 0) kept
    a = waterbirds(waterbirds_root, seed=0, **kw)
    assert (len(a.train), len(a.val), len(a.test)) == (10, 4, 4)
    assert a.fingerprint() == waterbirds(waterbirds_root, seed=0, **kw).fingerprint()
    assert a.train.fingerprint() != waterbirds(waterbirds_root, seed=1, **kw).train.fingerprint()


def test_waterbirds_missing_image(tmp_path, waterbirds_root):
    import shutil

    root = tmp_path / "wb"
    shutil.copytree(waterbirds_root, root)
    next((root / "001.Albatross").iterdir()).unlink()
    with pytest.raises(FileNotFoundError, match=r"^root: 1 image file\(s\) listed in the Waterbirds metadata"):
        waterbirds(root, size=8)


def test_waterbirds_bad_metadata(tmp_path):
    _write_csv(tmp_path / "metadata.csv", ["img_filename", "y", "split"], [["a.png", 0, 0]])
    with pytest.raises(ValueError, match=r"^root: .*metadata.csv' lacks column\(s\) \['place'\]"):
        waterbirds(tmp_path)


# ------------------------------------------------------------------------------------------------ FairFace
@pytest.fixture(scope="module")
def fairface_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ff") / "fairface"
    rng = np.random.default_rng(1)
    header = ["file", "age", "gender", "race", "service_test"]
    train_rows = []
    for i in range(24):
        age, race = ("20-29", "Black") if i < 8 else (FAIRFACE_AGES[i % 9], FAIRFACE_RACES[i % 7])
        train_rows.append([f"train/{i + 1}.jpg", age, "Male" if i % 2 else "Female", race, "True"])
    train_rows += [[f"train/{i}.jpg", "0-2", "Male", "White", "False"] for i in range(25, 29)]  # filtered out
    val_rows = [[f"val/{i + 1}.jpg", FAIRFACE_AGES[i % 9], "Female", FAIRFACE_RACES[(i + 2) % 7], "True"]
                for i in range(6)]
    for rows in (train_rows, val_rows):
        for row in rows:
            _png(root / row[0], rng, size=(16, 16))
    _write_csv(root / "fairface_label_train.csv", header, train_rows)
    _write_csv(root / "fairface_label_val.csv", header, val_rows)
    return root


def test_fairface(fairface_root):
    data = fairface(fairface_root.parent, size=8, val_fraction=0.25, seed=0)  # parent holding fairface/
    assert (len(data.train), len(data.val), len(data.test)) == (18, 6, 6)  # service_test=False rows dropped
    train = data.train
    assert (train.n_classes, train.n_attrs) == (9, 7)
    assert train.classes == FAIRFACE_AGES and train.attr_names == FAIRFACE_RACES
    assert data.dominant_groups == ((3, 0),)  # (20-29, Black)
    n_group = int(train.group_counts()[3 * 7 + 0])
    assert n_group >= 2 and len(data.forget) == math.floor(0.5 * n_group)
    assert data.forget.group_counts()[21] == len(data.forget)
    assert data.test.y.tolist() == [i % 9 for i in range(6)]
    assert data.test.a.tolist() == [(i + 2) % 7 for i in range(6)]


def test_fairface_all_rows_and_determinism(fairface_root):
    data = fairface(fairface_root, size=8, service_test_only=False, val_fraction=0.25, seed=0)
    assert len(data.train) + len(data.val) == 28
    again = fairface(fairface_root, size=8, service_test_only=False, val_fraction=0.25, seed=0)
    assert again.fingerprint() == data.fingerprint()
    other = fairface(fairface_root, size=8, service_test_only=False, val_fraction=0.25, seed=5)
    assert other.val.fingerprint() != data.val.fingerprint()


def test_fairface_unknown_age(tmp_path, fairface_root):
    import shutil

    root = tmp_path / "ff"
    shutil.copytree(fairface_root, root)
    text = (root / "fairface_label_val.csv").read_text().replace("3-9", "3-8")
    (root / "fairface_label_val.csv").write_text(text)
    with pytest.raises(ValueError, match=r"column 'age' has unexpected value\(s\) \['3-8'\]"):
        fairface(root, size=8)


# ------------------------------------------------------------------------------------------------ CIFAR-10
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory) -> Path:
    """The pickled python-version batches torchvision reads (40 images per train batch, 30 test images)."""
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(2)
    batches = [(f"data_batch_{k}", 40) for k in range(1, 6)] + [("test_batch", 30)]
    for name, n in batches:
        entry = {"batch_label": name, "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in np.arange(n) % 10], "filenames": [f"{i}.png" for i in range(n)]}
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": CIFAR_NAMES, "num_cases_per_batch": 40, "num_vis": 3072}, fh)
    return root


@pytest.fixture
def no_md5(monkeypatch):
    """The fake files cannot match torchvision's MD5 sums; everything else is torchvision's real reading code."""
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *a, **k: True)
    monkeypatch.setattr("torchvision.datasets.celeba.check_integrity", lambda *a, **k: True)


def test_cifar10_grayscale(cifar_root, no_md5):
    data = cifar10(cifar_root, skew=0.75, val_fraction=0.1, seed=0)
    train, test = data.train, data.test
    assert (len(train), len(data.val), len(test)) == (180, 20, 30)
    assert train.x.shape[1:] == (3, 32, 32) and train.classes == tuple(CIFAR_NAMES)
    assert train.attr_names == ("colour", "grayscale") and train.mean == (0.4914, 0.4822, 0.4465)
    gray = (train.x[:, 0] == train.x[:, 1]).flatten(1).all(1) & (train.x[:, 1] == train.x[:, 2]).flatten(1).all(1)
    assert torch.equal(gray, train.a == 1)  # a = 1 images are grayscale, a = 0 keep their (random) colours
    for c in range(10):
        a = train.a[train.y == c]
        n_minor = int((a != c % 2).sum())
        assert n_minor == round(0.25 * len(a))  # even classes mostly colour, odd classes mostly grayscale
        t = test.a[test.y == c]
        assert abs(int((t == 0).sum()) - int((t == 1).sum())) <= 1  # test: colour-balanced per class
    assert data.dominant_groups == ((3, 0),) and len(data.forget) == math.floor(0.5 * int(train.group_counts()[6]))


def test_cifar10_pixels_are_torchvision_pixels(cifar_root, no_md5):
    from torchvision.datasets import CIFAR10

    data = cifar10(cifar_root, attribute="superclass", val_fraction=0.1, seed=0)
    raw = CIFAR10(str(cifar_root), train=False)
    expected = torch.from_numpy(raw.data).permute(0, 3, 1, 2).float() / 255
    torch.testing.assert_close(data.test.x, expected)
    assert data.test.y.tolist() == raw.targets
    animals = torch.tensor([c in (2, 3, 4, 5, 6, 7) for c in data.test.y.tolist()])
    assert torch.equal(data.test.a.bool(), animals)
    assert data.dominant_groups == ((3, 1),)


def test_cifar10_explicit_attribute_and_max_samples(cifar_root, no_md5):
    attr = {"train": np.arange(200) % 2, "test": np.arange(30) % 2}  # every class-0 image has a = 0
    data = cifar10(cifar_root, attribute=attr, forget_groups=((0, 0),), max_samples=50, seed=1)
    assert (len(data.train), len(data.val), len(data.test)) == (50, 20, 30)
    assert data.train.n_attrs == 2 and data.test.a.tolist() == [i % 2 for i in range(30)]
    assert data.train.attr_names == ("0", "1")
    with pytest.raises(ValueError, match=r"^attribute: 'test' must be 30 integers"):
        cifar10(cifar_root, attribute={"train": np.zeros(200, dtype=int), "test": np.zeros(5, dtype=int)})


def test_cifar10_bad_arguments(cifar_root, no_md5):
    with pytest.raises(ValueError, match=r"^attribute: expected 'grayscale', 'superclass'"):
        cifar10(cifar_root, attribute="brightness")
    with pytest.raises(ValueError, match=r"^max_samples: expected None or a positive int, got 0"):
        cifar10(cifar_root, max_samples=0)
    with pytest.raises(ValueError, match=r"^skew: expected a number in \(0\.5, 1\)"):
        cifar10(cifar_root, skew=1.0)


def test_cifar10_md5_mismatch_is_reported(cifar_root):
    with pytest.raises(RuntimeError, match=r"^root: .* has the CIFAR-10 layout but torchvision could not read it"):
        cifar10(cifar_root)


# ------------------------------------------------------------------------------------------------ CelebA
CELEBA_ATTRS = ["Blond_Hair", "Male", "Smiling"]


@pytest.fixture(scope="module")
def celeba_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("celeba")
    folder = root / "celeba"
    rng = np.random.default_rng(3)
    n = 16
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for name in names:
        _png(folder / "img_align_celeba" / name, rng, size=(22, 18))
    blond = [1 if i % 4 in (0, 1) else -1 for i in range(n)]
    male = [1 if i % 2 else -1 for i in range(n)]
    partition = [0] * 10 + [1] * 3 + [2] * 3
    lines = {
        "list_attr_celeba.txt": [str(n), " ".join(CELEBA_ATTRS)]
        + [f"{nm} {b:2d} {m:2d}  1" for nm, b, m in zip(names, blond, male)],
        "identity_CelebA.txt": [f"{nm} {i}" for i, nm in enumerate(names)],
        "list_bbox_celeba.txt": [str(n), "image_id x_1 y_1 width height"] + [f"{nm} 1 2 3 4" for nm in names],
        "list_landmarks_align_celeba.txt": [str(n), "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
                                            "leftmouth_x leftmouth_y rightmouth_x rightmouth_y"]
        + [f"{nm} " + " ".join(["5"] * 10) for nm in names],
        "list_eval_partition.txt": [f"{nm} {p}" for nm, p in zip(names, partition)],
    }
    for fname, rows in lines.items():
        (folder / fname).write_text("\n".join(rows) + "\n")
    return root


def test_celeba(celeba_root, no_md5):
    data = celeba(celeba_root, size=8)
    assert (len(data.train), len(data.val), len(data.test)) == (10, 3, 3)
    train = data.train
    assert train.x.shape[1:] == (3, 8, 8) and train.classes == ("not Blond_Hair", "Blond_Hair")
    assert train.y.tolist() == [1 if i % 4 in (0, 1) else 0 for i in range(10)]
    assert train.a.tolist() == [i % 2 for i in range(10)]
    assert data.dominant_groups == ((1, 1),)
    assert len(data.forget) == math.floor(0.5 * int(train.group_counts()[3])) == 1


def test_celeba_other_target_and_bad_name(celeba_root, no_md5):
    data = celeba(celeba_root / "celeba", target="Smiling", attribute="Male", size=8, forget_groups=((1, 0),))
    assert data.train.y.tolist() == [1] * 10
    with pytest.raises(ValueError, match=r"^target: 'Blonde' is not a CelebA attribute"):
        celeba(celeba_root, target="Blonde", size=8)


# ------------------------------------------------------------------------------------------------ missing roots
LOADERS = {"cifar10": (cifar10, "cifar-10-batches-py"), "celeba": (celeba, "list_attr_celeba.txt"),
           "waterbirds": (waterbirds, "metadata.csv"), "fairface": (fairface, "fairface_label_train.csv")}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_missing_root(tmp_path, name):
    loader, expected = LOADERS[name]
    with pytest.raises(FileNotFoundError, match=r"^root: '.*nowhere' does not exist; .* is never downloaded") as err:
        loader(tmp_path / "nowhere")
    assert expected in str(err.value)  # the message shows the expected layout


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_root_without_the_layout(tmp_path, name):
    loader, expected = LOADERS[name]
    with pytest.raises(FileNotFoundError, match=r"^root: '.*' does not contain the expected files") as err:
        loader(tmp_path)
    assert expected in str(err.value)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_root_type(name):
    with pytest.raises(TypeError, match=r"^root: expected a path"):
        LOADERS[name][0](None)
