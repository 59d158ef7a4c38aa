"""Bad-input matrix, plugin side: missing fixtures, fixtures of the wrong type or scope, bad option / ini / env
values, unknown methods. Each case fails with a clear error naming the fixture or option and where it was set,
and writes nothing (no cache folder, no report files). The library and CLI cases: ``tests/test_bad_input.py``."""

from __future__ import annotations

import textwrap

import pytest

#: a valid conftest on tiny data; cases replace one fixture (later definitions win)
BASE = textwrap.dedent('''
    import pytest

    @pytest.fixture(scope="session")
    def unlearn_data():
        from unlearn_audit.datasets import colored_digits
        return colored_digits(scale=1, majority=0.9, size=8)

    @pytest.fixture(scope="session")
    def unlearn_model_factory():
        import functools
        from unlearn_audit.models import SmallConvNet
        return functools.partial(SmallConvNet, 2, width=4)

    def my_method(model, ctx):
        return model

    @pytest.fixture(scope="session")
    def unlearn_fn():
        return my_method
''')

FIXTURE_CASES = [
    ("no unlearn_fn", "", "", ["*UsageError: unlearn-audit needs a `unlearn_fn` fixture*"], "drop_fn"),
    ("data of the wrong type", '''
        @pytest.fixture(scope="session")
        def unlearn_data():
            return {"train": [1, 2]}
     ''', "", ["*UsageError: fixture unlearn_data: expected an AuditData*got dict*"], None),
    ("factory returns a string", '''
        @pytest.fixture(scope="session")
        def unlearn_model_factory():
            return lambda: "a model"
     ''', "", ["*UsageError: fixture unlearn_model_factory: expected a callable returning an nn.Module, it "
               "returned str*"], None),
    ("factory is a model", '''
        @pytest.fixture(scope="session")
        def unlearn_model_factory():
            from unlearn_audit.models import SmallConvNet
            return SmallConvNet(2)
     ''', "", ["*UsageError: fixture unlearn_model_factory: expected a callable returning a fresh nn.Module, got "
               "an nn.Module instance*"], None),
    ("fn is a number", '''
        @pytest.fixture(scope="session")
        def unlearn_fn():
            return 3
     ''', "", ["*UsageError: fixture unlearn_fn: expected None, a callable*"], None),
    ("original of another architecture", '''
        @pytest.fixture(scope="session")
        def unlearn_original():
            import torch
            return torch.nn.Linear(3, 2)
     ''', "", ["*UsageError: fixture unlearn_original: does not fit model_factory's architecture*"], None),
    ("thresholds of the wrong type", '''
        @pytest.fixture(scope="session")
        def unlearn_thresholds():
            return 5
     ''', "", ["*UsageError: fixture unlearn_thresholds: expected None, a Thresholds*got int*"], None),
    ("recipe of the wrong type", '''
        @pytest.fixture(scope="session")
        def unlearn_recipe():
            return {"epochs": 1}
     ''', "", ["*UsageError: fixture unlearn_recipe: expected None or a TrainRecipe, got dict*"], None),
    ("unknown method", "", "--unlearn-methods=no_such_method",
     ["*UsageError: --unlearn-methods: *no_such_method*"], None),
    ("lambda under a time limit", '''
        @pytest.fixture(scope="session")
        def unlearn_fn():
            return lambda model, ctx: model
     ''', "--unlearn-method-timeout=60",
     ["*UsageError: --unlearn-method-timeout: each method runs in a worker process*top level of an importable "
      "module*"], None),
]


@pytest.mark.parametrize("extra, option, lines, mode", [c[1:] for c in FIXTURE_CASES],
                         ids=[c[0] for c in FIXTURE_CASES])
def test_bad_fixtures_are_named(pytester: pytest.Pytester, extra: str, option: str, lines: list[str],
                                mode: str | None) -> None:
    conftest = BASE + textwrap.dedent(extra)
    if mode == "drop_fn":
        conftest = conftest.replace("def unlearn_fn():", "def not_unlearn_fn():")
    pytester.makeconftest(conftest)
    pytester.makepyfile("def test_audit(unlearn_audit):\n    pass\n")
    result = pytester.runpytest("--unlearn-profile=smoke", "--unlearn-device=cpu", "--unlearn-report-dir=reports",
                                *([option] if option else []))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(lines)
    assert not (pytester.path / ".unlearn-audit-cache").exists() and not (pytester.path / "reports").exists()


@pytest.mark.parametrize("name, scope", [("unlearn_data", "function"), ("unlearn_fn", "module"),
                                         ("unlearn_original", "class")])
def test_user_fixture_of_the_wrong_scope_gets_a_hint(pytester: pytest.Pytester, name: str, scope: str) -> None:
    body = {"unlearn_data": "BASE_DATA", "unlearn_fn": "my_method", "unlearn_original": "None"}[name]
    extra = (f"\n@pytest.fixture(scope={scope!r})\ndef {name}():\n    return {body}\n"
             if body != "BASE_DATA" else
             f"\n@pytest.fixture(scope={scope!r})\ndef {name}():\n    return None\n")
    pytester.makeconftest(BASE + extra)
    pytester.makepyfile("def test_audit(unlearn_audit):\n    pass\n")
    result = pytester.runpytest("--unlearn-report-dir=reports")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: fixture {name} is {scope}-scoped (defined in *conftest.py:*), but the "
                                 f"audit is computed once per session*scope=\"session\"*"])
    assert not (pytester.path / ".unlearn-audit-cache").exists() and not (pytester.path / "reports").exists()


@pytest.mark.parametrize("where, key, value, message", [
    ("cli", "profile", "fast", "ERROR: --unlearn-profile: 'fast' is not one of smoke, ci, full"),
    ("env", "device", "tpu", "ERROR: env UNLEARN_AUDIT_DEVICE: 'tpu' is not a device*"),
    ("ini", "level", "2", "ERROR: ini unlearn_audit_level: '2': the confidence level must be in [[]0.5, 1)*"),
    ("cli", "bootstrap", "ten", "ERROR: --unlearn-bootstrap: 'ten' is not an int*"),
    ("env", "report_formats", "pdf", "ERROR: env UNLEARN_AUDIT_REPORT_FORMATS: 'pdf' is not a comma-separated "
                                     "subset*"),
    ("ini", "methods", "ft;ga", "ERROR: ini unlearn_audit_methods: 'ft;ga' is not 'default', 'all', 'none' or*"),
    ("cli", "threshold", "eo:abs<=", "ERROR: --unlearn-threshold*eo:abs<=*"),
    ("env", "inconclusive", "maybe", "ERROR: env UNLEARN_AUDIT_INCONCLUSIVE: 'maybe' is not one of warn, fail, "
                                     "pass*"),
])
def test_bad_option_values_name_their_source(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                             where: str, key: str, value: str, message: str) -> None:
    pytester.makeconftest(BASE)
    pytester.makepyfile("def test_audit(unlearn_audit):\n    pass\n")
    args = ["--unlearn-report-dir=reports"]
    if where == "cli":
        args.append(f"--unlearn-{key.replace('_', '-')}={value}")
    elif where == "env":
        monkeypatch.setenv(f"UNLEARN_AUDIT_{key.upper()}", value)
    else:
        pytester.makeini(f"[pytest]\nunlearn_audit_{key} = {value}\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (pytester.path / ".unlearn-audit-cache").exists() and not (pytester.path / "reports").exists()
