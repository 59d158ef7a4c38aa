"""``StoredImages``: uint8 images behind an index map, read as float32 ``[0, 1]`` batches on the device.

The one indexing abstraction of the package: a ``GroupDataset``'s ``x`` is either a float tensor or a
``StoredImages``, and every consumer (``fit``, ``evaluate``, the attacks, the methods) reads it the same way,
``x[idx]`` / ``x[i:j]`` (a float32 tensor on ``x.device``), ``take_rows`` (a lazily indexed view),
``cat_inputs`` and ``gathered_batches`` (the batch loop, with a prefetch thread when batches stream from disk).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import warnings
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

__all__ = ["StoredImages", "cat_inputs", "gathered_batches", "take_rows", "unit_float"]


def unit_float(u8: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in ``[0, 1]``: ``x / 255`` (the one conversion, so every backing is bit-identical)."""
    return u8.to(torch.float32).div_(255.0)


class StoredImages:
    """uint8 images ``(N, C, H, W)`` read through an index map, delivered as float32 ``[0, 1]`` on ``device``.

    ``source`` is either a numpy array (typically a read-only ``np.memmap`` of an image store: batches are
    gathered from it and copied to the device) or a uint8 torch tensor already resident somewhere (on the device
    after ``to(device)`` with ``placement="device"``). Sample ``i`` is ``source[rows[i]]`` (``rows=None``: the
    identity).

    Args:
        source: the uint8 pixels, all samples of the store.
        rows: int64 CPU tensor of rows of ``source`` this view covers, or ``None`` for all.
        device: where batches are delivered.
        placement: ``"stream"`` (gather per batch from the host array) or ``"device"`` (move the whole source to
            ``device`` once, on the first ``to``; falls back to streaming with one warning when it does not fit).
        fingerprint: identity of the source's content (the store's content hash).
    """

    def __init__(self, source: np.ndarray | torch.Tensor, *, rows: torch.Tensor | None = None,
                 device: torch.device | str = "cpu", placement: str = "stream", fingerprint: str = "",
                 _cache: dict | None = None) -> None:
        if placement not in ("stream", "device"):
            raise ValueError(f"placement: expected 'stream' or 'device', got {placement!r}")
        if source.ndim != 4 or (source.dtype != np.uint8 and source.dtype != torch.uint8):
            raise ValueError(f"source: expected uint8 images (N, C, H, W), got {source.dtype} {tuple(source.shape)}")
        self.source, self.rows, self.placement = source, rows, placement
        self.device = torch.device(device)
        self.source_fingerprint = fingerprint
        # shared by every view of one store: "host" -> the host array, device -> resident copy (None: did not fit)
        self._cache = _cache if _cache is not None else {"host": source}

    # ---------------------------------------------------------------------------------------------- tensor-like
    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self.source.shape[1:]))

    @property
    def ndim(self) -> int:
        return 4

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def size(self, dim: int | None = None) -> torch.Size | int:
        return self.shape if dim is None else self.shape[dim]

    def __len__(self) -> int:
        return int(self.source.shape[0]) if self.rows is None else int(self.rows.numel())

    def __repr__(self) -> str:
        kind = "memory-mapped" if isinstance(self.source, np.memmap) else type(self.source).__name__
        return f"StoredImages(n={len(self)}, shape={tuple(self.shape[1:])}, {kind}, device={self.device})"

    @property
    def nbytes(self) -> int:
        """Bytes of uint8 pixels this view covers."""
        return len(self) * int(np.prod(self.source.shape[1:]))

    @property
    def is_resident(self) -> bool:
        """Whether the pixels sit in a torch tensor (no per-batch disk reads)."""
        return isinstance(self.source, torch.Tensor)

    def _view(self, rows: torch.Tensor | None, *, source: Any = None, device: torch.device | None = None
              ) -> "StoredImages":
        return StoredImages(self.source if source is None else source, rows=rows, device=device or self.device,
                            placement=self.placement, fingerprint=self.source_fingerprint, _cache=self._cache)

    def source_rows(self, idx: Any) -> torch.Tensor:
        """Rows of ``source`` for view positions ``idx`` (int, slice, int tensor or bool mask), int64 on the CPU."""
        n = len(self)
        if isinstance(idx, slice):
            pos = torch.arange(n)[idx]
        elif isinstance(idx, int):
            pos = torch.tensor([idx + n if idx < 0 else idx])
        else:
            pos = torch.as_tensor(idx).cpu()
            pos = pos.nonzero().flatten() if pos.dtype == torch.bool else pos.long().flatten()
        return pos if self.rows is None else self.rows[pos]

    def gather_uint8(self, rows: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
        """The uint8 pixels of ``source`` rows (on the source's device; into ``out`` when given, host only)."""
        if isinstance(self.source, torch.Tensor):
            return self.source[rows.to(self.source.device)]
        if out is not None:
            np.take(self.source, rows.numpy(), axis=0, out=out.numpy())
            return out
        return torch.from_numpy(np.take(self.source, rows.numpy(), axis=0))

    def __getitem__(self, idx: Any) -> torch.Tensor:
        """Float32 ``[0, 1]`` images at ``idx`` on ``device`` (an int gives one ``(C, H, W)`` image)."""
        u8 = self.gather_uint8(self.source_rows(idx)).to(self.device, non_blocking=True)
        out = unit_float(u8)
        return out[0] if isinstance(idx, int) else out

    def materialize(self) -> torch.Tensor:
        """Every image of the view as one float32 tensor on ``device`` (the in-memory backing)."""
        return self[:]

    def subset(self, idx: Any) -> "StoredImages":
        """A view of the samples at ``idx`` (no pixels are read)."""
        return self._view(self.source_rows(idx))

    def to(self, device: str | torch.device) -> "StoredImages":
        """A view delivering batches on ``device`` (``self`` when nothing changes). With ``placement="device"``
        the whole source is copied there once, shared by every view of the store; a copy that does not fit
        falls back to streaming from the host array, with one warning."""
        device = torch.device(device)
        source = self._cache["host"]
        if self.placement == "device":
            if device not in self._cache:
                self._cache[device] = _upload(source, device)
            if self._cache[device] is not None:
                source = self._cache[device]
        if source is self.source and device == self.device:
            return self
        return self._view(self.rows, source=source, device=device)

    def fingerprint(self) -> str:
        """SHA-256 of the source's content fingerprint and the rows (equal for equal data, whatever backs it)."""
        h = hashlib.sha256(self.source_fingerprint.encode())
        h.update(str(tuple(self.source.shape)).encode())
        rows = self.rows if self.rows is not None else torch.arange(int(self.source.shape[0]))
        h.update(rows.numpy().tobytes())
        return h.hexdigest()


def free_bytes(device: torch.device) -> int:
    """Free memory on ``device``: ``torch.cuda.mem_get_info`` on CUDA, the available physical memory otherwise."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no sysconf
        return 1 << 62


def _upload(source: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor | None:
    """Copy all of ``source`` to ``device`` in chunks, or ``None`` (with one warning) when it would take more than
    80% of the device's free memory (the rest is left for training)."""
    nbytes = int(np.prod(source.shape))
    free = free_bytes(device)
    if nbytes > 0.8 * free:
        warnings.warn(f"image store: {nbytes / 2**30:.2f} GiB of uint8 images do not fit in the {free / 2**30:.2f} "
                      f"GiB free on {device}; streaming batches from the memory map instead", RuntimeWarning,
                      stacklevel=4)
        return None
    out = torch.empty(tuple(source.shape), dtype=torch.uint8, device=device)
    chunk = max(1, (256 << 20) // max(1, int(np.prod(source.shape[1:]))))
    for start in range(0, int(source.shape[0]), chunk):
        part = source[start:start + chunk]
        part = part if isinstance(part, torch.Tensor) else torch.from_numpy(np.array(part))
        out[start:start + chunk].copy_(part, non_blocking=False)
    return out


def take_rows(x: torch.Tensor | StoredImages, idx: torch.Tensor) -> torch.Tensor | StoredImages:
    """``x`` restricted to samples ``idx``: a lazily indexed view of a ``StoredImages``, ``x[idx]`` of a tensor."""
    if isinstance(x, StoredImages):
        return x.subset(idx)
    return x[idx.to(x.device)]


def cat_inputs(parts: Sequence[torch.Tensor | StoredImages]) -> torch.Tensor | StoredImages:
    """Concatenate inputs along samples: views of one store stay a view (rows concatenated), tensors ``torch.cat``."""
    stores = [p for p in parts if isinstance(p, StoredImages)]
    if stores and len(stores) == len(parts) and all(p._cache is stores[0]._cache for p in stores):
        rows = torch.cat([p.source_rows(slice(None)) for p in stores])
        return stores[0]._view(rows)
    return torch.cat([p.materialize() if isinstance(p, StoredImages) else p for p in parts])


def gathered_batches(x: torch.Tensor | StoredImages, batches: Iterable[torch.Tensor | slice], *,
                     depth: int = 3) -> Iterator[torch.Tensor]:
    """``x[b]`` for each index batch ``b`` (CPU int tensor or slice), float on ``x``'s device, in order.

    Batches that stream from a host array are gathered by a background thread into ``depth`` reusable staging
    buffers (pinned when the device is CUDA) and copied without blocking, so reading the disk overlaps compute.
    Every other backing is indexed directly (no thread, no copy).
    """
    if not (isinstance(x, StoredImages) and not x.is_resident):
        for b in batches:
            yield x[b] if isinstance(b, slice) or isinstance(x, StoredImages) else x[b.to(x.device)]
        return
    yield from _Prefetcher(x, batches, depth)


class _Prefetcher:
    """Background gathering of store batches (see ``gathered_batches``). On CUDA the thread fills a ring of
    pinned staging buffers; a buffer is handed back (``free``) once its host-to-device copy is queued and is
    refilled only after that copy's event has completed. On the CPU each batch is gathered into a fresh array."""

    def __init__(self, x: StoredImages, batches: Iterable[torch.Tensor | slice], depth: int) -> None:
        self.x, self.batches, self.depth = x, batches, max(2, depth)
        self.cuda = x.device.type == "cuda"
        self.ready: queue.Queue = queue.Queue(maxsize=self.depth)
        self.free: queue.Queue = queue.Queue()
        for k in range(self.depth):
            self.free.put(k)
        self.buffers: list[torch.Tensor | None] = [None] * self.depth
        self.events: list[Any] = [None] * self.depth
        self.stop = threading.Event()

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _take_buffer(self, n: int) -> tuple[int, torch.Tensor] | None:
        while not self.stop.is_set():
            try:
                k = self.free.get(timeout=0.1)
            except queue.Empty:
                continue
            if self.events[k] is not None:
                self.events[k].synchronize()  # the previous copy out of this buffer has finished
            buf = self.buffers[k]
            if buf is None or buf.shape[0] < n:
                buf = torch.empty((n, *self.x.source.shape[1:]), dtype=torch.uint8, pin_memory=True)
                self.buffers[k] = buf
            return k, buf[:n]
        return None

    def _work(self) -> None:
        try:
            for b in self.batches:
                rows = self.x.source_rows(b)
                if self.cuda:
                    slot = self._take_buffer(len(rows))
                    if slot is None:
                        return
                    k, buf = slot
                    item = (k, self.x.gather_uint8(rows, out=buf))
                else:
                    item = (None, self.x.gather_uint8(rows))
                if not self._put(item):
                    return
            self._put(None)
        except BaseException as exc:  # surfaced in the consumer
            self._put(exc)

    def __iter__(self) -> Iterator[torch.Tensor]:
        thread = threading.Thread(target=self._work, daemon=True, name="unlearn-audit-prefetch")
        thread.start()
        try:
            while True:
                item = self.ready.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                k, staged = item
                out = unit_float(staged.to(self.x.device, non_blocking=True))
                if k is not None:
                    ev = torch.cuda.Event()
                    ev.record()
                    self.events[k] = ev
                    self.free.put(k)
                yield out
        finally:
            self.stop.set()
            thread.join()
