"""The HTML report's plots: matplotlib figures (Agg canvas, no pyplot state) embedded as base64 PNGs.

Every plot builder returns a :class:`Plot` or, when it cannot be drawn, a one-line reason (a ``str``) that the
report prints instead. Labels never overlap: legends sit outside the axes, the scatter names models through its
legend and a table instead of text next to each point, and the per-group bars are horizontal so any group name
fits. :func:`overlapping_labels` checks that property on a drawn figure (the tests use it).
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ._html_base import esc, finite, group_label, group_means, mean, mpl_text, ok_metrics

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport
    from ._table import SummaryRow

__all__ = ["Plot", "Styles", "correlations", "fmt_r", "gap_vs_fgsm_points", "overlapping_labels", "plot_adversarial",
           "plot_fairness_gap", "plot_gap_vs_fgsm", "plot_groups"]


@dataclass
class Plot:
    """A drawn figure with its alt text and its caption (HTML)."""

    figure: Any
    alt: str
    caption: str

    def img(self) -> str:
        """The figure as an ``<img>`` with a base64 PNG ``data:`` URI (the figure is cleared afterwards)."""
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=100, metadata={"Software": None})
        self.figure.clear()
        b64 = base64.b64encode(buf.getvalue()).decode("ascii")
        return f'<img src="data:image/png;base64,{b64}" alt="{esc(self.alt)}">'


def correlations(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Pearson r and Spearman ρ (average ranks for ties); NaN when fewer than 3 points or no variation."""
    n = len(xs)
    if n < 3 or n != len(ys):
        return math.nan, math.nan

    def pearson(a: Sequence[float], b: Sequence[float]) -> float:
        ma, mb = mean(a), mean(b)
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


def fmt_r(r: float) -> str:
    """A correlation coefficient with its sign, ``n/a`` when undefined."""
    return f"{r:+.2f}" if finite(r) else "n/a"


class Styles:
    """One colour / line style / marker per model, the same in every plot."""

    def __init__(self, rows: "list[SummaryRow]") -> None:
        from matplotlib import colormaps

        palette = colormaps["tab10"].colors
        markers = ("o", "^", "v", "P", "X", "*", "h", "<", ">", "p")
        self.style: dict[str, dict[str, Any]] = {}
        i = n_ref = 0
        for row in rows:
            if row.role == "original":
                self.style[row.name] = dict(color="#202124", linestyle="-", linewidth=2.0, marker="s")
            elif row.role == "reference":
                grey = ("#5f6368", "#9aa0a6", "#3c4043")[n_ref % 3]
                self.style[row.name] = dict(color=grey, linestyle="--", linewidth=1.8, marker="os^"[n_ref % 3])
                n_ref += 1
            elif row.is_user:
                self.style[row.name] = dict(color="#c2185b", linestyle="-", linewidth=3.0, marker="D")
            else:
                self.style[row.name] = dict(color=palette[i % len(palette)], linestyle="-", linewidth=1.4,
                                            marker=markers[i % len(markers)])
                i += 1

    def line(self, name: str) -> dict[str, Any]:
        """Keyword arguments of ``Axes.plot`` for model ``name``."""
        return dict(self.style.get(name, {}), markersize=4)

    def color(self, name: str) -> Any:
        """The model's colour."""
        return self.style.get(name, {}).get("color", "#1a73e8")


def _figure(w: float, h: float) -> Any:
    from matplotlib.figure import Figure  # Agg canvas, no pyplot global state: nothing to close or leak

    return Figure(figsize=(w, h), dpi=100)


def _label(s: Any, limit: int = 32) -> str:
    """A legend / tick label: at most ``limit`` characters, safe for matplotlib."""
    s = str(s)
    return mpl_text(s if len(s) <= limit else s[: limit - 1] + "…")


def _layout(fig: Any, *, legend: Sequence[str] = (), bottom: float = 0.0, left: float = 0.75) -> None:
    """Margins in inches (cheaper than constrained layout): ``left`` for the y tick labels, room for the legend on
    the right and for ``bottom`` inches of rotated tick labels."""
    w, h = fig.get_size_inches()
    right = (0.75 + 0.075 * max(map(len, legend))) if legend else 0.3
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=(0.55 + bottom) / h, top=1 - 0.35 / h,
                        wspace=0.08)


