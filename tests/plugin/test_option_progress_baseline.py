"""``--unlearn-progress``, ``--unlearn-fail-on``, ``--unlearn-request-id`` and the baseline options
(``--unlearn-save-baseline``, ``--unlearn-baseline``, ``--unlearn-max-regression``), each also ini / env."""

from __future__ import annotations

import json

import pytest

from unlearn_audit.report import AuditReport

from .conftest import FakeAudit


def test_progress_is_one_line_per_step_in_a_log(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit")
    result.stdout.fnmatch_lines(["unlearn-audit: 1 step (each model trained or loaded, then evaluated)",
                                 "unlearn-audit: [1/1] original done in 1.2 s",
                                 "unlearn-audit: audit finished in *"])
    assert "epoch 1/2" not in result.stdout.str()     # nothing per epoch in a log


@pytest.mark.parametrize("args, env", [(["--unlearn-progress=off"], {}), (["-qq"], {}),
                                       ([], {"UNLEARN_AUDIT_PROGRESS": "off"})])
def test_progress_off(pytester: pytest.Pytester, example, fake_audit: FakeAudit, monkeypatch, args, env) -> None:
    example("quickstart")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", *args)
    assert fake_audit.progress == [False]
    assert "steps (each model" not in result.stdout.str()


def test_bad_progress_value_names_its_source(pytester: pytest.Pytester, example) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_progress = loud\n")
    result = pytester.runpytest("--unlearn-audit")
    result.stderr.fnmatch_lines(["*ini unlearn_audit_progress: 'loud' is not one of auto, live, plain, off*"])


def test_fail_on_warn_fails_an_inconclusive_check(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    args = ("--unlearn-audit", "-m", "unlearn_audit", "--unlearn-threshold=eo:abs<=1")
    pytester.runpytest(*args).assert_outcomes(passed=8, deselected=3, warnings=1)
    result = pytester.runpytest(*args, "--unlearn-fail-on=warn")
    result.assert_outcomes(passed=7, failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*1 of 1 inconclusive (--unlearn-fail-on=warn)*"])


def test_request_id_and_a_saved_baseline(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "--unlearn-request-id=ticket-7",
                                "--unlearn-save-baseline=base/report.json")
    result.assert_outcomes(passed=8, deselected=3)
    saved = AuditReport.from_json(pytester.path / "base" / "report.json")
    assert saved.config["request_id"] == "ticket-7"
    assert oct((pytester.path / "base" / "report.json").stat().st_mode & 0o777) == "0o644"


def test_baseline_item_passes_unchanged_and_fails_a_regression(pytester: pytest.Pytester, example,
                                                               fake_audit: FakeAudit, monkeypatch) -> None:
    example("quickstart")
    pytester.runpytest("--unlearn-save-baseline=base.json").assert_outcomes(passed=3)
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "--unlearn-baseline=base.json", "-v")
    result.assert_outcomes(passed=9, deselected=3)
    result.stdout.fnmatch_lines(["unlearn_audit::baseline PASSED*", "Against the baseline: PASS*"],
                                consecutive=False)
    fake_audit.user_values = {"TA": 70.0}       # 15 points below the baseline, far beyond its interval
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "--unlearn-baseline=base.json")
    result.stdout.fnmatch_lines(["FAILED unlearn_audit::baseline - FAIL: 1 of 8 metrics*"])
    monkeypatch.setenv("UNLEARN_AUDIT_MAX_REGRESSION", "ta=30")   # a wider bound: no regression beyond it
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "--unlearn-baseline=base.json", "-v")
    result.stdout.fnmatch_lines(["unlearn_audit::baseline PASSED*"], consecutive=False)


def test_baseline_of_another_forget_request_is_refused(pytester: pytest.Pytester, example,
                                                       fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest("--unlearn-save-baseline=base.json").assert_outcomes(passed=3)
    data = json.loads((pytester.path / "base.json").read_text())
    data["data"]["fingerprint"] = {"train": "x", "test": "y", "forget_idx": "z" * 64}
    (pytester.path / "base.json").write_text(json.dumps(data))
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "--unlearn-baseline=base.json")
    result.assert_outcomes(passed=8, failed=1, deselected=3)
    result.stdout.fnmatch_lines(["*--unlearn-baseline: the baseline '*base.json' cannot be compared with this audit: "
                                 "the baseline audits another forget request*"])


def test_a_skip_points_at_the_users_conftest(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "-rs", "--unlearn-threshold=pgd:drop<=5")
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] conftest.py:*"])
    assert "_pytest" not in result.stdout.str().split("short test summary")[-1]
