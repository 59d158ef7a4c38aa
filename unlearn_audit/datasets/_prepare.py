"""``prepare_table`` / ``prepare_images``: build an image store from a table of image paths (CSV or Parquet).

A table has one row per image: a path column (relative to ``root``, default the table's folder; or embedded
encoded bytes, as in Hugging Face Parquet exports), a label column, an attribute column and optionally a split
column (``train``/``val``/``test`` or 0/1/2). String labels or attributes are encoded ``0..k-1`` in sorted order
and their names kept. Re-running on an unchanged source (same table bytes, same image bytes, same options) is a
no-op: the store records the source's content fingerprint.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..data._store import ImageStore, StoreError, open_store, write_store
from ._decode import PrepareError, as_items, decoded_chunks, first_size, hash_items

__all__ = ["PreparedStore", "build_store", "prepare_images", "prepare_table", "read_table"]

_SPLIT_CODES = {"train": 0, "0": 0, "val": 1, "valid": 1, "validation": 1, "1": 1, "test": 2, "2": 2}


@dataclass(frozen=True)
class PreparedStore:
    """What ``prepare_*`` did: the opened ``store`` and whether it was already up to date (``unchanged``)."""

    store: ImageStore
    unchanged: bool


def read_table(path: str | os.PathLike, columns: dict[str, str], optional: Sequence[str] = ()) -> dict[str, list]:
    """The named columns of a CSV (csv module) or Parquet (pandas) table, as lists.

    Args:
        path: the table.
        columns: required column names, keyed by the option that names them (for the error message).
        optional: columns read when present.

    Raises:
        PrepareError: missing file or named column (the message lists the columns found), or Parquet without
            pandas.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise PrepareError(f"table: {str(p)!r} does not exist")
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            import pandas as pd
        except ImportError:
            raise PrepareError(f"table: reading {str(p)!r} (Parquet) needs pandas and pyarrow "
                               f"(pip install 'unlearn-audit[parquet]'); or export it as CSV") from None
        frame = pd.read_parquet(p)
        header = [str(c) for c in frame.columns]
        get = lambda c: frame[c].tolist()  # noqa: E731
    else:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r]
        if not rows:
            raise PrepareError(f"table: {str(p)!r} is empty (expected a header row)")
        header = [h.strip() for h in rows[0]]
        body = rows[1:]
        bad = next((i for i, r in enumerate(body) if len(r) != len(header)), None)
        if bad is not None:
            raise PrepareError(f"table: {str(p)!r} line {bad + 2} has {len(body[bad])} fields, the header "
                               f"{len(header)}")
        get = lambda c: [r[header.index(c)].strip() for r in body]  # noqa: E731
    for option, column in columns.items():
        if column not in header:
            raise PrepareError(f"table: {str(p)!r} has no column {column!r} (found {header}); name the right one "
                               f"with {option}= (--{option.replace('_', '-')} on the command line)")
    return {c: get(c) for c in (*columns.values(), *optional) if c in header}


