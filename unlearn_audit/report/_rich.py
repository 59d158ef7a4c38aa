"""The audit summary as rich renderables and plain text (terminal, CI logs, pytest's terminal writer).

One compact layout, the same in the CLI and under pytest, that fits the width it is given (80 columns and up):

- the summary: one line per model (the value of each metric with its status mark; a second, dimmed line with
  Δ vs the row's reference for compared models), models grouped by role, the user's method starred;
  below 110 columns the metric columns are ``COMPACT_COLUMNS`` (the rest is in the HTML report);
- the checks of the user's method (all models when there is none): status, check, model, the estimate with its
  confidence interval and the bound, then, for every check that did not pass, why and what would decide it,
  wrapped to the width.

The numbers come from the one table model (``_table.summary_rows``) that the HTML and the checklist draw too.
"""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING, Any

from ._findings import Finding, Status
from ._table import (COLUMNS, COMPACT_COLUMNS, GAP_KEYS, SummaryCell, SummaryRow, fmt_delta, fmt_number, fmt_value,
                     metric_arrow, references_of, status_mark, status_word, summary_rows)

if TYPE_CHECKING:  # pragma: no cover
    from ._report import AuditReport

__all__ = ["render_table", "render_text", "findings_table", "WIDE", "STYLE"]

#: from this width on, every metric column is shown (below it, ``COMPACT_COLUMNS``)
WIDE = 110
STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.INCONCLUSIVE: "bold magenta", Status.FAIL: "bold red",
         Status.SKIP: "dim"}


def _columns(width: int) -> tuple[str, ...]:
    return COLUMNS if width >= WIDE else COMPACT_COLUMNS


def _value(cell: SummaryCell) -> str:
    """``"93.1✓"``: the mean with its status mark (a space where there is none, so the numbers align)."""
    text = fmt_value(cell.key, cell.mean) if cell.mean is not None else ("n/a" if cell.not_applicable else "—")
    mark = status_mark(cell.status) if cell.status not in (None, Status.SKIP) else " "
    return text + mark


def _legend(report: "AuditReport", rows: list[SummaryRow], columns: tuple[str, ...]) -> str:
    refs: dict[str, list[str]] = {}
    for row in rows:
        if row.reference:
            refs.setdefault(row.reference, []).append(row.name)
    if len(refs) == 1:
        delta = f"Δ = difference to {next(iter(refs))}"
    elif refs:
        delta = "Δ = difference to the row's reference (" + "; ".join(
            f"{ref}: {', '.join(names)}" for ref, names in refs.items()) + ")"
    else:
        delta = "no Δ: no model names a reference"
    def seeds_text(names: list[str]) -> str:
        seeds = sorted({r.seed for r in report.rows if r.name in names})
        return ("means over seeds " if len(seeds) > 1 else "seed ") + (", ".join(map(str, seeds)) or "—")

    by_seeds: dict[str, list[str]] = {}   # "seed 0" -> ["suite"], "means over seeds 0, 1, 2" -> ["yours", ...]
    for label, roles in (("suite", ("method",)), ("yours", ("user",)), ("references", ("reference", "original"))):
        names = [row.name for row in rows if row.role in roles]
        if names:
            by_seeds.setdefault(seeds_text(names), []).append(label)
    if len(by_seeds) > 1:
        seeds = "; ".join(f"{', '.join(labels)}: {text}" for text, labels in by_seeds.items())
    else:
        seeds = seeds_text([row.name for row in rows])
    hidden = [k for k in COLUMNS if k not in columns]
    more = f" · {', '.join(hidden)} and the spread over seeds are in report.html" if hidden else ""
    return (f"References: {', '.join(references_of(report)) or 'none'} · {delta} · {seeds} · ↑ higher is better, ↓ lower is better, no arrow: should be "
            f"close to the reference · ✓ pass  ? inconclusive  ! warn  ✗ fail · gap = Avg. Gap (De Min et al. "
            f"2025): 100 − mean |Δ| over {', '.join(GAP_KEYS)}, 100 = like the reference{more}")


def render_table(report: "AuditReport", *, width: int | None = None) -> Any:
    """The summary as a rich renderable: the table, failed models with their errors, and the checks.

    Args:
        report: the audit report.
        width: the width to lay out for (columns are chosen by it); ``None``: the console's width at render time
            (the layout for 120 columns is used).
    """
    from rich.console import Group
    from rich.text import Text

    layout_width = width or 120
    rows = summary_rows(report)
    columns = _columns(layout_width)
    parts: list[Any] = [Text.assemble(("Unlearning audit: ", "bold"), (report.verdict_line(), STYLE[report.verdict])),
                        _summary(report, rows, columns, width)]
    for row in rows:
        for seed, error in row.failures:
            parts.append(Text.assemble((f"✗ {row.name} (seed {seed}) failed: ", "bold red"), error.strip()))
    checks = findings_table(report, width=width)
    if checks is not None:
        parts.append(checks)
    return Group(*parts)


