"""``--unlearn-executor`` / ``--unlearn-workers`` / ``--unlearn-ray-address`` (ini, env): where the audit runs."""

from __future__ import annotations

import textwrap

import pytest

from .conftest import FakeAudit


def test_default_is_serial_outside_xdist(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.executions == [{"executor": "serial", "workers": None, "ray_address": None}]


def test_workers_alone_mean_processes(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    result = pytester.runpytest("--unlearn-workers=2")
    result.assert_outcomes(passed=3)
    assert fake_audit.executions == [{"executor": "processes", "workers": 2, "ray_address": None}]
    result.stdout.fnmatch_lines(["unlearn-audit *executor=auto, workers=2*"])


def test_env_and_ini(pytester: pytest.Pytester, example, fake_audit: FakeAudit,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_executor = processes\nunlearn_audit_ray_address = auto\n")
    monkeypatch.setenv("UNLEARN_AUDIT_EXECUTOR", "ray")
    monkeypatch.setenv("UNLEARN_AUDIT_WORKERS", "3")
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.executions == [{"executor": "ray", "workers": 3, "ray_address": "auto"}]


@pytest.mark.parametrize("args, message", [
    (["--unlearn-executor=dask"], "--unlearn-executor: 'dask' is not one of auto, serial, processes, ray, xdist*"),
    (["--unlearn-workers=0"], "--unlearn-workers: '0': use at least 1 worker"),
    (["--unlearn-workers=two"], "--unlearn-workers: 'two' is not an int (expected a whole number of workers >= 1)"),
    (["--unlearn-ray-address=a b"], "--unlearn-ray-address: 'a b' is not a Ray address*"),
])
def test_bad_values_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_plugin_names_are_the_library_executors() -> None:
    from pytest_unlearn_audit._options import EXECUTOR_NAMES

    from unlearn_audit.audit import EXECUTOR_NAMES as LIBRARY

    assert EXECUTOR_NAMES == ("auto", *LIBRARY)


def test_parsing_executor_options_does_not_import_torch(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(textwrap.dedent("""
        import sys

        def pytest_sessionfinish(session):
            assert "torch" not in sys.modules, "the plugin imported torch"
    """))
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("--unlearn-executor=ray", "--unlearn-workers=2",
                                           "--unlearn-ray-address=ray://head:10001")
    result.assert_outcomes(passed=1)
