"""``--unlearn-report-formats`` / ini ``unlearn_audit_report_formats`` / env ``UNLEARN_AUDIT_REPORT_FORMATS``."""

from __future__ import annotations

import pytest

from .conftest import FakeAudit


def test_only_the_asked_formats(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    monkeypatch.setenv("UNLEARN_AUDIT_REPORT_FORMATS", "md, JSON")
    pytester.runpytest("--unlearn-report-dir=out").assert_outcomes(passed=3)
    assert sorted(p.name for p in (pytester.path / "out").iterdir()) == ["checklist.md",
                                                                          "report.json"]


def test_command_line_wins_over_ini(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_report_formats = json,md\n")
    pytester.runpytest("--unlearn-report-dir=out", "--unlearn-report-formats=html").assert_outcomes(passed=3)
    assert [p.name for p in (pytester.path / "out").iterdir()] == ["report.html"]


@pytest.mark.parametrize(("where", "message"), [
    ("cli", "ERROR: --unlearn-report-formats: 'json,pdf' is not a comma-separated subset of json,html,md"),
    ("ini", "ERROR: ini unlearn_audit_report_formats: 'json,pdf' is not a comma-separated subset of json,html,md"),
])
def test_unknown_format(pytester: pytest.Pytester, where: str, message: str) -> None:
    if where == "ini":
        pytester.makeini("[pytest]\nunlearn_audit_report_formats = json,pdf\n")
    result = pytester.runpytest(*(["--unlearn-report-formats=json,pdf"] if where == "cli" else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
