"""Calibration of the default checks: how often each one FAILs for a method that is as good as a retrain (A/A),
and how often it catches methods that are not.

Each trial ``i`` is an independent audit of the default scenario (``colored_digits``, the quickstart's model and
recipe) shaped like the ``ci`` profile, with its own seeds: three seeds of the user method (``1000 + 3i`` ...,
the first also trains the original), both reference retrains (``retrain``, ``retrain+reweight``) with five seeds
each (``5i`` ... ``5i + 4``). Four "user methods" are audited in every trial against the same original and
references (so only the user models are trained per method):

- ``aa``: an exact retrain with another seed (a perfect unlearner; every FAIL is a false alarm);
- ``noop``: ``return model`` (nothing forgotten);
- ``noise``: Gaussian noise of 0.5 x each tensor's std added to every weight (utility destroyed);
- ``ga``: the suite's gradient ascent, which over-forgets the forget group.

It prints, per method and per check, the share of trials that FAIL / are INCONCLUSIVE / PASS, and per method the
share of trials whose verdict is FAIL. Default: 20 trials, the smoke metric preset (FGSM only) -- the default
checks do not use PGD. About 30 minutes on 2 CPU cores; ``--start`` / ``--json`` split the trials over processes
(``UNLEARN_AUDIT_THREADS=1`` each) and ``--merge`` prints the rates of several ``--json`` files.

Usage::

    python benchmarks/gate_calibration.py [--trials 20] [--start 0] [--cache-dir DIR] [--json counts.json]
    python benchmarks/gate_calibration.py --merge a.json b.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict

import torch

from unlearn_audit.audit import DEFAULT_REFERENCES, PROFILES, AuditSpec, Thresholds, run_audit
from unlearn_audit.cli import demo_model
from unlearn_audit.datasets import colored_digits
from unlearn_audit.methods import get_method
from unlearn_audit.metrics import MetricConfig
from unlearn_audit.training import fit


def aa(model, ctx):
    """A retrain from scratch on the retain set with this trial's seed."""
    return fit(ctx.model_factory(), ctx.retain, ctx.recipe, seed=ctx.seed, device=ctx.device, progress=False)


def noop(model, ctx):
    return model


def noise(model, ctx):
    gen = torch.Generator().manual_seed(ctx.seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen).to(p) * 0.5 * p.std().nan_to_num(0.0))
    return model


METHODS = {"aa": aa, "noop": noop, "noise": noise, "ga": get_method("ga")}


def run_trials(first: int, trials: int, cache_dir: str) -> dict:
    """Counts of the statuses per (method, check) and of the verdicts per method over trials ``first ...``."""
    data = colored_digits()
    thresholds = Thresholds.default()
    n_user, n_ref = len(PROFILES["ci"].seeds), len(PROFILES["ci"].reference_seeds)
    status = defaultdict(Counter)          # "method check" -> Counter of statuses
    verdicts = defaultdict(Counter)        # method -> Counter of verdicts
    start = time.perf_counter()
    for i in range(first, first + trials):
        for name, fn in METHODS.items():
            spec = AuditSpec(data=data, model_factory=demo_model, unlearn_fn=fn, methods="none",
                             references=DEFAULT_REFERENCES, seeds=tuple(1000 + n_user * i + k for k in range(n_user)),
                             reference_seeds=tuple(n_ref * i + k for k in range(n_ref)),
                             metric_config=MetricConfig.preset("smoke"), thresholds=thresholds,
                             cache_dir=cache_dir, device="cpu")
            report = run_audit(spec, progress=False)
            verdicts[name][report.verdict.value] += 1
            for f in report.findings:
                status[f"{name} {f.check}"][f.status.value] += 1
        print(f"trial {i + 1} done ({time.perf_counter() - start:.0f} s)", flush=True)
    return {"trials": trials, "status": status, "verdicts": verdicts, "seconds": time.perf_counter() - start}


def print_rates(counts: list[dict]) -> None:
    n = sum(c["trials"] for c in counts)
    status, verdicts = defaultdict(Counter), defaultdict(Counter)
    for c in counts:
        for k, v in c["status"].items():
            status[k].update(v)
        for k, v in c["verdicts"].items():
            verdicts[k].update(v)
    thresholds = Thresholds.default()
    print(f"\n{n} trials, level {thresholds.level:.0%}, inconclusive gates as {thresholds.inconclusive.upper()}")
    print(f"{'method':8s} {'check':16s} {'FAIL':>6s} {'INCONC':>7s} {'PASS':>6s}")
    for name in METHODS:
        for check in thresholds.to_list():
            c = status[f"{name} {check}"]
            print(f"{name:8s} {check:16s} {c['FAIL'] / n:6.0%} {c['INCONCLUSIVE'] / n:7.0%} {c['PASS'] / n:6.0%}")
        v = verdicts[name]
        print(f"{name:8s} {'verdict FAIL':16s} {v['FAIL'] / n:6.0%}   (WARN {v['WARN'] / n:.0%}, PASS {v['PASS'] / n:.0%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--start", type=int, default=0, help="index of the first trial (to split trials over processes)")
    ap.add_argument("--cache-dir", default=".unlearn-audit-cache/calibration")
    ap.add_argument("--json", help="also write the counts here (for --merge)")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="print the rates of these --json files and exit")
    args = ap.parse_args()
    if args.merge:
        print_rates([json.loads(open(p).read()) for p in args.merge])
        return
    counts = run_trials(args.start, args.trials, args.cache_dir)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(counts, fh)
    print_rates([counts])


if __name__ == "__main__":
    main()
