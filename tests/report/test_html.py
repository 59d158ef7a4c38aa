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
    for heading in ("Summary", "Checks", "Plots", "Fairness-gap per layer", "Robustness vs attack budget",
                    "Conjecture 2", "Per-group accuracy", "Data and forget request", "Environment", "Configuration"):
        assert heading in html
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 4
    for name in full_report.model_names():
        assert f">{name}" in html or f"★ {name}" in html
    assert "Pearson r = <b>" in html and "Spearman ρ = <b>" in html
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
    assert "no ε sweep was run" in html
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
