"""The HTML report: one self-contained file, every user string escaped, the plots embedded."""

from __future__ import annotations

import math
import re
import sys

import pytest

from unlearn_audit.report._html import correlations, render_html

from ._make_report import make_report
from .conftest import EVIL

# Anything that makes a browser load something: attributes with a URL, CSS url()/@import, <link>, <script>, frames.
EXTERNAL = re.compile(r"""(?:src|href|action|poster|srcset|data)\s*=\s*["']?\s*(?!data:image/png;base64,)[a-z]+:"""
                      r"""|url\(|@import|<link\b|<script\b|<iframe\b|<object\b|<embed\b""", re.IGNORECASE)


def test_self_contained(full_html):
    assert full_html.startswith("<!DOCTYPE html>") and full_html.rstrip().endswith("</html>")
    assert "http://" not in full_html and "https://" not in full_html
    assert not EXTERNAL.search(full_html)
    srcs = re.findall(r'src="([^"]*)"', full_html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "default-src 'none'" in full_html  # CSP: the browser refuses anything not inline


def test_sections_and_plots(full_report, full_html):
    html = full_html
    for heading in ("Summary", "Checks", "Plots", "Fairness gap per layer", "Robustness against the attack budget",
                    "Fairness gap vs FGSM accuracy", "Per-group accuracy", "Data and forget request", "Environment",
                    "Configuration", "What the columns mean"):
        assert heading in html
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 4
    for name in full_report.model_names():
        assert f">{name}" in html or f"★ {name}" in html
    assert "Pearson r = <b>" in html and "Spearman ρ = <b>" in html
    assert "larger fairness gap goes with lower FGSM accuracy" in html and "Conjecture" not in html
    assert "Not drawn" not in html and "Plots not drawn" not in html  # every plot has its data here
    assert 'class="user' in html  # the user's row is highlighted
    assert "st-FAIL" in html and "st-PASS" in html and "st-WARN" in html
    assert "RuntimeError: CUDA error: device-side assert triggered" in html
    assert full_report.data["fingerprint"]["forget_idx"] in html
    assert "2.9.1+cpu" in html  # environment
    assert html.count("<tr") >= len(full_report.findings)  # one row per finding (plus the other tables)


def test_user_strings_are_escaped(evil_html):
    html = evil_html
    assert "<script" not in html.lower()
    assert "<img src=x" not in html and "<b>red</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;red&lt;/b&gt;" in html and "green &amp; blue" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    # the class name reaches the per-group table header escaped
    assert "y=0 (&lt;script&gt;alert(1)&lt;/script&gt;), a=0 (&lt;b&gt;red&lt;/b&gt;)" in html
    assert not EXTERNAL.search(html)


def test_escaped_inside_attributes(evil_html):
    assert 'onmouseover="alert(3)' not in evil_html
    assert "x&quot; onmouseover=&quot;alert(3)" in evil_html


def test_without_sweep_or_findings():
    html = render_html(make_report(seeds=(0,), sweep=False, pgd=False, findings=False, failed_method=None))
    assert "Plots not drawn" in html and "no ε sweep was run" in html
    assert "No threshold checks were configured" in html
    assert len(re.findall(r"<img ", html)) == 3  # fairness-gap, conjecture 2, groups


def test_to_html_writes_file_and_leaves_no_pyplot_state(tmp_path):
    path = make_report(seeds=(0,), methods=()).to_html(tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    if "matplotlib.pyplot" in sys.modules:  # another test may have imported it; no figure of ours is open
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_correlations_match_numpy():
    np = pytest.importorskip("numpy")
    xs = [0.8, 0.95, 0.88, 0.9, 1.1, 1.25, 0.97, 1.6]
    ys = [41.0, 38.0, 39.0, 36.0, 33.0, 31.0, 37.0, 27.0]
    pearson, spearman = correlations(xs, ys)
    assert pearson == pytest.approx(np.corrcoef(xs, ys)[0, 1])
    rank = lambda v: np.argsort(np.argsort(v)).astype(float)  # noqa: E731 - no ties here
    assert spearman == pytest.approx(np.corrcoef(rank(xs), rank(ys))[0, 1])
    # ties get average ranks: a monotone relation with ties is still rho = 1
    assert correlations([1, 2, 2, 3], [10, 20, 20, 30])[1] == pytest.approx(1.0)
    assert all(math.isnan(v) for v in correlations([1, 2], [3, 4]))
    assert all(math.isnan(v) for v in correlations([1, 1, 1], [3, 4, 5]))


def test_evil_fixture_is_evil(evil_report):
    assert evil_report.user_method == EVIL


def _figures(report):
    from unlearn_audit.report._html_plots import (Plot, Styles, plot_adversarial, plot_fairness_gap,
                                                  plot_gap_vs_fgsm, plot_groups)
    from unlearn_audit.report._table import summary_rows

    rows = summary_rows(report)
    styles = Styles(rows)
    plots = [build(report, rows, styles) for build in (plot_fairness_gap, plot_adversarial, plot_gap_vs_fgsm,
                                                        plot_groups)]
    assert all(isinstance(p, Plot) for p in plots), plots
    return plots


@pytest.mark.parametrize("which", ["full", "long_names"])
def test_plot_labels_do_not_overlap(which):
    pytest.importorskip("matplotlib")
    from unlearn_audit.report._html_plots import overlapping_labels

    report = make_report() if which == "full" else make_report(
        rename={"finetune": "finetune_with_a_rather_long_name", "scrub": "scrub_with_a_long_name_too"},
        classes=("a long class name number one", "another long class name"),
        attr_names=("first sensitive attribute", "second sensitive attribute"))
    for plot in _figures(report):
        assert overlapping_labels(plot.figure) == [], plot.alt


def test_overlap_detector_detects_overlap():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from unlearn_audit.report._html_plots import overlapping_labels

    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.set_xticks(range(6))
    ax.set_xticklabels([f"a long tick label {i}" for i in range(6)])
    assert overlapping_labels(fig)


def test_plots_not_drawn_say_why_with_the_right_count():
    report = make_report(seeds=(0,), methods=(), failed_method=None, sweep=False, pgd=False)
    for rec in report.rows:  # tabular data: no normalization layer, hence no fairness gap
        rec.metrics.pop("fairness_gap", None)
        rec.metrics["values"].pop("FG", None)
        rec.metrics["values"].pop("FG_MAX", None)
    html = render_html(report)
    n_models = len(report.model_names())
    assert f"none of the {n_models} models has a fairness gap" in html
    assert f"were both measured for 0 of the {n_models} models" in html
    assert "Across the 0" not in html and "Not drawn" not in html
    assert len(re.findall(r"<img ", html)) == 1  # the per-group bars only


def test_config_is_one_flat_table_without_reprs(full_report):
    report = make_report(seeds=(0,), methods=())
    report.config["model_factory"] = "<function make_factory.<locals>.<lambda> at 0x7f3a2b1c>"
    report.config["unlearn_fn"] = "my_project.unlearn.gradient_ascent"
    html = render_html(report)
    config = html[html.index("id=config"):]
    assert config.count("<table") == 1 and "<details>" in config
    assert "&lt;lambda&gt;" not in html and "0x7f3a2b1c" not in html
    assert "<th>model_factory</th><td>lambda in make_factory</td>" in config
    assert "<th>recipe.epochs</th><td>4</td>" in config
    assert "my_project.unlearn.gradient_ascent" in config


def test_explanations_are_visible_text(full_report, full_html):
    visible = re.sub(r'title="[^"]*"', "", full_html)
    for f in full_report.findings:
        if f.why:
            assert _escape(f.why) in visible
    assert "@media print" in full_html


def _escape(s):
    import html

    return html.escape(s, quote=True)
