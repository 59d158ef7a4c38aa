"""Plumbing shared by the findings studies: scenarios, claim verdicts, tables, JSON and figures.

A study re-measures one paper's claims with ``AuditSpec`` audits and states for each claim **reproduced**,
**refuted** or **inconclusive** by the rule the CI gate uses for a check (``unlearn_audit.stats``,
``decide_at_most`` / ``decide_at_least`` on a confidence interval that combines the paired bootstrap over evaluation
samples with the training-seed spread, ``report._compare``):

- a claim ``Q < bound`` is *reproduced* when the whole interval of ``Q`` is below the bound, *refuted* when the
  whole interval is above it, *inconclusive* when the interval straddles it (``Q > bound`` mirrored);
- a claim stated as a check (e.g. "preserves the fairness-gap within 25%": ``fairness_gap:rel<=0.25@original``) is
  decided by that check: PASS = reproduced, FAIL = refuted, otherwise inconclusive.

Scenarios: ``smoke`` (the test suite: seconds), ``quick`` (1-3 minutes on one CPU thread: the small
``colored_digits(scale=1)``, 2 seeds, 10 epochs) and ``full`` (the default scenario ``colored_digits()``, 5 seeds;
with ``--dataset celeba|waterbirds --data-root DIR`` a local copy of the paper's dataset, which needs a GPU).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

VERDICTS = ("reproduced", "refuted", "inconclusive")
DEFAULT_OUT = Path("studies") / "results"


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """What a study audits: the data builder, the model, the recipe, seeds and metric preset.

    Attributes:
        name: ``smoke``, ``quick`` or ``full``.
        data: ``data(**overrides) -> AuditData`` (overrides such as ``forget_ratio``).
        model_factory: a fresh model for that data (called with the data).
        recipe: the ``TrainRecipe`` (``None``: ``default_recipe``).
        seeds: the seeds of every method and reference (an original per seed where the study needs it).
        metric_preset: ``MetricConfig.preset`` name.
        n_boot: bootstrap replicates.
        metric_overrides: ``MetricConfig`` fields changed from the preset.
        device: ``"cpu"``, ``"cuda"``...
        describe: one line for the tables and findings.md.
    """

    name: str
    data: Callable[..., Any]
    model_factory: Callable[[Any], Callable[[], Any]]
    recipe: Any
    seeds: tuple[int, ...]
    metric_preset: str
    n_boot: int
    device: str
    describe: str
    metric_overrides: dict[str, Any] = field(default_factory=dict)


def _small_net(width: int) -> Callable[[Any], Callable[[], Any]]:
    def factory(data: Any) -> Callable[[], Any]:
        from unlearn_audit.models import SmallConvNet

        return lambda: SmallConvNet(data.n_classes, width=width, mean=data.train.mean, std=data.train.std)

    return factory


def _resnet(data: Any) -> Callable[[], Any]:
    from unlearn_audit.models import resnet18_small

    return lambda: resnet18_small(data.n_classes, mean=data.train.mean, std=data.train.std)


def scenario(args: argparse.Namespace) -> Scenario:
    """The scenario the command line asks for (``--smoke``, ``--quick`` or the default full mode)."""
    from unlearn_audit.datasets import colored_digits
    from unlearn_audit.training import TrainRecipe

    seeds = tuple(args.seeds) if args.seeds else None
    if args.smoke or args.quick:
        small = dict(scale=1, size=8, majority=0.9)
        epochs, n = (3, 200) if args.smoke else (10, 500)
        return Scenario(name="smoke" if args.smoke else "quick",
                        data=lambda **kw: colored_digits(**{**small, **kw}), model_factory=_small_net(8),
                        recipe=TrainRecipe(epochs=epochs, lr=0.05, batch_size=64), seeds=seeds or (0, 1),
                        metric_preset="smoke", n_boot=n, device=args.device or "cpu",
                        metric_overrides={"attack_max_samples": 128} if args.smoke else {},
                        describe=f"colored_digits(scale=1, size=8, majority=0.9), SmallConvNet width 8, {epochs} "
                                 f"epochs, FGSM on {128 if args.smoke else 512} test samples")
    if args.dataset == "colored_digits":
        return Scenario(name="full", data=lambda **kw: colored_digits(**kw), model_factory=_small_net(16),
                        recipe=None, seeds=seeds or (0, 1, 2, 3, 4), metric_preset="ci", n_boot=2000,
                        device=args.device or "auto",
                        describe="colored_digits() (the default scenario), SmallConvNet width 16, default recipe")
    import torch

    if args.data_root is None:
        raise SystemExit(f"--dataset {args.dataset}: give --data-root, the folder of a local copy (nothing is "
                         f"downloaded)")
    if not torch.cuda.is_available() and args.device != "cpu":
        raise SystemExit(f"--dataset {args.dataset}: the paper's dataset needs a GPU (torch.cuda.is_available() is "
                         f"False); pass --device cpu to force the CPU anyway")
    from unlearn_audit import datasets

    loader = getattr(datasets, args.dataset)
    return Scenario(name="full", data=lambda **kw: loader(args.data_root, **kw), model_factory=_resnet,
                    recipe=TrainRecipe(epochs=10, lr=0.01, batch_size=128, weight_decay=1e-4),
                    seeds=seeds or (0, 1, 2), metric_preset="ci", n_boot=2000, device=args.device or "auto",
                    describe=f"{args.dataset} (local copy at {args.data_root}), ResNet-18, 10 epochs")


def parser(description: str) -> argparse.ArgumentParser:
    """The command line every study shares."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small data, 2 seeds: 1-3 minutes on one CPU thread")
    mode.add_argument("--smoke", action="store_true", help="tiny run for the test suite (the numbers mean nothing)")
    ap.add_argument("--dataset", default="colored_digits", choices=("colored_digits", "celeba", "waterbirds"),
                    help="full mode: the default scenario (colored_digits) or a local copy of a paper's dataset")
    ap.add_argument("--data-root", default=None, help="folder of the local dataset copy (celeba, waterbirds)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default 2 quick, 5 full)")
    ap.add_argument("--device", default=None, help="cpu, cuda, auto (default: cpu in quick/smoke mode)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for <study>.json and <study>.png")
    ap.add_argument("--cache-dir", default=".unlearn-audit-cache/studies",
                    help="audit cache (re-runs train nothing); 'none' disables")
    return ap


