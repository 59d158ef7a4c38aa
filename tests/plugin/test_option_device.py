"""``--unlearn-device`` / ini ``unlearn_audit_device`` / env ``UNLEARN_AUDIT_DEVICE``."""

from __future__ import annotations

import pytest
import torch

from .conftest import FakeAudit


def test_device_reaches_the_audit(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest("--unlearn-device=cpu").assert_outcomes(passed=3)
    assert fake_audit.spec.device == "cpu"


def test_default_is_auto(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.runpytest().assert_outcomes(passed=3)
    assert fake_audit.spec.device == "auto"


def test_not_a_device(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNLEARN_AUDIT_DEVICE", "tpu")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: env UNLEARN_AUDIT_DEVICE: 'tpu' is not a device (use auto, cpu, cuda, "
                                 "cuda:N or mps)"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_names_the_ini_key(pytester: pytest.Pytester, example, fake_audit: FakeAudit) -> None:
    example("quickstart")
    pytester.makeini("[pytest]\nunlearn_audit_device = cuda\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["E   pytest.UsageError: ini unlearn_audit_device: 'cuda' was asked for but CUDA is "
                                 "not available*"])
