"""The audit as ONE self-contained HTML file: no scripts, no external assets, every user string escaped.

Sections: verdict, the summary table (same numbers as the terminal table) with what each column means, failed
models, the checks (each with its explanation as text under it), plots (``_html_plots``: per-layer fairness-gap
curves, FGSM/PGD accuracy vs ε when swept, fairness gap vs FGSM accuracy with Pearson/Spearman correlations,
per-group accuracy bars), metrics that did not apply, and the data / environment / configuration the audit ran
with as flat key/value tables (``_html_kv``). The page fits 800 px (wide tables scroll inside their own box) and
has a print stylesheet (``_html_style``). A Content-Security-Policy forbids loading anything.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._findings import Status
from ._html_base import esc, finite, group_label, group_means, ok_metrics
from ._html_kv import kv_table
from ._html_plots import (Styles, correlations, plot_adversarial, plot_fairness_gap, plot_gap_vs_fgsm,
                          plot_groups)
from ._html_style import CSS
from ._table import (COLUMNS, GAP_KEYS, SummaryRow, fmt_number, metric_description, metric_direction, metric_label,
                     references_of, seeds_of, summary_rows, verdict_line)

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport

__all__ = ["render_html", "correlations"]


def _badge(status: Status | str | None) -> str:
    if status is None:
        return ""
    s = Status(status).value
    return f'<span class="badge b-{s}">{s}</span>'


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
        f'<th class="num" title="{esc(metric_label(k))}: {esc(metric_description(k))}">{esc(k)}'
        f'{esc({True: " ↑", False: " ↓", None: ""}[metric_direction(k)])}</th>' for k in COLUMNS)
    out = [f'<div class="scroll"><table class="summary"><thead><tr><th>model</th>{head}'
           f'<th class="num" title="100 − mean |Δ| over '
           f'{", ".join(GAP_KEYS)} vs the reference">avg gap</th><th>checks</th></tr></thead><tbody>']
    prev_role = None
    for row in rows:
        cls = ["user"] if row.is_user else []
        if prev_role is not None and row.role != prev_role:
            cls.append("role-start")
        prev_role = row.role
        role = esc(row.role_label) + (f" · vs {esc(row.reference)}" if row.reference else "")
        seeds = f"seeds {', '.join(map(str, sorted(set(row.seeds))))}"
        model = (f'<td class="model">{"★ " if row.is_user else ""}{esc(row.name)}'
                 f'<span class="role">{role} · {esc(seeds)}</span></td>')
        if row.failed:
            err = row.failures[0][1]
            cells = (f'<td class="error" colspan="{len(COLUMNS) + 1}"><b>FAILED</b> (every seed): '
                     f'<span class="mono">{esc(err)}</span></td>')
        else:
            parts = []
            for key in COLUMNS:
                c = row.cells[key]
                st = f" st-{c.status.value}" if c.status and c.status is not Status.SKIP else ""
                sd = (f'<span class="sd">±{esc(c.text.split("±", 1)[1])}</span>' if "±" in c.text else "")
                dl = c.delta_text
                delta = f'<span class="delta">{esc(dl)}</span>' if dl else ""
                value = esc(c.text.split(" ±")[0])
                parts.append(f'<td class="num{st}">{value}{sd}{delta}</td>')
            gap = f"{row.avg_gap:.1f}" if row.avg_gap is not None else "—"
            cells = "".join(parts) + f'<td class="num">{gap}</td>'
            if row.failures:
                cells = cells[:-5] + f' <span class="error">({len(row.failures)} seed(s) failed)</span></td>'
        out.append(f'<tr class="{" ".join(cls)}">{model}{cells}'
                   f'<td style="white-space:nowrap">{_badge(row.status)} {esc(_checks_words(row))}</td></tr>')
    out.append("</tbody></table></div>")
    seeds = seeds_of(report)
    seed_list = ", ".join(map(str, seeds))
    out.append(f'<p class="caption">Each cell: mean over seeds ({esc(seed_list)}), ±std when several, '
               f"and Δ = the mean paired difference to the row's reference. Cell colour: the worst check on that "
               f"metric (green pass, yellow warn, red fail, purple inconclusive); the Checks section below explains "
               f"each check. ↑ higher is better, ↓ lower is better, no arrow: closeness to the reference "
               f"matters.</p>")
    out.append(_column_glossary())
    return "".join(out)


def _column_glossary() -> str:
    """What every column of the summary table means, as visible text (a printed report has no tooltips)."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(metric_label(k))}: {esc(metric_description(k))}</dd>" for k in COLUMNS)
    items += (f"<dt>avg gap</dt><dd>100 − the mean |Δ| over {esc(', '.join(GAP_KEYS))} against the reference "
              f"(De Min et al. 2025); 100 = indistinguishable from the reference.</dd>")
    return f'<details open><summary>What the columns mean</summary><dl class="columns">{items}</dl></details>'


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
        ref = "—" if f.reference is None else esc(f.reference) + (
            f" = {esc(fmt_number(f.reference_value))}" if f.reference_value is not None else "")
        n_cols = 10
        rows.append(f'<tr class="head"><td>{_badge(f.status)}</td><td>{esc(f.model)}</td><td><code>{esc(f.check)}'
                    f'</code></td><td>{esc(f.metric)}</td><td class="num">{esc(fmt_number(f.value))}</td>'
                    f'<td class="num">{esc(_ci(f))}</td><td class="num">{esc(fmt_number(f.bound))}</td>'
                    f'<td class="num">{esc(fmt_number(f.margin))}</td>'
                    f'<td class="num">{esc(fmt_number(f.model_value))}</td><td>{ref}</td></tr>'
                    f'<tr class="why"><td colspan="{n_cols}"><div>{esc(metric_label(f.metric))}: {esc(f.why)}'
                    + (f' <b>What would decide it:</b> {esc(f.decide)}' if f.decide else '') + '</div></td></tr>')
    n_shown = sum(f.status in (Status.FAIL, Status.WARN, Status.INCONCLUSIVE) for f in fs)
    level = (report.uncertainty or {}).get("level", 0.95)
    head = ('<thead><tr><th>status</th><th>model</th><th>check</th><th>metric</th><th>estimate</th>'
            f'<th>{level:.0%} CI</th><th>bound</th><th>margin</th><th>model value</th><th>reference</th>'
            '</tr></thead>')
    method = (report.uncertainty or {}).get("method", "")
    cap = ('<p class="caption">Under each check: what it measures and why it got its status. PASS: the whole '
           "interval is inside the bound; FAIL: wholly outside; INCONCLUSIVE: it straddles "
           f"the bound. Margin = distance of the estimate from the bound (negative: outside). Intervals: "
           f"{esc(method)}.</p>")
    out = ""
    if n_shown:
        out += (f'<div class="scroll"><table class="findings">{head}<tbody>{"".join(rows[:2 * n_shown])}</tbody>'
                f'</table></div>{cap}')
    else:
        out += '<p class="note">Every check passed or did not apply.</p>'
    if n_shown < len(fs):
        rest = fs[n_shown:]
        n_pass = sum(f.status is Status.PASS for f in rest)
        label = f"{n_pass} passed check{'s' if n_pass != 1 else ''}" + (
            f" and {len(rest) - n_pass} skipped" if len(rest) > n_pass else "")
        out += (f'<details><summary>Show the {label}</summary><div class="scroll"><table class="findings">'
                f'{head}<tbody>{"".join(rows[2 * n_shown:])}</tbody></table></div></details>')
    return out


