"""The audit of ``benchmarks/scaling.py``, in an importable module so every executor's workers can import it."""

from __future__ import annotations

import os

SEEDS = (0, 1, 2)


def spec(cache_dir):
    """The default suite x 3 seeds (both reference retrains x 3 seeds, the demo's user method x 3 seeds) on the
    small embedded default (``colored_digits(scale=1)``), the ci profile's metrics, CPU: what the plugin builds
    from the project of ``write_project`` with ``--unlearn-seeds=0,1,2 --unlearn-suite-seeds=0,1,2
    --unlearn-bootstrap=500``."""
    from unlearn_audit.audit import AuditSpec
    from unlearn_audit.cli import demo_model, demo_unlearn
    from unlearn_audit.datasets import colored_digits

    return AuditSpec.from_profile("ci", data=colored_digits(scale=1), model_factory=demo_model,
                                  unlearn_fn=demo_unlearn, seeds=SEEDS, suite_seeds=SEEDS, device="cpu", n_boot=500,
                                  cache_dir=cache_dir)


CONFTEST = '''
import pytest

import _scaling_spec


@pytest.fixture(scope="session")
def unlearn_data():
    return _scaling_spec.spec(False).data


@pytest.fixture(scope="session")
def unlearn_model_factory():
    from unlearn_audit.cli import demo_model
    return demo_model


@pytest.fixture(scope="session")
def unlearn_fn():
    from unlearn_audit.cli import demo_unlearn
    return demo_unlearn
'''


def write_project(path: str) -> None:
    """A pytest project auditing the same models (for the xdist runs)."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "conftest.py"), "w") as fh:
        fh.write(CONFTEST)
