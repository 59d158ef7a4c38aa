"""Decoding image files (or encoded bytes) to uint8 ``(C, H, W)`` arrays with Pillow, in worker processes."""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

__all__ = ["PrepareError", "decode_image", "hash_items", "decoded_chunks"]

Item = Any  # a path (str / Path) or encoded image bytes


class PrepareError(ValueError):
    """A source cannot be turned into an image store (each message names the file, row or option at fault)."""


def _name(item: Item, i: int) -> str:
    return str(item) if isinstance(item, (str, os.PathLike)) else f"row {i} (embedded image bytes)"


def decode_image(item: Item, *, size: int | None, expected: tuple[int, int] | None, i: int = 0) -> np.ndarray:
    """One RGB image as uint8 ``(3, H, W)``.

    With ``size``: the short side resized to ``size`` (bilinear), then a centre crop to ``size x size`` -- the
    pixels of torchvision's ``Resize(size)`` + ``CenterCrop(size)``, the local loaders' transform. Without: the
    native size, which must equal ``expected`` (``(W, H)`` of the first image) when given.

    Raises:
        PrepareError: the file is missing or cannot be decoded, or its size differs from ``expected``.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        src = io.BytesIO(item) if isinstance(item, (bytes, bytearray)) else item
        with Image.open(src) as img:
            img = img.convert("RGB")
            if size is not None:
                w, h = img.size  # torchvision's Resize(size) + CenterCrop(size) arithmetic, on the PIL image
                nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
                if (nw, nh) != (w, h):
                    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
                left, top = int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))
                img = img.crop((left, top, left + size, top + size))
            elif expected is not None and img.size != expected:
                raise PrepareError(f"{_name(item, i)}: image is {img.size[0]}x{img.size[1]} but the first image is "
                                   f"{expected[0]}x{expected[1]}; images of mixed sizes need size= (--size N "
                                   f"resizes the short side and centre-crops to N x N)")
            return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1).copy()
    except FileNotFoundError:
        raise PrepareError(f"{_name(item, i)}: image file is missing") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PrepareError):
            raise
        raise PrepareError(f"{_name(item, i)}: cannot decode the image ({type(exc).__name__}: {exc})") from None


def _decode_chunk(args: tuple[int, Sequence[Item], int | None, tuple[int, int] | None]) -> np.ndarray:
    start, items, size, expected = args
    return np.stack([decode_image(it, size=size, expected=expected, i=start + k) for k, it in enumerate(items)])


def _hash_chunk(args: tuple[int, Sequence[Item]]) -> list[str]:
    start, items = args
    out = []
    for k, it in enumerate(items):
        if isinstance(it, (bytes, bytearray)):
            out.append(hashlib.sha256(it).hexdigest())
            continue
        try:
            with open(it, "rb") as fh:
                out.append(hashlib.file_digest(fh, "sha256").hexdigest())
        except FileNotFoundError:
            raise PrepareError(f"{_name(it, start + k)}: image file is missing") from None
        except OSError as exc:
            raise PrepareError(f"{_name(it, start + k)}: cannot be read ({exc})") from None
    return out


def _pool_map(fn: Callable, jobs: list, workers: int) -> Iterator[Any]:
    if workers <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(fn, jobs)


def _chunks(items: Sequence[Item], chunk: int) -> list[tuple[int, Sequence[Item]]]:
    return [(s, items[s:s + chunk]) for s in range(0, len(items), chunk)]


def hash_items(items: Sequence[Item], *, workers: int, chunk: int = 256) -> str:
    """SHA-256 over the bytes of every image in order (the content fingerprint of a source's images).

    Raises:
        PrepareError: an image file is missing or unreadable (its path).
    """
    h = hashlib.sha256()
    for digests in _pool_map(_hash_chunk, _chunks(items, chunk), workers):
        h.update("".join(digests).encode())
    return h.hexdigest()


def first_size(items: Sequence[Item], size: int | None) -> tuple[int, int, int]:
    """``(C, H, W)`` of the store: ``(3, size, size)``, or the first image's native size."""
    if size is not None:
        return 3, size, size
    h, w = decode_image(items[0], size=None, expected=None).shape[1:]
    return 3, int(h), int(w)


def decoded_chunks(items: Sequence[Item], *, size: int | None, workers: int, chunk: int = 64) -> Iterator[np.ndarray]:
    """uint8 ``(k, 3, H, W)`` arrays of consecutive images, decoded by ``workers`` processes, in order."""
    c, h, w = first_size(items, size)
    expected = None if size is not None else (w, h)
    jobs = [(s, part, size, expected) for s, part in _chunks(items, chunk)]
    yield from _pool_map(_decode_chunk, jobs, workers)


def as_items(paths: Sequence[Any], root: Path | None) -> list[Item]:
    """Paths relative to ``root`` (absolute ones kept), or image bytes as they are."""
    out: list[Item] = []
    for p in paths:
        if isinstance(p, dict) and "bytes" in p:          # Hugging Face-style {"bytes", "path"} cells
            p = p["bytes"] if p["bytes"] is not None else p.get("path")
        if isinstance(p, (bytes, bytearray)):
            out.append(bytes(p))
        else:
            q = Path(str(p)).expanduser()
            out.append(str(q if q.is_absolute() or root is None else root / q))
    return out
