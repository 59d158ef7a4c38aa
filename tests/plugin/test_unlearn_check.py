"""The ``unlearn_check`` assertion helper and the ``unlearn_audit`` report fixture in user tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from .conftest import FakeAudit


def test_quickstart_tests_pass(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest().assert_outcomes(passed=3)
    assert len(fake_audit.specs) == 1           # session-scoped: one audit for every test


def test_a_failing_check_is_a_table_without_plugin_frames(pytester: pytest.Pytester, example,
                                                          fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.makepyfile(test_strict="""
        def test_strict(unlearn_check):
            unlearn_check("ta:drop<=5", "eo:abs<=0.5")
    """)
    result = pytester.runpytest("test_strict.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ">       unlearn_check(\"ta:drop<=5\", \"eo:abs<=0.5\")",
        "E       pytest_unlearn_audit.AuditCheckError: |ΔEO| vs retrain = 1.00 *(eo:abs<=0.5 on "
        "'retrain_from_scratch')",
        "E       unlearn_check: 1 of 2 check(s) failed for 'retrain_from_scratch'",
        "E       status  check * model * metric  value  CI * bound  margin  model value  reference",
        "E       ------*",
        "E       PASS    ta:drop<=5   retrain_from_scratch  TA       0.00  [[]*]*5.00   +5.00        85.00  "
        "retrain = 85.00",
        "E       FAIL    eo:abs<=0.5  retrain_from_scratch  EO       1.00  [[]*]*0.50   -0.50        21.00  "
        "retrain = 20.00",
    ])
    out = result.stdout.str()
    assert "_session.py" not in out and "assertions.py" not in out


def test_keyword_form_and_return_value(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.makepyfile(test_kw="""
        import pytest

        def test_kw(unlearn_check):
            [finding] = unlearn_check(metric="EO", max_abs_delta=1.5, reference="retrain")
            assert finding.status.value == "PASS" and finding.value == pytest.approx(1.0)
            assert finding.margin == pytest.approx(0.5)

        def test_kw_fails(unlearn_check):
            unlearn_check(metric="equalized_odds", max_abs_delta=0.5)

        def test_other_model(unlearn_check):
            unlearn_check("ta:min>=80", model="retrain")

        def test_misuse(unlearn_check):
            with pytest.raises(TypeError, match="without metric="):
                unlearn_check(max_drop=3)
            with pytest.raises(TypeError, match="give a check"):
                unlearn_check()
            with pytest.raises(ValueError, match="unlearn_check: 'eo<=3' is not a valid check"):
                unlearn_check("eo<=3")
    """)
    result = pytester.runpytest("test_kw.py")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_kw.py::test_kw_fails - |ΔEO| vs retrain*"])


def test_warn_and_skip_are_warnings(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.makepyfile(test_warn="""
        def test_warn(unlearn_check):
            [finding] = unlearn_check("eo:abs<=1.5,warn_margin=1")
            assert finding.status.value == "WARN"

        def test_not_computed(unlearn_check):
            [finding] = unlearn_check("pgd:drop<=5")
            assert finding.status.value == "SKIP"
    """)
    result = pytester.runpytest("test_warn.py")
    result.assert_outcomes(passed=2, warnings=2)
    result.stdout.fnmatch_lines(["*UnlearnAuditWarning: eo:abs<=1.5,warn_margin=1 (retrain_from_scratch): *",
                                 "*UnlearnAuditWarning: pgd:drop<=5 (retrain_from_scratch) was not evaluated: *"])


def test_findings_become_junit_properties(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest("--junitxml=junit.xml").assert_outcomes(passed=3)
    case = next(c for c in ET.parse(pytester.path / "junit.xml").iter("testcase")
                if c.get("name") == "test_equalized_odds_close_to_retrain")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["unlearn_audit.eo.status"] == "PASS"
    assert float(props["unlearn_audit.eo.value"]) == pytest.approx(1.0)
    assert float(props["unlearn_audit.eo.bound"]) == 15.0