def _summary(report: "AuditReport", rows: list[SummaryRow], columns: tuple[str, ...], width: int | None) -> Any:
    from rich.console import Group
    from rich.text import Text

    values = {key: [_value(row.cells[key]) for row in rows] for key in columns}
    deltas = {key: [f"Δ{fmt_delta(key, row.cells[key].delta, like=row.cells[key].mean)} " for row in rows
                    if row.reference] for key in columns}
    gaps = [f"{row.avg_gap:.1f}" if row.avg_gap is not None else "—" for row in rows]
    checks = ["✗ failed" if row.failed else row.checks_text for row in rows]
    natural = sum(1 + max([len(f"{key}{metric_arrow(key)}"), *map(len, values[key]), *map(len, deltas[key])])
                  for key in columns) + 1 + max([3, *map(len, gaps)]) + 1 + max([6, *map(len, checks)])
    names = [("★ " if row.is_user else "") + row.name for row in rows] + ["vs " + (row.reference or "") for row in rows]
    room = (width or 120) - natural - 1    # what the model column may take
    model_width = max(10, min(22, room, max([5, *map(len, names)])))
    table = _summary_table(report, rows, columns, model_width)
    if width is not None:   # rich's own measure of the table: shrink the model column by what is left over
        from rich.console import Console

        wide = Console(width=10 * width, file=io.StringIO(), color_system=None)
        wide.print(table)
        over = max(len(line.rstrip()) for line in wide.file.getvalue().splitlines()) - width
        if over > 0:
            table = _summary_table(report, rows, columns, max(8, model_width - over))
    return Group(table, Text(_legend(report, rows, columns), style="dim"))


def _summary_table(report: "AuditReport", rows: list[SummaryRow], columns: tuple[str, ...], model_width: int
                   ) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, padding=0, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("model", no_wrap=True, overflow="ellipsis", max_width=model_width)
    for key in columns:
        table.add_column(f"{key}{metric_arrow(key)}", justify="right", no_wrap=True)
    table.add_column("gap", justify="right", no_wrap=True)
    table.add_column("checks", no_wrap=True, min_width=6)
    for i, row in enumerate(rows):
        name = Text(("★ " if row.is_user else "") + row.name,
                    style="bold magenta" if row.is_user else ("bold" if row.role == "original" else ""))
        cells: list[Any] = []
        for key in columns:
            cell = row.cells[key]
            text = Text(_value(cell), style=STYLE[cell.status] if cell.status else "")
            if row.reference:
                d = fmt_delta(key, cell.delta, like=cell.mean)
                text.append("\n" + (f"Δ{d} " if d else " "), style="dim")
            cells.append(text)
        gap = Text(f"{row.avg_gap:.1f}" if row.avg_gap is not None else "—")
        checks = Text(("✗ failed" if row.failed else row.checks_text),
                      style=STYLE[row.status] if row.status else "")
        if row.reference:
            name.append(f"\nvs {row.reference}", style="dim")
        last_of_role = i + 1 == len(rows) or rows[i + 1].role != row.role
        table.add_row(name, *cells, gap, checks, end_section=last_of_role)
    return table


def _estimate(f: Finding) -> tuple[str, str]:
    """``("1.20 [0.00, 3.40]", "<= 5.00")``: the checked quantity with its interval, and the bound."""
    rel = ":" in f.check and f.check.split(",")[0].split(":")[1].startswith("rel")
    num = (lambda x: f"{x:.1%}") if rel else fmt_number
    est = "—" if f.value is None else num(f.value)
    if f.lo is not None and f.hi is not None:
        est += f" [{num(f.lo)}, {num(f.hi)}]"
    op = ">=" if f.direction == "at_least" else "<="
    return est, "—" if f.bound is None else f"{op} {num(f.bound)}"


def shown_findings(report: "AuditReport") -> list[Finding]:
    """The findings the terminal lists: those on the user's method (every finding when there is none)."""
    mine = [f for f in report.findings if f.model == report.user_method]
    return mine if report.user_method is not None and mine else list(report.findings)


def findings_table(report: "AuditReport", *, width: int | None = None) -> Any:
    """The checks as a rich renderable: a table (status, check, model, estimate [CI], bound), then why every
    check that did not pass came out so, wrapped to ``width``. ``None`` without findings."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not report.findings:
        return None
    findings = shown_findings(report)
    level = (report.uncertainty or {}).get("level", 0.95)
    only_user = report.user_method is not None and all(f.model == report.user_method for f in findings)
    whose = f"of {report.user_method}" if only_user else "of every model"
    # the title is a line of its own: a table title wraps at the (often narrower) table's width
    title = Text(f"Checks {whose} ({level:.0%} confidence intervals)", style="bold", overflow="fold")
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    t.add_column("status", no_wrap=True)
    t.add_column("check", overflow="fold", min_width=min(24, max(len(f.check) for f in findings)))
    if not only_user:   # the title names the model otherwise
        t.add_column("model", no_wrap=True, overflow="ellipsis", max_width=14 if (width or 120) < 100 else 20)
    t.add_column("estimate [CI]", justify="right", no_wrap=True)
    t.add_column("bound", justify="right", no_wrap=True)
    for f in findings:
        est, bound = _estimate(f)
        cells = [f.check] + ([] if only_user else [f.model]) + [est, bound]
        t.add_row(Text(status_word(f.status), style=STYLE[f.status]), *cells)
    parts: list[Any] = [title, t]
    wrap = max(40, (width or 120) - 4)
    for f in findings:
        if f.status is Status.PASS:
            continue
        text = f"{status_mark(f.status)} {f.check} ({f.model}): {f.decide or f.why}".strip()
        lines = textwrap.wrap(text, width=wrap, subsequent_indent="    ") or [text]
        parts.append(Text("\n".join(lines), style=STYLE[f.status] if f.status is not Status.SKIP else "dim"))
    others = len(report.findings) - len(findings)
    if others:
        parts.append(Text(f"{others} checks of the comparison methods: their worst status is in the checks "
                          f"column above; every check is in report.html and checklist.md", style="dim"))
    return Group(*parts)


def render_text(report: "AuditReport", width: int = 120, *, color: bool = False) -> str:
    """The summary as a string laid out for ``width`` columns (no line is longer), without colour codes unless
    ``color``: what ``AuditReport.to_text`` returns and the pytest plugin prints."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system="standard" if color else None, force_terminal=color,
                      no_color=not color, highlight=False, emoji=False, legacy_windows=False, soft_wrap=False)
    console.print(render_table(report, width=width))
    return buf.getvalue()