def audit(sc: Scenario, args: argparse.Namespace, *, data: Any, methods: Sequence[str] = (),
          references: Sequence[str] = ("retrain",), seeds: Sequence[int] | None = None,
          reference_seeds: Sequence[int] | None = None, thresholds: Any = ()) -> Any:
    """``run_audit`` of ``data`` in scenario ``sc`` (no user method; the study's checks only)."""
    from unlearn_audit.audit import AuditSpec, run_audit
    from unlearn_audit.metrics import MetricConfig

    seeds = tuple(seeds if seeds is not None else sc.seeds)
    spec = AuditSpec(data=data, model_factory=sc.model_factory(data), methods=list(methods),
                     references=tuple(references), seeds=seeds,
                     reference_seeds=tuple(reference_seeds) if reference_seeds is not None else seeds,
                     recipe=sc.recipe, metric_config=MetricConfig.preset(sc.metric_preset, **sc.metric_overrides),
                     n_boot=sc.n_boot,
                     thresholds=list(thresholds), device=sc.device,
                     cache_dir=False if str(args.cache_dir).lower() == "none" else args.cache_dir)
    return run_audit(spec, progress=False)


def register_variant(name: str, base: str, **params: Any) -> str:
    """Register ``name`` as the built-in ``base`` with hyper-parameters ``params`` changed (family ``"study"``, so it
    never joins ``methods="all"``); returns ``name``. Re-registering replaces the previous variant."""
    from unlearn_audit.methods import get_method, register_method

    m = get_method(base, **params)
    register_method(name, family="study", paper=m.info.paper, needs=m.info.needs,
                    supports_retain_weights=m.info.supports_retain_weights,
                    supports_sample_weights=m.info.supports_sample_weights, params=m.params, cost=m.info.cost,
                    description=f"{base} with {params}", replace=True)(m.fn)
    return name


