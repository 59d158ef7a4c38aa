"""A small memorisation setup shared by the method tests: the original model has memorised ``D_f``.

``colored_digits`` (8x8, 10 digit classes), the first 500 train samples; 40 of them (the forget set) get a RANDOM
wrong label ``y' != y``. The only way to fit those labels is to memorise them, so the original model reaches
~100% accuracy on ``D_f`` (w.r.t. the random labels) while a model retrained on ``D_r`` predicts the true digit,
i.e. ~0% forget accuracy. Unlearning methods should move forget accuracy from the first towards the second while
keeping retain accuracy.

Measured (seed 0, CPU; the original is always trained on one thread, so it is the same whatever the thread
count): original FA 1.00 / RA 1.00 / test 0.87; retrain FA 0.00 / RA 1.00 /
test 0.96. Training the original takes ~3 s on one thread; it is cached per process and seed, and its weights
also on disk under the temp dir (``unlearn_audit_tests/``), keyed by the data fingerprint, the recipe, the torch
version and the source of the training / model code, so other test processes skip the training
(``UNLEARN_AUDIT_TEST_DISK_CACHE=0`` disables the disk cache).

Usage::

    from tests.methods._memorise import memorisation_setup, context, unlearn, accuracy, state_hash

    data, factory, recipe, original = memorisation_setup()   # original: read-only, deep-copy before use
    model, ctx = unlearn("ft", seed=0)                       # runs a registered method on a fresh copy
    accuracy(model, ctx.forget), accuracy(model, ctx.retain)
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, NamedTuple

import torch
from torch import nn

from unlearn_audit.data import AuditData, GroupDataset
from unlearn_audit.training import TrainRecipe, fit

__all__ = ["MemorisationSetup", "memorisation_setup", "context", "unlearn", "accuracy", "state_hash", "N_TRAIN",
           "N_FORGET"]

N_TRAIN = 500
N_FORGET = 40
WIDTH = 8


class MemorisationSetup(NamedTuple):
    """``(data, factory, recipe, original)``; unpack it or use the attributes."""

    data: AuditData
    factory: Callable[[], nn.Module]
    recipe: TrainRecipe
    original: nn.Module


@functools.lru_cache(maxsize=4)
def memorisation_setup(seed: int = 0) -> MemorisationSetup:
    """The setup for ``seed`` (data split, random labels and the original's training all follow it), cached.

    Returns:
        ``data``: ``AuditData`` whose train split has ``N_TRAIN`` samples, ``N_FORGET`` of which (``data.forget``)
        carry random wrong labels; clean val / test splits (359 samples each).
        ``factory()``: a fresh ``SmallConvNet(10, width=8)`` (initialised from torch's global RNG, so seed it).
        ``recipe``: the recipe the original was trained with (30 epochs, SGD lr 0.05 cosine, batch 32).
        ``original``: the trained model in eval mode. Treat it as read-only (``copy.deepcopy`` it).
    """
    from unlearn_audit.datasets import colored_digits
    from unlearn_audit.models import SmallConvNet

    base = colored_digits(scale=1, majority=0.9, size=8, target="digit", seed=seed)
    tr = base.train.subset(torch.arange(N_TRAIN))
    gen = torch.Generator().manual_seed(seed)
    forget_idx = torch.sort(torch.randperm(N_TRAIN, generator=gen)[:N_FORGET]).values
    n_classes = tr.n_classes
    y = tr.y.clone()
    y[forget_idx] = (y[forget_idx] + torch.randint(1, n_classes, (N_FORGET,), generator=gen)) % n_classes
    train = GroupDataset(tr.x, y, tr.a, classes=tr.classes, attr_names=tr.attr_names, mean=tr.mean, std=tr.std,
                         name="memorise/train", n_classes=n_classes, n_attrs=tr.n_attrs)
    data = AuditData(train=train, test=base.test, val=base.val, forget_idx=forget_idx)

    def factory() -> nn.Module:
        return SmallConvNet(n_classes, width=WIDTH, mean=tr.mean, std=tr.std)

    recipe = TrainRecipe(epochs=30, lr=0.05, batch_size=32, weight_decay=5e-4)
    original = _load_or_train(data, factory, recipe, seed)
    return MemorisationSetup(data, factory, recipe, original)


def _cache_path(data: AuditData, recipe: TrainRecipe, seed: int) -> Path | None:
    if os.environ.get("UNLEARN_AUDIT_TEST_DISK_CACHE", "1") == "0":
        return None
    import unlearn_audit.datasets._colored_digits as digits_mod
    import unlearn_audit.models._nets as nets_mod
    import unlearn_audit.training._fit as fit_mod
    import unlearn_audit.training._loop as loop_mod

    h = hashlib.sha256()
    h.update(f"{seed}|{WIDTH}|{recipe!r}|{torch.__version__}|{data.train.fingerprint()}".encode())
    for mod in (fit_mod, loop_mod, nets_mod, digits_mod):
        h.update(Path(mod.__file__).read_bytes())
    return Path(tempfile.gettempdir()) / "unlearn_audit_tests" / f"memorise-{h.hexdigest()[:24]}.pt"


def _load_or_train(data: AuditData, factory: Callable[[], nn.Module], recipe: TrainRecipe, seed: int) -> nn.Module:
    path = _cache_path(data, recipe, seed)
    if path is not None and path.exists():
        try:
            model = factory()
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval()
        except Exception:  # a corrupt or incompatible file: retrain and overwrite it
            pass
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # CPU float sums depend on the thread count: one thread makes the original portable
    try:
        torch.manual_seed(seed)
        model = fit(factory(), data.train, recipe, seed=seed, device="cpu", progress=False).eval()
    finally:
        torch.set_num_threads(threads)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save(model.state_dict(), tmp)
            os.replace(tmp, path)  # atomic: concurrent writers leave one complete file
        except OSError:
            pass
    return model


def context(seed: int = 0, *, setup_seed: int = 0, **kwargs: Any):
    """An ``UnlearnContext`` on the setup of ``setup_seed`` (CPU) with method seed ``seed``; ``kwargs`` go to
    ``UnlearnContext.build`` (``retain_weights``, ``sample_weights``, ...)."""
    from unlearn_audit.methods import UnlearnContext

    s = memorisation_setup(setup_seed)
    return UnlearnContext.build(data=s.data, original=s.original, recipe=s.recipe, model_factory=s.factory,
                                device="cpu", seed=seed, **kwargs)


def unlearn(method: Any, seed: int = 0, *, setup_seed: int = 0, ctx: Any = None, **ctx_kwargs: Any):
    """Run ``method`` (a registry name or a ``Method``) on a deep copy of the original; returns ``(model, ctx)``."""
    from unlearn_audit.methods import get_method

    m = get_method(method) if isinstance(method, str) else method
    ctx = ctx if ctx is not None else context(seed, setup_seed=setup_seed, **ctx_kwargs)
    model = copy.deepcopy(memorisation_setup(setup_seed).original)
    return m(model, ctx), ctx


@torch.no_grad()
def accuracy(model: nn.Module, ds: GroupDataset) -> float:
    """Eval-mode accuracy of ``model`` on ``ds`` (restores the model's train/eval mode)."""
    was = model.training
    model.eval()
    try:
        return float((model(ds.x).argmax(1) == ds.y).float().mean())
    finally:
        model.train(was)


def state_hash(model: nn.Module) -> str:
    """SHA-256 over every parameter and buffer (names, shapes, values) and the ``requires_grad`` flags."""
    h = hashlib.sha256()
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        c = t.detach().cpu().contiguous()
        h.update(f"{name}{tuple(c.shape)}{c.dtype}{t.requires_grad}".encode())
        h.update(c.reshape(-1).view(torch.uint8).numpy().tobytes() if c.numel() else b"")
    return h.hexdigest()
