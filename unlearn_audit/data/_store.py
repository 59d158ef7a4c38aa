"""The image store file: uint8 images memory-mapped from disk, labels and attributes in memory.

Format (a valid safetensors file, so other tools can read it): an 8-byte little-endian header length, a JSON
header naming the tensors ``labels`` (int64), ``attrs`` (int64), ``split`` (int8: 0 train, 1 val, 2 test,
-1 none) and ``images`` (uint8 ``(N, C, H, W)``) with their byte offsets, plus ``__metadata__`` strings
(``format``, ``version``, class and attribute names, normalization, the source and content fingerprints),
then the tensors' bytes. ``open_store`` checks the format name, the version and the file's length before
mapping the images; ``write_store`` writes a temporary file next to the target after checking the free disk
space, and renames it into place only when complete (nothing half-written is ever left under the target name).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from ._audit_data import AuditData
from ._forget import forget_from_groups
from ._group_dataset import GroupDataset
from ._images import StoredImages

__all__ = ["FORMAT", "SPLITS", "VERSION", "ImageStore", "StoreError", "open_store", "write_store"]

FORMAT = "unlearn-audit-image-store"
VERSION = 1
SPLITS = ("train", "val", "test")
_DTYPES = {"labels": ("I64", np.int64), "attrs": ("I64", np.int64), "split": ("I8", np.int8),
           "images": ("U8", np.uint8)}


class StoreError(ValueError):
    """An image store file is missing, truncated, of another format or version, or cannot be written."""


@dataclass(frozen=True, eq=False)
class ImageStore:
    """An opened image store: ``images`` memory-mapped read-only, everything else in memory.

    Attributes:
        path: the store file.
        images: uint8 ``(N, C, H, W)`` ``np.memmap``.
        labels, attrs: int64 ``(N,)`` tensors (attribute values encoded ``0..n_attrs-1``).
        split: int8 ``(N,)`` tensor of split codes (index into ``SPLITS``; -1 when the source had no split).
        metadata: the header's strings (class/attribute names, mean/std, fingerprints, source).
    """

    path: Path
    images: np.memmap
    labels: torch.Tensor
    attrs: torch.Tensor
    split: torch.Tensor
    metadata: dict[str, str]
    _roots: dict = field(default_factory=dict, repr=False)  # placement -> the StoredImages every view shares

    def __len__(self) -> int:
        return int(self.labels.numel())

    def _names(self, key: str) -> tuple[str, ...] | None:
        return tuple(json.loads(self.metadata[key])) if self.metadata.get(key) else None

    @property
    def classes(self) -> tuple[str, ...] | None:
        return self._names("classes")

    @property
    def attr_names(self) -> tuple[str, ...] | None:
        return self._names("attr_names")

    @property
    def content_fingerprint(self) -> str:
        return self.metadata["content_fingerprint"]

    def dataset(self, split: str | None = None, *, placement: str = "stream") -> GroupDataset:
        """A ``GroupDataset`` of the samples of ``split`` (all samples when ``None``).

        Args:
            split: ``"train"``, ``"val"``, ``"test"`` or ``None``.
            placement: ``"stream"`` (batches read from the memory map), ``"device"`` (the whole store copied
                to the device on ``.to(device)``, once; falls back to streaming with one warning when it does
                not fit) or ``"memory"`` (decoded into one float32 tensor in host memory: 4x the store's size).

        Raises:
            ValueError: unknown ``split``/``placement``, or a split with no sample.
        """
        if placement not in ("stream", "device", "memory"):
            raise ValueError(f"placement: expected 'stream', 'device' or 'memory', got {placement!r}")
        if split is not None and split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS} or None, got {split!r}")
        rows = None if split is None else (self.split == SPLITS.index(split)).nonzero().flatten()
        if rows is not None and rows.numel() == 0:
            raise ValueError(f"split: the store {str(self.path)!r} has no {split!r} sample "
                             f"(its source had no split column, or none with that value)")
        mode = "stream" if placement == "memory" else placement
        if mode not in self._roots:  # one per store and mode: the device copy is made once for every split
            self._roots[mode] = StoredImages(self.images, placement=mode, fingerprint=self.content_fingerprint)
        x: Any = self._roots[mode] if rows is None else self._roots[mode].subset(rows)
        if placement == "memory":
            x = x.materialize()
        t = rows if rows is not None else slice(None)
        mean, std = (json.loads(self.metadata[k]) if self.metadata.get(k) else None for k in ("mean", "std"))
        classes, attr_names = self.classes, self.attr_names
        name = self.metadata.get("name") or self.path.stem
        return GroupDataset(x, self.labels[t], self.attrs[t], classes=classes, attr_names=attr_names, mean=mean,
                            std=std, name=f"{name}/{split}" if split else name,
                            n_classes=len(classes) if classes else int(self.labels.max()) + 1,
                            n_attrs=len(attr_names) if attr_names else int(self.attrs.max()) + 1)


    def audit_data(self, *, forget_groups: Sequence[tuple[int, int]], forget_ratio: float = 0.5, seed: int = 0,
                   placement: str = "stream", val_fraction: float = 0.1, test_fraction: float = 0.2) -> AuditData:
        """The audit of this store: its train / val / test splits and the forget request ``floor(r * |G|)``
        samples of each group ``G`` in ``forget_groups`` (``forget_from_groups``, seeded by ``seed``).

        A store prepared without a split column is cut into train / val / test by a seeded shuffle
        (``val_fraction``, ``test_fraction``). ``placement`` as in ``dataset``.
        """
        if bool((self.split < 0).any()):
            gen = torch.Generator().manual_seed(int(seed))
            perm = torch.randperm(len(self), generator=gen)
            n_val, n_test = round(val_fraction * len(self)), round(test_fraction * len(self))
            codes = torch.zeros(len(self), dtype=torch.int8)
            codes[perm[:n_val]], codes[perm[n_val:n_val + n_test]] = 1, 2
            store = dataclasses.replace(self, split=codes)
        else:
            store = self
        splits = {s: store.dataset(s, placement=placement) for s in SPLITS}
        forget_idx = forget_from_groups(splits["train"], groups=tuple(forget_groups), ratio=forget_ratio, seed=seed)
        return AuditData(train=splits["train"], val=splits["val"], test=splits["test"], forget_idx=forget_idx,
                         dominant_groups=tuple(forget_groups))


def _header(n: int, chw: Sequence[int], metadata: dict[str, str]) -> tuple[bytes, dict[str, tuple[int, int]]]:
    offsets, pos, entries = {}, 0, {}
    for key, shape in (("labels", (n,)), ("attrs", (n,)), ("split", (n,)), ("images", (n, *chw))):
        size = int(np.prod(shape)) * np.dtype(_DTYPES[key][1]).itemsize
        offsets[key] = (pos, pos + size)
        entries[key] = {"dtype": _DTYPES[key][0], "shape": list(shape), "data_offsets": [pos, pos + size]}
        pos += size
    body = json.dumps({"__metadata__": metadata, **entries}, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)
    return struct.pack("<Q", len(body)) + body, offsets


def open_store(path: str | os.PathLike) -> ImageStore:
    """Open an image store written by ``write_store`` (``unlearn-audit prepare``).

    Raises:
        StoreError: the file is missing, not an image store, of another version, or truncated (each message
            names the file and says how to rebuild it).
    """
    p = Path(path).expanduser()
    rebuild = "rebuild it with `unlearn-audit prepare`"
    if not p.is_file():
        raise StoreError(f"store: {str(p)!r} does not exist; {rebuild}")
    size = p.stat().st_size
    try:
        with open(p, "rb") as fh:
            (n_header,) = struct.unpack("<Q", fh.read(8))
            if n_header > min(size, 1 << 30):
                raise ValueError("header length past the end of the file")
            header = json.loads(fh.read(n_header))
        meta = header["__metadata__"]
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"store: {str(p)!r} is not an unlearn-audit image store ({exc}); {rebuild}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StoreError(f"store: {str(p)!r} is not an unlearn-audit image store (format "
                         f"{meta.get('format') if isinstance(meta, dict) else None!r}); {rebuild}")
    if meta.get("version") != str(VERSION):
        raise StoreError(f"store: {str(p)!r} is format version {meta.get('version')!r}, this unlearn-audit reads "
                         f"version {VERSION}; {rebuild}")
    start = 8 + n_header
    expected = start + max(int(header[k]["data_offsets"][1]) for k in _DTYPES)
    if size != expected:
        raise StoreError(f"store: {str(p)!r} is truncated or damaged ({size} bytes, the header describes "
                         f"{expected}); {rebuild}")

    def array(key: str) -> np.ndarray:
        lo, hi = header[key]["data_offsets"]
        shape = tuple(header[key]["shape"])
        return np.memmap(p, dtype=_DTYPES[key][1], mode="r", offset=start + lo, shape=shape) if hi > lo else \
            np.zeros(shape, dtype=_DTYPES[key][1])

    small = {k: torch.from_numpy(np.array(array(k))).long() for k in ("labels", "attrs", "split")}
    return ImageStore(path=p, images=array("images"), labels=small["labels"], attrs=small["attrs"],
                      split=small["split"].to(torch.int8), metadata=dict(meta))


def write_store(path: str | os.PathLike, *, chw: Sequence[int], labels: Any, attrs: Any, split: Any = None,
                chunks: Iterator[np.ndarray], metadata: dict[str, Any],
                progress: Callable[[int], None] | None = None) -> Path:
    """Write an image store atomically: header, small arrays, then the uint8 image ``chunks`` in order.

    Args:
        path: target file.
        chw: image shape ``(C, H, W)``.
        labels, attrs: ``N`` integers each; ``split``: ``N`` split codes (or ``None``: -1).
        chunks: consecutive uint8 ``(k, C, H, W)`` arrays covering all ``N`` images.
        metadata: header strings (``format``, ``version`` and ``content_fingerprint`` are added; non-string
            values are JSON-encoded).
        progress: called with the number of images written after each chunk.

    Raises:
        StoreError: the free disk space is smaller than the store (checked before writing), or the chunks do not
            cover exactly ``N`` images of shape ``chw``. Any failure removes the temporary file.
    """
    target = Path(path).expanduser()
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    a = np.asarray(attrs, dtype=np.int64).reshape(-1)
    s = np.full(len(y), -1, dtype=np.int8) if split is None else np.asarray(split, dtype=np.int8).reshape(-1)
    n, chw = len(y), tuple(int(v) for v in chw)
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    meta.update(format=FORMAT, version=str(VERSION), content_fingerprint="0" * 64)
    head, offsets = _header(n, chw, meta)
    total = len(head) + offsets["images"][1]
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if total > free:
        raise StoreError(f"store: {str(target)!r} needs {total / 2**30:.2f} GiB but only {free / 2**30:.2f} GiB "
                         f"are free on its disk; nothing was written (free space, or choose another path/size)")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as fh:
            fh.write(head)
            for arr in (y, a, s):
                fh.write(arr.tobytes())
                digest.update(arr.tobytes())
            written = 0
            for chunk in chunks:
                chunk = np.ascontiguousarray(chunk, dtype=np.uint8)
                if chunk.shape[1:] != chw:
                    raise StoreError(f"store: image chunk of shape {chunk.shape[1:]} differs from {chw}")
                fh.write(chunk.tobytes())
                digest.update(chunk.tobytes())
                written += len(chunk)
                if progress is not None:
                    progress(len(chunk))
            if written != n:
                raise StoreError(f"store: {written} images were written for {n} labels")
        meta["content_fingerprint"] = digest.hexdigest()
        head2, _ = _header(n, chw, meta)
        assert len(head2) == len(head)  # the fingerprint placeholder has the digest's length
        with open(tmp, "r+b") as fh:
            fh.write(head2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