# ----------------------------------------------------------------------------------------------- claims
@dataclass(kw_only=True)
class Claim:
    """One claim and its verdict.

    Attributes:
        paper: who claims it (author and year).
        statement: the claim in words.
        quantity: what was measured, in words (e.g. ``"GA(retrain) - GA(original), r = 0.5"``).
        rule: the decision rule in words (e.g. ``"< 0"`` or the check).
        estimate, lo, hi: the quantity's point estimate and confidence interval.
        verdict: reproduced / refuted / inconclusive.
        detail: anything else worth stating (per-seed values, the interval's parts).
    """

    paper: str
    statement: str
    quantity: str
    rule: str
    estimate: float
    lo: float
    hi: float
    verdict: str
    detail: dict[str, Any] = field(default_factory=dict)


def claim_interval(*, paper: str, statement: str, quantity: str, interval: Any, side: str, bound: float = 0.0,
                   **detail: Any) -> Claim:
    """Decide ``Q < bound`` (``side="<"``) or ``Q > bound`` (``side=">"``) on ``interval`` by the gate's rule."""
    from unlearn_audit.stats import decide_at_least, decide_at_most

    e, lo, hi = float(interval.estimate), float(interval.lo), float(interval.hi)
    if side == "<":
        out = decide_at_most(e, lo, hi, bound).outcome  # PASS: hi <= bound (the claim shown)
    elif side == ">":
        out = decide_at_least(e, lo, hi, bound).outcome
    else:
        raise ValueError(f"side: expected '<' or '>', got {side!r}")
    verdict = {"PASS": "reproduced", "FAIL": "refuted"}.get(out, "inconclusive")
    return Claim(paper=paper, statement=statement, quantity=quantity, rule=f"{side} {bound:g}", estimate=e, lo=lo,
                 hi=hi, verdict=verdict, detail={"level": interval.level, "se": interval.se,
                                                 "seed_var": interval.seed_var, "sample_var": interval.sample_var,
                                                 **detail})


def claim_from_finding(*, paper: str, statement: str, quantity: str, finding: Any, **detail: Any) -> Claim:
    """A claim stated as a check: PASS = reproduced, FAIL = refuted, anything else inconclusive."""
    verdict = {"PASS": "reproduced", "WARN": "reproduced", "FAIL": "refuted"}.get(finding.status.value,
                                                                                    "inconclusive")
    nan = math.nan
    return Claim(paper=paper, statement=statement, quantity=quantity, rule=finding.check,
                 estimate=finding.value if finding.value is not None else nan,
                 lo=finding.lo if finding.lo is not None else nan, hi=finding.hi if finding.hi is not None else nan,
                 verdict=verdict, detail={"why": finding.why, **detail})


def paired_over_seeds(pairs: Sequence[tuple[float, float]], sample_vars: Sequence[float], *,
                      level: float = 0.95) -> Any:
    """Interval of the mean paired difference ``mean_s (a_s - b_s)`` over independent runs ``s`` (e.g. one original
    per seed): sampling variance ``sum_s v_s / n^2`` (each run's paired-bootstrap variance ``v_s``) plus the
    seed variance ``s^2 / n`` with ``n - 1`` degrees of freedom (``stats.combine_variances``)."""
    from unlearn_audit.stats import combine_variances

    d = [a - b for a, b in pairs]
    n = len(d)
    mean = math.fsum(d) / n
    s2 = math.fsum((x - mean) ** 2 for x in d) / (n - 1) if n > 1 else 0.0
    return combine_variances(mean, sample_var=math.fsum(sample_vars) / n ** 2, seed_var=s2 / n,
                             seed_df=n - 1 if n > 1 else math.inf, level=level, seeds_measured=n > 1)


