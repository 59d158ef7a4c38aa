"""Importing the plugin, and a pytest run that does not audit, import neither torch nor the library's heavy parts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = ("import sys, pytest_unlearn_audit, pytest_unlearn_audit.fixtures, pytest_unlearn_audit.assertions\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'sklearn', 'rich'))\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_run_that_does_not_audit_does_not_import_torch(pytester: pytest.Pytester) -> None:
    """The plugin is loaded (entry point), its options parsed and its header printed; torch stays out."""
    pytester.makeconftest(textwrap.dedent("""
        import sys

        def pytest_sessionfinish(session):
            assert "pytest_unlearn_audit" in sys.modules
            assert "torch" not in sys.modules, "the plugin imported torch"
    """))
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("--unlearn-profile=smoke", "--unlearn-seeds=0,1",
                                           "--unlearn-threshold=eo:abs<=5", "--unlearn-threshold=ua:abs<=10",
                                           "--unlearn-inconclusive=fail", "--unlearn-level=0.9")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["unlearn-audit *: profile=smoke, *seeds=0,1*level=0.9, inconclusive=fail*"])
