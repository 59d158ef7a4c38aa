"""Reference audits of the seed papers' setups, ready to run on a local copy of each data set.

ResNet-18 at 224 px on CelebA (y = Blond_Hair, a = Male, forget group (1, 1): blond men), Waterbirds
(y = waterbird, a = water background, forget group (1, 0): waterbirds on land) and FairFace (y = age bin,
a = race, forget group (3, 0): age 20-29, Black), with the training recipes of De Min et al. (2025); and the
CIFAR ResNet-18 at 32 px on CIFAR-10 (the grayscale-skew attribute, forget group (3, 0): cats in colour). The
data are prepared once into an image store (``prepare_local``; a no-op when it is up to date) and streamed to
the device, or copied there when they fit.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..training import TrainRecipe
from ._spec import AuditSpec

__all__ = ["REFERENCE_AUDITS", "ReferenceAudit", "reference_spec"]


@dataclass(frozen=True)
class ReferenceAudit:
    """One paper setup: data set, image side, model, recipe of the original and reference retrains, forget group."""

    dataset: str
    size: int
    model: str
    recipe: TrainRecipe
    forget_groups: tuple[tuple[int, int], ...]
    source: str


# De Min et al. (2025), pretrain/retrain configs: 30 epochs, SGD m=0.9, batch 32, 2 warm-up epochs, bf16.
# They start from ImageNet weights; nothing is downloaded here, so the ResNet-18 starts from random weights.
_GRMU = dict(epochs=30, batch_size=32, optimizer="sgd", momentum=0.9, warmup_epochs=2, augment="flip")
REFERENCE_AUDITS: dict[str, ReferenceAudit] = {
    "celeba": ReferenceAudit("celeba", 224, "resnet18",
                             TrainRecipe(lr=1e-2, schedule="cosine", weight_decay=1e-4, **_GRMU), ((1, 1),),
                             "De Min et al. (2025), CelebA Blond_Hair x Male"),
    "waterbirds": ReferenceAudit("waterbirds", 224, "resnet18",
                                 TrainRecipe(lr=1e-2, schedule="constant", weight_decay=1e-3, **_GRMU), ((1, 0),),
                                 "De Min et al. (2025), Waterbirds"),
    "fairface": ReferenceAudit("fairface", 224, "resnet18",
                               TrainRecipe(lr=0.1, schedule="cosine", weight_decay=1e-4, **_GRMU), ((3, 0),),
                               "De Min et al. (2025), FairFace age x race"),
    "cifar10": ReferenceAudit("cifar10", 32, "resnet18_small",
                              TrainRecipe(epochs=30, lr=0.1, batch_size=256, weight_decay=5e-4, schedule="cosine",
                                          warmup_epochs=1, augment="crop_flip"), ((3, 0),),
                              "CIFAR-10 with a grayscale-skew attribute (after Wang et al. 2020)"),
}


def _model_factory(kind: str, n_classes: int, mean: Any, std: Any) -> Callable[[], torch.nn.Module]:
    from .. import models

    return functools.partial(getattr(models, kind), n_classes, mean=mean, std=std)


def reference_spec(name: str, *, root: str | os.PathLike, store: str | os.PathLike | None = None,
                   size: int | None = None, forget_ratio: float = 0.5, seed: int = 0, placement: str = "auto",
                   workers: int | None = None, progress: bool = True, **overrides: Any) -> AuditSpec:
    """The ``AuditSpec`` of a paper setup (``REFERENCE_AUDITS[name]``) on the local copy under ``root``.

    Args:
        name: ``"celeba"``, ``"waterbirds"``, ``"fairface"`` or ``"cifar10"``.
        root: the local copy (its expected layout is shown when it is absent); nothing is downloaded.
        store: the image store to build / reuse (default ``./unlearn-audit-stores/<name>-<size>px.uastore``).
        size: image side (default: the setup's, 224 px; 32 px for CIFAR-10).
        forget_ratio: share ``r`` of the forget group to forget (the papers use 0.1, 0.5 and 0.9).
        seed: seed of the forget set.
        placement: ``"auto"`` (the store copied to the GPU when there is one and it fits, else streamed),
            ``"stream"``, ``"device"`` or ``"memory"``.
        workers, progress: of the one-time ``prepare``.
        overrides: other ``AuditSpec`` fields (``unlearn_fn``, ``methods``, ``seeds``, ``device``...).

    Raises:
        ValueError: unknown ``name``.
        FileNotFoundError: ``root`` does not hold the data set (the message names the path and the layout).
    """
    from ..datasets._prepare_local import prepare_local

    if name not in REFERENCE_AUDITS:
        raise ValueError(f"name: expected one of {tuple(REFERENCE_AUDITS)}, got {name!r}")
    ref = REFERENCE_AUDITS[name]
    side = size or ref.size
    target = Path(store) if store is not None else Path("unlearn-audit-stores") / f"{name}-{side}px.uastore"
    native = name == "cifar10" and side == 32
    opened = prepare_local(name, root, out=target, size=None if native else side, workers=workers,
                           progress=progress).store
    if placement == "auto":
        placement = "device" if torch.cuda.is_available() else "stream"
    data = opened.audit_data(forget_groups=ref.forget_groups, forget_ratio=forget_ratio, seed=seed,
                             placement=placement)
    train = data.train
    kwargs: dict[str, Any] = {"data": data, "recipe": ref.recipe,
                              "model_factory": _model_factory(ref.model, train.n_classes, train.mean, train.std)}
    kwargs.update(overrides)
    return AuditSpec(**kwargs)
