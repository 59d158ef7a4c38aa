"""``pytest -n 2 --unlearn-audit``: workers share the cache, the controller reports once."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ON_CPU

pytest.importorskip("xdist")

THREADS = '''

def test_one_torch_thread_per_worker(unlearn_audit):
    import os
    import torch

    assert os.environ["PYTEST_XDIST_WORKER"]
    assert torch.get_num_threads() == 1
'''


def test_quickstart_with_two_workers(pytester: pytest.Pytester, example, audit_cache: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNLEARN_AUDIT_THREADS")        # the plugin's own xdist rule applies
    example("quickstart")
    with open(pytester.path / "test_unlearning.py", "a") as fh:
        fh.write(THREADS)
    result = pytester.runpytest_subprocess("-n", "2", "--unlearn-audit", "--unlearn-profile=smoke",
                                           f"--unlearn-cache-dir={audit_cache}", "--unlearn-report-dir=out", ON_CPU)
    result.assert_outcomes(passed=12)
    out = result.stdout.str()
    assert out.count("= unlearn-audit =") == 1 and out.count("Unlearning audit: ") == 1
    assert "Unlearning audit: FAIL" not in out      # the good method never FAILs (PASS or INCONCLUSIVE)
    from unlearn_audit.report import AuditReport

    report = AuditReport.from_json(pytester.path / "out" / "report.json")
    assert report.user_method == "retrain_from_scratch" and report.verdict.value in ("PASS", "WARN")
    assert sorted(p.name for p in (pytester.path / "out").iterdir()) == [
        "checklist.md", "report.html", "report.json"]


TINY_PROJECT = '''
import os

import pytest

import unlearn_audit as ua


def tiny_model():
    return ua.models.SmallConvNet(2, width=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def logged_finetune(model, ctx):
    """One epoch on the retain set; logs which process computed which seed."""
    with open(os.environ["UA_COMPUTED_LOG"], "a") as fh:
        fh.write(f"{ctx.seed} {os.environ.get('PYTEST_XDIST_WORKER', 'serial')}\\n")
    return ua.fit(model, ctx.retain, ctx.recipe.replace(epochs=1), seed=ctx.seed, device=ctx.device, progress=False)


@pytest.fixture(scope="session")
def unlearn_data():
    return ua.datasets.colored_digits(scale=1, majority=0.9, size=8, seed=0)


@pytest.fixture(scope="session")
def unlearn_model_factory():
    return tiny_model


@pytest.fixture(scope="session")
def unlearn_recipe():
    return ua.TrainRecipe(epochs=2, lr=0.05, batch_size=64)


@pytest.fixture(scope="session")
def unlearn_fn():
    return logged_finetune
'''


def test_xdist_workers_share_the_plan_and_give_the_serial_report(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest -n 2 (2 workers x 1 thread) == UNLEARN_AUDIT_THREADS=1 serially; each model is computed once."""
    pytester.makeconftest(TINY_PROJECT)
    options = ["--unlearn-audit", "--unlearn-profile=smoke", "--unlearn-methods=none", "--unlearn-seeds=0,1",
               "--unlearn-reference-seeds=0,1", "--unlearn-bootstrap=200", ON_CPU]
    from unlearn_audit.report import AuditReport

    reports = {}
    for name, extra in (("serial", []), ("xdist", ["-n", "2"])):
        log = pytester.path / f"{name}.log"
        monkeypatch.setenv("UA_COMPUTED_LOG", str(log))
        result = pytester.runpytest_subprocess(*extra, *options, f"--unlearn-cache-dir=cache-{name}",
                                               f"--unlearn-report-dir=out-{name}")
        assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()
        assert result.stdout.str().count("= unlearn-audit =") == 1
        reports[name] = AuditReport.from_json(pytester.path / f"out-{name}" / "report.json")
        seeds = sorted(line.split()[0] for line in log.read_text().splitlines())
        assert seeds == ["0", "1"], f"{name}: the user's method ran {seeds} (each seed exactly once expected)"

    serial, spread = reports["serial"], reports["xdist"]
    assert [(r.name, r.seed, r.status, r.metrics) for r in spread.rows] == [
        (r.name, r.seed, r.status, r.metrics) for r in serial.rows]
    assert [f.to_dict() for f in spread.findings] == [f.to_dict() for f in serial.findings]
    assert all(r.threads == 1 for r in spread.rows + serial.rows)
    assert spread.config["execution"]["executor"] == "xdist" and serial.config["execution"]["executor"] == "serial"
