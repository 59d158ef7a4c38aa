"""Scale: images/s of ``fit`` and ``evaluate`` for ResNet-18 on a generated uint8 image store, by backing.

    python benchmarks/scale.py                          # CPU-sized defaults (N=512 at 32 px, N=48 at 224 px)
    python benchmarks/scale.py --n32 50000 --n224 20000 --device cuda --compile    # on a GPU

The store holds random uint8 images (so it runs anywhere, nothing is downloaded). Each configuration runs in
its own process so its peak host memory (``ru_maxrss``) is its own: the in-memory float32 path ("memory"), the
memory-mapped store streamed through pinned buffers and the prefetch thread ("stream"), and the store copied
to the device once ("device"). ``fit`` is one epoch after a warm-up of a few steps (compilation, cuDNN
autotuning and the device copy excluded); ``evaluate`` is the metric engine's forward passes over every split
(attacks and MIA off). 32 px uses the CIFAR ResNet-18 (``resnet18_small``), 224 px torchvision's own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_store(path: Path, n: int, side: int) -> None:
    import numpy as np

    from unlearn_audit.data._store import write_store

    rng = np.random.default_rng(0)
    chunk = max(1, (64 << 20) // (3 * side * side))
    chunks = (rng.integers(0, 256, (min(chunk, n - s), 3, side, side), dtype=np.uint8) for s in range(0, n, chunk))
    write_store(path, chw=(3, side, side), labels=np.arange(n) % 2, attrs=(np.arange(n) // 2) % 2,
                split=np.where(np.arange(n) % 10 < 8, 0, np.where(np.arange(n) % 10 == 8, 1, 2)), chunks=chunks,
                metadata={"name": f"random{side}", "mean": [0.5] * 3, "std": [0.5] * 3})


def one(args: argparse.Namespace) -> dict:
    import torch

    from unlearn_audit._device import resolve_device
    from unlearn_audit.data._store import open_store
    from unlearn_audit.metrics import MetricConfig, evaluate
    from unlearn_audit.models import resnet18, resnet18_small
    from unlearn_audit.training import TrainRecipe, fit

    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    store = open_store(args.store)
    data = store.audit_data(forget_groups=[(1, 0)], forget_ratio=0.5, placement=args.backing)
    side = store.images.shape[-1]
    make = resnet18_small if side <= 64 else resnet18
    torch.manual_seed(0)
    model = make(2, mean=(0.5,) * 3, std=(0.5,) * 3)
    recipe = TrainRecipe(epochs=1, lr=0.05, batch_size=args.batch_size, compile=args.compile)
    t0 = time.perf_counter()
    train = data.train.to(dev)  # the one device copy of "device" (or the float copy of "memory")
    placed = time.perf_counter() - t0
    warm = train.subset(torch.arange(min(len(train), 3 * args.batch_size)))
    fit(model, warm, recipe, seed=0, device=dev, progress=False)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync()
    t0 = time.perf_counter()
    fit(model, train, recipe, seed=0, device=dev, progress=False)
    sync()
    fit_s = time.perf_counter() - t0
    cfg = MetricConfig(fgsm=False, pgd=False, mia_protocols=(), batch_size=args.eval_batch_size)
    evaluate(model, data, config=cfg, device=dev)  # warm-up
    sync()
    t0 = time.perf_counter()
    evaluate(model, data, config=cfg, device=dev)
    sync()
    eval_s = time.perf_counter() - t0
    n_eval = len(data.retain) + len(data.forget) + len(data.test) + len(data.val)
    out = {"side": int(side), "backing": args.backing, "n_train": len(train), "fit_img_s": len(train) / fit_s,
           "eval_img_s": n_eval / eval_s, "place_s": placed,
           "peak_host_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if dev.type == "cuda":
        out["peak_device_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n32", type=int, default=512)
    p.add_argument("--n224", type=int, default=48)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=int(os.environ.get("UNLEARN_AUDIT_THREADS", "0") or 0) or
                   len(os.sched_getaffinity(0)))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--eval-batch-size", type=int, default=512)
    p.add_argument("--compile", action="store_true", help="TrainRecipe(compile=True)")
    p.add_argument("--backings", default="memory,stream,device")
    p.add_argument("--store", help=argparse.SUPPRESS)
    p.add_argument("--backing", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.store:  # one configuration, in this process
        print(json.dumps(one(args)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for side, n in ((32, args.n32), (224, args.n224)):
            if n <= 0:
                continue
            store = Path(tmp) / f"random{side}.uastore"
            make_store(store, n, side)
            for backing in args.backings.split(","):
                cmd = [sys.executable, __file__, "--store", str(store), "--backing", backing, "--device", args.device,
                       "--threads", str(args.threads), "--batch-size", str(args.batch_size),
                       "--eval-batch-size", str(args.eval_batch_size)] + (["--compile"] if args.compile else [])
                res = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if res.returncode:
                    print(res.stderr[-2000:], file=sys.stderr)
                    continue
                rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
                r = rows[-1]
                print(f"{side:>3} px  {backing:<6}  n_train={r['n_train']:>6}  fit {r['fit_img_s']:8.1f} img/s  "
                      f"evaluate {r['eval_img_s']:8.1f} img/s  peak host {r['peak_host_mib']:7.0f} MiB"
                      + (f"  peak device {r['peak_device_mib']:7.0f} MiB" if "peak_device_mib" in r else ""),
                      flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
