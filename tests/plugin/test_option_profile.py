"""``--unlearn-profile`` / ini ``unlearn_audit_profile`` / env ``UNLEARN_AUDIT_PROFILE``: smoke | ci | full.

Also where the precedence rule (command line > environment > ini > default) is tested in full.
"""

from __future__ import annotations

import pytest

from .conftest import FakeAudit, header_line


@pytest.mark.parametrize(("cli", "env", "ini", "expected"), [
    (None, None, None, "ci"),
    (None, None, "full", "full"),
    (None, "smoke", "full", "smoke"),
    ("full", "smoke", "ci", "full"),
])
def test_precedence(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, cli: str | None, env: str | None,
                    ini: str | None, expected: str) -> None:
    if ini:
        pytester.makeini(f"[pytest]\nunlearn_audit_profile = {ini}\n")
    if env:
        monkeypatch.setenv("UNLEARN_AUDIT_PROFILE", env)
    result = pytester.runpytest("--co", *([f"--unlearn-profile={cli}"] if cli else []))
    assert f"profile={expected}," in header_line(result)


@pytest.mark.parametrize(("where", "message"), [
    ("cli", "ERROR: --unlearn-profile: 'fast' is not one of smoke, ci, full"),
    ("env", "ERROR: env UNLEARN_AUDIT_PROFILE: 'fast' is not one of smoke, ci, full"),
    ("ini", "ERROR: ini unlearn_audit_profile: 'fast' is not one of smoke, ci, full"),
])
def test_a_bad_value_names_its_source(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str,
                                      message: str) -> None:
    args = []
    if where == "cli":
        args.append("--unlearn-profile=fast")
    elif where == "env":
        monkeypatch.setenv("UNLEARN_AUDIT_PROFILE", "fast")
    else:
        pytester.makeini("[pytest]\nunlearn_audit_profile = fast\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_good_value_on_the_command_line_wins_over_a_bad_one_in_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nunlearn_audit_profile = fast\n")
    result = pytester.runpytest("--co", "--unlearn-profile=smoke")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "profile=smoke," in header_line(result)


@pytest.mark.parametrize("profile", ["smoke", "ci", "full"])
def test_the_profile_sets_the_audit(pytester: pytest.Pytester, example, fake_audit: FakeAudit, profile: str) -> None:
    from unlearn_audit.audit import PROFILES

    example("quickstart")
    result = pytester.runpytest(f"--unlearn-profile={profile}")
    result.assert_outcomes(passed=3)
    spec, expected = fake_audit.spec, PROFILES[profile]
    assert (spec.methods, spec.references, spec.seeds) == (expected.methods, expected.references, expected.seeds)
    assert spec.metric_config.to_dict() == expected.metric_config().to_dict()
