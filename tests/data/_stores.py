"""Helpers of the image-store tests: learnable PNG folders and their CSVs, written in ``tmp_path``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def write_png_folder(root: Path, *, n: int = 96, size: tuple[int, int] = (8, 8), seed: int = 0,
                     attributes: tuple[str, ...] = ("red", "blue"), split: bool = True,
                     header: tuple[str, ...] = ("path", "label", "attribute", "split")) -> Path:
    """``n`` PNG images under ``root/img`` and ``root/labels.csv`` listing them.

    Label 1 images are bright in their top half, label 0 in their bottom half (learnable by a tiny net); the
    attribute (a colour name, a string) tints the image. Splits cycle train, train, train, val, test (when
    ``split``). Returns the CSV's path.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    h, w = size
    rows = []
    cycle = ("train", "train", "train", "val", "test")
    for i in range(n):
        y, a = i % 2, (i // 2) % len(attributes)
        img = rng.integers(0, 90, (h, w, 3)).astype(np.uint8)
        half = slice(0, h // 2) if y else slice(h // 2, h)
        img[half] += 150
        img[..., a % 3] = np.minimum(255, img[..., a % 3].astype(int) + 10).astype(np.uint8)
        rel = f"img/{i:04d}.png"
        Image.fromarray(img).save(root / rel)
        row = [rel, str(y), attributes[a]] + ([cycle[i % 5]] if split else [])
        rows.append(row)
    path = root / "labels.csv"
    with open(path, "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(header[:4] if split else header[:3])
        wr.writerows(rows)
    return path
