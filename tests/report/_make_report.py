"""Synthetic ``AuditReport`` objects for the report tests (no training: realistic, deterministic numbers).

``metrics_dict`` returns a dict in the shape of ``ModelMetrics.to_dict()``; ``make_report`` assembles an audit of
the embedded colored-digits task: the original, two reference retrains, suite methods, the user's method, an
optional failed method, threshold findings, and the ``data`` / ``environment`` / ``config`` sections.

Run it as a script to write the three reports for a manual look::

    .venv/bin/python tests/report/_make_report.py /tmp/report   # -> /tmp/report.html, .md, .json
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from unlearn_audit.report import AuditReport, Finding, ModelRecord, Status

LAYERS = ("features.0.1", "features.1.1", "features.2.1", "features.3.1")
EPS_SWEEP = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
GROUPS = ("y=0,a=0", "y=0,a=1", "y=1,a=0", "y=1,a=1")
GROUP_COUNTS = {"y=0,a=0": 450, "y=0,a=1": 50, "y=1,a=0": 60, "y=1,a=1": 440}
CREATED = "2025-01-01T00:00:00+00:00"

# Per model: base metric values (percent; FG in variance units), FG per-layer profile scale, FGSM/PGD at 8/255.
_PROFILES: dict[str, dict[str, float]] = {
    "original": dict(RA=99.2, FA=99.0, TA=93.1, MIA=3.0, EO=6.1, GA=88.0, WG=84.0, FG=0.80, FGSM=41.0, PGD=24.0),
    "retrain": dict(RA=99.0, FA=91.0, TA=92.3, MIA=12.0, EO=9.5, GA=79.0, WG=76.0, FG=0.95, FGSM=38.0, PGD=22.0),
    "retrain+reweight": dict(RA=98.8, FA=92.5, TA=92.6, MIA=10.5, EO=7.8, GA=82.0, WG=79.0, FG=0.88, FGSM=39.0,
                             PGD=22.5),
    "finetune": dict(RA=98.5, FA=95.0, TA=91.9, MIA=7.0, EO=8.0, GA=84.0, WG=80.0, FG=0.90, FGSM=36.0, PGD=20.0),
    "l1_sparse": dict(RA=97.9, FA=93.0, TA=91.2, MIA=9.0, EO=10.0, GA=78.5, WG=74.0, FG=1.10, FGSM=33.0, PGD=18.0),
    "salun": dict(RA=98.1, FA=90.0, TA=91.6, MIA=13.0, EO=11.0, GA=76.0, WG=72.0, FG=1.25, FGSM=31.0, PGD=16.5),
    "scrub": dict(RA=98.7, FA=92.0, TA=92.0, MIA=11.0, EO=9.0, GA=80.0, WG=77.0, FG=0.97, FGSM=37.0, PGD=21.0),
    "my_unlearn": dict(RA=96.0, FA=80.0, TA=89.0, MIA=25.0, EO=16.0, GA=70.0, WG=65.0, FG=1.60, FGSM=27.0, PGD=13.0),
}


def metrics_dict(name: str, seed: int, *, profile: dict[str, float] | None = None, sweep: bool = True,
                 pgd: bool = True, vary: float = 1.0) -> dict[str, Any]:
    """A ``ModelMetrics.to_dict()``-shaped dict for model ``name`` at ``seed`` (deterministic)."""
    base = dict(profile or _PROFILES[name])
    rng = random.Random(f"{name}/{seed}")

    def j(v: float, s: float = 0.6) -> float:  # seed-to-seed jitter, rounded like real metrics
        return round(v + vary * rng.uniform(-s, s), 4)

    fa = j(base["FA"])
    values = {"RA": j(base["RA"], 0.2), "FA": fa, "UA": round(100.0 - fa, 4), "TA": j(base["TA"], 0.3),
              "MIA": j(base["MIA"], 1.0), "MIA_AUC": j(50.0 + (100.0 - base["MIA"]) / 8, 1.0),
              "LT_AUC": j(52.0 + (100.0 - base["MIA"]) / 10, 1.0), "LT_TPR1": j(2.0, 0.5),
              "EO": j(base["EO"], 0.8), "EO_WORST": j(base["EO"] * 1.5, 1.0), "GA": j(base["GA"], 1.0),
              "WG": j(base["WG"], 1.0), "DP": j(base["EO"] * 0.7, 0.5), "EP": j(base["EO"] * 0.9, 0.5)}
    fg_vals = [round(base["FG"] * f * (1 + vary * rng.uniform(-0.05, 0.05)), 5) for f in (0.3, 0.7, 1.2, 1.8)]
    values["FG"] = round(sum(fg_vals) / len(fg_vals), 6)
    values["FG_MAX"] = max(fg_vals)
    budgets = EPS_SWEEP if sweep else (EPS_SWEEP[-1],)
    fgsm = {f"{e:.6g}": round(base["TA"] - (base["TA"] - base["FGSM"]) * (e * 255 / 8) ** 0.7 + vary
                              * rng.uniform(-0.5, 0.5), 4) for e in budgets}
    values["FGSM"] = fgsm[f"{EPS_SWEEP[-1]:.6g}"]
    adversarial: dict[str, dict[str, float]] = {"fgsm": fgsm}
    if pgd:
        adversarial["pgd"] = {f"{e:.6g}": round(base["TA"] - (base["TA"] - base["PGD"]) * (e * 255 / 8) ** 0.6
                                                + vary * rng.uniform(-0.5, 0.5), 4) for e in budgets}
        values["PGD"] = adversarial["pgd"][f"{EPS_SWEEP[-1]:.6g}"]
    drop = (100.0 - base["WG"]) / 100
    group_acc = {"y=0,a=0": j(base["TA"] + 3.0), "y=0,a=1": j(base["WG"] + 4.0), "y=1,a=0": j(base["GA"]),
                 "y=1,a=1": j(base["TA"] + 2.0 * (1 - drop))}
    values["WG"] = min(values["WG"], *group_acc.values())
    not_applicable = {"VA": "the audit has no validation split"}
    if not pgd:
        not_applicable["PGD"] = "PGD disabled by the metric config"
    return {
        "values": values,
        "not_applicable": not_applicable,
        "group_acc": group_acc,
        "group_counts": dict(GROUP_COUNTS),
        "fairness_gap": {"layer_names": list(LAYERS), "values": fg_vals, "statistic": "var", "split": "retain",
                         "mean": values["FG"], "max": values["FG_MAX"],
                         "class_sigma": [[round(0.5 + v, 5), round(0.5, 5)] for v in fg_vals],
                         "class_counts": [1980, 1900], "skipped_classes": []},
        "adversarial": adversarial,
        "mia": {"efficacy": {"efficacy": values["MIA"], "auc": values["MIA_AUC"], "nonmembers": "test"}},
        "config": {"eps": 8 / 255, "eps_sweep": [e for e in EPS_SWEEP] if sweep else [], "fgsm": True, "pgd": pgd,
                   "pgd_steps": 10, "mia_protocols": ["efficacy"], "fairness_gap_split": "retain",
                   "fairness_gap_statistic": "var", "seed": seed},
        "notes": ["adversarial accuracy on the first 512 test samples (attack_max_samples)"],
    }


# Checks the synthetic audit applies (compact form, metric, kind, bound, reference).
CHECKS: tuple[tuple[str, str, str, float, str], ...] = (
    ("ta:drop<=3", "TA", "drop", 3.0, "retrain"),
    ("eo:abs<=5", "EO", "abs", 5.0, "retrain"),
    ("ga:drop<=5", "GA", "drop", 5.0, "retrain"),
    ("mia:abs<=10", "MIA", "abs", 10.0, "retrain"),
    ("fgsm:drop<=5", "FGSM", "drop", 5.0, "retrain"),
    ("fairness_gap:rel<=0.25", "FG", "rel", 0.25, "original"),
)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def synthetic_uncertainty(report: AuditReport) -> dict[str, Any]:
    """A ``report.uncertainty`` with fixed bootstrap variances (1 for % metrics, 1e-4 for the fairness-gap)."""
    names = report.model_names()
    keys = {k for r in report.rows for k in r.values}

    def var(k: str) -> float:
        return 1e-4 if k.startswith("FG") else 1.0

    return {"level": 0.95, "n_boot": 2000, "seed": 0, "method": "synthetic", "sizes": {"test": 1000, "forget": 120},
            "sample_var": {n: {k: var(k) for k in sorted(keys)} for n in names},
            "delta_sample_var": {n: {ref: {k: 0.5 * var(k) for k in sorted(keys)} for ref in
                                     ("original", "retrain", "retrain+reweight") if ref != n} for n in names}}


def findings_for(report: AuditReport, name: str) -> list[Finding]:
    """Evaluate ``CHECKS`` on model ``name`` with the real threshold module (intervals from the synthetic variances)."""
    from unlearn_audit.audit import Thresholds

    return Thresholds([c[0] for c in CHECKS], source="synthetic report").evaluate(report, models=[name])


def data_section(*, classes: Sequence[str] = ("<5", ">=5"), attr_names: Sequence[str] = ("red", "green"),
                 name: str = "colored_digits") -> dict[str, Any]:
    """What the runner records about the audited data (sizes, groups, fingerprints, the forget request)."""
    def groups(counts: dict[str, int]) -> dict[str, int]:
        return {f"y={k[2]} ({classes[int(k[2])]}), a={k[6]} ({attr_names[int(k[6])]})": v for k, v in counts.items()}

    train_counts = {"y=0,a=0": 1800, "y=0,a=1": 200, "y=1,a=0": 240, "y=1,a=1": 1760}
    return {
        "name": name,
        "classes": list(classes),
        "attr_names": list(attr_names),
        "train": {"n": 4000, "x_shape": [3, 8, 8], "n_classes": 2, "n_attrs": 2, "group_counts": groups(train_counts)},
        "test": {"n": 1000, "x_shape": [3, 8, 8], "n_classes": 2, "n_attrs": 2, "group_counts": groups(GROUP_COUNTS)},
        "forget": {"n": 120, "fraction": 0.03, "groups": {"y=1 (" + classes[1] + "), a=0 (" + attr_names[0] + ")": 120},
                   "dominant_groups": [[1, 0]], "request": "forget_from_groups(groups=[(1, 0)], ratio=0.5, seed=0)"},
        "fingerprint": {"train": "3f1c9a0d" * 8, "test": "b70e22c1" * 8, "forget_idx": "9ad4e5f7" * 8},
    }


def environment_section() -> dict[str, Any]:
    return {"unlearn_audit": "0.1.0", "torch": "2.9.1+cpu", "numpy": "2.3.4", "python": "3.11.2",
            "platform": "Linux-6.1-x86_64", "device": "cpu", "device_name": "cpu", "threads": 2}


def make_report(*, seeds: Sequence[int] = (0, 1, 2), user_method: str | None = "my_unlearn",
                methods: Sequence[str] = ("finetune", "l1_sparse", "salun", "scrub"), failed_method: str | None =
                "random_label", failed_error: str = "RuntimeError: CUDA error: device-side assert triggered",
                sweep: bool = True, pgd: bool = True, findings: bool = True, classes: Sequence[str] = ("<5", ">=5"),
                attr_names: Sequence[str] = ("red", "green"), data_name: str = "colored_digits",
                rename: dict[str, str] | None = None) -> AuditReport:
    """A full synthetic audit. ``rename`` maps profile names to the names shown (e.g. an adversarial string)."""
    rename = rename or {}
    rows: list[ModelRecord] = []
    config_methods = list(methods) + ([failed_method] if failed_method else [])

    def add(profile: str, role: str, reference: str | None) -> None:
        for s in seeds:
            rows.append(ModelRecord(name=rename.get(profile, profile), role=role, seed=s, reference=reference,
                                    metrics=metrics_dict(profile, s, sweep=sweep, pgd=pgd),
                                    hyperparams={} if role in ("original", "reference") else {"lr": 0.01, "epochs": 2},
                                    seconds=round(1.5 + 0.1 * s, 2), cached=False, log={}))

    add("original", "original", None)
    add("retrain", "reference", None)
    add("retrain+reweight", "reference", None)
    for m in methods:
        add(m, "method", "retrain")
    if failed_method:
        for s in seeds:
            rows.append(ModelRecord(name=failed_method, role="method", seed=s, reference="retrain", status="failed",
                                    error=failed_error, hyperparams={"lr": 0.1}))
    if user_method:
        add("my_unlearn", "user", "retrain")
    report = AuditReport(
        rows=rows, data=data_section(classes=classes, attr_names=attr_names, name=data_name),
        environment=environment_section(),
        config={"methods": config_methods, "references": ["retrain", "retrain+reweight"], "seeds": list(seeds),
                "thresholds": [c[0] for c in CHECKS], "profile": "ci", "recipe": {"epochs": 4, "lr": 0.05}},
        user_method=rename.get("my_unlearn", "my_unlearn") if user_method else None, created=CREATED)
    report.uncertainty = synthetic_uncertainty(report)
    if findings:
        audited = [rename.get(m, m) for m in methods] + ([failed_method] if failed_method else []) + (
            [report.user_method] if report.user_method else [])
        report.findings = [f for name in audited for f in findings_for(report, name)]
    return report


def make_small_report() -> AuditReport:
    """A small fixed report for the golden JSON file: original, retrain and the user's method, two seeds."""
    report = make_report(seeds=(0, 1), methods=(), failed_method=None, sweep=False, pgd=False)
    report.rows = [r for r in report.rows if r.name != "retrain+reweight"]
    report.config["references"] = ["retrain"]
    report.findings = [f for f in report.findings if f.check in ("eo:abs<=5", "fairness_gap:rel<=0.25")]
    return report


if __name__ == "__main__":  # pragma: no cover - manual look at the reports
    import sys
    from pathlib import Path

    stem = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/report")
    r = make_report()
    r.to_json(stem.with_suffix(".json"))
    r.to_html(stem.with_suffix(".html"))
    r.to_checklist(stem.with_suffix(".md"))
    from unlearn_audit.report._rich import render_text  # noqa: F401

    print(render_text(r, width=120))