def _group_table(report: "AuditReport", rows: list[SummaryRow]) -> str:
    per = group_means(report, rows)
    counts: dict[str, int] = {}
    for row in rows:
        for m in ok_metrics(report, row.name):
            for k, c in (m.get("group_counts") or {}).items():
                counts.setdefault(k, c)
    if not per:
        return ""
    groups = sorted({k for d in per.values() for k in d})
    head = "".join(f"<th class=\"num\">{esc(group_label(g, report.data))}"
                   f"{'<br><span class=note>n = ' + esc(counts[g]) + '</span>' if g in counts else ''}</th>"
                   for g in groups)
    body = "".join(
        f'<tr class="{"user" if name == report.user_method else ""}"><td class="model">{esc(name)}</td>'
        + "".join(f'<td class="num">{esc(f"{d[g]:.1f}" if finite(d.get(g)) else "—")}</td>' for g in groups)
        + "</tr>" for name, d in per.items())
    return (f'<details><summary>Per-group accuracy table</summary><div class="scroll"><table class="summary">'
            f"<thead><tr><th>model</th>{head}</tr></thead><tbody>{body}</tbody></table></div></details>")


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
        items = "".join(f"<li><b>{esc(k)}</b> ({esc(metric_label(k))}) — {esc(why)}: "
                        f"{esc(', '.join(names)) if len(names) < len(order) else 'every model'}</li>"
                        for (k, why), names in sorted(by_reason.items()))
        out += f"<h3>Metrics that did not apply</h3><ul>{items}</ul>"
    if notes:
        items = "".join(f"<li>{esc(note)}: {esc(', '.join(names)) if len(names) < len(order) else 'every model'}</li>"
                        for note, names in notes.items())
        out += f"<h3>Notes from the evaluation</h3><ul>{items}</ul>"
    return out


