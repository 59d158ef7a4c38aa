"""The example projects of ``fixtures/`` pass ``pytest --unlearn-audit`` (smoke profile, shared cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ON_CPU


def test_tabular(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    pytest.importorskip("sklego", reason="the arrests table ships with scikit-lego")
    example("tabular")
    result = pytester.runpytest("--unlearn-audit", "--unlearn-profile=smoke", f"--unlearn-cache-dir={audit_cache}",
                                ON_CPU)
    result.assert_outcomes(passed=10)        # a retrain of the head never FAILs (PASS or INCONCLUSIVE warnings)
    result.stdout.fnmatch_lines(["*Unlearning audit: *", "★ retrain_head *"])
    assert "Unlearning audit: FAIL" not in result.stdout.str()


def test_custom_method(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    """In a subprocess: its conftest registers a method, which a second in-process import would refuse."""
    example("custom_method")
    result = pytester.runpytest_subprocess("--unlearn-audit", f"--unlearn-cache-dir={audit_cache}", ON_CPU, "-v")
    # every item ran (the method's own verdicts -- a brief fine-tune may not forget -- are not asserted)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 11 and not outcomes.get("errors"), outcomes
    result.stdout.fnmatch_lines(["unlearn-audit *: profile=smoke, *thresholds=4 custom, checks collected",
                                 "unlearn_audit::ta_min *", "★ shrink_fine*"], consecutive=False)


@pytest.mark.slow
def test_quickstart_as_shipped(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    """Exactly the README's command: the ci profile (default suite, both references)."""
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", f"--unlearn-cache-dir={audit_cache}", ON_CPU)
    result.assert_outcomes(passed=11)        # never FAIL; INCONCLUSIVE checks pass with a warning
    assert "Unlearning audit: FAIL" not in result.stdout.str()
