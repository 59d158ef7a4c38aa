"""``GroupDataset``: inputs x (a float tensor, or uint8 images of a store), label y and sensitive attribute a."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from ._images import StoredImages, take_rows

__all__ = ["GroupDataset", "as_index_tensor"]


def as_index_tensor(idx: Any, *, name: str, length: int | None = None) -> torch.Tensor:
    """Coerce ``idx`` (sequence, numpy array or tensor of ints, or a bool mask) into a 1-d int64 tensor.

    Raises:
        TypeError: not integers (or a bool mask).
        ValueError: not 1-d, or an index outside ``[0, length)``.
    """
    t = idx if isinstance(idx, torch.Tensor) else torch.as_tensor(idx)
    if t.dtype == torch.bool:
        if length is not None and t.numel() != length:
            raise ValueError(f"{name}: a boolean mask must have length {length}, got {t.numel()}")
        t = t.nonzero().flatten()
    if t.numel() == 0:
        t = t.to(torch.int64)
    if t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name}: expected integer indices, got dtype {t.dtype}")
    t = t.to(torch.int64).flatten() if t.ndim <= 1 else t
    if t.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d sequence of indices, got shape {tuple(t.shape)}")
    if length is not None and t.numel():
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= length:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name}: index {bad} is out of range for a dataset of {length} samples")
    return t.cpu()


def _as_tensor(v: Any, *, name: str) -> torch.Tensor:
    """``torch.as_tensor`` with an error that names the argument (strings, objects, ragged lists)."""
    if isinstance(v, torch.Tensor):
        return v
    try:
        return torch.as_tensor(v)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name}: expected numbers convertible to a tensor, got {type(v).__name__} ({exc})") from None


def _as_labels(v: Any, *, name: str) -> torch.Tensor:
    t = _as_tensor(v, name=name)
    if t.is_floating_point():
        bad = ~torch.isfinite(t) | (t != t.round())
        if bad.any():
            first = t[bad].flatten()[0].item()
            raise TypeError(f"{name}: expected integer labels, got non-integer value {first!r} "
                            f"(dtype {t.dtype})")
    elif t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name}: expected integer labels, got dtype {t.dtype}")
    t = t.to(torch.int64)
    if t.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d tensor of labels, got shape {tuple(t.shape)}")
    if t.numel() and int(t.min()) < 0:
        raise ValueError(f"{name}: labels must be >= 0, found {int(t.min())}")
    return t


@dataclass(frozen=True, eq=False, repr=False)
class GroupDataset:
    """Dataset of inputs ``x``, labels ``y`` and a sensitive attribute ``a`` (held in memory).

    Images are float tensors ``(N, C, H, W)`` in ``[0, 1]`` pixel space, or a ``StoredImages`` (uint8 pixels of
    an image store, memory-mapped or resident on the device, read as float ``[0, 1]`` batches: ``x[idx]``); the normalization the model applies
    inside its ``forward`` is recorded as ``mean``/``std`` (informational: attacks work in pixel space).
    Tabular features are ``(N, D)`` floats, already standardized. The group of a sample is
    ``g = a + y * n_attrs``.

    Args:
        x: inputs, first dimension = samples (integer and float64 tensors are converted to float32), or a
            ``StoredImages``.
        y: integer labels in ``0..n_classes-1``.
        a: integer sensitive attribute in ``0..n_attrs-1``.
        classes: class names (sets ``n_classes``).
        attr_names: attribute value names (sets ``n_attrs``).
        mean, std: per-channel normalization applied by the model.
        name: a short name for reports.
        n_classes, n_attrs: explicit counts (default: from names, else ``max + 1``).
    """

    x: torch.Tensor | StoredImages
    y: torch.Tensor
    a: torch.Tensor
    classes: tuple[str, ...] | None = None
    attr_names: tuple[str, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    name: str | None = None
    n_classes: int = field(default=0)
    n_attrs: int = field(default=0)

    def __init__(
        self,
        x: Any,
        y: Any,
        a: Any,
        *,
        classes: Sequence[str] | None = None,
        attr_names: Sequence[str] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        name: str | None = None,
        n_classes: int | None = None,
        n_attrs: int | None = None,
        _validated: bool = False,
    ) -> None:
        stored = isinstance(x, StoredImages)
        x = x if stored else _as_tensor(x, name="x")
        if not _validated:
            if stored:
                pass  # uint8 / 255: finite and in [0, 1] by construction
            elif not x.is_floating_point() or x.dtype == torch.float64:
                x = x.to(torch.float32)  # models are float32; numpy tabular data arrives as float64
            y = _as_labels(y, name="y")
            a = _as_labels(a, name="a")
            if x.ndim < 2:
                raise ValueError(f"x: expected at least 2 dimensions (samples, features...), got shape {tuple(x.shape)}")
            if not (len(x) == len(y) == len(a)):
                raise ValueError(f"x, y, a: lengths differ (x: {len(x)}, y: {len(y)}, a: {len(a)})")
            finite = (torch.ones(len(x), dtype=torch.bool) if stored or not x.numel()
                      else torch.isfinite(x.reshape(len(x), -1)).all(dim=1))
            if not finite.all():
                bad = (~finite).nonzero().flatten()
                raise ValueError(f"x: contains NaN or inf values in {bad.numel()} sample(s), the first at index "
                                 f"{int(bad[0])}")
            if not stored and x.ndim == 4 and x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
                raise ValueError(
                    f"x: images must be in [0, 1] pixel space (found range [{float(x.min()):.3g}, "
                    f"{float(x.max()):.3g}]); put the normalization inside the model and pass mean/std")
        if not (_validated and n_classes is not None and n_attrs is not None):  # subset/to: no device sync
            n_classes = self._count(n_classes, classes, y, "n_classes", "classes", "y")
            n_attrs = self._count(n_attrs, attr_names, a, "n_attrs", "attr_names", "a")
        for key, val in (("mean", mean), ("std", std)):
            if val is not None and any(not isinstance(v, (int, float)) for v in val):
                raise TypeError(f"{key}: expected a sequence of numbers, got {val!r}")
        if std is not None and any(float(v) <= 0 for v in std):
            raise ValueError(f"std: every entry must be > 0, got {tuple(std)}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "classes", tuple(classes) if classes is not None else None)
        object.__setattr__(self, "attr_names", tuple(attr_names) if attr_names is not None else None)
        object.__setattr__(self, "mean", tuple(float(v) for v in mean) if mean is not None else None)
        object.__setattr__(self, "std", tuple(float(v) for v in std) if std is not None else None)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "n_classes", n_classes)
        object.__setattr__(self, "n_attrs", n_attrs)

    @staticmethod
    def _count(explicit: int | None, names: Sequence[str] | None, values: torch.Tensor, key: str,
               names_key: str, values_key: str) -> int:
        observed = int(values.max()) + 1 if values.numel() else 0
        if explicit is None:
            explicit = len(names) if names is not None else max(observed, 1)
        elif names is not None and len(names) != explicit:
            raise ValueError(f"{key}={explicit} disagrees with {names_key} of length {len(names)}")
        if not isinstance(explicit, int) or explicit < 1:
            raise ValueError(f"{key}: expected a positive int, got {explicit!r}")
        if observed > explicit:
            raise ValueError(f"{values_key}: value {observed - 1} is outside 0..{explicit - 1} ({key}={explicit})")
        return explicit

    def __repr__(self) -> str:
        return (f"GroupDataset(name={self.name!r}, n={len(self)}, x_shape={tuple(self.x.shape[1:])}, "
                f"n_classes={self.n_classes}, n_attrs={self.n_attrs}, device={self.device})")

    @property
    def is_image(self) -> bool:
        """Images are 4-d ``(N, C, H, W)`` tensors in ``[0, 1]``; everything else is treated as tabular."""
        return self.x.ndim == 4

    @property
    def value_range(self) -> tuple[float, float] | None:
        """Valid input range for attacks: ``(0, 1)`` for images, ``None`` (no clamp) for tabular data."""
        return (0.0, 1.0) if self.is_image else None

    @property
    def device(self) -> torch.device:
        return self.x.device

    @property
    def n_groups(self) -> int:
        return self.n_classes * self.n_attrs

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i], self.a[i]

    def groups(self, n_attrs: int | None = None) -> torch.Tensor:
        """Group id per sample, ``g = a + y * n_attrs``."""
        return self.a + self.y * (n_attrs if n_attrs is not None else self.n_attrs)

    def group_counts(self) -> torch.Tensor:
        """Samples per group, a ``(n_classes * n_attrs,)`` int64 tensor indexed by ``g``."""
        return torch.bincount(self.groups().cpu(), minlength=self.n_groups)

    def group_name(self, g: int) -> str:
        """Readable name of group ``g``, e.g. ``"y=1 (>=5), a=0 (red)"``."""
        y, a = divmod(int(g), self.n_attrs)
        yn = f" ({self.classes[y]})" if self.classes else ""
        an = f" ({self.attr_names[a]})" if self.attr_names else ""
        return f"y={y}{yn}, a={a}{an}"

    def _replace(self, x: torch.Tensor | StoredImages, y: torch.Tensor, a: torch.Tensor) -> "GroupDataset":
        return GroupDataset(x, y, a, classes=self.classes, attr_names=self.attr_names, mean=self.mean,
                            std=self.std, name=self.name, n_classes=self.n_classes, n_attrs=self.n_attrs,
                            _validated=True)

    def subset(self, idx: Any) -> "GroupDataset":
        """The samples at ``idx`` (int indices or a bool mask), keeping all metadata and class/attr counts."""
        t = as_index_tensor(idx, name="idx", length=len(self))
        ty = t.to(self.y.device)
        return self._replace(take_rows(self.x, t), self.y[ty], self.a[ty])

    def to(self, device: str | torch.device) -> "GroupDataset":
        """A copy with every tensor on ``device`` (self when already there)."""
        device = torch.device(device)
        x = self.x.to(device)
        if x is self.x and self.y.device == device:
            return self
        return self._replace(x, self.y.to(device), self.a.to(device))

    def fingerprint(self) -> str:
        """SHA-256 of the tensors' bytes and the metadata: equal fingerprints mean identical data."""
        h = hashlib.sha256()
        if isinstance(self.x, StoredImages):
            h.update(f"stored:{self.x.fingerprint()}".encode())
        for t in (self.y, self.a) if isinstance(self.x, StoredImages) else (self.x, self.y, self.a):
            c = t.detach().cpu().contiguous()
            h.update(str((tuple(c.shape), str(c.dtype))).encode())
            h.update(c.view(torch.uint8).numpy().tobytes() if c.numel() else b"")
        h.update(repr((self.classes, self.attr_names, self.mean, self.std, self.n_classes, self.n_attrs)).encode())
        return h.hexdigest()

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description: size, shapes, group counts."""
        counts = self.group_counts().tolist()
        return {"name": self.name, "n": len(self), "x_shape": list(self.x.shape[1:]), "n_classes": self.n_classes,
                "n_attrs": self.n_attrs,
                "group_counts": {self.group_name(g): int(c) for g, c in enumerate(counts)}}

    @classmethod
    def from_torch_dataset(cls, dataset: Any, *, batch_size: int = 512, **metadata: Any) -> "GroupDataset":
        """Materialize any map-style torch ``Dataset`` yielding ``(x, y, a)`` into a ``GroupDataset``.

        Raises:
            TypeError: an item is not a 3-tuple ``(x, y, a)``.
        """
        from torch.utils.data import DataLoader

        n = len(dataset)
        if n == 0:
            raise ValueError("dataset: is empty")
        first = dataset[0]
        if not isinstance(first, (tuple, list)) or len(first) != 3:
            raise TypeError(f"dataset: items must be (x, y, a) triples, got {type(first).__name__} "
                            f"of length {len(first) if hasattr(first, '__len__') else '?'}")
        xs, ys, as_ = [], [], []
        for xb, yb, ab in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            xs.append(torch.as_tensor(xb))
            ys.append(torch.as_tensor(yb))
            as_.append(torch.as_tensor(ab))
        return cls(torch.cat(xs), torch.cat(ys), torch.cat(as_), **metadata)
