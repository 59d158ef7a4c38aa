"""Wall time of every registered unlearning method on colored_digits, relative to one retrain.

Usage: python benchmarks/methods_speed.py [--device cpu|cuda] [--threads 2] [--methods ft,scrub,...]
Prints one line per method: seconds and the ratio to the `retrain` time (the gold-standard cost).
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

import unlearn_audit as ua
from unlearn_audit._device import resolve_device
from unlearn_audit.models import SmallConvNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the original / retrain recipe")
    parser.add_argument("--methods", default="", help="comma-separated subset (default: all registered)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = ua.datasets.colored_digits(scale=1, majority=0.9, size=16)   # the README figures: the small data set
    recipe = ua.TrainRecipe(epochs=args.epochs, lr=0.05, batch_size=64)

    def factory() -> torch.nn.Module:
        return SmallConvNet(data.n_classes, mean=data.train.mean, std=data.train.std)

    torch.manual_seed(0)
    t0 = time.perf_counter()
    original = ua.fit(factory(), data.train, recipe, device=device, progress=False)
    print(f"original fit: {time.perf_counter() - t0:.2f} s  ({len(data.train)} samples, {args.epochs} epochs, "
          f"device={device}, threads={torch.get_num_threads()})")
    ctx = ua.UnlearnContext.build(data=data, original=original, recipe=recipe, device=device,
                                  model_factory=factory, seed=0)
    names = [n for n in args.methods.split(",") if n] or ["retrain"] + [n for n in ua.METHODS if n != "retrain"]
    timings: dict[str, float] = {}
    for name in names:
        method = ua.get_method(name)
        t0 = time.perf_counter()
        method(copy.deepcopy(original), ctx.replace(log={}))
        if device.type == "cuda":
            torch.cuda.synchronize()
        timings[name] = time.perf_counter() - t0
    base = timings.get("retrain")
    print(f"{'method':<22}{'seconds':>10}{'x retrain':>12}")
    for name, secs in timings.items():
        ratio = f"{secs / base:>12.3f}" if base else f"{'-':>12}"
        print(f"{name:<22}{secs:>10.2f}{ratio}")


if __name__ == "__main__":
    main()
