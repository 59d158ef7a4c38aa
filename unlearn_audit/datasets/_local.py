"""Loaders for LOCAL copies of public benchmarks (CIFAR-10, CelebA, Waterbirds, FairFace); nothing is downloaded.

Every loader returns an ``AuditData`` whose images are float32 ``(N, 3, size, size)`` tensors in ``[0, 1]``
held in memory (about ``N * 3 * size**2 * 4`` bytes: 0.6 GB for Waterbirds at 64 px, 0.7 GB for full CIFAR-10),
so each takes ``max_samples`` to keep a seeded uniform subsample of every split. The forget request follows the
group protocol of De Min et al. 2025 (``forget_from_groups``: ``floor(r * |G|)`` samples of each named group).
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch

from ..data import AuditData, GroupDataset, forget_from_groups

__all__ = ["cifar10", "celeba", "waterbirds", "fairface", "FAIRFACE_AGES", "FAIRFACE_RACES", "LocalListing",
           "celeba_listing", "fairface_listing", "waterbirds_listing"]

#: FairFace age bins (class index = position), as in GRMU's FairFace loader.
FAIRFACE_AGES = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70")
#: FairFace race values (attribute index = position), GRMU's order, so group (3, 0) = (20-29, Black).
FAIRFACE_RACES = ("Black", "Southeast Asian", "Middle Eastern", "Indian", "Latino_Hispanic", "White", "East Asian")
_HALF = (0.5, 0.5, 0.5)
_CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
_CIFAR_STD = (0.2470, 0.2435, 0.2616)
_CIFAR_ANIMALS = (2, 3, 4, 5, 6, 7)  # bird, cat, deer, dog, frog, horse


# --------------------------------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class LocalListing:
    """The samples of a local image data set before decoding: one image file per sample, in source order.

    Attributes:
        name: short data set name (``"waterbirds"``...); title: its usual spelling (``"Waterbirds"``).
        files: image paths; y, a: int64 labels and attributes; split: int64 codes 0 train, 1 val, 2 test.
        classes, attr_names, mean, std: as in ``GroupDataset``; forget_groups: the default forget request.
    """

    name: str
    title: str
    files: list[Path]
    y: torch.Tensor
    a: torch.Tensor
    split: torch.Tensor
    classes: tuple[str, ...]
    attr_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    forget_groups: tuple[tuple[int, int], ...]


def _find_root(root: Any, *, dataset: str, markers: Sequence[str], subdirs: Sequence[str] = (),
               layout: str) -> Path:
    """The folder under ``root`` (``root`` itself or one of ``subdirs``) that contains every path in ``markers``.

    Raises:
        TypeError: ``root`` is not a path.
        FileNotFoundError: no such folder; the message names ``root`` and the expected layout.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root: expected a path to a local copy of {dataset}, got {type(root).__name__}")
    base = Path(root).expanduser()
    for cand in (base, *(base / s for s in subdirs)):
        if all((cand / m).exists() for m in markers):
            return cand
    what = "does not exist" if not base.exists() else "does not contain the expected files"
    raise FileNotFoundError(f"root: {str(base)!r} {what}; {dataset} is never downloaded, point root at a local "
                            f"copy laid out as:\n{layout}")


def _check_common(max_samples: Any, size: Any | None = None) -> None:
    if max_samples is not None and (not isinstance(max_samples, int) or isinstance(max_samples, bool)
                                    or max_samples < 1):
        raise ValueError(f"max_samples: expected None or a positive int, got {max_samples!r}")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
        raise ValueError(f"size: expected an int >= 8, got {size!r}")


def _check_fraction(name: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"{name}: expected a number in (0, 1), got {value!r}")


def _subsample(idx: torch.Tensor, max_samples: int | None, gen: torch.Generator) -> torch.Tensor:
    """A seeded uniform subsample of at most ``max_samples`` of ``idx``, in ``idx``'s order."""
    if max_samples is None or len(idx) <= max_samples:
        return idx
    keep = torch.sort(torch.randperm(len(idx), generator=gen)[:max_samples]).values
    return idx[keep]


