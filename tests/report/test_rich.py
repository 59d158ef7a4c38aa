"""The terminal summary: content, Δ and status, and plain text that fits 80 and 120 columns."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from unlearn_audit.report import AuditReport, Finding, ModelRecord, Status
from unlearn_audit.report._rich import render_table, render_text
from unlearn_audit.report._table import COLUMNS, COMPACT_COLUMNS, summary_rows

from ._make_report import make_report, metrics_dict

ANSI = re.compile(r"\x1b\[")


def _plain(renderable, width=120) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(renderable)
    return buf.getvalue()


def test_plain_console_at_120_has_no_colour_and_fits(full_report):
    text = _plain(full_report)  # through AuditReport.__rich__
    assert not ANSI.search(text)
    assert max(len(line) for line in text.splitlines()) <= 120
    for name in full_report.model_names():
        assert name in text
    for key in COLUMNS:
        assert key in text
    assert "gap" in text and "checks" in text
    assert "Unlearning audit: FAIL" in text
    assert "References: retrain, retrain+reweight" in text and "seeds 0, 1, 2" in text


@pytest.mark.parametrize("width", [80, 120])
def test_to_text_fits_the_width(full_report, width):
    """No line is longer than the width; the model column and every compact metric stay visible."""
    text = full_report.to_text(width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert not ANSI.search(text)
    for name in ("original", "retrain", "finetune", "scrub", "my_unlearn"):
        assert name in text
    header = next(line for line in text.splitlines() if line.startswith("model "))
    for key in (COLUMNS if width >= 110 else COMPACT_COLUMNS):
        assert key in header
    assert ("WG" in header) is (width >= 110)
    if width < 110:
        assert "WG, FG, PGD" in " ".join(text.split())  # the hidden columns are named in the legend


@pytest.mark.parametrize("width", [80, 120])
def test_one_line_per_model_and_a_delta_line(full_report, width):
    """Each model is one line (its values) and, when compared, one dimmed Δ line; no role line under every row."""
    lines = full_report.to_text(width=width).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("finetune"))
    assert lines[row + 1].startswith("vs retrain") and "Δ" in lines[row + 1]
    assert lines[row + 2].startswith("l1_sparse")
    assert not any(line.strip() in ("suite method", "reference", "your method") for line in lines)


def test_to_text_rejects_a_bad_width(full_report):
    with pytest.raises(ValueError, match="width must be an int >= 60"):
        full_report.to_text(width=20)


def test_checks_list_the_users_method_and_say_why(full_report):
    text = full_report.to_text(width=100)
    block = text[text.index("Checks of my_unlearn"):]
    for f in full_report.findings:
        if f.model == "my_unlearn" and f.status is not Status.PASS:
            assert f"{f.check} (my_unlearn):" in " ".join(block.split())
    assert "checks of the comparison methods" in block


def test_render_text_helper(full_report):
    text = render_text(full_report, width=120)
    assert text == _plain(full_report)
    assert not ANSI.search(text)
    assert "★ my_unlearn" in text  # the user's method is marked, not only coloured
    assert "random_label (seed 0) failed: RuntimeError: CUDA error" in text  # failed model with its error
    assert "✗ failed" in text
    coloured = render_text(full_report, width=120, color=True)
    assert ANSI.search(coloured)


def test_marks_carry_status_without_colour(full_report):
    text = render_text(full_report)
    user_block = text[text.index("★ my_unlearn"):].splitlines()[0]
    assert "✗" in user_block  # FAILs on the user's method are visible in plain text
    assert "✓" in text and "!" in text
    fails = sum(f.status is Status.FAIL for f in full_report.findings if f.model == "my_unlearn")
    counted = sum(f.status is not Status.SKIP for f in full_report.findings if f.model == "my_unlearn")
    assert f"✗ {fails}/{counted}" in user_block
    assert "?" in user_block  # an INCONCLUSIVE cell is marked, not only coloured


def test_cells_mean_std_delta(full_report):
    rows = {r.name: r for r in summary_rows(full_report)}
    assert [r.role for r in rows.values()][:3] == ["original", "reference", "reference"]
    assert list(rows)[-1] == "my_unlearn" and rows["my_unlearn"].is_user
    cell = rows["my_unlearn"].cells["TA"]
    mine = [r.values["TA"] for r in full_report.records("my_unlearn")]
    ref = {r.seed: r.values["TA"] for r in full_report.records("retrain")}
    assert cell.n == 3 and cell.mean == pytest.approx(sum(mine) / 3)
    assert cell.delta == pytest.approx(sum(mine) / 3 - sum(ref.values()) / 3)  # difference of seed means
    assert cell.delta_ci is not None and cell.delta_ci > 0
    assert cell.findings and cell.status is max((f.status for f in cell.findings),
                                                key=[Status.SKIP, Status.PASS, Status.WARN, Status.INCONCLUSIVE,
                                                     Status.FAIL].index)
    assert rows["original"].cells["TA"].delta is None  # no reference, no Δ
    assert rows["finetune"].avg_gap == pytest.approx(full_report.gap()["finetune"]["avg_gap"])
    assert rows["random_label"].failed and rows["random_label"].cells["TA"].mean is None


def test_single_seed_names_its_seed():
    report = make_report(seeds=(0,), findings=False)
    text = render_text(report)
    assert "seed 0" in text
    assert not ANSI.search(text)


def test_legend_says_how_intervals_are_computed():
    def legend(report):
        return " ".join(render_text(report).split("References:")[1].split())

    text = legend(make_report(seeds=(0,)))
    assert "? inconclusive" in text and "Avg. Gap (De Min et al. 2025)" in text
    assert "means over seeds 0, 1, 2" in legend(make_report(seeds=(0, 1, 2)))
    assert "confidence intervals" in render_text(make_report(seeds=(0,)))


def test_findings_table_shows_each_interval_and_decision(full_report):
    text = render_text(full_report, width=160)
    block = text[text.index("Checks of my_unlearn (95% confidence intervals)"):]
    for f in full_report.findings:
        if f.lo is not None and f.model == "my_unlearn":
            assert f.check in block
    assert "INCONCLUSIVE" in block and "FAIL" in block


def test_not_applicable_and_partial_failure():
    report = make_report(seeds=(0, 1), pgd=False, failed_method=None)
    rec = report.records("salun")[1]
    rec.status, rec.error, rec.metrics = "failed", "boom", None
    rows = {r.name: r for r in summary_rows(report)}
    assert rows["finetune"].cells["PGD"].mean is None and "disabled" in rows["finetune"].cells["PGD"].not_applicable
    assert not rows["salun"].failed and rows["salun"].failures == [(1, "boom")]
    text = render_text(report)
    assert "n/a" in text and "salun (seed 1) failed: boom" in text


def test_empty_and_minimal_reports_render():
    assert "no threshold checks were run" in render_text(AuditReport())
    one = AuditReport(rows=[ModelRecord(name="original", role="original", metrics=metrics_dict("original", 0))],
                      findings=[Finding(check="ta:min>=50", metric="TA", model="original", status=Status.PASS,
                                        value=93.0, bound=50.0)])
    text = render_text(one)
    assert "original" in text and "PASS" in text and "✓" in text


def test_fixed_width_table():
    report = make_report(seeds=(0,))
    text = _plain(render_table(report, width=120), width=120)
    assert max(len(line) for line in text.splitlines()) <= 120


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("fairness_gap", 12345678.0, "1.23e+07"),  # a diverged model must not widen the column
    ("fairness_gap", 0.00012, "0.00012"),
    ("fairness_gap", 0.258, "0.258"),
    ("fairness_gap", 0.0, "0.000"),
    ("TA", 12345.678, "12345.7"),                # percentages keep one decimal
    ("TA", float("nan"), "—"),
])
def test_fmt_value_keeps_cells_short(key, value, expected):
    from unlearn_audit.report._table import fmt_value

    assert fmt_value(key, value) == expected
