"""``--unlearn-cache-dir`` / ini ``unlearn_audit_cache_dir`` / env ``UNLEARN_AUDIT_CACHE_DIR``.

Relative paths resolve against the directory of their source: the invocation directory for the command line and
the environment, the ini file's directory for the ini key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ON_CPU, FakeAudit, header_line


def test_default_is_in_the_rootdir(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest().assert_outcomes(passed=3)
    assert Path(fake_audit.spec.cache_dir) == pytester.path / ".unlearn-audit-cache"


def test_command_line_is_relative_to_the_invocation_dir(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_cache_dir = from-ini\n")
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)
    pytester.runpytest("--unlearn-cache-dir=mine", str(pytester.path)).assert_outcomes(passed=3)
    assert Path(fake_audit.spec.cache_dir) == sub / "mine"


def test_ini_is_relative_to_the_ini_file(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_cache_dir = from-ini\n")
    monkeypatch.chdir(pytester.mkdir("sub"))
    pytester.runpytest(str(pytester.path)).assert_outcomes(passed=3)
    assert Path(fake_audit.spec.cache_dir) == pytester.path / "from-ini"


def test_none_switches_caching_off(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    monkeypatch.setenv("UNLEARN_AUDIT_CACHE_DIR", "none")
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    assert fake_audit.spec.cache_dir is False
    assert "cache=off," in header_line(result)


def test_a_second_run_trains_nothing(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    """The real audit, twice: the second run is served by the cache (the report says so)."""
    from unlearn_audit.report import AuditReport

    example("quickstart")
    args = ("--unlearn-profile=smoke", f"--unlearn-cache-dir={audit_cache}", "--unlearn-report-dir=out",
            "--unlearn-report-formats=json", ON_CPU)
    pytester.runpytest(*args).assert_outcomes(passed=3)
    pytester.runpytest(*args).assert_outcomes(passed=3)
    report = AuditReport.from_json(pytester.path / "out" / "report.json")
    assert report.config["cache"]["misses"] == 0 and report.config["cache"]["hits"] > 0
    assert all(r.cached for r in report.rows)