def _split_off(idx: torch.Tensor, fraction: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``idx`` and cut it into ``(rest, part)`` with ``round(fraction * n)`` in ``part`` (both sorted)."""
    perm = idx[torch.randperm(len(idx), generator=gen)]
    k = round(fraction * len(idx))
    return torch.sort(perm[k:]).values, torch.sort(perm[:k]).values


def _read_csv(path: Path, columns: Sequence[str], optional: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The named columns of a CSV file with a header row, as stripped string arrays (``optional`` ones if present).

    Raises:
        ValueError: a required column is missing or the rows are ragged (the message names the file).
    """
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows:
        raise ValueError(f"root: {str(path)!r} is empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"root: {str(path)!r} lacks column(s) {missing} (found {header})")
    try:
        body = np.array(rows[1:], dtype=str).reshape(len(rows) - 1, len(header))
    except ValueError:
        raise ValueError(f"root: {str(path)!r} has rows whose length differs from the header's") from None
    return {c: np.char.strip(body[:, header.index(c)]) for c in (*columns, *optional) if c in header}


def _encode(values: np.ndarray, vocab: Sequence[str], *, column: str, path: Path) -> torch.Tensor:
    """Map string values onto their position in ``vocab`` (vectorised)."""
    uniq, inverse = np.unique(values, return_inverse=True)
    lookup = {v: i for i, v in enumerate(vocab)}
    unknown = [str(u) for u in uniq if u not in lookup]
    if unknown:
        raise ValueError(f"root: {str(path)!r} column {column!r} has unexpected value(s) {unknown[:5]} "
                         f"(expected one of {tuple(vocab)})")
    codes = np.array([lookup[u] for u in uniq], dtype=np.int64)
    return torch.from_numpy(codes[inverse.reshape(-1)])


def _as_int(values: np.ndarray, *, column: str, path: Path) -> torch.Tensor:
    try:
        return torch.from_numpy(values.astype(np.float64).astype(np.int64))
    except ValueError:
        raise ValueError(f"root: {str(path)!r} column {column!r} must hold integers") from None


class _ImageFiles(torch.utils.data.Dataset):
    """Decode image files to ``(3, size, size)`` tensors in [0, 1]: resize the short side, centre-crop."""

    def __init__(self, paths: Sequence[Path], size: int) -> None:
        from torchvision import transforms

        self.paths = list(paths)
        self.transform = transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size),
                                             transforms.ToTensor()])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            return self.transform(img.convert("RGB"))


def _decode(dataset: torch.utils.data.Dataset, *, size: int, num_workers: int) -> torch.Tensor:
    """Stack every image of ``dataset`` into one float32 tensor (a ``DataLoader`` does the decoding)."""
    if len(dataset) == 0:
        return torch.zeros(0, 3, size, size)
    loader = torch.utils.data.DataLoader(dataset, batch_size=256, shuffle=False, num_workers=num_workers)
    return torch.cat(list(loader)).clamp_(0.0, 1.0)


def _missing_files(paths: Sequence[Path], *, dataset: str) -> None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"root: {len(missing)} image file(s) listed in the {dataset} metadata are missing, "
                                f"e.g. {str(missing[0])!r}")


def _audit(splits: dict[str, GroupDataset], groups: tuple[tuple[int, int], ...], ratio: float,
           seed: int) -> AuditData:
    forget_idx = forget_from_groups(splits["train"], groups=groups, ratio=ratio, seed=seed)
    return AuditData(train=splits["train"], val=splits["val"], test=splits["test"], forget_idx=forget_idx,
                     dominant_groups=groups)


