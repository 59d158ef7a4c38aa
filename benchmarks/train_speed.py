"""Samples/second of ``fit`` on colored_digits: in-memory fast path vs the DataLoader path.

Usage::

    python benchmarks/train_speed.py                    # CPU (or CUDA when available), 10 epochs, 2 threads
    python benchmarks/train_speed.py --device cuda --epochs 20

Both paths train the same SmallConvNet (width 32) on the same 16x16 data with the same recipe and seed; the
DataLoader path gets the data wrapped in a plain map-style ``torch.utils.data.Dataset`` yielding ``(x, y, a)``
(``num_workers=0``), which is what a user's streaming dataset looks like to ``fit``. One warm-up epoch per path
is run first and not timed.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from unlearn_audit._device import resolve_device
from unlearn_audit.data import GroupDataset
from unlearn_audit.datasets import colored_digits
from unlearn_audit.models import SmallConvNet
from unlearn_audit.training import TrainRecipe, fit


class TripleDataset(torch.utils.data.Dataset):
    """A map-style dataset over a ``GroupDataset``'s CPU tensors, one ``(x, y, a)`` item at a time."""

    def __init__(self, ds: GroupDataset) -> None:
        self.x, self.y, self.a = ds.x.cpu(), ds.y.cpu(), ds.a.cpu()
        self.n_attrs = ds.n_attrs

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i], self.a[i]


def _time_fit(dataset, n: int, recipe: TrainRecipe, device: torch.device, *, width: int, n_classes: int,
              mean, std) -> tuple[float, float, float]:
    """Wall seconds for ``recipe.epochs`` epochs after one untimed warm-up epoch, samples per wall second and
    samples per CPU second of this process (the latter is steadier on a machine shared with other jobs)."""
    torch.manual_seed(0)
    model = SmallConvNet(n_classes, width=width, mean=mean, std=std)
    fit(model, dataset, recipe.replace(epochs=1), seed=0, device=device, progress=False)
    torch.manual_seed(0)
    model = SmallConvNet(n_classes, width=width, mean=mean, std=std)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, cpu_start = time.perf_counter(), time.process_time()
    fit(model, dataset, recipe, seed=0, device=device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return seconds, recipe.epochs * n / seconds, recipe.epochs * n / cpu_seconds


def _loadavg() -> str:
    try:
        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except (AttributeError, OSError):  # pragma: no cover - not available on Windows
        return "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = colored_digits(scale=1, majority=0.9, size=args.size, seed=0)   # the README figures: 1,079 samples
    train = data.train
    recipe = TrainRecipe(epochs=args.epochs, lr=0.05, batch_size=args.batch_size)
    common = dict(width=args.width, n_classes=train.n_classes, mean=train.mean, std=train.std)
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    print(f"fit on colored_digits {args.size}x{args.size}: {len(train)} train samples, SmallConvNet width "
          f"{args.width}, {args.epochs} epochs, batch {args.batch_size}, device {device}{gpu}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {_loadavg()}")
    results = {
        "fast path (GroupDataset)": _time_fit(train, len(train), recipe, device, **common),
        "DataLoader path (torch Dataset)": _time_fit(TripleDataset(train), len(train), recipe, device, **common),
    }
    for name, (seconds, rate, cpu_rate) in results.items():
        print(f"  {name:<32} {rate:>10,.0f} samples/s   ({seconds:.2f} s wall; {cpu_rate:,.0f} samples per CPU-s)")
    fast, slow = (r[1] for r in results.values())
    print(f"  speed-up of the fast path: {fast / slow:.2f}x")


if __name__ == "__main__":
    main()
