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
    assert report.user_method == "reinit_and_finetune" and report.verdict.value in ("PASS", "WARN")
    assert sorted(p.name for p in (pytester.path / "out").iterdir()) == [
        "checklist.md", "report.html", "report.json"]