# --------------------------------------------------------------------------------------------------- CIFAR-10
def cifar10(root: str | os.PathLike, *, attribute: Literal["grayscale", "superclass"] | Mapping[str, Any]
            = "grayscale", skew: float = 0.95, val_fraction: float = 0.1,
            forget_groups: tuple[tuple[int, int], ...] | None = None, forget_ratio: float = 0.5,
            max_samples: int | None = None, seed: int = 0) -> AuditData:
    """CIFAR-10 from a local copy (``torchvision.datasets.CIFAR10(root, download=False)``), 32x32, 10 classes.

    CIFAR-10 has no sensitive attribute, so ``attribute`` chooses one:

    - ``"grayscale"`` (default): a CIFAR-10S-style skew (after Wang et al., CVPR 2020). ``a = 1`` images are
      converted to grayscale (``0.299 R + 0.587 G + 0.114 B`` on every channel), ``a = 0`` stay in colour. In
      train, a share ``skew`` of every even class is in colour and of every odd class in grayscale (exactly
      ``round((1 - skew) * n_c)`` minority images per class); val and test are colour-balanced within each
      class. Default forget request: half of group ``(3, 0)`` -- cats (an odd class) in colour, a minority group.
    - ``"superclass"``: ``a = 1`` for animals (bird, cat, deer, dog, frog, horse), ``a = 0`` for vehicles. ``a`` is
      a function of ``y``, so every class forms a single group and group metrics reduce to class metrics; the
      default forget request is half of group ``(3, 1)`` (cats).
    - a mapping ``{"train": array, "test": array}`` of integer attributes aligned with the official train
      (50,000) and test (10,000) order; the default forget request is then ``(3, 0)`` (pass ``forget_groups``).

    Splits: the official train set is shuffled (by ``seed``) into train and val (``val_fraction``); the official
    test set is the test split. Normalization (inside the model): the usual CIFAR-10 mean/std.

    Args:
        root: folder containing ``cifar-10-batches-py/`` (or that folder itself).
        attribute: see above.
        skew: train share of the majority colour mode per class for ``"grayscale"``, in (0.5, 1).
        val_fraction: share of the official train set used for validation, in (0, 1).
        forget_groups: ``(y, a)`` groups to forget from.
        forget_ratio: fraction of each forget group to forget, in ``(0, 1]``.
        max_samples: keep at most this many samples per split (seeded uniform subsample, taken before the
            attribute is assigned); ``None`` keeps all.
        seed: fixes splits, subsamples, attribute assignment and the forget set.

    Raises:
        FileNotFoundError: ``root`` does not hold the ``cifar-10-batches-py`` layout.
        ValueError: bad arguments.
    """
    from ._colored_digits import _assign_colours

    layout = ("  <root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}  (the python version of "
              "CIFAR-10, as torchvision.datasets.CIFAR10 extracts it)")
    markers = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta"]
    folder = _find_root(root, dataset="CIFAR-10", markers=markers, subdirs=("cifar-10-batches-py",), layout=layout)
    if folder.name != "cifar-10-batches-py":
        raise FileNotFoundError(f"root: the CIFAR-10 batches must sit in a folder named 'cifar-10-batches-py'; "
                                f"expected layout:\n{layout}")
    _check_common(max_samples)
    _check_fraction("val_fraction", val_fraction)
    if not isinstance(attribute, Mapping) and attribute not in ("grayscale", "superclass"):
        raise ValueError(f"attribute: expected 'grayscale', 'superclass' or a mapping of arrays, got {attribute!r}")
    if attribute == "grayscale" and (not isinstance(skew, (int, float)) or not 0.5 < skew < 1):
        raise ValueError(f"skew: expected a number in (0.5, 1), got {skew!r}")
    from torchvision.datasets import CIFAR10

    official = {}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = CIFAR10(str(folder.parent), train=train, download=False)
        except RuntimeError as exc:
            raise RuntimeError(f"root: {str(folder)!r} has the CIFAR-10 layout but torchvision could not read it "
                               f"({exc})") from exc
        x = torch.from_numpy(np.asarray(ds.data)).permute(0, 3, 1, 2)
        official[split] = (x, torch.as_tensor(ds.targets, dtype=torch.int64), list(ds.classes))
    explicit = None
    if isinstance(attribute, Mapping):
        explicit = {}
        for split in ("train", "test"):
            if split not in attribute:
                raise ValueError(f"attribute: the mapping needs a {split!r} array, got keys {sorted(attribute)}")
            a = torch.as_tensor(np.asarray(attribute[split]))
            if a.shape != official[split][1].shape or a.is_floating_point():
                raise ValueError(f"attribute: {split!r} must be {len(official[split][1])} integers aligned with the "
                                 f"official {split} order, got shape {tuple(a.shape)} dtype {a.dtype}")
            explicit[split] = a.to(torch.int64)
    gen = torch.Generator().manual_seed(int(seed))
    train_idx, val_idx = _split_off(torch.arange(len(official["train"][1])), val_fraction, gen)
    parts = {"train": ("train", train_idx), "val": ("train", val_idx),
             "test": ("test", torch.arange(len(official["test"][1])))}
    classes = tuple(official["train"][2])
    if attribute == "superclass":
        attr_names: tuple[str, ...] = ("vehicle", "animal")
    elif attribute == "grayscale":
        attr_names = ("colour", "grayscale")
    else:
        attr_names = tuple(str(v) for v in range(int(max(explicit[s].max() for s in explicit)) + 1))
    gray_w = torch.tensor([0.299, 0.587, 0.114])
    splits = {}
    for name, (source, idx) in parts.items():
        idx = _subsample(idx, max_samples, gen)
        x8, y = official[source][0][idx], official[source][1][idx]
        x = x8.to(torch.float32) / 255.0
        if attribute == "superclass":
            a = torch.isin(y, torch.tensor(_CIFAR_ANIMALS)).long()
        elif attribute == "grayscale":
            a = _assign_colours(y, skew if name == "train" else 0.5, gen)
            gray = (x * gray_w[None, :, None, None]).sum(1, keepdim=True).expand_as(x)
            x = torch.where(a.bool()[:, None, None, None], gray, x).clamp_(0.0, 1.0)
        else:
            a = explicit[source][idx]
        splits[name] = GroupDataset(x, y, a, classes=classes, attr_names=attr_names, mean=_CIFAR_MEAN,
                                    std=_CIFAR_STD, name=f"cifar10/{name}", n_classes=len(classes),
                                    n_attrs=len(attr_names))
    default = ((3, 1),) if attribute == "superclass" else ((3, 0),)
    return _audit(splits, tuple(forget_groups) if forget_groups is not None else default, forget_ratio, seed)


