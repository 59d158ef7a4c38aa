"""De Min et al. 2025 ("Group-robust machine unlearning"): the fairness of forgetting and REWEIGHT, vs the fraction r.

Claims re-measured, for each forget fraction ``r`` of the minority group ``(y=1, a=0)``:

1. forgetting lowers that group's accuracy under plain retraining: ``GA(retrain) - GA(original) < 0``;
2. REWEIGHT (retrain with the retain set sampled back to the original group frequencies) restores it:
   ``GA(retrain+reweight) - GA(retrain) > 0``;
3. the loss grows with r: ``drop(r_max) - drop(r_min) < 0`` (the two audits are independent: variances add).

Each interval is the gate's (``report._compare.compare``): the paired bootstrap over test samples plus the pooled
seed spread of the reference retrains (the original is one fixed model). The share of the loss REWEIGHT restores,
``(GA(rw) - GA(rt)) / (GA(o) - GA(rt))``, is printed too.

Usage::

    python -m studies.de_min_2025_reweight --quick        # 1-3 min on one CPU thread
    python -m studies.de_min_2025_reweight                # the default scenario, 5 seeds
"""

from __future__ import annotations

import sys
import time
from typing import Any, Sequence

from studies import _study as st

PAPER = "De Min et al. 2025"
NAME = "de_min_2025_reweight"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = st.parser(__doc__.split("\n\n")[0]).parse_args(argv)
    args.ratios = [0.5, 0.9] if (args.quick or args.smoke) else [0.25, 0.5, 0.75, 0.9]
    return run(args)


def run(args: Any) -> dict[str, Any]:
    from unlearn_audit.report._compare import compare

    t0 = time.perf_counter()
    sc = st.scenario(args)
    claims, rows, series = [], [], {}
    drops = {}
    for r in args.ratios:
        data = sc.data(forget_ratio=r)
        rep = st.audit(sc, args, data=data, references=("retrain", "retrain+reweight"))
        drop = compare(rep, "retrain", "original", "GA")
        gain = compare(rep, "retrain+reweight", "retrain", "GA")
        drops[r] = drop.delta
        ga_o = st.seed_values(rep, "original", "GA")
        ga_rt, ga_rw = st.seed_values(rep, "retrain", "GA"), st.seed_values(rep, "retrain+reweight", "GA")
        lost = -drop.delta.estimate
        restored = gain.delta.estimate / lost if lost > 0 else float("nan")
        rows.append([r, len(data.forget_idx), drop.reference_mean, drop.model_mean, gain.model_mean,
                     st.ci_text(drop.delta),
                     st.ci_text(gain.delta),
                     st.paired_text(ga_rw, ga_rt), f"{restored:.0%}" if lost > 0 else "n/a (no loss)"])
        series[r] = {"GA_original": list(ga_o.values()), "GA_retrain": list(ga_rt.values()),
                     "GA_reweight": list(ga_rw.values()), "drop": drop.delta.to_dict(), "gain": gain.delta.to_dict(),
                     "restored_share": restored, "n_forget": len(data.forget_idx)}
        claims.append(st.claim_interval(paper=PAPER, statement=f"plain retraining lowers the forget group's "
                                        f"accuracy (r = {r:g})", quantity="GA(retrain) - GA(original)",
                                        interval=drop.delta, side="<"))
        claims.append(st.claim_interval(paper=PAPER, statement=f"REWEIGHT restores it (r = {r:g})",
                                        quantity="GA(retrain+reweight) - GA(retrain)", interval=gain.delta,
                                        side=">", restored_share=restored))
    lo_r, hi_r = min(args.ratios), max(args.ratios)
    trend = st.independent_difference(drops[hi_r], drops[lo_r])
    claims.append(st.claim_interval(paper=PAPER, statement="the loss grows with r",
                                    quantity=f"drop(r={hi_r:g}) - drop(r={lo_r:g})", interval=trend, side="<"))
    tables = {f"{PAPER}: forget-group accuracy (GA, %) vs the forget fraction r ({sc.describe})": st.table(
        ["r", "forget set", "GA original", "GA retrain", "GA retrain+REWEIGHT", "Δ retrain − original [95% CI]",
         "Δ REWEIGHT − retrain [95% CI]", "paired Δ REWEIGHT − retrain (mean ± sd)", "loss restored"], rows)}

    def figure(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        rs = list(series)
        for key, label, mark in (("GA_original", "original", "s"), ("GA_retrain", "retrain", "o"),
                                 ("GA_reweight", "retrain + REWEIGHT", "^")):
            means = [sum(series[r][key]) / len(series[r][key]) for r in rs]
            ax.plot(rs, means, marker=mark, label=label)
            for r in rs:
                ax.scatter([r] * len(series[r][key]), series[r][key], s=8, alpha=0.4)
        ax.set_xlabel("forget fraction r of the minority group (y=1, a=0)")
        ax.set_ylabel("GA: accuracy on the forget group, test (%)")
        ax.legend(fontsize=8)

    return st.write_outputs(NAME, args, sc, claims=claims, tables=tables, data={"by_ratio": series},
                            figure=figure, started=t0)


if __name__ == "__main__":
    main(sys.argv[1:])
