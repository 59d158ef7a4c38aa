"""``TrainRecipe``: a validated, immutable description of how a model is trained."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["TrainRecipe"]

Optimizer = Literal["sgd", "adam", "adamw"]
Schedule = Literal["cosine", "constant", "step"]
Augment = Literal["flip", "crop_flip"]


@dataclass(frozen=True, kw_only=True)
class TrainRecipe:
    """How to train: optimizer, schedule, batch size, augmentation and device options.

    The learning rate at step ``t`` of ``T`` total steps, after ``W`` warm-up steps, is
    ``lr_t = lr * t / W`` during warm-up, then ``lr * 0.5 * (1 + cos(pi * (t - W) / (T - W)))`` for ``cosine``,
    ``lr`` for ``constant``, and ``lr * 0.1 ** floor(3 * (t - W) / (T - W))`` (decay at 1/3 and 2/3) for ``step``.

    Args:
        epochs: passes over the data (> 0).
        lr: peak learning rate (> 0).
        batch_size: samples per step (> 0).
        optimizer: ``"sgd"`` (with ``momentum``), ``"adam"`` or ``"adamw"``.
        momentum: SGD momentum in ``[0, 1)``.
        weight_decay: L2 weight decay (>= 0).
        schedule: learning-rate schedule (see above).
        warmup_epochs: linear warm-up epochs (>= 0, < epochs).
        augment: ``None``, ``"flip"`` (random horizontal flip) or ``"crop_flip"`` (flip + 2-pixel random shift);
            images only.
        amp: bf16 autocast on CUDA (no effect on CPU).
        channels_last: channels_last memory format for conv nets (on CUDA and CPU; faster on both).
        compile: run the training forward through ``torch.compile`` (the first steps compile; benchmarks
            exclude them as warm-up).
        grad_clip: max global gradient norm, or ``None``.
        group_dro_step: GroupDRO step size ``eta`` of the exponentiated-gradient group weights.
    """

    epochs: int = 10
    lr: float = 0.05
    batch_size: int = 128
    optimizer: Optimizer = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: Schedule = "cosine"
    warmup_epochs: int = 0
    augment: Augment | None = None
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    grad_clip: float | None = None
    group_dro_step: float = 0.01

    def __post_init__(self) -> None:
        def bad(field: str, expected: str) -> ValueError:
            return ValueError(f"TrainRecipe.{field}: expected {expected}, got {getattr(self, field)!r}")

        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs <= 0:
            raise bad("epochs", "a positive int")
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size <= 0:
            raise bad("batch_size", "a positive int")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise bad("lr", "a positive number")
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise bad("optimizer", "'sgd', 'adam' or 'adamw'")
        if not 0.0 <= self.momentum < 1.0:
            raise bad("momentum", "a number in [0, 1)")
        if not self.weight_decay >= 0:
            raise bad("weight_decay", "a number >= 0")
        if self.schedule not in ("cosine", "constant", "step"):
            raise bad("schedule", "'cosine', 'constant' or 'step'")
        if not isinstance(self.warmup_epochs, int) or not 0 <= self.warmup_epochs < self.epochs:
            raise bad("warmup_epochs", f"an int in [0, epochs={self.epochs})")
        if self.augment not in (None, "flip", "crop_flip"):
            raise bad("augment", "None, 'flip' or 'crop_flip'")
        for flag in ("amp", "channels_last", "compile"):
            if not isinstance(getattr(self, flag), bool):
                raise bad(flag, "True or False")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise bad("grad_clip", "None or a positive number")
        if not self.group_dro_step > 0:
            raise bad("group_dro_step", "a positive number")

    def replace(self, **changes: Any) -> "TrainRecipe":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
