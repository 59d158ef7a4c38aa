"""Tran & Woo 2025 ("Fairness and robustness in machine unlearning"): fairness-gap and FGSM accuracy vs retraining.

The fairness-gap of a model (Tran & Woo 2025) is, per normalization layer, the spread between classes of the
variance of that layer's normalized features on the retain set (``max_c var_c - min_c var_c``); FG is its mean
over layers. Claims re-measured:

1. approximate methods (RL, SalUn, SCRUB) change the fairness-gap more than exact unlearning (retraining):
   ``|FG(m) - FG(original)| - |FG(retrain) - FG(original)| > 0``;
2. they have lower FGSM accuracy than retraining: ``FGSM(m) - FGSM(retrain) < 0``;
3. catastrophic forgetting by fine-tuning (CF, ``ft``) and Boundary Shrink (BS) preserve the fairness-gap: the
   check ``fairness_gap:rel<=0.25@original`` (within 25% of the original's) passes;
4. the paper's second conjecture, in plain words: a model whose normalization layers show a larger fairness-gap
   is easier to fool with a small adversarial perturbation, i.e. fairness-gap and FGSM accuracy are negatively
   correlated across models: Spearman's rho over every audited model and seed ``< 0`` (Fisher-z interval; the
   models share one original and data, so the pairs are not fully independent and the interval is optimistic).

Intervals 1-2 are the gate's (``report._compare.compare``: paired bootstrap over samples where the metric has
per-sample outcomes -- FGSM does, the fairness-gap does not -- plus the pooled training-seed spread).

Usage::

    python -m studies.tran_woo_2025 --quick      # 1-3 min on one CPU thread
    python -m studies.tran_woo_2025              # the default scenario, 5 seeds
"""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence

from studies import _study as st

PAPER = "Tran & Woo 2025"
NAME = "tran_woo_2025"
APPROXIMATE = ("rl", "salun", "scrub")
PRESERVING = ("ft", "boundary_shrink")
LABELS = {"rl": "RL", "salun": "SalUn", "scrub": "SCRUB", "ft": "CF (ft)", "boundary_shrink": "BS",
          "retrain": "retrain", "original": "original"}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    return run(st.parser(__doc__.split("\n\n")[0]).parse_args(argv))


def _add_fg_change(report: Any) -> None:
    """Each record's ``FG_CHANGE = |FG - FG(original)|`` (a derived value the comparisons can use)."""
    orig = [r.values["FG"] for r in report.records("original") if "FG" in r.values]
    for r in report.rows:
        if r.metrics is not None and "FG" in r.values and orig:
            r.metrics["values"]["FG_CHANGE"] = abs(r.values["FG"] - orig[0])


def run(args: Any) -> dict[str, Any]:
    from unlearn_audit.audit import Thresholds
    from unlearn_audit.report._compare import compare
    from unlearn_audit.stats import correlation_interval, spearman

    t0 = time.perf_counter()
    sc = st.scenario(args)
    data = sc.data()
    rep = st.audit(sc, args, data=data, methods=APPROXIMATE + PRESERVING, references=("retrain",))
    _add_fg_change(rep)
    claims, rows = [], []
    models = ["original", "retrain", *APPROXIMATE, *PRESERVING]
    for m in models:
        fg, fgsm = st.seed_values(rep, m, "FG"), st.seed_values(rep, m, "FGSM")
        ua, ta = st.seed_values(rep, m, "UA"), st.seed_values(rep, m, "TA")
        mean = lambda d: sum(d.values()) / len(d) if d else float("nan")  # noqa: E731
        rows.append([LABELS[m], len(fg), mean(fg), mean(st.seed_values(rep, m, "FG_CHANGE")), mean(fgsm),
                     mean(ua), mean(ta)])
    for m in APPROXIMATE:
        c = compare(rep, m, "retrain", "FG_CHANGE")
        claims.append(st.claim_interval(paper=PAPER, statement=f"{LABELS[m]} changes the fairness-gap more than "
                                        f"retraining", quantity="|ΔFG(m)| - |ΔFG(retrain)| vs the original",
                                        interval=c.delta, side=">"))
    for m in APPROXIMATE:
        c = compare(rep, m, "retrain", "FGSM")
        claims.append(st.claim_interval(paper=PAPER, statement=f"{LABELS[m]} has lower FGSM accuracy than "
                                        f"retraining", quantity="FGSM(m) - FGSM(retrain)", interval=c.delta,
                                        side="<"))
    check = Thresholds(["fairness_gap:rel<=0.25@original"], level=0.95).evaluate(rep, models=list(PRESERVING))
    for f in check:
        claims.append(st.claim_from_finding(paper=PAPER, statement=f"{LABELS[f.model]} preserves the "
                                            f"fairness-gap (within 25%)", quantity="|FG(m) - FG(o)| / FG(o)",
                                            finding=f))
    pairs = [(r.values["FG"], r.values["FGSM"]) for r in rep.rows
             if r.status == "ok" and "FG" in r.values and "FGSM" in r.values]
    corr = spearman([p[0] for p in pairs], [p[1] for p in pairs])
    try:
        iv = correlation_interval(corr)
        claims.append(st.claim_interval(paper=PAPER, statement="a larger fairness-gap goes with lower FGSM "
                                        "accuracy (the paper's second conjecture)",
                                        quantity=f"Spearman rho(FG, FGSM) over {corr.n} models",
                                        interval=iv, side="<", p_value=corr.p))
    except ValueError as exc:  # too few models for an interval
        print(f"conjecture 2 not decided: {exc}")
    tables = {f"{PAPER}: means over seeds ({sc.describe})": st.table(
        ["model", "seeds", "FG", "|FG − FG(original)|", "FGSM acc %", "UA %", "TA %"], rows)}
    series = {m: {"FG": list(st.seed_values(rep, m, "FG").values()),
                  "FGSM": list(st.seed_values(rep, m, "FGSM").values())} for m in models}

    def figure(fig: Any) -> None:
        ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for i, m in enumerate(models):
            ys = series[m]["FG"]
            ax1.scatter([i] * len(ys), ys, s=14)
            ax2.scatter(series[m]["FG"], series[m]["FGSM"], s=14, label=LABELS[m])
        ax1.set_xticks(range(len(models)), [LABELS[m] for m in models], rotation=30, fontsize=7)
        ax1.set_ylabel("fairness-gap FG (retain set)")
        ax2.set_xlabel("fairness-gap FG")
        ax2.set_ylabel("FGSM accuracy (%)")
        ax2.set_title(f"Spearman rho = {corr.r:.2f} (n = {corr.n})", fontsize=8)
        ax2.legend(fontsize=6)

    return st.write_outputs(NAME, args, sc, claims=claims, tables=tables,
                            data={"models": series, "spearman": {"r": corr.r, "p": corr.p, "n": corr.n}},
                            figure=figure, started=t0)


if __name__ == "__main__":
    main(sys.argv[1:])
