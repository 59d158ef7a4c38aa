"""``--unlearn-report-dir`` / ini ``unlearn_audit_report_dir`` / env ``UNLEARN_AUDIT_REPORT_DIR``."""

from __future__ import annotations

import pytest

from .conftest import FakeAudit


def test_writes_the_three_reports(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    from unlearn_audit.report import AuditReport

    example("quickstart")
    result = pytester.runpytest("--unlearn-report-dir=out")
    result.assert_outcomes(passed=3)
    out = pytester.path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["checklist.md", "report.html",
                                                     "report.json"]
    report = AuditReport.from_json(out / "report.json")
    assert report.user_method == "retrain_from_scratch" and report.verdict.value == "PASS"
    assert "retrain_from_scratch" in (out / "checklist.md").read_text()
    assert (out / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    result.stdout.fnmatch_lines([f"unlearn-audit reports: {out / 'report.json'}, *"])


def test_nothing_is_written_by_default(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    before = set(pytester.path.rglob("*"))
    pytester.runpytest().assert_outcomes(passed=3)
    written = {p for p in set(pytester.path.rglob("*")) - before
               if not {"__pycache__", ".pytest_cache", ".benchmarks"} & set(p.parts)}  # (pytest-benchmark's)
    assert written == set()


def test_ini_dir_is_relative_to_the_ini_file(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_report_dir = reports\nunlearn_audit_report_formats = json\n")
    monkeypatch.chdir(pytester.mkdir("sub"))
    pytester.runpytest(str(pytester.path)).assert_outcomes(passed=3)
    assert [p.name for p in (pytester.path / "reports").iterdir()] == ["report.json"]


def test_no_report_when_no_audit_ran(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    pytester.runpytest("--unlearn-report-dir=out").assert_outcomes(passed=1)
    assert not (pytester.path / "out").exists()