# --------------------------------------------------------------------------------------------------- CelebA
def celeba(root: str | os.PathLike, *, target: str = "Blond_Hair", attribute: str = "Male", size: int = 64,
           forget_groups: tuple[tuple[int, int], ...] | None = None, forget_ratio: float = 0.5,
           max_samples: int | None = None, num_workers: int = 0, seed: int = 0) -> AuditData:
    """CelebA from a local copy (``torchvision.datasets.CelebA(root, download=False)``), official splits.

    ``y`` = the binary CelebA attribute ``target`` (default ``Blond_Hair``), ``a`` = the binary attribute
    ``attribute`` (default ``Male``), both 0/1 as torchvision maps them. Images are the aligned 178x218 crops,
    resized (short side) and centre-cropped to ``size x size``; normalization ``(0.5, 0.5, 0.5)``.
    Splits: the official train / valid / test partition (``list_eval_partition.txt``). Default forget request
   : half of group ``(1, 1)`` -- blond men, the smallest group (1,387 of 162,770 train images).

    The full train split at 64 px needs about 8 GB: use ``max_samples`` to keep a subsample.

    Args:
        root: folder containing ``celeba/`` (or that folder itself).
        target, attribute: names of CelebA's 40 binary attributes.
        size: image side in pixels (>= 8).
        forget_groups: ``(y, a)`` groups to forget from (default ``((1, 1),)``).
        forget_ratio: fraction of each forget group to forget, in ``(0, 1]``.
        max_samples: keep at most this many samples per split (seeded uniform subsample); ``None`` keeps all.
        num_workers: ``DataLoader`` workers used to decode the images.
        seed: fixes subsamples and the forget set.

    Raises:
        FileNotFoundError: ``root`` does not hold the ``celeba`` layout.
        ValueError: unknown ``target``/``attribute`` or bad arguments.
    """
    _check_common(max_samples, size)
    listing = celeba_listing(root, target=target, attribute=attribute)
    return _decoded_audit(listing, size=size, max_samples=max_samples, num_workers=num_workers,
                          forget_groups=forget_groups, forget_ratio=forget_ratio, seed=seed)


