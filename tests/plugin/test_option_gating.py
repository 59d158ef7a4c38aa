"""How checks are decided: ``--unlearn-inconclusive`` (warn | fail | pass), ``--unlearn-level``,
``--unlearn-bootstrap`` and ``--unlearn-reference-seeds`` (each also an ini key and an environment variable).

The canned report's user method is 1.00 point of EO from the retrain with a 95% interval of about [0.84, 1.16]
(the references' seed spread), so ``eo:abs<=1`` is INCONCLUSIVE, ``eo:abs<=0.5`` FAILs and ``eo:abs<=5`` PASSes.
"""

from __future__ import annotations

import pytest

from .conftest import FakeAudit

UNDECIDED = "--unlearn-threshold=eo:abs<=1"


def checks(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "-v", UNDECIDED, *args)


def test_inconclusive_warns_by_default(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = checks(pytester)
    result.assert_outcomes(passed=8, deselected=3, warnings=1)
    result.stdout.fnmatch_lines(["*UnlearnAuditWarning: eo:abs<=1 (retrain_from_scratch) is INCONCLUSIVE: *"
                                 "straddling the bound <= 1.00; to decide it: *"])
    assert fake_audit.spec.thresholds.inconclusive == "warn"


def test_inconclusive_can_fail_ci(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = checks(pytester, "--unlearn-inconclusive=fail")
    result.assert_outcomes(passed=7, failed=1, deselected=3)
    result.stdout.fnmatch_lines(["unlearn_audit::eo FAILED*"], consecutive=False)
    result.stdout.fnmatch_lines(["unlearn_audit::eo: 1 of 1 inconclusive (--unlearn-inconclusive=fail) for "
                                 "'retrain_from_scratch'", "*INCONCLUSIVE  eo:abs<=1 *"], consecutive=False)
    result.stdout.fnmatch_lines(["*Unlearning audit: FAIL: 0 of 7 checks failed, 1 inconclusive, 6 passed*",
                                 "*(inconclusive gates as FAIL)*"])


def test_inconclusive_can_pass_silently(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    monkeypatch.setenv("UNLEARN_AUDIT_INCONCLUSIVE", "pass")
    result = checks(pytester)
    result.assert_outcomes(passed=8, deselected=3)
    assert "UnlearnAuditWarning" not in result.stdout.str()


def test_a_decided_check_ignores_the_policy(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "--unlearn-threshold=eo:abs<=0.5",
                                "--unlearn-inconclusive=pass")
    result.assert_outcomes(passed=7, failed=1, deselected=3)


@pytest.mark.parametrize(("where", "source"), [("cli", "--unlearn-inconclusive"),
                                               ("env", "env UNLEARN_AUDIT_INCONCLUSIVE"),
                                               ("ini", "ini unlearn_audit_inconclusive")])
def test_a_bad_policy_names_its_source(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str,
                                       source: str) -> None:
    args = []
    if where == "cli":
        args.append("--unlearn-inconclusive=maybe")
    elif where == "env":
        monkeypatch.setenv("UNLEARN_AUDIT_INCONCLUSIVE", "maybe")
    else:
        pytester.makeini("[pytest]\nunlearn_audit_inconclusive = maybe\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {source}: 'maybe' is not one of warn, fail, pass*"])


@pytest.mark.parametrize(("option", "message"), [
    ("--unlearn-level=1.5", "ERROR: --unlearn-level: '1.5': the confidence level must be in [[]0.5, 1)*"),
    ("--unlearn-level=high", "ERROR: --unlearn-level: 'high' is not a number*"),
    ("--unlearn-bootstrap=50", "ERROR: --unlearn-bootstrap: '50': use at least 100 bootstrap replicates*"),
    ("--unlearn-reference-seeds=1,1", "ERROR: --unlearn-reference-seeds: '1,1': seeds must be distinct*"),
])
def test_bad_values_are_usage_errors(pytester: pytest.Pytester, option: str, message: str) -> None:
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_values_reach_the_audit(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_level = 0.9\n")
    result = pytester.runpytest("--unlearn-bootstrap=500", "--unlearn-reference-seeds=0,1,2,3")
    result.assert_outcomes(passed=3)
    spec = fake_audit.spec
    assert spec.thresholds.level == 0.9 and spec.n_boot == 500 and tuple(spec.reference_seeds) == (0, 1, 2, 3)
    assert spec.describe()["level"] == 0.9
    result.stdout.fnmatch_lines(["unlearn-audit *: *reference_seeds=0,1,2,3, level=0.9, inconclusive=warn, "
                                 "bootstrap=500, *"])


def test_seeds_alone_extend_the_reference_seeds(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest("--unlearn-seeds=4").assert_outcomes(passed=3)
    assert tuple(fake_audit.spec.seeds) == (4,) and len(fake_audit.spec.reference_seeds) >= 3
    assert fake_audit.spec.reference_seeds[0] == 4


def test_the_policy_names_are_the_librarys():
    """``_options`` keeps a torch-free copy of the policy names for parsing; it must not drift."""
    from pytest_unlearn_audit import _options
    from unlearn_audit.report import INCONCLUSIVE_POLICIES

    assert _options.INCONCLUSIVE_POLICIES == INCONCLUSIVE_POLICIES
