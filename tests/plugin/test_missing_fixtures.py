"""A project without the user fixtures gets a UsageError that says what to define and where to look."""

from __future__ import annotations

import pytest


def test_requesting_the_report_without_fixtures_explains_what_to_define(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_audit(unlearn_audit):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*UsageError: unlearn-audit needs a `unlearn_data` fixture returning an unlearn_audit.AuditData*",
        "*@pytest.fixture(scope=\"session\")*",
        "*def unlearn_data():*",
        "*fixtures/quickstart/conftest.py*",
    ])


def test_only_the_missing_fixture_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def unlearn_data():
            from unlearn_audit.datasets import colored_digits
            return colored_digits(scale=1, majority=0.9, size=8)

        @pytest.fixture(scope="session")
        def unlearn_model_factory():
            from unlearn_audit.models import SmallConvNet
            return lambda: SmallConvNet(2, width=4)
    """)
    pytester.makepyfile("def test_audit(unlearn_audit):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*UsageError: unlearn-audit needs a `unlearn_fn` fixture returning your "
                                 "unlearning method*"])
    assert "`unlearn_data`" not in result.stdout.str()


def test_check_items_without_fixtures_error_with_the_same_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_other():\n    pass\n")
    result = pytester.runpytest("--unlearn-audit", "-m", "unlearn_audit")
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] == 8 and "passed" not in outcomes, outcomes   # runs + 7 default checks
    result.stdout.fnmatch_lines(["*ERROR at setup of unlearn_audit::runs*",
                                 "*UsageError: unlearn-audit needs a `unlearn_data` fixture*"])


def test_a_function_scoped_user_fixture_is_a_clear_scope_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def unlearn_data():
            return None
    """)
    pytester.makepyfile("def test_audit(unlearn_audit):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR      # at collection, before anything is trained
    result.stderr.fnmatch_lines(["ERROR: fixture unlearn_data is function-scoped (defined in *conftest.py:*), but "
                                 "the audit is computed once per session*@pytest.fixture(scope=\"session\")*"])


def test_a_wrong_fixture_value_names_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def unlearn_data():
            return [1, 2, 3]

        @pytest.fixture(scope="session")
        def unlearn_model_factory():
            return lambda: None

        @pytest.fixture(scope="session")
        def unlearn_fn():
            return lambda model, ctx: model
    """)
    pytester.makepyfile("def test_audit(unlearn_audit):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*UsageError: fixture unlearn_data: expected an AuditData*got list*"])