def celeba_listing(root: str | os.PathLike, *, target: str = "Blond_Hair", attribute: str = "Male") -> LocalListing:
    """The CelebA samples of a local copy (official partition), undecoded; see ``celeba``."""
    layout = ("  <root>/celeba/img_align_celeba/*.jpg\n  <root>/celeba/{list_attr_celeba.txt, identity_CelebA.txt, "
              "list_bbox_celeba.txt, list_landmarks_align_celeba.txt, list_eval_partition.txt}  "
              "(torchvision.datasets.CelebA's layout)")
    markers = ["img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt",
               "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt"]
    folder = _find_root(root, dataset="CelebA", markers=markers, subdirs=("celeba",), layout=layout)
    if folder.name != "celeba":
        raise FileNotFoundError(f"root: the CelebA files must sit in a folder named 'celeba'; expected layout:\n"
                                f"{layout}")
    from torchvision.datasets import CelebA

    files, ys, as_, codes = [], [], [], []
    for code, tv_split in enumerate(("train", "valid", "test")):
        try:
            ds = CelebA(str(folder.parent), split=tv_split, target_type="attr", download=False)
        except RuntimeError as exc:
            raise RuntimeError(f"root: {str(folder)!r} has the CelebA layout but torchvision could not read it "
                               f"({exc})") from exc
        names = list(ds.attr_names)
        for key, val in (("target", target), ("attribute", attribute)):
            if val not in names:
                raise ValueError(f"{key}: {val!r} is not a CelebA attribute; choose one of {[n for n in names if n]}")
        files += [folder / "img_align_celeba" / f for f in ds.filename]
        ys.append(ds.attr[:, names.index(target)].long())
        as_.append(ds.attr[:, names.index(attribute)].long())
        codes.append(torch.full((len(ds.filename),), code, dtype=torch.int64))
    return LocalListing(name="celeba", title="CelebA", files=files, y=torch.cat(ys), a=torch.cat(as_),
                        split=torch.cat(codes),
                        classes=(f"not {target}", target), attr_names=(f"not {attribute}", attribute), mean=_HALF,
                        std=_HALF, forget_groups=((1, 1),))


def _decoded_audit(listing: LocalListing, *, size: int, max_samples: int | None, num_workers: int,
                   forget_groups: tuple[tuple[int, int], ...] | None, forget_ratio: float, seed: int,
                   gen: torch.Generator | None = None) -> AuditData:
    """Decode a seeded subsample of every split of ``listing`` into float32 tensors and build the audit."""
    gen = gen if gen is not None else torch.Generator().manual_seed(int(seed))
    splits = {}
    for code, name in enumerate(("train", "val", "test")):
        idx = _subsample((listing.split == code).nonzero().flatten(), max_samples, gen)
        if len(idx) == 0:
            raise ValueError(f"root: the {listing.title} {name} split is empty (check the source's split column)")
        paths = [listing.files[i] for i in idx.tolist()]
        _missing_files(paths, dataset=listing.title)
        x = _decode(_ImageFiles(paths, size), size=size, num_workers=num_workers)
        splits[name] = GroupDataset(x, listing.y[idx], listing.a[idx], classes=listing.classes,
                                    attr_names=listing.attr_names, mean=listing.mean, std=listing.std,
                                    name=f"{listing.name}/{name}", n_classes=len(listing.classes),
                                    n_attrs=len(listing.attr_names))
    groups = tuple(forget_groups) if forget_groups is not None else listing.forget_groups
    return _audit(splits, groups, forget_ratio, seed)