def _legend_right(ax: Any) -> None:
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def overlapping_labels(figure: Any) -> list[tuple[str, str]]:
    """Pairs of visible texts (tick labels, titles, axis labels, legend entries) whose boxes overlap once drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = []
    for ax in figure.axes:
        texts = [*ax.get_xticklabels(), *ax.get_yticklabels(), ax.title, ax.xaxis.label, ax.yaxis.label,
                 *ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += list(legend.get_texts())
        for t in texts:
            if t.get_visible() and t.get_text().strip():
                boxes.append((t.get_text(), t.get_window_extent(renderer).shrunk(0.98, 0.9)))
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]


def plot_fairness_gap(report: "AuditReport", rows: "list[SummaryRow]", styles: Styles) -> Plot | str:
    """Per-layer fairness-gap curves of every model (mean over seeds)."""
    curves: list[tuple[str, list[str], list[float]]] = []
    for row in rows:
        fgs = [m["fairness_gap"] for m in ok_metrics(report, row.name) if m.get("fairness_gap")]
        fgs = [fg for fg in fgs if fg.get("values")]
        if not fgs:
            continue
        n = len(fgs[0]["values"])
        fgs = [fg for fg in fgs if len(fg["values"]) == n]
        vals = [mean([float(fg["values"][i]) for fg in fgs if finite(fg["values"][i])] or [math.nan])
                for i in range(n)]
        curves.append((row.name, list(fgs[0].get("layer_names") or range(n)), vals))
    if not curves:
        return (f"none of the {len(rows)} models has a fairness gap (it is measured at normalization layers, "
                f"e.g. BatchNorm; the model has none)")
    layers = max((c[1] for c in curves), key=len)
    fig = _figure(9.5, 4.2)
    ax = fig.add_subplot()
    for name, _, vals in curves:
        ax.plot(range(len(vals)), vals, label=_label(name), **styles.line(name))
    values = [v for _, _, vals in curves for v in vals if finite(v)]
    if values and min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale("log")
    step = max(1, len(layers) // 16)
    ax.set_xticks(range(0, len(layers), step))
    tick_labels = [_label(x, 24) for x in layers[::step]]
    rotate = len(layers) > 4
    ax.set_xticklabels(tick_labels, rotation=35 if rotate else 0, ha="right" if rotate else "center", fontsize=8)
    first = next(m["fairness_gap"] for r in rows for m in ok_metrics(report, r.name) if m.get("fairness_gap"))
    ax.set_xlabel("normalization layer (model order)")
    ax.set_ylabel(r"fairness gap $\varepsilon^l$" + f" ({mpl_text(first.get('statistic', 'var'))})")
    ax.set_title(f"Per-layer fairness gap on the {mpl_text(first.get('split', 'retain'))} split (mean over seeds)",
                 fontsize=11)
    ax.grid(alpha=.3)
    _legend_right(ax)
    _layout(fig, legend=[_label(c[0]) for c in curves],
            bottom=0.045 * max(map(len, tick_labels)) if rotate else 0.0)
    caption = ("The fairness gap <i>ε<sup>l</sup></i> of layer <i>l</i> is the largest minus the smallest per-class "
               "variance of the features at the output of that normalization layer. Tran &amp; Woo (2025) observe "
               "that a robust unlearning method keeps the original model's curve; how far the retrained reference "
               "lies from it is a natural tolerance.")
    return Plot(fig, "per-layer fairness-gap curves for every model", caption)


def plot_adversarial(report: "AuditReport", rows: "list[SummaryRow]", styles: Styles) -> Plot | str:
    """FGSM / PGD accuracy against the attack budget ε, when the audit swept several budgets."""
    attacks = []
    for attack in ("fgsm", "pgd"):
        per_model = {}
        for row in rows:
            curves = [m.get("adversarial", {}).get(attack) or {} for m in ok_metrics(report, row.name)]
            curves = [c for c in curves if len(c) >= 2]
            if not curves:
                continue
            eps = sorted({float(e) for c in curves for e in c})
            per_model[row.name] = (eps, [mean([float(c[f]) for c in curves for f in c
                                               if math.isclose(float(f), e) and finite(c[f])] or [math.nan])
                                         for e in eps])
        if per_model:
            attacks.append((attack, per_model))
    if not attacks:
        return "no ε sweep was run (set MetricConfig.eps_sweep to draw accuracy-vs-ε curves)"
    all_eps = [e for _, pm in attacks for eps, _ in pm.values() for e in eps]
    pixel = all(abs(e * 255 - round(e * 255)) < 1e-3 and e < 1 for e in all_eps)
    fig = _figure(4.6 * len(attacks) + 1.8, 4.0)
    axes = fig.subplots(1, len(attacks), sharey=True, squeeze=False)[0]
    for ax, (attack, per_model) in zip(axes, attacks):
        for name, (eps, acc) in per_model.items():
            ax.plot([e * 255 if pixel else e for e in eps], acc, label=_label(name), **styles.line(name))
        ax.set_title(f"{attack.upper()} accuracy vs ε (test split)", fontsize=10)
        ax.set_xlabel("ε × 255 (pixel units)" if pixel else "ε")
        ax.grid(alpha=.3)
    axes[0].set_ylabel("accuracy under attack (%)")
    _legend_right(axes[-1])
    _layout(fig, legend=[_label(n) for _, pm in attacks for n in pm])
    caption = ("Accuracy on the test split under white-box attacks of growing budget ε (FGSM: one gradient-sign "
               "step; PGD: several projected steps); mean over seeds. Higher is more robust.")
    return Plot(fig, "FGSM and PGD accuracy against the attack budget", caption)


def gap_vs_fgsm_points(rows: "list[SummaryRow]") -> list[tuple[str, float, float]]:
    """``(model, fairness gap, FGSM accuracy)`` for every model with both means."""
    return [(row.name, row.cells["FG"].mean, row.cells["FGSM"].mean) for row in rows
            if row.cells["FG"].mean is not None and row.cells["FGSM"].mean is not None]


def plot_gap_vs_fgsm(report: "AuditReport", rows: "list[SummaryRow]", styles: Styles) -> Plot | str:
    """Fairness gap against FGSM accuracy, one point per model, with a least-squares line (needs ≥ 3 models)."""
    pts = gap_vs_fgsm_points(rows)
    if len(pts) < 3:
        return (f"the fairness gap and the FGSM accuracy were both measured for {len(pts)} of the {len(rows)} "
                f"models; comparing them needs at least 3")
    pearson, spearman = correlations([p[1] for p in pts], [p[2] for p in pts])
    fig = _figure(7.5, 4.4)
    ax = fig.add_subplot()
    for name, x, y in pts:
        st = styles.line(name)
        ax.scatter([x], [y], color=st.get("color"), marker=st.get("marker", "o"), s=50, zorder=3,
                   edgecolors="#202124" if name == report.user_method else "none", label=_label(name))
    xs, ys = [p[1] for p in pts], [p[2] for p in pts]
    if len(set(xs)) > 1:
        mx, my = mean(xs), mean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        lo, hi = min(xs), max(xs)
        ax.plot([lo, hi], [my + slope * (lo - mx), my + slope * (hi - mx)], color="#9aa0a6", linestyle=":",
                linewidth=1.2, zorder=1)
    ax.set_xlabel("fairness gap (mean over layers)")
    ax.set_ylabel("FGSM accuracy (%)")
    ax.set_title(f"Pearson r = {fmt_r(pearson)}, Spearman ρ = {fmt_r(spearman)} (n = {len(pts)})", fontsize=10)
    ax.grid(alpha=.3)
    _legend_right(ax)
    _layout(fig, legend=[_label(p[0]) for p in pts])
    caption = (f"One point per model ({len(pts)} of {len(rows)}); dotted: least-squares line. Tran &amp; Woo (2025) "
               f"observe that a larger fairness gap goes with lower FGSM accuracy, i.e. a negative correlation. "
               f"Here Pearson r = <b>{fmt_r(pearson)}</b> and Spearman ρ = <b>{fmt_r(spearman)}</b>"
               + (" (negative, as observed there)." if finite(pearson) and pearson < 0 else "."))
    return Plot(fig, "fairness gap against FGSM accuracy across models", caption)


def plot_groups(report: "AuditReport", rows: "list[SummaryRow]", styles: Styles) -> Plot | str:
    """Per-group test accuracy: one horizontal bar per model inside each (label, attribute) group."""
    per_model = group_means(report, rows)
    if not per_model:
        return "no per-group accuracy was recorded"
    groups = sorted({k for d in per_model.values() for k in d})
    n = len(per_model)
    height = 0.8 / n
    group_names = [_label(group_label(g, report.data), 34) for g in groups]
    fig = _figure(8.0, 1.1 + len(groups) * (0.16 * n + 0.3))
    ax = fig.add_subplot()
    for i, (name, accs) in enumerate(per_model.items()):
        ys = [g - 0.4 + (i + 0.5) * height for g in range(len(groups))]
        ax.barh(ys, [accs.get(k, math.nan) for k in groups], height=height, color=styles.color(name),
                label=_label(name), edgecolor="#202124" if name == report.user_method else "none", linewidth=1.0)
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels(group_names, fontsize=8)
    ax.invert_yaxis()  # first group and first model on top, like the legend
    lows = [v for d in per_model.values() for v in d.values() if finite(v)]
    ax.set_xlim(max(0.0, min(lows) - 10) if lows else 0, 100)
    ax.set_xlabel("test accuracy (%)")
    ax.set_title("Per-group test accuracy (mean over seeds)", fontsize=10)
    ax.grid(alpha=.3, axis="x")
    _legend_right(ax)
    _layout(fig, legend=[_label(m) for m in per_model], left=0.25 + 0.062 * max(map(len, group_names)))
    forget = report.data.get("forget")
    dom = forget.get("dominant_groups") if isinstance(forget, dict) else None
    caption = ("Groups are (label <i>y</i>, sensitive attribute <i>a</i>). The worst group's accuracy is WG; the "
               "accuracy on the group that dominates the forget set is GA.")
    if dom:
        caption += " Dominant forget group(s): " + esc(", ".join(
            group_label(f"y={g[0]},a={g[1]}", report.data) for g in dom if isinstance(g, (list, tuple)) and len(g) == 2
        )) + "."
    return Plot(fig, "per-group test accuracy bars for every model", caption)