def independent_difference(a: Any, b: Any) -> Any:
    """Interval of ``A - B`` for two intervals from independent audits: variances add, Welch-Satterthwaite df."""
    from unlearn_audit.stats import combine_variances

    seed = a.seed_var + b.seed_var
    parts = [iv.seed_var ** 2 / iv.df for iv in (a, b) if iv.seed_var > 0 and math.isfinite(iv.df)]
    df = seed ** 2 / math.fsum(parts) if seed > 0 and parts else math.inf
    return combine_variances(a.estimate - b.estimate, sample_var=a.sample_var + b.sample_var, seed_var=seed,
                             seed_df=df, level=a.level, seeds_measured=a.seeds_measured and b.seeds_measured)


def seed_values(report: Any, name: str, metric: str) -> dict[int, float]:
    """Per-seed values of one model's metric (the records that ran)."""
    return {r.seed: r.values[metric] for r in report.records(name) if r.status == "ok" and metric in r.values}


def ci_text(iv: Any, digits: int = 1) -> str:
    """``"+1.23 [-0.4, +2.9]"``: an interval's estimate and ends, signed."""
    return f"{iv.estimate:+.{digits + 1}f} [{iv.lo:+.{digits}f}, {iv.hi:+.{digits}f}]"


def paired_text(a: dict[int, float], b: dict[int, float]) -> str:
    """``mean +- sd`` of the per-seed differences ``a - b`` over the seeds both have (``n/a`` without any)."""
    d = [a[s] - b[s] for s in a if s in b]
    if not d:
        return "n/a"
    m = math.fsum(d) / len(d)
    sd = math.sqrt(math.fsum((x - m) ** 2 for x in d) / (len(d) - 1)) if len(d) > 1 else 0.0
    return f"{m:+.2f} ± {sd:.2f} (n={len(d)})"


# ----------------------------------------------------------------------------------------------- output
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable as plain text)."""
    cells = [[_cell(c).replace("|", "\\|") for c in r] for r in rows]
    out = ["| " + " | ".join(h.replace("|", "\\|") for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(out)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def claims_table(claims: Sequence[Claim]) -> str:
    return table(["claim", "quantity", "rule", "estimate", "95% CI", "verdict"],
                 [[c.statement, c.quantity, c.rule, c.estimate, f"[{_cell(c.lo)}, {_cell(c.hi)}]",
                   f"**{c.verdict}**"] for c in claims])


def write_outputs(name: str, args: argparse.Namespace, sc: Scenario, *, claims: Sequence[Claim], tables: dict[str, str],
                  data: dict[str, Any], figure: Callable[[Any], None], started: float) -> dict[str, Any]:
    """Print the tables and verdicts; write ``<out>/<name>[-<mode>].json`` and ``.png`` (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from unlearn_audit.report import atomic_write_text

    suffix = "" if sc.name == "full" else f"-{sc.name}"
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for title, text in tables.items():
        print(f"\n## {title}\n\n{text}")
    print("\n## Verdicts\n\n" + claims_table(claims))
    seconds = round(time.perf_counter() - started, 1)
    result = {"study": name, "mode": sc.name, "scenario": sc.describe, "seeds": list(sc.seeds),
              "seconds": seconds, "threads": os.environ.get("UNLEARN_AUDIT_THREADS"),
              "claims": [asdict(c) for c in claims], "tables": tables, "data": data}
    from unlearn_audit._json import json_safe

    json_path = out_dir / f"{name}{suffix}.json"
    atomic_write_text(json_path, json.dumps(json_safe(result), indent=2, allow_nan=False) + "\n")
    fig = plt.figure(figsize=(9, 3.6))
    figure(fig)
    fig.suptitle(f"{name} ({sc.name} mode)", fontsize=9)
    fig.tight_layout()
    png = out_dir / f"{name}{suffix}.png"
    tmp = png.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, png)
    print(f"\nwrote {json_path} and {png} ({seconds:.0f} s, scenario: {sc.describe})")
    return result
