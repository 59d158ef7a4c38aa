"""Metric-engine speed: ``evaluate`` against the bare passes it needs, and the MIA protocols on 20k samples.

(a) ``evaluate`` vs the bare passes: one no-grad forward over every split (retain, forget, test, val) plus, per
    attack, the forward/backward steps on every attacked test sample and one forward on the adversarial batch --
    written here as plain loops with nothing else. Goal: ratio <= 1.3. A breakdown shows where the rest goes.
(b) ``loss_threshold_attack`` and ``mia_efficacy`` against ``mia_svc_confidence`` on the same 20k samples
    (10k members + 10k non-members to fit or sweep, 2k forget samples to score).

Usage: python benchmarks/metrics_speed.py [--device cpu|cuda] [--threads N] [--n-train 12000] [--size 16]
       [--repeat R] [--only a|b] [--skip-svc]     (timings are the best of R runs)
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from unlearn_audit._device import autocast, resolve_device, use_channels_last
from unlearn_audit.data import AuditData, GroupDataset
from unlearn_audit.metrics import (MetricConfig, evaluate, loss_threshold_attack, mia_efficacy, mia_svc_confidence)
from unlearn_audit.metrics._fairness_gap import NormStatsCollector
from unlearn_audit.metrics._passes import forward_split, frozen_state
from unlearn_audit.models import SmallConvNet


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, dev, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        _sync(dev)
        t = time.perf_counter()
        out = fn()
        _sync(dev)
        best = min(best, time.perf_counter() - t)
    return best, out


def synthetic_audit(n_train: int, size: int, seed: int = 0) -> AuditData:
    g = torch.Generator().manual_seed(seed)

    def split(n):
        y = torch.randint(0, 2, (n,), generator=g)
        a = torch.randint(0, 2, (n,), generator=g)
        x = torch.rand(n, 3, size, size, generator=g) * 0.8 + 0.012 * y.view(-1, 1, 1, 1) + 0.01 * a.view(-1, 1, 1, 1)
        return GroupDataset(x.clamp(0, 1), y, a, n_classes=2, n_attrs=2)

    train = split(n_train)
    forget = ((train.y == 1) & (train.a == 0)).nonzero().flatten()[: n_train // 10]
    return AuditData(train=train, test=split(n_train // 4), val=split(n_train // 4), forget_idx=forget)


def bare_passes(model, data: AuditData, cfg: MetricConfig, dev: torch.device) -> None:
    """The compute evaluate cannot avoid, with nothing else: forwards, attack forward/backwards, adv forwards."""
    cl = use_channels_last(model, dev)
    bs = cfg.batch_size

    def batches(ds):
        for i in range(0, len(ds), bs):
            x = ds.x[i:i + bs].to(dev)
            yield (x.contiguous(memory_format=torch.channels_last) if cl else x), ds.y[i:i + bs].to(dev)

    with frozen_state(model, dev):
        with torch.no_grad():
            for ds in data.splits().values():
                for x, _ in batches(ds):
                    with autocast(dev, enabled=cfg.amp):
                        model(x)
        n_steps = ([1] if cfg.fgsm else []) + ([cfg.pgd_steps] if cfg.pgd else [])
        for steps in n_steps:
            for x, y in batches(data.test):
                x_adv = x
                for _ in range(steps):
                    x_adv = x_adv.detach().requires_grad_(True)
                    with autocast(dev, enabled=cfg.amp):
                        loss = F.cross_entropy(model(x_adv).float(), y, reduction="sum")
                    (g,) = torch.autograd.grad(loss, x_adv)
                    x_adv = (x_adv + cfg.eps * g.sign()).clamp(0, 1)
                with torch.no_grad(), autocast(dev, enabled=cfg.amp):
                    model(x_adv)


def part_a(args, dev: torch.device) -> None:
    data = synthetic_audit(args.n_train, args.size)
    torch.manual_seed(0)
    model = SmallConvNet(2, width=args.width).to(dev).eval()
    if args.train_epochs:  # a trained model, so that the printed metrics mean something (speed is the same)
        from unlearn_audit.training import TrainRecipe, fit

        fit(model, data.train, TrainRecipe(epochs=args.train_epochs, lr=0.05, batch_size=128), device=dev,
            progress=False)
    cfg = MetricConfig(batch_size=args.batch_size)
    sizes = {k: len(v) for k, v in data.splits().items()}
    print(f"(a) evaluate vs bare passes  device={dev} threads={torch.get_num_threads()}  splits={sizes}  "
          f"images 3x{args.size}x{args.size}  SmallConvNet(width={args.width})  FGSM + PGD-{cfg.pgd_steps} on "
          f"{sizes['test']} test samples, MIA efficacy")
    evaluate(model, data, config=cfg, device=dev)  # warm-up (imports, allocator, kernels)
    no_mia = cfg.replace(mia_protocols=())
    runs = {"bare": [], "eval": [], "no_mia": []}
    for _ in range(args.repeat):  # interleaved, so that load drift on a shared machine hits all three alike
        runs["bare"].append(_timed(lambda: bare_passes(model, data, cfg, dev), dev)[0])
        t, m = _timed(lambda: evaluate(model, data, config=cfg, device=dev), dev)
        runs["eval"].append(t)
        runs["no_mia"].append(_timed(lambda: evaluate(model, data, config=no_mia, device=dev), dev)[0])
    t_bare, t_eval, t_nomia = (min(runs[k]) for k in ("bare", "eval", "no_mia"))
    print(f"    bare passes {t_bare:8.2f} s   (best of {args.repeat}; all: "
          f"{', '.join(f'{t:.1f}' for t in runs['bare'])})")
    print(f"    evaluate    {t_eval:8.2f} s   ratio {t_eval / t_bare:.2f}x  (goal <= 1.3x; all: "
          f"{', '.join(f'{t:.1f}' for t in runs['eval'])})")
    print(f"    evaluate without the MIA forest (mia_protocols=()) {t_nomia:8.2f} s   ratio {t_nomia / t_bare:.2f}x")
    # breakdown of what evaluate adds
    with frozen_state(model, dev):
        def hooked():
            with NormStatsCollector(model, 2) as col:
                forward_split(model, data.retain, device=dev, batch_size=cfg.batch_size, collector=col)
            return col

        t_plain = t_hooked = float("inf")
        for _ in range(args.repeat):
            t_plain = min(t_plain, _timed(lambda: forward_split(model, data.retain, device=dev,
                                                                batch_size=cfg.batch_size), dev)[0])
            t_hooked = min(t_hooked, _timed(hooked, dev)[0])
        losses = {k: forward_split(model, ds, device=dev, batch_size=cfg.batch_size).losses
                  for k, ds in data.splits().items()}
    t_mia, _ = _timed(lambda: mia_efficacy(train_member_losses=losses["retain"], train_nonmember_losses=losses["val"],
                                           forget_losses=losses["forget"], test_losses=losses["test"]), dev)
    t_lt, _ = _timed(lambda: loss_threshold_attack(losses["forget"], losses["test"]), dev)
    print(f"    breakdown: retain pass {t_plain:.2f} s, with fairness-gap hooks {t_hooked:.2f} s "
          f"(+{100 * (t_hooked / t_plain - 1):.0f}%); MIA forest {t_mia:.2f} s; loss-threshold {1e3 * t_lt:.1f} ms")
    print(f"    TA {m['TA']:.1f}  FGSM {m['FGSM']:.1f}  PGD {m['PGD']:.1f}  MIA {m['MIA']:.1f}  FG {m['FG']:.4f}")


def part_b(args) -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    retain = torch.as_tensor(rng.gamma(1.0, 0.15, n), dtype=torch.float32)
    test = torch.as_tensor(rng.gamma(1.2, 0.5, n), dtype=torch.float32)
    forget = torch.as_tensor(rng.gamma(1.0, 0.3, 2_000), dtype=torch.float32)
    y = {k: torch.as_tensor(rng.integers(0, 10, len(v))) for k, v in (("r", retain), ("t", test), ("f", forget))}

    def probs(loss, lab):  # a probability vector whose p_y = exp(-loss), rest spread evenly
        py = torch.exp(-loss.double())
        p = ((1 - py) / 9).view(-1, 1).repeat(1, 10)
        return p.scatter(1, lab.view(-1, 1), py.view(-1, 1))

    cpu = torch.device("cpu")
    print(f"(b) attacks on 20k samples (10k members + 10k non-members; 2k forget samples)  "
          f"threads={torch.get_num_threads()}")
    t, _ = _timed(lambda: loss_threshold_attack(forget, test), cpu, 5)
    t2, _ = _timed(lambda: loss_threshold_attack(retain, test), cpu, 5)
    print(f"    loss_threshold_attack   {1e3 * t:9.1f} ms (2k vs 10k)   {1e3 * t2:9.1f} ms (10k vs 10k)")
    t, _ = _timed(lambda: mia_efficacy(train_member_losses=retain, train_nonmember_losses=test, forget_losses=forget,
                                       test_losses=test), cpu)
    print(f"    mia_efficacy            {t:9.2f} s  (RandomForest, 100 trees, fit on 20k)")
    if args.skip_svc:
        print("    mia_svc_confidence      skipped (--skip-svc)")
        return
    t, _ = _timed(lambda: mia_svc_confidence(retain_probs=probs(retain, y["r"]), retain_y=y["r"],
                                             test_probs=probs(test, y["t"]), test_y=y["t"],
                                             forget_probs=probs(forget, y["f"]), forget_y=y["f"]), cpu)
    print(f"    mia_svc_confidence      {t:9.2f} s  (SVC on confidence, fit on 20k)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--n-train", type=int, default=12_000)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--train-epochs", type=int, default=2)
    p.add_argument("--skip-svc", action="store_true")
    p.add_argument("--only", choices=["a", "b"], default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    dev = resolve_device(args.device)
    if args.only in (None, "a"):
        part_a(args, dev)
    if args.only in (None, "b"):
        part_b(args)


if __name__ == "__main__":
    main()
