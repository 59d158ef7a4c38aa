"""``--unlearn-method-timeout`` / ini ``unlearn_audit_method_timeout`` / env ``UNLEARN_AUDIT_METHOD_TIMEOUT``."""

from __future__ import annotations

import pytest

from .conftest import FakeAudit, header_line


@pytest.mark.parametrize(("value", "seconds"), [("90", 90.0), ("2.5s", 2.5), ("10m", 600.0), ("1h", 3600.0)])
def test_timeout_reaches_the_audit(pytester: pytest.Pytester, example, fake_audit: FakeAudit, value: str,
                                   seconds: float) -> None:
    example("quickstart")
    result = pytester.runpytest(f"--unlearn-method-timeout={value}")
    result.assert_outcomes(passed=3)
    assert fake_audit.spec.method_timeout == seconds
    assert f"method_timeout={seconds:g}s" in header_line(result)


def test_default_is_no_limit_and_env_beats_ini(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.spec.method_timeout is None
    pytester.makeini("[pytest]\nunlearn_audit_method_timeout = 5m\n")
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.specs[-1].method_timeout == 300.0
    monkeypatch.setenv("UNLEARN_AUDIT_METHOD_TIMEOUT", "none")
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.specs[-1].method_timeout is None


@pytest.mark.parametrize(("where", "value", "message"), [
    ("cli", "soon", "ERROR: --unlearn-method-timeout: 'soon' is not a positive duration*"),
    ("env", "0", "ERROR: env UNLEARN_AUDIT_METHOD_TIMEOUT: '0' is not a positive duration*"),
    ("ini", "-3", "ERROR: ini unlearn_audit_method_timeout: '-3' is not a positive duration*"),
])
def test_bad_timeouts_name_their_source(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str,
                                        value: str, message: str) -> None:
    args = []
    if where == "cli":
        args.append(f"--unlearn-method-timeout={value}")
    elif where == "env":
        monkeypatch.setenv("UNLEARN_AUDIT_METHOD_TIMEOUT", value)
    else:
        pytester.makeini(f"[pytest]\nunlearn_audit_method_timeout = {value}\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