def _encode(values: list, *, column: str, table: Path) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Integer codes of a label/attribute column, and the value names when the values are strings."""
    empty = next((i for i, v in enumerate(values) if v is None or (isinstance(v, float) and np.isnan(v))
                  or (isinstance(v, str) and not v.strip())), None)
    if empty is not None:
        raise PrepareError(f"table: {str(table)!r} column {column!r} is empty in data row {empty + 1}; every image "
                           f"needs a {column} value")
    text = [str(v).strip() for v in values]
    try:
        codes = np.array([int(float(v)) if float(v) == int(float(v)) else None for v in text], dtype=np.int64)
        if codes.min() >= 0:
            return codes, None
    except (TypeError, ValueError):
        pass
    names, codes = np.unique(np.array(text), return_inverse=True)
    return codes.astype(np.int64), tuple(str(n) for n in names)


def _split_codes(values: list, *, column: str, table: Path) -> np.ndarray:
    out = np.empty(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        code = _SPLIT_CODES.get(str(v).strip().lower())
        if code is None:
            raise PrepareError(f"table: {str(table)!r} column {column!r} has value {v!r} in data row {i + 1}; "
                               f"expected train/val/test or 0/1/2")
        out[i] = code
    return out


def _file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def prepare_images(items: Sequence[Any], *, out: str | os.PathLike, labels: Any, attrs: Any, split: Any = None,
                   classes: Sequence[str] | None = None, attr_names: Sequence[str] | None = None,
                   mean: Sequence[float] | None = None, std: Sequence[float] | None = None, name: str | None = None,
                   size: int | None = None, workers: int | None = None, source_id: str = "",
                   progress: bool = True) -> PreparedStore:
    """Decode ``items`` (image paths or encoded bytes) into the store ``out``, unless it is already up to date.

    Args:
        items: one image per sample.
        out: the store file to write.
        labels, attrs, split: per-sample integers (split codes index ``("train", "val", "test")``).
        classes, attr_names: value names; mean, std: the normalization models should apply; name: for reports.
        size: resize (short side) and centre-crop every image to ``size x size``; ``None`` keeps the native
            size, which must then be the same for every image.
        workers: decoding processes (default: the CPUs this process may use).
        source_id: extra identity of the source folded into the fingerprint (e.g. the table's digest).
        progress: show a progress bar on a terminal.

    Raises:
        PrepareError: a missing or undecodable image (its path), mixed sizes without ``size``, bad ``size``.
        StoreError: not enough free disk space (nothing is written).
    """
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 8):
        raise PrepareError(f"size: expected None or an int >= 8, got {size!r}")
    if len(items) == 0:
        raise PrepareError("source: has no image")
    workers = max(1, len(os.sched_getaffinity(0)) if workers is None else int(workers))
    target = Path(out).expanduser()
    options = {"size": size, "classes": classes, "attr_names": attr_names, "mean": mean, "std": std, "name": name,
               "source": source_id}
    h = hashlib.sha256(json.dumps(options, sort_keys=True, default=list).encode())
    h.update(hash_items(items, workers=workers).encode())
    return build_store(target, fingerprint=h.hexdigest(), chw=first_size(items, size), labels=labels, attrs=attrs,
                       split=split, classes=classes, attr_names=attr_names, mean=mean, std=std, name=name,
                       chunks=lambda: decoded_chunks(items, size=size, workers=workers), progress=progress)


def build_store(out: str | os.PathLike, *, fingerprint: str, chw: Sequence[int], labels: Any, attrs: Any,
                split: Any, chunks: Callable[[], Iterator[np.ndarray]], classes: Sequence[str] | None = None,
                attr_names: Sequence[str] | None = None, mean: Sequence[float] | None = None,
                std: Sequence[float] | None = None, name: str | None = None, progress: bool = True) -> PreparedStore:
    """Write the store ``out`` from ``chunks()`` unless it already records ``fingerprint`` (then a no-op).

    ``fingerprint`` identifies the source (its bytes and the options); the labels, attributes and splits are
    folded into it here.
    """
    from ..training import progress_bar

    target = Path(out).expanduser()
    h = hashlib.sha256(fingerprint.encode())
    for arr in (labels, attrs, split if split is not None else []):
        h.update(np.asarray(arr, dtype=np.int64).tobytes())
    fingerprint = h.hexdigest()
    if target.is_file():
        try:
            existing = open_store(target)
            if existing.metadata.get("source_fingerprint") == fingerprint:
                return PreparedStore(existing, unchanged=True)
        except StoreError:
            pass  # rebuilt below
    meta: dict[str, Any] = {"source_fingerprint": fingerprint, "name": name or target.stem}
    for key, val in (("classes", classes), ("attr_names", attr_names), ("mean", mean), ("std", std)):
        if val is not None:
            meta[key] = list(val)
    n = len(np.asarray(labels).reshape(-1))
    with progress_bar(f"prepare {target.name}", n, enabled=progress) as advance:
        write_store(target, chw=chw, labels=labels, attrs=attrs, split=split, metadata=meta, chunks=chunks(),
                    progress=advance)
    return PreparedStore(open_store(target), unchanged=False)


def prepare_table(table: str | os.PathLike, *, out: str | os.PathLike, root: str | os.PathLike | None = None,
                  path_column: str = "path", label_column: str = "label", attribute_column: str = "attribute",
                  split_column: str | None = "split", size: int | None = None, workers: int | None = None,
                  mean: Sequence[float] | None = (0.5, 0.5, 0.5), std: Sequence[float] | None = (0.5, 0.5, 0.5),
                  progress: bool = True) -> PreparedStore:
    """Build an image store from a table (CSV, or Parquet via pandas) of image paths, labels and attributes.

    Args:
        table: the CSV / Parquet file.
        out: the store file to write.
        root: folder the relative paths start from (default: the table's folder).
        path_column, label_column, attribute_column: column names (required).
        split_column: optional column of train/val/test (or 0/1/2); ignored when absent.
        size, workers, progress: see ``prepare_images``.
        mean, std: the normalization the audited models apply (recorded in the store).

    Raises:
        PrepareError: missing table/column, an empty label or attribute cell, bad split values, a missing or
            undecodable image (its path), mixed sizes without ``size``.
        StoreError: not enough free disk space.
    """
    tpath = Path(table).expanduser()
    cols = read_table(tpath, {"path_column": path_column, "label_column": label_column,
                              "attribute_column": attribute_column},
                      optional=[split_column] if split_column else [])
    base = Path(root).expanduser() if root is not None else tpath.parent
    if not base.is_dir():
        raise PrepareError(f"root: {str(base)!r} is not a folder (the image paths of {str(tpath)!r} start there)")
    y, classes = _encode(cols[label_column], column=label_column, table=tpath)
    a, attr_names = _encode(cols[attribute_column], column=attribute_column, table=tpath)
    split = _split_codes(cols[split_column], column=split_column, table=tpath) if split_column in cols else None
    items = as_items(cols[path_column], base)
    return prepare_images(items, out=out, labels=y, attrs=a, split=split, classes=classes, attr_names=attr_names,
                          mean=mean, std=std, name=tpath.stem, size=size, workers=workers,
                          source_id=f"table:{_file_digest(tpath)}:{base.resolve()}", progress=progress)

