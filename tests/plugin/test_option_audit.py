"""``--unlearn-audit`` (ini ``unlearn_audit_collect``, env ``UNLEARN_AUDIT_COLLECT``): one test item per check."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import BAD_METHOD, ON_CPU, FakeAudit

CHECK_ITEMS = ["unlearn_audit::runs", "unlearn_audit::ua", "unlearn_audit::mia", "unlearn_audit::ta",
               "unlearn_audit::ra", "unlearn_audit::eo", "unlearn_audit::ga", "unlearn_audit::fgsm"]


def audit(pytester: pytest.Pytester, cache: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--unlearn-audit", "--unlearn-profile=smoke", f"--unlearn-cache-dir={cache}", ON_CPU,
                              *args)


def test_one_item_per_check(pytester: pytest.Pytester, example) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", "--co", "-q")
    result.stdout.fnmatch_lines(["test_unlearning.py::*", *CHECK_ITEMS, "11 tests collected*"])


def test_no_items_without_the_option(pytester: pytest.Pytester, example) -> None:
    example("quickstart")
    result = pytester.runpytest("--co", "-q")
    result.stdout.fnmatch_lines(["3 tests collected*"])
    assert "unlearn_audit::" not in result.stdout.str()


def test_marker_selects_only_the_checks(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit", "-v")
    result.assert_outcomes(passed=8, deselected=3)
    result.stdout.fnmatch_lines([f"{item} PASSED*" for item in CHECK_ITEMS])


@pytest.mark.parametrize("how", ["ini", "env"])
def test_ini_and_env_switch_it_on(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                                  monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    example("quickstart")
    if how == "ini":
        pytester.makeini("[pytest]\nunlearn_audit_collect = true\n")
    else:
        monkeypatch.setenv("UNLEARN_AUDIT_COLLECT", "1")
    result = pytester.runpytest("-m", "unlearn_audit")
    result.assert_outcomes(passed=8, deselected=3)


def test_bad_boolean_names_its_source(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEARN_AUDIT_COLLECT", "maybe")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: env UNLEARN_AUDIT_COLLECT: 'maybe' is not a boolean*"])


def test_items_see_fixtures_of_a_subfolder_conftest(pytester: pytest.Pytester, example,
                                                    fake_audit: FakeAudit) -> None:
    """A conftest in tests/ (not the rootdir) is only visible below tests/: the items hang there."""
    example("quickstart")
    tests = pytester.mkdir("tests")
    for name in ("conftest.py", "test_unlearning.py"):
        (pytester.path / name).rename(tests / name)
    result = pytester.runpytest("--unlearn-audit", "-v")
    result.assert_outcomes(passed=11)
    result.stdout.fnmatch_lines(["unlearn_audit::eo PASSED*"])


def test_items_hang_below_the_rootdir_directory_of_its_conftest(pytester: pytest.Pytester, example) -> None:
    """Also for the rootdir's conftest: pytest 9.1 scopes its fixtures to the rootdir ``Directory`` node (9.0
    and 9.2 to the session), so items hung below the ``Session`` errored there with "needs a `unlearn_data`"."""
    example("quickstart")
    rec = pytester.inline_run("--unlearn-audit", "--collect-only")
    (call,) = rec.getcalls("pytest_collection_modifyitems")
    checks = [item for item in call.items if item.nodeid.startswith("unlearn_audit::")]
    assert len(checks) == 8
    for item in checks:
        directory = item.parent.parent
        assert isinstance(directory, pytest.Directory) and directory.path == pytester.path, item.listchain()


def test_quickstart_never_fails(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    """The shipped good method is never shown to violate a default bound: each check PASSes or, where one seed
    cannot decide it, is INCONCLUSIVE (a warning). Which of the two depends on the trained models, so only the
    absence of a FAIL is asserted."""
    example("quickstart")
    result = audit(pytester, audit_cache, "-v")
    result.assert_outcomes(passed=11)
    result.stdout.fnmatch_lines(["*= unlearn-audit =*", "*Unlearning audit: *", "*retrain_from_scratch*"])
    assert "Unlearning audit: FAIL" not in result.stdout.str()


def test_bad_unlearning_fails_with_a_table(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    example("quickstart", append=BAD_METHOD)
    result = audit(pytester, audit_cache, "-m", "unlearn_audit")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 3, outcomes
    result.stdout.fnmatch_lines([
        "*_ unlearn_audit::ta _*",
        "unlearn_audit::ta: 1 of 1 check(s) failed for 'add_noise'",
        "status  check * model * metric  value  CI * bound  margin  model value  reference",
        "FAIL    ta:drop<=3* add_noise * TA *",
        "FAIL ta:drop<=3 (add_noise): drop of TA vs retrain = *, 95% CI [[]*]: wholly outside the bound <= 3.00*",
    ])
    result.stdout.fnmatch_lines(["FAILED unlearn_audit::ta*", "FAILED unlearn_audit::ra*"])
    failures = result.stdout.str().split("warnings summary")[0]
    assert "_session.py" not in failures   # the table is the message, no plugin traceback


def test_a_method_that_raises_fails_runs(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    example("quickstart", append=textwrap.dedent('''
        @pytest.fixture(scope="session")
        def unlearn_fn():
            def broken(model, ctx):
                raise RuntimeError("out of ideas")
            return broken
    '''))
    result = audit(pytester, audit_cache, "-m", "unlearn_audit")
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines(["*_ unlearn_audit::runs _*", "*FAIL*runs*broken*",
                                 "*seed 0: *RuntimeError: out of ideas*"])


def test_junit_xml_holds_the_findings(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    example("quickstart")
    result = audit(pytester, audit_cache, "-m", "unlearn_audit", "--junitxml=junit.xml")
    result.assert_outcomes(passed=8, deselected=3)
    tree = ET.parse(pytester.path / "junit.xml")
    case = next(c for c in tree.iter("testcase") if c.get("name") == "eo")
    assert case.get("classname") == "unlearn_audit"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["unlearn_audit.eo.status"] in ("PASS", "INCONCLUSIVE")   # never FAIL: see above
    assert float(props["unlearn_audit.eo.lo"]) <= float(props["unlearn_audit.eo.value"]) <= float(
        props["unlearn_audit.eo.hi"])
    assert {"unlearn_audit.eo.margin", "unlearn_audit.eo.model_value", "unlearn_audit.eo.reference_value"} <= set(props)