# --------------------------------------------------------------------------------------------------- Waterbirds
def waterbirds(root: str | os.PathLike, *, size: int = 64, forget_groups: tuple[tuple[int, int], ...] | None = None,
               forget_ratio: float = 0.5, max_samples: int | None = None, num_workers: int = 0,
               seed: int = 0) -> AuditData:
    """Waterbirds (Sagawa et al., 2020) from a local copy in the standard ``metadata.csv`` layout.

    ``y`` = ``y`` column (0 landbird, 1 waterbird), ``a`` = ``place`` column (0 land, 1 water). Splits: the
    ``split`` column (0 train, 1 val, 2 test). Images are resized (short side) and centre-cropped to
    ``size x size``; normalization ``(0.5, 0.5, 0.5)``. Default forget request (GRMU split 0): half of
    group ``(1, 0)`` -- waterbirds on land, the smallest train group (56 of 4,795 images in the standard
    ``waterbird_complete95_forest2water2`` release).

    Args:
        root: folder holding ``metadata.csv`` and the image folders (or a parent holding
            ``waterbird_complete95_forest2water2/``).
        size: image side in pixels (>= 8).
        forget_groups: ``(y, a)`` groups to forget from (default ``((1, 0),)``).
        forget_ratio: fraction of each forget group to forget, in ``(0, 1]``.
        max_samples: keep at most this many samples per split (seeded uniform subsample); ``None`` keeps all.
        num_workers: ``DataLoader`` workers used to decode the images.
        seed: fixes subsamples and the forget set.

    Raises:
        FileNotFoundError: ``root`` has no ``metadata.csv`` or an image it lists is missing.
        ValueError: malformed metadata or bad arguments.
    """
    _check_common(max_samples, size)
    listing = waterbirds_listing(root)
    return _decoded_audit(listing, size=size, max_samples=max_samples, num_workers=num_workers,
                          forget_groups=forget_groups, forget_ratio=forget_ratio, seed=seed)


def waterbirds_listing(root: str | os.PathLike) -> LocalListing:
    """The Waterbirds samples of a local copy (``metadata.csv`` splits), undecoded; see ``waterbirds``."""
    layout = ("  <root>/metadata.csv  with columns img_filename, y, split, place (split: 0 train, 1 val, 2 test)\n"
              "  <root>/<img_filename>  e.g. 001.Black_footed_Albatross/Black_Footed_Albatross_0009_34.jpg")
    folder = _find_root(root, dataset="Waterbirds", markers=["metadata.csv"],
                        subdirs=("waterbird_complete95_forest2water2", "waterbirds"), layout=layout)
    path = folder / "metadata.csv"
    meta = _read_csv(path, ["img_filename", "y", "split", "place"])
    y_all = _as_int(meta["y"], column="y", path=path)
    a_all = _as_int(meta["place"], column="place", path=path)
    split_all = _as_int(meta["split"], column="split", path=path)
    for col, t in (("y", y_all), ("place", a_all)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) > 1):
            raise ValueError(f"root: {str(path)!r} column {col!r} must be 0/1")
    for code, name in enumerate(("train", "val", "test")):
        if not bool((split_all == code).any()):
            raise ValueError(f"root: {str(path)!r} has no row with split={code} ({name})")
    return LocalListing(name="waterbirds", title="Waterbirds", files=[folder / f for f in meta["img_filename"]],
                        y=y_all, a=a_all,
                        split=split_all, classes=("landbird", "waterbird"), attr_names=("land", "water"),
                        mean=_HALF, std=_HALF, forget_groups=((1, 0),))


