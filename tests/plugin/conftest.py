"""Helpers for the plugin's end-to-end tests (pytester runs of the example projects in ``fixtures/``).

- ``example("quickstart")`` copies an example project into the pytester folder (``pytester.copy_example``).
- ``audit_cache`` is one cache folder shared by every run of the session (and by the xdist workers running this
  suite: the library's file locks make each artefact computed once), so the real quickstart audit is trained once.
- In-process runs keep the modules they import (``_keep_library_modules``): pytester normally drops every module
  first imported during a run, but C extensions (``numpy.fft``, parts of torch) cannot be imported twice in
  one process. Only the copied project's own modules (its conftest and tests) are dropped.
- ``fake_audit`` replaces ``unlearn_audit.audit.run_audit`` (in-process runs only) by a recorder that returns a
  canned report evaluated with the spec's real thresholds: option tests check what reached the ``AuditSpec`` and
  how items behave without training anything.

Runs use one torch thread (``UNLEARN_AUDIT_THREADS=1``): the cores are shared, and more threads than free cores
makes torch's CPU kernels far slower.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import _pytest.pytester
import pytest
import torch

# Import the library before any in-process run: pytester removes modules first imported during a run, and
# ``fake_audit`` patches the module object the plugin will use.
import unlearn_audit.audit
import unlearn_audit.datasets
import unlearn_audit.models
import unlearn_audit.report._checklist
import unlearn_audit.report._html
import unlearn_audit.report._rich
import unlearn_audit.report._table
from unlearn_audit.methods import method_names
from unlearn_audit.report import AuditReport, ModelRecord

method_names()  # registers the built-in suite now, for the same reason

#: real audits here run on the CPU, whose results are exact and reproducible, so their verdicts can be asserted
#: (on CUDA, bf16 and other kernels give other models, and a check near its bound may flip); the plugin on a GPU
#: is covered by ``test_cuda.py``
ON_CPU = "--unlearn-device=cpu"

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"

#: appended to a copied conftest.py: replaces ``unlearn_fn`` by a method that adds large noise to every weight
BAD_METHOD = textwrap.dedent('''

    @pytest.fixture(scope="session")
    def unlearn_fn():  # deliberately bad: large noise on every weight
        import torch

        def add_noise(model, ctx):
            torch.manual_seed(ctx.seed)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(torch.randn_like(p))
            return model
        return add_noise
''')


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("UNLEARN_AUDIT_THREADS", "1")
    for name in [k for k in os.environ if k.startswith("UNLEARN_AUDIT_") and k != "UNLEARN_AUDIT_THREADS"]:
        monkeypatch.delenv(name)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)   # in-process audits set it; leave the rest of the suite as it was


class _KeepLibraries(_pytest.pytester.SysModulesSnapshot):
    """A sys.modules snapshot whose restore drops only modules loaded from a pytester folder."""

    def __init__(self, preserve: Callable[[str], bool] | None = None) -> None:
        roots = _KeepLibraries.roots

        def keep(name: str) -> bool:
            file = getattr(sys.modules.get(name), "__file__", None)
            in_project = file is not None and any(Path(file).resolve().is_relative_to(r) for r in roots)
            return not in_project or bool(preserve and preserve(name))

        super().__init__(preserve=keep)

    roots: tuple[Path, ...] = ()


@pytest.fixture(autouse=True)
def _keep_library_modules(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(_KeepLibraries, "roots", (tmp_path_factory.getbasetemp().resolve(),))
    monkeypatch.setattr(_pytest.pytester, "SysModulesSnapshot", _KeepLibraries)


@pytest.fixture
def example(pytester: pytest.Pytester, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """Copy ``fixtures/<name>`` into the pytester folder; ``append`` adds code to its conftest.py."""

    def copy(name: str, *, append: str = "") -> Path:
        base = request.config.getini("pytester_example_dir")
        path = pytester.copy_example(name if base else f"{FIXTURES.relative_to(request.config.rootpath)}/{name}")
        if append:
            conftest = pytester.path / "conftest.py"
            conftest.write_text(conftest.read_text() + append)
        return path

    return copy


@pytest.fixture(scope="session")
def audit_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent           # shared by the workers
    return base / "unlearn-audit-plugin-cache"


# ---------------------------------------------------------------------------------------------- fake audit
GOOD = {"RA": 99.0, "UA": 20.0, "TA": 85.0, "MIA": 50.0, "EO": 20.0, "GA": 60.0, "WG": 58.0, "FG": 0.25,
        "FGSM": 30.0}


def canned_report(spec: Any, user_values: dict[str, float] | None = None) -> AuditReport:
    """original / retrain (over the reference seeds) / the user's method with plausible metrics; findings from
    ``spec.thresholds`` (no per-sample data: the intervals hold the references' seed spread only)."""
    user = spec.user_method.name if spec.user_method is not None else None
    rows = [ModelRecord(name="original", role="original", metrics={"values": dict(GOOD)})]
    seeds = tuple(spec.reference_seeds)
    # a small, centred spread over the reference seeds: their mean is GOOD, and the seed spread is measured
    offsets = [0.05 * (i - (len(seeds) - 1) / 2) for i in range(len(seeds))]
    rows += [ModelRecord(name=ref, role="reference", seed=s,
                         metrics={"values": {k: v + off for k, v in GOOD.items()}})
             for ref in spec.references for s, off in zip(seeds, offsets)]
    if user is not None:
        rows += [ModelRecord(name=user, role="user", seed=s, reference="retrain",
                             metrics={"values": {**GOOD, "EO": GOOD["EO"] + 1.0, **(user_values or {})}})
                 for s in spec.seeds]
    data = {"fingerprint": spec.data.fingerprint(), "n_forget": len(spec.data.forget_idx)}
    report = AuditReport(rows=rows, user_method=user, config=spec.describe(), created="2024-01-01T00:00:00+00:00",
                         data=data)
    report.findings = spec.thresholds.evaluate(report)
    return report


class FakeAudit:
    """Records every ``AuditSpec`` given to ``run_audit``; ``user_values`` changes the user's metrics."""

    def __init__(self) -> None:
        self.specs: list[Any] = []
        self.progress: list[Any] = []
        self.executions: list[dict[str, Any]] = []   # executor, workers, ray_address of each call
        self.user_values: dict[str, float] = {}

    def __call__(self, spec: Any, *, progress: Any = True, **execution: Any) -> AuditReport:
        """Also sends a plan, one step and finish to ``progress`` when it is a sink (as the runner does)."""
        from unlearn_audit.progress import ProgressEvent

        self.specs.append(spec)
        self.progress.append(progress)
        self.executions.append(execution)
        if callable(progress):
            for event in (ProgressEvent("plan", total=1), ProgressEvent("start", step="original", label="original"),
                          ProgressEvent("advance", step="original", fraction=0.5, detail="epoch 1/2"),
                          ProgressEvent("done", step="original", label="original", elapsed_s=1.25),
                          ProgressEvent("finish", elapsed_s=1.5)):
                progress(event)
        return canned_report(spec, self.user_values)

    @property
    def spec(self) -> Any:
        assert len(self.specs) == 1, f"expected one audit, got {len(self.specs)}"
        return self.specs[0]


@pytest.fixture
def fake_audit(monkeypatch: pytest.MonkeyPatch) -> FakeAudit:
    fake = FakeAudit()
    monkeypatch.setattr(unlearn_audit.audit, "run_audit", fake)
    return fake


def header_line(result: pytest.RunResult) -> str:
    """The plugin's report-header line of a run."""
    lines = [ln for ln in result.outlines if ln.startswith("unlearn-audit ")]
    assert lines, result.stdout.str()
    return lines[0]
