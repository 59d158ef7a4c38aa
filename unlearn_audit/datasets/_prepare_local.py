"""``prepare_local``: image stores of the local copies of CIFAR-10, CelebA, Waterbirds and FairFace, at full
size (every sample, every split) and any resolution."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from ._decode import PrepareError
from ._local import celeba_listing, cifar10, fairface_listing, waterbirds_listing
from ._prepare import PreparedStore, build_store, prepare_images

__all__ = ["LOCAL_DATASETS", "prepare_local"]

LOCAL_DATASETS = ("cifar10", "celeba", "waterbirds", "fairface")
_LISTINGS = {"celeba": celeba_listing, "waterbirds": waterbirds_listing, "fairface": fairface_listing}


def prepare_local(dataset: str, root: str | os.PathLike, *, out: str | os.PathLike, size: int | None = None,
                  workers: int | None = None, progress: bool = True, **options: Any) -> PreparedStore:
    """Build the image store of a local copy of ``dataset`` (nothing is downloaded).

    The samples, labels, attributes and splits are those of the in-memory loaders (``cifar10``, ``celeba``,
    ``waterbirds``, ``fairface``; ``options`` are their keyword arguments such as ``target=``/``attribute=`` for
    CelebA or ``attribute=``/``skew=`` for CIFAR-10), without ``max_samples``: every sample is kept. ``size``
    resizes (short side) and centre-crops to ``size x size`` with the loaders' transform; ``None`` keeps the
    native size (32 px for CIFAR-10, 178x218 for CelebA's aligned crops; Waterbirds' images differ in size and
    need one). Re-running on an unchanged copy with the same options is a no-op.

    Raises:
        PrepareError: unknown ``dataset``, a missing or undecodable image (its path), mixed sizes without ``size``.
        FileNotFoundError: ``root`` does not hold the data set's layout (the message shows the expected layout).
    """
    if dataset not in LOCAL_DATASETS:
        raise PrepareError(f"dataset: expected one of {LOCAL_DATASETS}, got {dataset!r}")
    if dataset == "cifar10":
        return _prepare_cifar10(root, out=out, size=size, progress=progress, **options)
    listing = _LISTINGS[dataset](root, **options)
    source_id = f"{dataset}:{json.dumps(options, sort_keys=True, default=str)}"
    return prepare_images([str(f) for f in listing.files], out=out, labels=listing.y, attrs=listing.a,
                          split=listing.split, classes=listing.classes, attr_names=listing.attr_names,
                          mean=listing.mean, std=listing.std, name=listing.name, size=size, workers=workers,
                          source_id=source_id, progress=progress)


def _quantize(x: torch.Tensor, size: int | None) -> np.ndarray:
    """Float ``[0, 1]`` images -> uint8 (rounded), resized to ``size`` first (bilinear, antialiased) if given."""
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                            align_corners=False).clamp_(0.0, 1.0)
    return (x * 255.0).round_().to(torch.uint8).numpy()


def _prepare_cifar10(root: str | os.PathLike, *, out: str | os.PathLike, size: int | None, progress: bool,
                     **options: Any) -> PreparedStore:
    """CIFAR-10 through the ``cifar10`` loader (its attribute and splits), quantized back to uint8."""
    for key in ("max_samples", "forget_groups", "forget_ratio"):
        if key in options:
            raise PrepareError(f"{key}: a store keeps every sample and no forget request; choose the forget "
                               f"request when building the audit (ImageStore.audit_data)")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
        raise PrepareError(f"size: expected None or an int >= 8, got {size!r}")
    data = cifar10(root, forget_ratio=1.0, **options)  # the loader's forget request is not stored
    folder = Path(root).expanduser()
    folder = folder if folder.name == "cifar-10-batches-py" else folder / "cifar-10-batches-py"
    h = hashlib.sha256(f"cifar10:{size}:{json.dumps(options, sort_keys=True, default=str)}".encode())
    for f in sorted(folder.iterdir()):
        if f.is_file():
            with open(f, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
    parts = [data.train, data.val, data.test]
    codes = np.concatenate([np.full(len(p), k, dtype=np.int8) for k, p in enumerate(parts)])
    side = size or 32

    def chunks() -> Iterator[np.ndarray]:
        for part in parts:
            for start in range(0, len(part), 4096):
                yield _quantize(part.x[start:start + 4096], size)

    t = data.train
    return build_store(out, fingerprint=h.hexdigest(), chw=(3, side, side),
                       labels=torch.cat([p.y for p in parts]), attrs=torch.cat([p.a for p in parts]), split=codes,
                       chunks=chunks, classes=t.classes, attr_names=t.attr_names, mean=t.mean, std=t.std,
                       name="cifar10", progress=progress)
