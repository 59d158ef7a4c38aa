"""The terminal summary: the table through pytest's terminal writer, shortened by -q, coloured by --color."""

from __future__ import annotations

import pytest

from .conftest import FakeAudit


def test_table_after_the_tests(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit")
    result.stdout.fnmatch_lines(["*= unlearn-audit =*", "*Unlearning audit: PASS: 0 of 7 checks failed, 7 passed*",
                                 "model * RA↑ * TA↑ * checks*", "★ retrain_from* ✓ 7/7*",
                                 "*= 11 passed in *"])
    assert "\x1b[" not in result.stdout.str()
    summary = result.stdout.str().split("= unlearn-audit =")[1].split("\n", 1)[1].rsplit("\n=", 1)[0]
    assert max(len(line) for line in summary.splitlines()) <= 80   # pytester's terminal width


def test_failures_are_listed_with_their_bounds(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    fake_audit.user_values = {"TA": 70.0}
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*Unlearning audit: FAIL: 1 of 7 checks failed, 6 passed*",
                                 "Checks of retrain_from_scratch (95% confidence intervals)*",
                                 "status * check * estimate [[]CI[]] * bound*",
                                 "✗ FAIL * ta:drop<=3 * 15.00 [[]*[]] * <= 3.00*",
                                 "✗ ta:drop<=3 (retrain_from_scratch): drop of TA vs retrain = 15.00*"])
    # the short summary leads with the reason
    result.stdout.fnmatch_lines(["FAILED test_unlearning.py::test_test_accuracy_kept - drop of TA vs retrain*"])


def test_quiet_is_one_line(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("-q", "--unlearn-report-dir=out", "--unlearn-report-formats=json")
    result.stdout.fnmatch_lines([f"unlearn-audit: PASS: 0 of 7 checks failed, 7 passed; reports: "
                                 f"{pytester.path / 'out' / 'report.json'}"])
    assert "= unlearn-audit =" not in result.stdout.str()


def test_very_quiet_is_silent(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("-qq")
    assert "unlearn-audit" not in result.stdout.str()


def test_color(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--color=yes")
    table = result.stdout.str().split("unlearn-audit")[-1]
    assert "\x1b[" in table


def test_no_summary_without_an_audit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "= unlearn-audit =" not in result.stdout.str()


def test_header_line(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--co")
    result.stdout.fnmatch_lines(["unlearn-audit 0.*: profile=ci, methods=(profile), seeds=(profile), level=0.95, "
                                 "inconclusive=warn, device=auto, "
                                 f"cache={pytester.path / '.unlearn-audit-cache'}, checks not collected "
                                 "(--unlearn-audit)"])
