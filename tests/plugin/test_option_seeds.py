"""``--unlearn-seeds`` / ini ``unlearn_audit_seeds`` / env ``UNLEARN_AUDIT_SEEDS``."""

from __future__ import annotations

import pytest

from .conftest import FakeAudit, header_line


def test_seeds_reach_the_audit(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-seeds=3, 4", "--unlearn-audit")
    result.assert_outcomes(passed=11)
    assert fake_audit.spec.seeds == (3, 4)
    assert "seeds=3,4," in header_line(result)


def test_ini_seeds_and_env_override(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_seeds = 1,2,3\n")
    assert "seeds=1,2,3," in header_line(pytester.runpytest("--co"))
    monkeypatch.setenv("UNLEARN_AUDIT_SEEDS", "7")
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.spec.seeds == (7,)


@pytest.mark.parametrize(("where", "value", "message"), [
    ("cli", "a,b", "ERROR: --unlearn-seeds: 'a,b' is not a comma-separated list of ints"),
    ("env", "1,1", "ERROR: env UNLEARN_AUDIT_SEEDS: '1,1': seeds must be distinct"),
    ("ini", "-1", "ERROR: ini unlearn_audit_seeds: '-1': seeds must be >= 0"),
])
def test_bad_seeds_name_their_source(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str,
                                     value: str, message: str) -> None:
    args = []
    if where == "cli":
        args.append(f"--unlearn-seeds={value}")
    elif where == "env":
        monkeypatch.setenv("UNLEARN_AUDIT_SEEDS", value)
    else:
        pytester.makeini(f"[pytest]\nunlearn_audit_seeds = {value}\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
