"""The plugin on a GPU: the quickstart audit runs on CUDA end to end (skipped without one).

Only that it ran is asserted, not the verdict: bf16 autocast and CUDA kernels give other models than the CPU,
and a check near its bound may flip (the CPU runs in the other tests assert verdicts).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_quickstart_audit_runs_on_cuda(pytester: pytest.Pytester, example, audit_cache: Path) -> None:
    from unlearn_audit.report import AuditReport

    example("quickstart")
    result = pytester.runpytest("--unlearn-audit", "--unlearn-profile=smoke", f"--unlearn-cache-dir={audit_cache}",
                                "--unlearn-device=cuda", "--unlearn-report-dir=out", "--unlearn-report-formats=json")
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 11
    report = AuditReport.from_json(pytester.path / "out" / "report.json")
    assert report.environment["device_type"] == "cuda"
    names = {row.name for row in report.rows}
    assert {"original", "retrain", "retrain_from_scratch"} <= names
    for row in report.rows:
        assert all(v == v for v in row.metrics["values"].values()), row.name  # no NaN from bf16