_FAILED_BADGE = '<span class="badge b-FAIL">failed</span>'


def _records_table(report: "AuditReport") -> str:
    rows = "".join(
        f"<tr><td>{esc(r.name)}</td><td>{esc(r.role)}</td><td>{esc(r.seed)}</td><td>{esc(r.reference or '—')}</td>"
        f"<td>{'ok' if r.status == 'ok' else _FAILED_BADGE}</td>"
        f'<td class="num">{esc(f"{r.seconds:.1f}")}</td><td>{"yes" if r.cached else "no"}</td>'
        f'<td class="mono">{esc(json.dumps(r.hyperparams, sort_keys=True, default=str)) if r.hyperparams else ""}'
        f'</td><td class="mono error">{esc(r.error or "")}</td></tr>' for r in report.rows)
    return ('<details><summary>Every model and seed</summary><div class="scroll"><table><thead><tr><th>model</th>'
            '<th>role</th>'
            '<th>seed</th><th>reference</th><th>status</th><th>seconds</th><th>cached</th><th>hyper-parameters</th>'
            f'<th>error</th></tr></thead><tbody>{rows}</tbody></table></div></details>')




_PLOTS = (("Fairness gap per layer", plot_fairness_gap), ("Robustness against the attack budget", plot_adversarial),
          ("Fairness gap vs FGSM accuracy", plot_gap_vs_fgsm), ("Per-group accuracy", plot_groups))


def _plots(report: "AuditReport", rows: list[SummaryRow]) -> str:
    """Every plot that can be drawn, then one line per plot that cannot, with the reason."""
    try:
        styles = Styles(rows)
    except ImportError as exc:  # matplotlib missing: the report still renders, without plots
        return f'<p class="note">Plots need matplotlib ({esc(exc)}).</p>'
    parts, not_drawn = [], []
    for title, build in _PLOTS:
        plot = build(report, rows, styles)
        extra = _group_table(report, rows) if build is plot_groups else ""
        if isinstance(plot, str):
            not_drawn.append(f"<li><b>{esc(title)}</b>: {esc(plot)}.</li>")
            parts.append(extra)
        else:
            parts.append(f"<h3>{esc(title)}</h3><figure>{plot.img()}<figcaption>{plot.caption}</figcaption></figure>"
                         + extra)
    if not_drawn:
        parts.append(f'<h3>Plots not drawn</h3><ul class="not-drawn">{"".join(not_drawn)}</ul>')
    return "".join(parts)


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
                    f'<div class="meta">data <b>{esc(data_name)}</b> · your method '
                    f"<b>{esc(report.user_method or '—')}</b> · references {esc(', '.join(refs) or '—')} · seeds "
                    f"{esc(', '.join(map(str, seeds)) or '—')} · created {esc(report.created or '—')} · schema "
                    f"v{esc(report.schema_version)}</div>"
                    f'<div class="verdict v-{verdict.value}">Verdict: {esc(verdict_line(report))}</div>')

    sections.append("<h2 id=summary>Summary</h2>" + _summary_table(report, rows))
    failures = [(row.name, s, err) for row in rows for s, err in row.failures]
    if failures:
        items = "".join(f'<li><b>{esc(n)}</b> (seed {esc(s)}): <span class="mono error">{esc(err)}</span></li>'
                        for n, s, err in failures)
        sections.append(f"<h3>Models that failed</h3><ul>{items}</ul>")

    sections.append("<h2 id=findings>Checks</h2>" + _findings_table(report, order))
    sections.append("<h2 id=plots>Plots</h2>" + _plots(report, rows))
    sections.append("<h2 id=details>Details</h2>" + _not_applicable(report, order) + _records_table(report))
    sections.append("<h2 id=data>Data and forget request</h2>" + kv_table(report.data))
    sections.append("<h2 id=environment>Environment</h2><details><summary>Software and hardware the audit ran on"
                    "</summary>" + kv_table(report.environment) + "</details>")
    sections.append("<h2 id=config>Configuration</h2><details><summary>Every setting of the audit (one row per "
                    "setting)</summary>" + kv_table(report.config) + "</details>")
    sections.append(f"<footer>Generated by unlearn-audit · report schema v{esc(report.schema_version)} · this "
                    f"file is self-contained (no scripts, no external resources).</footer>")

    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Unlearning audit: {esc(verdict.value)} · {esc(data_name)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(sections)}</main></body></html>\n")