# --------------------------------------------------------------------------------------------------- FairFace
def fairface(root: str | os.PathLike, *, size: int = 64, service_test_only: bool = True, val_fraction: float = 0.1,
             forget_groups: tuple[tuple[int, int], ...] | None = None, forget_ratio: float = 0.5,
             max_samples: int | None = None, num_workers: int = 0, seed: int = 0) -> AuditData:
    """FairFace (Kärkkäinen & Joo, 2021) from a local copy in the standard label-CSV layout.

    ``y`` = age bin, 9 classes (``FAIRFACE_AGES``: 0-2, 3-9, 10-19, 20-29, 30-39, 40-49, 50-59, 60-69, more than
    70); ``a`` = race, 7 values in GRMU's order (``FAIRFACE_RACES``: Black, Southeast Asian, Middle Eastern,
    Indian, Latino_Hispanic, White, East Asian). As in De Min et al. 2025, only rows with ``service_test == True``
    are used (``service_test_only``; a CSV without that column keeps every row, with a warning); the official train CSV
    is shuffled (by ``seed``) into train and val (``val_fraction``, 0.1 as in De Min et al. 2025), and the official val CSV is the
    test split. Images are resized and centre-cropped to ``size x size``; normalization ``(0.5, 0.5, 0.5)``.
    Default forget request (GRMU split 0): half of group ``(3, 0)`` -- age 20-29, Black.

    Args:
        root: folder holding ``fairface_label_train.csv``, ``fairface_label_val.csv`` and the image folders the
            CSVs' ``file`` column points into (``train/``, ``val/``), or a parent holding ``fairface/``.
        size: image side in pixels (>= 8).
        service_test_only: keep only ``service_test == True`` rows.
        val_fraction: share of the official train rows used for validation, in (0, 1).
        forget_groups: ``(y, a)`` groups to forget from (default ``((3, 0),)``).
        forget_ratio: fraction of each forget group to forget, in ``(0, 1]``.
        max_samples: keep at most this many samples per split (seeded uniform subsample); ``None`` keeps all.
        num_workers: ``DataLoader`` workers used to decode the images.
        seed: fixes splits, subsamples and the forget set.

    Raises:
        FileNotFoundError: ``root`` lacks the label CSVs or an image they list.
        ValueError: unknown age/race values, malformed CSVs or bad arguments.
    """
    _check_common(max_samples, size)
    gen = torch.Generator().manual_seed(int(seed))
    listing = fairface_listing(root, service_test_only=service_test_only, val_fraction=val_fraction, generator=gen)
    return _decoded_audit(listing, size=size, max_samples=max_samples, num_workers=num_workers,
                          forget_groups=forget_groups, forget_ratio=forget_ratio, seed=seed, gen=gen)


def fairface_listing(root: str | os.PathLike, *, service_test_only: bool = True, val_fraction: float = 0.1,
                     generator: torch.Generator | None = None, seed: int = 0) -> LocalListing:
    """The FairFace samples of a local copy, undecoded: the official train rows cut into train / val by
    ``generator`` (default: seeded by ``seed``), the official val rows as test; see ``fairface``."""
    layout = ("  <root>/fairface_label_train.csv, <root>/fairface_label_val.csv  with columns file, age, race "
              "(and service_test)\n  <root>/train/*.jpg, <root>/val/*.jpg  (the CSVs' file column, e.g. train/1.jpg)")
    folder = _find_root(root, dataset="FairFace", markers=["fairface_label_train.csv", "fairface_label_val.csv"],
                        subdirs=("fairface",), layout=layout)
    _check_fraction("val_fraction", val_fraction)
    tables = {}
    for part in ("train", "val"):
        path = folder / f"fairface_label_{part}.csv"
        meta = _read_csv(path, ["file", "age", "race"], optional=["service_test"])
        keep = np.ones(len(meta["file"]), dtype=bool)
        if service_test_only and "service_test" in meta:
            keep = np.char.lower(meta["service_test"]) == "true"
        elif service_test_only:
            warnings.warn(f"{path} has no service_test column; keeping every row", stacklevel=3)
        tables[part] = (np.asarray(meta["file"])[keep],
                        _encode(meta["age"][keep], FAIRFACE_AGES, column="age", path=path),
                        _encode(meta["race"][keep], FAIRFACE_RACES, column="race", path=path))
    gen = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    n_train, n_test = len(tables["train"][0]), len(tables["val"][0])
    _, val_idx = _split_off(torch.arange(n_train), val_fraction, gen)
    split = torch.cat([torch.zeros(n_train, dtype=torch.int64), torch.full((n_test,), 2, dtype=torch.int64)])
    split[val_idx] = 1
    files = [folder / f for f in (*tables["train"][0], *tables["val"][0])]
    return LocalListing(name="fairface", title="FairFace", files=files,
                        y=torch.cat([tables["train"][1], tables["val"][1]]),
                        a=torch.cat([tables["train"][2], tables["val"][2]]), split=split, classes=FAIRFACE_AGES,
                        attr_names=FAIRFACE_RACES, mean=_HALF, std=_HALF, forget_groups=((3, 0),))
