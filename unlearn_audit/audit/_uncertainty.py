"""Assembly of the audit's uncertainty: bootstrap every model on the same samples, store the variances, add FQ.

``assemble_uncertainty(report, data)`` runs once per audit, after every model was evaluated:

1. one ``StratifiedBootstrap`` per split (seeded, shared by every model: paired), ``metrics.replicate_metrics``
   re-deriving every metric of every record from its per-sample outcomes;
2. per model, the replicates of its seed mean; their variance is ``sample_var[model][metric]``, and the variance
   of the difference to each reference (and to the original), replicate by replicate, is
   ``delta_sample_var[model][reference][metric]`` (the intervals of ``report._compare`` read these); for models
   audited with several seeds also that of each seed's model alone, ``seed_delta_sample_var[model][seed]
   [reference][metric]`` (the per-seed decisions of ``report._compare.compare_each_seed``);
3. FQ ("forget quality", TOFU's KS test): the p-value of the two-sample KS test of each record's forget-set
   losses against its reference's (``stats.ks_forget_quality``), stored as the record's metric ``FQ``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..metrics._replicates import EvalLayout, replicate_metrics, seeded_bootstrap
from ..report import INTERVAL_METHOD, AuditReport
from ..stats import ks_forget_quality

__all__ = ["assemble_uncertainty", "BOOTSTRAP_SEED"]

#: The bootstrap's seed: fixed, so the same audit gives the same intervals.
BOOTSTRAP_SEED = 20240


def assemble_uncertainty(report: AuditReport, data: Any, *, n_boot: int, level: float,
                         seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Compute ``report.uncertainty`` (and each record's ``FQ``) from the records' per-sample outcomes."""
    t0 = time.perf_counter()
    layout = EvalLayout.from_data(data)
    _forget_quality(report)
    rows = [r for r in report.rows if r.status == "ok" and r.metrics is not None]
    reps = replicate_metrics(layout, [r.samples for r in rows], bootstrap=seeded_bootstrap(n_boot=n_boot, seed=seed))
    by_model: dict[str, list[tuple[Any, dict[str, np.ndarray]]]] = {}
    for r, rep in zip(rows, reps):
        by_model.setdefault(r.name, []).append((r, rep))
    means: dict[str, dict[str, np.ndarray]] = {}
    for name, items in by_model.items():
        keys = set.intersection(*({k for k in rep if k in r.values} for r, rep in items))
        means[name] = {k: np.mean([rep[k] for _, rep in items], axis=0) for k in sorted(keys)}
    refs = [n for n in report.model_names() if any(r.role in ("reference", "original") for r in report.records(n))]
    sample_var = {n: {k: float(np.var(v, ddof=1)) for k, v in m.items()} for n, m in means.items()}
    delta_var: dict[str, dict[str, dict[str, float]]] = {}
    for name, m in means.items():
        for ref in refs:
            if ref == name or ref not in means:
                continue
            common = [k for k in m if k in means[ref]]
            delta_var.setdefault(name, {})[ref] = {k: float(np.var(m[k] - means[ref][k], ddof=1)) for k in common}
    seed_delta_var: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for name, items in by_model.items():
        if len(items) < 2 or any(r.role in ("reference", "original") for r, _ in items):
            continue
        for r, rep in items:
            per = seed_delta_var.setdefault(name, {}).setdefault(str(r.seed), {})
            for ref in refs:
                if ref != name and ref in means:
                    per[ref] = {k: float(np.var(rep[k] - means[ref][k], ddof=1)) for k in means[name]
                                if k in means[ref] and k in rep}
    sizes = {k: int(v.size) for k, v in layout.groups.items()}
    attacked = [r.samples["fgsm.correct"].size for r in rows if r.samples and "fgsm.correct" in r.samples]
    attacked += [r.samples["pgd.correct"].size for r in rows if r.samples and "pgd.correct" in r.samples]
    if attacked:
        sizes["attack"] = int(attacked[0])
    missing = sorted({r.name for r in rows if not r.samples})
    return {"level": level, "n_boot": n_boot, "seed": seed, "method": INTERVAL_METHOD, "sizes": sizes,
            "stratified_by": "group (y, a) within each split",
            "clusters": {k: int(np.unique(v).size) for k, v in layout.clusters.items()},
            "models_without_samples": missing, "seconds": round(time.perf_counter() - t0, 3),
            "sample_var": sample_var, "delta_sample_var": delta_var,
            "seed_delta_sample_var": seed_delta_var}


def _forget_quality(report: AuditReport) -> None:
    """``FQ`` of every record with a reference: KS p-value of its forget losses vs the reference's seeds."""
    for r in report.rows:
        if r.status != "ok" or r.metrics is None or r.reference is None or not r.samples:
            continue
        losses = [x.samples["forget.loss"] for x in report.records(r.reference)
                  if x.status == "ok" and x.samples and "forget.loss" in x.samples]
        if "forget.loss" not in r.samples or not losses:
            continue
        res = ks_forget_quality([r.samples["forget.loss"]], losses)
        if res["pairs"]:
            values = r.metrics.setdefault("values", {})
            values["FQ"] = res["p"]
            r.metrics.setdefault("forget_quality", {})["ks"] = res
