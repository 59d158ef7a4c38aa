"""``--unlearn-methods`` / ini ``unlearn_audit_methods`` / env ``UNLEARN_AUDIT_METHODS``: the suite compared."""

from __future__ import annotations

import pytest

from .conftest import FakeAudit, header_line


def test_names_reach_the_audit(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-methods=ft,scrub+reweight")
    result.assert_outcomes(passed=3)
    assert fake_audit.spec.suite == ("ft", "scrub+reweight")
    assert "methods=ft,scrub+reweight," in header_line(result)


@pytest.mark.parametrize("value", ["none", "all", "default"])
def test_keywords(pytester: pytest.Pytester, example, fake_audit: FakeAudit, monkeypatch: pytest.MonkeyPatch,
                  value: str) -> None:
    example("quickstart")
    monkeypatch.setenv("UNLEARN_AUDIT_METHODS", value)
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.spec.methods == value
    assert (fake_audit.spec.suite == ()) == (value == "none")


def test_command_line_wins_over_env_and_ini(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_methods = all\n")
    monkeypatch.setenv("UNLEARN_AUDIT_METHODS", "none")
    pytester.runpytest("--unlearn-methods=ft").assert_outcomes(passed=3)
    assert fake_audit.spec.suite == ("ft",)


def test_bad_syntax_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--unlearn-methods=ft,,scrub")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --unlearn-methods: 'ft,,scrub' is not 'default', 'all', 'none' or a "
                                 "comma-separated list of method names"])


@pytest.mark.parametrize(("where", "source"), [("cli", "--unlearn-methods"), ("ini", "ini unlearn_audit_methods")])
def test_an_unknown_method_names_its_source(pytester: pytest.Pytester, example, fake_audit: FakeAudit, where: str,
                                            source: str) -> None:
    """Names are checked against the registry when the audit is built (a conftest may register methods)."""
    example("quickstart")
    if where == "ini":
        pytester.makeini("[pytest]\nunlearn_audit_methods = ft,no_such_method\n")
    result = pytester.runpytest(*(["--unlearn-methods=ft,no_such_method"] if where == "cli" else []))
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([f"E   pytest.UsageError: {source}: unknown unlearning method 'no_such_method'; "
                                 f"known: *"])
    assert fake_audit.specs == []
