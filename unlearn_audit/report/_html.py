"""The audit as ONE self-contained HTML file: no scripts, no external assets, every user string escaped.

Sections: verdict, the summary table (same numbers as the terminal table), failed models, findings, plots
(per-layer fairness-gap curves, FGSM/PGD accuracy vs ε when swept, fairness-gap vs FGSM-accuracy scatter with
Pearson/Spearman correlations for Tran & Woo's Conjecture 2, per-group accuracy bars), metrics that did not
apply, and the data / environment / configuration the audit ran with. Plots are matplotlib (Agg, no pyplot
state) PNGs embedded as base64 ``data:`` URIs; a Content-Security-Policy forbids any other load.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from typing import TYPE_CHECKING, Any, Sequence

from ._findings import Status
from ._table import (COLUMNS, GAP_KEYS, SummaryRow, fmt_number, metric_description, metric_direction, metric_label,
                    references_of, seeds_of, summary_rows, verdict_line)

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport

__all__ = ["render_html", "correlations"]


def _e(x: Any) -> str:
    """Escape any value for HTML text and (double-quoted) attributes."""
    return html.escape("" if x is None else str(x), quote=True)


def _mpl(s: Any) -> str:
    """A user string made safe for matplotlib text (``$`` would start mathtext and can raise)."""
    return str(s).replace("\\", "\\\\").replace("$", r"\$")


_CSS = """
:root { --inc:#6a1b9a; --inc-bg:#f3e5f5; --fail:#c62828; --fail-bg:#fdecea; --warn:#8d6e00; --warn-bg:#fff6d5; --pass:#1b5e20; --pass-bg:#e8f5e9;
        --muted:#5f6368; --line:#dadce0; --user:#f3e8fd; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; margin: 0;
       color: #202124; background: #fff; line-height: 1.45; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { font-size: 1.25rem; margin: 36px 0 8px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 1.05rem; margin: 20px 0 6px; }
.meta, .note, figcaption, caption { color: var(--muted); font-size: .9rem; }
.verdict { display: inline-block; padding: 6px 14px; border-radius: 6px; font-weight: 700; font-size: 1.1rem;
           margin: 10px 0; }
.v-FAIL { background: var(--fail-bg); color: var(--fail); border: 1px solid var(--fail); }
.v-WARN { background: var(--warn-bg); color: var(--warn); border: 1px solid var(--warn); }
.v-INCONCLUSIVE { background: var(--inc-bg); color: var(--inc); border: 1px dashed var(--inc); }
.v-PASS { background: var(--pass-bg); color: var(--pass); border: 1px solid var(--pass); }
.v-SKIP { background: #f1f3f4; color: var(--muted); border: 1px solid var(--line); }
table { border-collapse: collapse; font-size: .88rem; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { background: #f8f9fa; text-align: left; font-weight: 600; }
caption { caption-side: bottom; text-align: left; padding-top: 6px; max-width: 1200px; }
table.summary td.num, table.summary th.num { text-align: right; white-space: nowrap;
     font-variant-numeric: tabular-nums; }
table.summary td.num .sd, table.summary td.num .delta { display: block; font-size: .78rem; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.findings code, table.findings td.ref { white-space: nowrap; }
table.summary tr.role-start td { border-top: 2px solid #bdc1c6; }
tr.user td { background: var(--user); } tr.user td.model { font-weight: 700; }
td.model .role { display: block; font-size: .78rem; color: var(--muted); font-weight: 400; }
td.st-FAIL { background: var(--fail-bg); color: var(--fail); font-weight: 600; }
td.st-WARN { background: var(--warn-bg); color: var(--warn); font-weight: 600; }
td.st-INCONCLUSIVE { background: var(--inc-bg); color: var(--inc); font-weight: 600; font-style: italic; }
td.st-PASS { background: var(--pass-bg); color: var(--pass); }
td.error, .error { color: var(--fail); }
span.badge { display: inline-block; min-width: 3.2em; text-align: center; padding: 1px 6px; border-radius: 4px;
             font-size: .8rem; font-weight: 700; }
span.b-FAIL { background: var(--fail); color: #fff; } span.b-WARN { background: #f9ab00; color: #202124; }
span.b-PASS { background: var(--pass); color: #fff; } span.b-SKIP { background: #9aa0a6; color: #fff; }
table.kv th { width: 15em; background: #fafafa; font-weight: 500; } table.kv table.kv { margin: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em;
              word-break: break-all; }
figure { margin: 12px 0 24px; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
details > summary { cursor: pointer; color: #1a73e8; margin: 6px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 8px 24px; }
footer { margin-top: 40px; color: var(--muted); font-size: .8rem; }
"""


# ------------------------------------------------------------------------------------------------ small helpers
def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _badge(status: Status | str | None) -> str:
    if status is None:
        return ""
    s = Status(status).value
    return f'<span class="badge b-{s}">{s}</span>'


def _scalar(v: Any) -> str:
    if isinstance(v, float):
        return _e(fmt_number(v))
    if isinstance(v, str) and len(v) >= 32 and all(c in "0123456789abcdef" for c in v):
        return f'<code>{_e(v)}</code>'  # a fingerprint / hash
    return _e(v)


def _kv(d: Any, *, depth: int = 0) -> str:
    """Nested dicts as nested two-column tables; lists of scalars comma-joined (long ones shortened)."""
    if isinstance(d, dict):
        if not d:
            return '<span class="note">(empty)</span>'
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_kv(v, depth=depth + 1)}</td></tr>" for k, v in d.items())
        return f'<table class="kv">{rows}</table>'
    if isinstance(d, (list, tuple)):
        if d and all(isinstance(v, (list, tuple)) and len(v) <= 4 and all(not isinstance(x, (dict, list, tuple))
                                                                              for x in v) for v in d):
            return ", ".join("(" + ", ".join(_scalar(x) for x in v) + ")" for v in d)  # e.g. groups [[1, 0]]
        if all(not isinstance(v, (dict, list, tuple)) for v in d):
            shown = [_scalar(v) for v in d[:40]]
            more = f' <span class="note">… ({len(d)} items)</span>' if len(d) > 40 else ""
            return (", ".join(shown) or '<span class="note">(none)</span>') + more
        return "".join(f"<div>{_kv(v, depth=depth + 1)}</div>" for v in d)
    return _scalar(d)


def _group_label(key: str, data: dict[str, Any]) -> str:
    """``"y=1,a=0"`` → ``"y=1 (>=5), a=0 (red)"`` using the data's class and attribute names when recorded."""
    try:
        y_part, a_part = key.split(",")
        y, a = int(y_part.split("=")[1]), int(a_part.split("=")[1])
    except (ValueError, IndexError):
        return key
    classes, attrs = data.get("classes") or [], data.get("attr_names") or []
    yn = f" ({classes[y]})" if y < len(classes) else ""
    an = f" ({attrs[a]})" if a < len(attrs) else ""
    return f"y={y}{yn}, a={a}{an}"


def _ok_metrics(report: "AuditReport", name: str) -> list[dict[str, Any]]:
    return [r.metrics for r in report.records(name) if r.status == "ok" and r.metrics]


def correlations(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Pearson r and Spearman ρ (average ranks for ties); NaN when fewer than 3 points or no variation."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return math.nan, math.nan

    def pearson(a: Sequence[float], b: Sequence[float]) -> float:
        ma, mb = _mean(a), _mean(b)
        sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
        saa = sum((x - ma) ** 2 for x in a)
        sbb = sum((y - mb) ** 2 for y in b)
        return sab / math.sqrt(saa * sbb) if saa > 0 and sbb > 0 else math.nan

    def ranks(a: Sequence[float]) -> list[float]:
        order = sorted(range(len(a)), key=lambda i: a[i])
        out = [0.0] * len(a)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and a[order[j + 1]] == a[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return out

    return pearson(xs, ys), pearson(ranks(xs), ranks(ys))


# ------------------------------------------------------------------------------------------------ plots
class _Styles:
    """One colour / line style per model, the same in every plot."""

    def __init__(self, rows: list[SummaryRow]) -> None:
        from matplotlib import colormaps

        palette = colormaps["tab10"].colors
        self.style: dict[str, dict[str, Any]] = {}
        i = 0
        for row in rows:
            if row.role == "original":
                self.style[row.name] = dict(color="#202124", linestyle="-", linewidth=2.0, marker="s")
            elif row.role == "reference":
                grey = ("#5f6368", "#9aa0a6", "#3c4043")[len([s for s in self.style.values()
                                                              if s.get("linestyle") == "--"]) % 3]
                self.style[row.name] = dict(color=grey, linestyle="--", linewidth=1.8, marker="o")
            elif row.is_user:
                self.style[row.name] = dict(color="#c2185b", linestyle="-", linewidth=3.0, marker="D")
            else:
                self.style[row.name] = dict(color=palette[i % len(palette)], linestyle="-", linewidth=1.4,
                                            marker="o")
                i += 1

    def line(self, name: str) -> dict[str, Any]:
        return dict(self.style.get(name, {}), markersize=4)

    def color(self, name: str) -> Any:
        return self.style.get(name, {}).get("color", "#1a73e8")


def _figure(w: float, h: float) -> Any:
    from matplotlib.figure import Figure  # Agg canvas, no pyplot global state: nothing to close or leak

    return Figure(figsize=(w, h), dpi=100)


def _label(s: Any, limit: int = 32) -> str:
    """A legend / tick label: at most ``limit`` characters, safe for matplotlib."""
    s = str(s)
    return _mpl(s if len(s) <= limit else s[: limit - 1] + "…")


def _layout(fig: Any, *, legend: Sequence[str] = (), bottom: float = 0.0) -> None:
    """Margins in inches (cheaper than constrained layout): room for the legend on the right and for ``bottom``
    inches of rotated tick labels."""
    w, h = fig.get_size_inches()
    right = (0.75 + 0.06 * max(map(len, legend))) if legend else 0.3
    fig.subplots_adjust(left=0.75 / w, right=1 - right / w, bottom=(0.55 + bottom) / h, top=1 - 0.35 / h,
                        wspace=0.08)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    fig.clear()
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(b64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{b64}" alt="{_e(alt)}">'


def _plot_fairness_gap(report: "AuditReport", rows: list[SummaryRow], styles: _Styles) -> tuple[str, str] | None:
    curves: list[tuple[str, list[str], list[float]]] = []
    for row in rows:
        fgs = [m["fairness_gap"] for m in _ok_metrics(report, row.name) if m.get("fairness_gap")]
        fgs = [fg for fg in fgs if fg.get("values")]
        if not fgs:
            continue
        n = len(fgs[0]["values"])
        fgs = [fg for fg in fgs if len(fg["values"]) == n]
        vals = [_mean([float(fg["values"][i]) for fg in fgs if _finite(fg["values"][i])] or [math.nan])
                for i in range(n)]
        curves.append((row.name, list(fgs[0].get("layer_names") or range(n)), vals))
    if not curves:
        return None
    layers = max((c[1] for c in curves), key=len)
    fig = _figure(9.5, 4.2)
    ax = fig.add_subplot()
    for name, _, vals in curves:
        ax.plot(range(len(vals)), vals, label=_label(name), **styles.line(name))
    finite = [v for _, _, vals in curves for v in vals if _finite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
        ax.set_yscale("log")
    step = max(1, len(layers) // 24)
    ax.set_xticks(range(0, len(layers), step))
    tick_labels = [_label(x, 24) for x in layers[::step]]
    rotate = len(layers) > 4
    ax.set_xticklabels(tick_labels, rotation=35 if rotate else 0, ha="right" if rotate else "center", fontsize=8)
    first = next(m["fairness_gap"] for r in rows for m in _ok_metrics(report, r.name) if m.get("fairness_gap"))
    ax.set_xlabel("normalization layer (model order)")
    ax.set_ylabel(r"fairness-gap $\varepsilon^l$" + f" ({_mpl(first.get('statistic', 'var'))})")
    ax.set_title(f"Per-layer fairness-gap on the {_mpl(first.get('split', 'retain'))} split (mean over seeds)",
                 fontsize=11)
    ax.grid(alpha=.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    _layout(fig, legend=[_label(c[0]) for c in curves],
            bottom=0.035 * max(map(len, tick_labels)) if rotate else 0.0)
    caption = ("<i>ε<sup>l</sup></i> = max over classes − min over classes of the per-class feature variance at the "
               "output of normalization layer <i>l</i>. Tran &amp; Woo's Conjecture 1: a robust unlearning method "
               "keeps the original model's curve; the retrain's distance from it is a natural tolerance.")
    return _img(_png(fig), "per-layer fairness-gap curves for every model"), caption


def _plot_adversarial(report: "AuditReport", rows: list[SummaryRow], styles: _Styles) -> tuple[str, str] | None:
    attacks = []
    for attack in ("fgsm", "pgd"):
        per_model = {}
        for row in rows:
            curves = [m.get("adversarial", {}).get(attack) or {} for m in _ok_metrics(report, row.name)]
            curves = [c for c in curves if len(c) >= 2]
            if not curves:
                continue
            eps = sorted({float(e) for c in curves for e in c})
            per_model[row.name] = (eps, [_mean([float(c[f]) for c in curves for f in c
                                                if math.isclose(float(f), e) and _finite(c[f])] or [math.nan])
                                         for e in eps])
        if per_model:
            attacks.append((attack, per_model))
    if not attacks:
        return None
    all_eps = [e for _, pm in attacks for eps, _ in pm.values() for e in eps]
    pixel = all(abs(e * 255 - round(e * 255)) < 1e-3 and e < 1 for e in all_eps)
    fig = _figure(5.2 * len(attacks) + 1.8, 4.0)
    axes = fig.subplots(1, len(attacks), sharey=True, squeeze=False)[0]
    for ax, (attack, per_model) in zip(axes, attacks):
        for name, (eps, acc) in per_model.items():
            ax.plot([e * 255 if pixel else e for e in eps], acc, label=_label(name), **styles.line(name))
        ax.set_title(f"{attack.upper()} accuracy vs ε (test split)", fontsize=11)
        ax.set_xlabel("ε × 255 (pixel units)" if pixel else "ε")
        ax.grid(alpha=.3)
    axes[0].set_ylabel("accuracy under attack (%)")
    axes[-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    _layout(fig, legend=[_label(n) for _, pm in attacks for n in pm])
    caption = "White-box attacks against each model; mean over seeds. Higher is more robust."  # static HTML
    return _img(_png(fig), "FGSM and PGD accuracy against the attack budget"), caption


def _plot_conjecture2(report: "AuditReport", rows: list[SummaryRow], styles: _Styles
                      ) -> tuple[str | None, str, tuple[float, float, int]]:
    pts = [(row.name, row.cells["FG"].mean, row.cells["FGSM"].mean) for row in rows
           if row.cells["FG"].mean is not None and row.cells["FGSM"].mean is not None]
    pearson, spearman = correlations([p[1] for p in pts], [p[2] for p in pts])
    stats = (pearson, spearman, len(pts))
    if len(pts) < 2:
        return None, "Needs fairness-gap and FGSM accuracy for at least two models.", stats
    fig = _figure(7.5, 4.6)
    ax = fig.add_subplot()
    x_lo, x_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    for name, x, y in pts:
        st = styles.line(name)
        ax.scatter([x], [y], color=st.get("color"), marker=st.get("marker", "o"), s=45, zorder=3)
        right = x_hi > x_lo and (x - x_lo) / (x_hi - x_lo) > 0.6  # label on the left near the right edge
        ax.annotate(_label(name), (x, y), textcoords="offset points", xytext=(-6 if right else 6, 4), fontsize=8,
                    ha="right" if right else "left")
    if len(pts) >= 2 and len({p[1] for p in pts}) > 1:
        xs, ys = [p[1] for p in pts], [p[2] for p in pts]
        mx, my = _mean(xs), _mean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        lo, hi = min(xs), max(xs)
        ax.plot([lo, hi], [my + slope * (lo - mx), my + slope * (hi - mx)], color="#9aa0a6", linestyle=":",
                linewidth=1.2, zorder=1)
    ax.set_xlabel("fairness-gap (mean over layers)")
    ax.set_ylabel("FGSM accuracy (%)")
    ax.set_title(f"Conjecture 2: Pearson r = {_fmt_r(pearson)}, Spearman ρ = {_fmt_r(spearman)} (n = {len(pts)})",
                 fontsize=11)
    ax.grid(alpha=.3)
    _layout(fig)
    return _img(_png(fig), "fairness-gap against FGSM accuracy across models"), "", stats


def _fmt_r(r: float) -> str:
    return f"{r:+.2f}" if _finite(r) else "n/a"


def _plot_groups(report: "AuditReport", rows: list[SummaryRow], styles: _Styles) -> tuple[str, str] | None:
    per_model: dict[str, dict[str, float]] = {}
    for row in rows:
        ms = _ok_metrics(report, row.name)
        keys = list(dict.fromkeys(k for m in ms for k in (m.get("group_acc") or {})))
        if keys:
            per_model[row.name] = {k: _mean([float(m["group_acc"][k]) for m in ms
                                             if _finite((m.get("group_acc") or {}).get(k))] or [math.nan])
                                   for k in keys}
    if not per_model:
        return None
    groups = sorted({k for d in per_model.values() for k in d})
    width = 0.84 / len(per_model)
    fig = _figure(max(8.0, 1.2 + 0.16 * len(groups) * len(per_model) + 1.0 * len(groups)), 4.2)
    ax = fig.add_subplot()
    for i, (name, accs) in enumerate(per_model.items()):
        xs = [g + (i - (len(per_model) - 1) / 2) * width for g in range(len(groups))]
        st = styles.line(name)
        ax.bar(xs, [accs.get(k, math.nan) for k in groups], width=width, color=st.get("color"), label=_label(name),
               edgecolor="#202124" if name == report.user_method else "none", linewidth=1.0)
    ax.set_xticks(range(len(groups)))
    tick_labels = [_label(_group_label(g, report.data), 40) for g in groups]
    rotate = len(groups) > 6
    ax.set_xticklabels(tick_labels, fontsize=8, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    lows = [v for d in per_model.values() for v in d.values() if _finite(v)]
    ax.set_ylim(max(0.0, min(lows) - 10) if lows else 0, 100)
    ax.set_ylabel("test accuracy (%)")
    dom = (report.data.get("forget") or {}).get("dominant_groups") if isinstance(report.data.get("forget"), dict) \
        else None
    ax.set_title("Per-group test accuracy (mean over seeds)", fontsize=11)
    ax.grid(alpha=.3, axis="y")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    _layout(fig, legend=[_label(n) for n in per_model], bottom=0.03 * max(map(len, tick_labels)) if rotate else 0)
    caption = ("Groups are (label <i>y</i>, sensitive attribute <i>a</i>). The worst group gives WG; the dominant "
               "forget group gives GA.")
    if dom:
        caption += " Dominant forget group(s): " + _e(", ".join(
            _group_label(f"y={g[0]},a={g[1]}", report.data) for g in dom if isinstance(g, (list, tuple)) and len(g) == 2
        )) + "."
    return _img(_png(fig), "per-group test accuracy bars for every model"), caption


# ------------------------------------------------------------------------------------------------ sections
def _checks_words(row: SummaryRow) -> str:
    """``"1/6 failed"``, ``"6/6 passed"``: how many of the model's checks have its worst status."""
    counted = [f for f in row.findings if f.status is not Status.SKIP]
    if not counted:
        return ""
    worst = max(counted, key=lambda f: {Status.FAIL: 3, Status.INCONCLUSIVE: 2, Status.WARN: 1}.get(f.status, 0)).status
    word = {Status.FAIL: "failed", Status.INCONCLUSIVE: "inconclusive", Status.WARN: "warned",
            Status.PASS: "passed"}[worst]
    return f"{sum(f.status is worst for f in counted)}/{len(counted)} {word}"


def _summary_table(report: "AuditReport", rows: list[SummaryRow]) -> str:
    head = "".join(
        f'<th class="num" title="{_e(metric_label(k))}: {_e(metric_description(k))}">{_e(k)}'
        f'{_e({True: " ↑", False: " ↓", None: ""}[metric_direction(k)])}</th>' for k in COLUMNS)
    out = [f'<table class="summary"><thead><tr><th>model</th>{head}<th class="num" title="100 − mean |Δ| over '
           f'{", ".join(GAP_KEYS)} vs the reference">avg gap</th><th>checks</th></tr></thead><tbody>']
    prev_role = None
    for row in rows:
        cls = ["user"] if row.is_user else []
        if prev_role is not None and row.role != prev_role:
            cls.append("role-start")
        prev_role = row.role
        role = _e(row.role_label) + (f" · vs {_e(row.reference)}" if row.reference else "")
        seeds = f"seeds {', '.join(map(str, sorted(set(row.seeds))))}"
        model = (f'<td class="model">{"★ " if row.is_user else ""}{_e(row.name)}'
                 f'<span class="role">{role} · {_e(seeds)}</span></td>')
        if row.failed:
            err = row.failures[0][1]
            cells = (f'<td class="error" colspan="{len(COLUMNS) + 1}"><b>FAILED</b> (every seed): '
                     f'<span class="mono">{_e(err)}</span></td>')
        else:
            parts = []
            for key in COLUMNS:
                c = row.cells[key]
                st = f" st-{c.status.value}" if c.status and c.status is not Status.SKIP else ""
                sd = (f'<span class="sd">±{_e(c.text.split("±", 1)[1])}</span>' if "±" in c.text else "")
                dl = c.delta_text
                delta = f'<span class="delta">{_e(dl)}</span>' if dl else ""
                value = _e(c.text.split(" ±")[0])
                parts.append(f'<td class="num{st}" title="{_e(c.why)}">{value}{sd}{delta}</td>')
            gap = f"{row.avg_gap:.1f}" if row.avg_gap is not None else "—"
            cells = "".join(parts) + f'<td class="num">{gap}</td>'
            if row.failures:
                cells = cells[:-5] + f' <span class="error">({len(row.failures)} seed(s) failed)</span></td>'
        out.append(f'<tr class="{" ".join(cls)}">{model}{cells}'
                   f'<td style="white-space:nowrap">{_badge(row.status)} {_e(_checks_words(row))}</td></tr>')
    out.append("</tbody>")
    seeds = seeds_of(report)
    out.append(f"<caption>Each cell: mean over seeds ({_e(', '.join(map(str, seeds)))}), ±std when several, and "
               f"Δ = the mean paired difference to the row's reference. Cell colour: the worst check on that "
               f"metric (green pass, yellow warn, red fail); hover a cell for the checks' explanations. ↑ higher is "
               f"better, ↓ lower is better, no arrow: closeness to the reference matters. Avg gap (De Min et al. 2025) = "
               f"100 − mean |Δ| over {', '.join(GAP_KEYS)}; 100 = indistinguishable from the reference."
               f"</caption></table>")
    return "".join(out)


def _ci(f: Any) -> str:
    return "—" if f.lo is None or f.hi is None else f"[{fmt_number(f.lo)}, {fmt_number(f.hi)}]"


def _findings_table(report: "AuditReport", order: list[str]) -> str:
    if not report.findings:
        return '<p class="note">No threshold checks were configured.</p>'
    sev = {Status.FAIL: 0, Status.INCONCLUSIVE: 1, Status.WARN: 2, Status.PASS: 3, Status.SKIP: 4}
    pos = {n: i for i, n in enumerate(order)}
    fs = sorted(report.findings, key=lambda f: (sev[f.status], pos.get(f.model, len(pos)), f.check))
    rows = []
    for f in fs:
        ref = "—" if f.reference is None else _e(f.reference) + (
            f" = {_e(fmt_number(f.reference_value))}" if f.reference_value is not None else "")
        rows.append(f"<tr><td>{_badge(f.status)}</td><td>{_e(f.model)}</td><td><code>{_e(f.check)}</code></td>"
                    f'<td title="{_e(metric_label(f.metric))}">{_e(f.metric)}</td>'
                    f'<td class="num">{_e(fmt_number(f.value))}</td>'
                    f'<td class="num">{_e(_ci(f))}</td><td class="num">{_e(fmt_number(f.bound))}</td>'
                    f'<td class="num">{_e(fmt_number(f.margin))}</td>'
                    f'<td class="num">{_e(fmt_number(f.model_value))}</td><td class="ref">{ref}</td>'
                    f'<td>{_e(f.why)}' + (f'<br><b>What would decide it:</b> {_e(f.decide)}' if f.decide else '')
                    + '</td></tr>')
    n_shown = sum(f.status in (Status.FAIL, Status.WARN, Status.INCONCLUSIVE) for f in fs)
    level = (report.uncertainty or {}).get("level", 0.95)
    head = ('<thead><tr><th>status</th><th>model</th><th>check</th><th>metric</th><th>estimate</th>'
            f'<th>{level:.0%} CI</th><th>bound</th><th>margin</th><th>model value</th><th>reference</th><th>why</th>'
            '</tr></thead>')
    method = (report.uncertainty or {}).get("method", "")
    cap = (f"<caption>PASS: the whole interval is inside the bound; FAIL: wholly outside; INCONCLUSIVE: it straddles "
           f"the bound. Margin = distance of the estimate from the bound (negative: outside). Intervals: "
           f"{_e(method)}.</caption>")
    out = ""
    if n_shown:
        out += f'<table class="findings">{head}<tbody>{"".join(rows[:n_shown])}</tbody>{cap}</table>'
    else:
        out += '<p class="note">Every check passed or did not apply.</p>'
    if n_shown < len(rows):
        rest = fs[n_shown:]
        n_pass = sum(f.status is Status.PASS for f in rest)
        label = f"{n_pass} passed check{'s' if n_pass != 1 else ''}" + (
            f" and {len(rest) - n_pass} skipped" if len(rest) > n_pass else "")
        out += (f'<details><summary>Show the {label}</summary><table class="findings">{head}<tbody>'
                f'{"".join(rows[n_shown:])}</tbody>{cap}</table></details>')
    return out


def _group_table(report: "AuditReport", rows: list[SummaryRow]) -> str:
    per: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for row in rows:
        ms = _ok_metrics(report, row.name)
        for m in ms:
            for k, c in (m.get("group_counts") or {}).items():
                counts.setdefault(k, c)
        keys = list(dict.fromkeys(k for m in ms for k in (m.get("group_acc") or {})))
        if keys:
            per[row.name] = {k: _mean([float(m["group_acc"][k]) for m in ms
                                       if _finite((m.get("group_acc") or {}).get(k))] or [math.nan]) for k in keys}
    if not per:
        return ""
    groups = sorted({k for d in per.values() for k in d})
    head = "".join(f"<th class=\"num\">{_e(_group_label(g, report.data))}"
                   f"{'<br><span class=note>n = ' + _e(counts[g]) + '</span>' if g in counts else ''}</th>"
                   for g in groups)
    body = "".join(
        f'<tr class="{"user" if name == report.user_method else ""}"><td class="model">{_e(name)}</td>'
        + "".join(f'<td class="num">{_e(f"{d[g]:.1f}" if _finite(d.get(g)) else "—")}</td>' for g in groups)
        + "</tr>" for name, d in per.items())
    return (f'<details><summary>Per-group accuracy table</summary><table class="summary"><thead><tr><th>model</th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table></details>")


def _not_applicable(report: "AuditReport", order: list[str]) -> str:
    by_reason: dict[tuple[str, str], list[str]] = {}
    for name in order:
        seen = set()
        for r in report.records(name):
            for k, why in r.not_applicable.items():
                if (k, why) not in seen:
                    seen.add((k, why))
                    by_reason.setdefault((k, why), []).append(name)
    notes: dict[str, list[str]] = {}
    for name in order:
        for r in report.records(name):
            for note in (r.metrics or {}).get("notes") or []:
                if name not in notes.get(str(note), []):
                    notes.setdefault(str(note), []).append(name)
    out = ""
    if by_reason:
        items = "".join(f"<li><b>{_e(k)}</b> ({_e(metric_label(k))}) — {_e(why)}: "
                        f"{_e(', '.join(names)) if len(names) < len(order) else 'every model'}</li>"
                        for (k, why), names in sorted(by_reason.items()))
        out += f"<h3>Metrics that did not apply</h3><ul>{items}</ul>"
    if notes:
        items = "".join(f"<li>{_e(note)}: {_e(', '.join(names)) if len(names) < len(order) else 'every model'}</li>"
                        for note, names in notes.items())
        out += f"<h3>Notes from the evaluation</h3><ul>{items}</ul>"
    return out


_FAILED_BADGE = '<span class="badge b-FAIL">failed</span>'


def _records_table(report: "AuditReport") -> str:
    rows = "".join(
        f"<tr><td>{_e(r.name)}</td><td>{_e(r.role)}</td><td>{_e(r.seed)}</td><td>{_e(r.reference or '—')}</td>"
        f"<td>{'ok' if r.status == 'ok' else _FAILED_BADGE}</td>"
        f'<td class="num">{_e(f"{r.seconds:.1f}")}</td><td>{"yes" if r.cached else "no"}</td>'
        f'<td class="mono">{_e(json.dumps(r.hyperparams, sort_keys=True, default=str)) if r.hyperparams else ""}'
        f'</td><td class="mono error">{_e(r.error or "")}</td></tr>' for r in report.rows)
    return ('<details><summary>Every model and seed</summary><table><thead><tr><th>model</th><th>role</th>'
            '<th>seed</th><th>reference</th><th>status</th><th>seconds</th><th>cached</th><th>hyper-parameters</th>'
            f'<th>error</th></tr></thead><tbody>{rows}</tbody></table></details>')


def render_html(report: "AuditReport") -> str:
    """The whole report as one self-contained HTML document (a string)."""
    rows = summary_rows(report)
    order = [r.name for r in rows]
    verdict = report.verdict
    data_name = report.data.get("name") or report.data.get("dataset") or "—"
    refs = references_of(report)
    seeds = seeds_of(report)
    sections: list[str] = []

    sections.append(f"<h1>Unlearning audit report</h1>"
                    f'<div class="meta">data <b>{_e(data_name)}</b> · your method '
                    f"<b>{_e(report.user_method or '—')}</b> · references {_e(', '.join(refs) or '—')} · seeds "
                    f"{_e(', '.join(map(str, seeds)) or '—')} · created {_e(report.created or '—')} · schema "
                    f"v{_e(report.schema_version)}</div>"
                    f'<div class="verdict v-{verdict.value}">Verdict: {_e(verdict_line(report))}</div>')

    sections.append("<h2 id=summary>Summary</h2>" + _summary_table(report, rows))
    failures = [(row.name, s, err) for row in rows for s, err in row.failures]
    if failures:
        items = "".join(f'<li><b>{_e(n)}</b> (seed {_e(s)}): <span class="mono error">{_e(err)}</span></li>'
                        for n, s, err in failures)
        sections.append(f"<h3>Models that failed</h3><ul>{items}</ul>")

    sections.append("<h2 id=findings>Checks</h2>" + _findings_table(report, order))

    plot_parts = []
    try:
        styles = _Styles(rows)
        for title, fn in (("Fairness-gap per layer", _plot_fairness_gap), ("Robustness vs attack budget",
                                                                         _plot_adversarial)):
            res = fn(report, rows, styles)
            if res is None:
                note = ("no model has a fairness-gap (no normalization layer?)" if fn is _plot_fairness_gap
                        else "no ε sweep was run (set MetricConfig.eps_sweep to draw accuracy-vs-ε curves)")
                plot_parts.append(f'<h3>{title}</h3><p class="note">Not drawn: {_e(note)}.</p>')
            else:
                plot_parts.append(f"<h3>{title}</h3><figure>{res[0]}<figcaption>{res[1]}</figcaption></figure>")
        img, note, (pearson, spearman, n) = _plot_conjecture2(report, rows, styles)
        expl = (f"Across the {n} audited models, Pearson r = <b>{_fmt_r(pearson)}</b> and Spearman ρ = "
                f"<b>{_fmt_r(spearman)}</b> between the fairness-gap and FGSM accuracy. Tran &amp; Woo's Conjecture 2 "
                f"predicts a negative relation (a larger fairness-gap goes with lower FGSM accuracy).")
        if n < 3:
            expl += " At least three models are needed for a correlation."
        plot_parts.append("<h3>Conjecture 2: fairness-gap vs FGSM accuracy</h3>"
                          + (f"<figure>{img}<figcaption>{expl}</figcaption></figure>" if img
                             else f'<p class="note">{_e(note)} {expl}</p>'))
        res = _plot_groups(report, rows, styles)
        plot_parts.append("<h3>Per-group accuracy</h3>" + (
            f"<figure>{res[0]}<figcaption>{res[1]}</figcaption></figure>" if res
            else '<p class="note">No per-group accuracy was recorded.</p>') + _group_table(report, rows))
    except ImportError as exc:  # matplotlib missing: the report still renders, without plots
        plot_parts = [f'<p class="note">Plots need matplotlib ({_e(exc)}).</p>']
    sections.append("<h2 id=plots>Plots</h2>" + "".join(plot_parts))

    sections.append("<h2 id=details>Details</h2>" + _not_applicable(report, order) + _records_table(report))
    sections.append("<h2 id=data>Data and forget request</h2>" + _kv(report.data))
    sections.append("<h2 id=environment>Environment</h2>" + _kv(report.environment))
    sections.append("<h2 id=config>Configuration</h2>" + _kv(report.config))
    sections.append(f"<footer>Generated by unlearn-audit · report schema v{_e(report.schema_version)} · this "
                    f"file is self-contained (no scripts, no external resources).</footer>")

    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Unlearning audit: {_e(verdict.value)} · {_e(data_name)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(sections)}</main></body></html>\n")
