"""Executors: the plan, configured suite methods, processes / Ray equal serial, bad input, a worker that dies."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

from unlearn_audit.audit import AuditSpec, ExecutorError, get_executor, run_audit
from unlearn_audit.audit._plan import plan
from unlearn_audit.methods import get_method
from unlearn_audit.progress import ProgressEvent

from .conftest import one_epoch_ft, tiny_model


def rows(report) -> list[tuple]:
    """What must be identical between executors: every record's identity, status and metrics."""
    return [(r.name, r.seed, r.status, r.error, json.dumps(r.metrics, sort_keys=True)) for r in report.rows]


def findings(report) -> list[dict]:
    return [f.to_dict() for f in report.findings]


def dies_at_seed_one(model, ctx):
    """A user method whose process is killed at seed 1 (as the kernel's OOM killer would)."""
    if ctx.seed == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return one_epoch_ft(model, ctx)


def hangs_at_seed_one(model, ctx):
    """A user method that never returns at seed 1."""
    if ctx.seed == 1:
        import time

        time.sleep(3600)
    return one_epoch_ft(model, ctx)


# ---------------------------------------------------------------------------------------------- the plan
def test_a_reference_retrain_never_loads_or_trains_the_original(make_spec):
    import torch

    from unlearn_audit.audit._execute import StepRunner

    spec = make_spec(methods="none", seeds=(0,), reference_seeds=(0, 1, 2), cache_dir=False)
    p = plan(spec, device=torch.device("cpu"))
    runner = StepRunner(spec, p, device=torch.device("cpu"))
    record = runner.execute(p["retrain/seed0"])
    assert record.status == "ok" and runner._original is None   # the original was neither trained nor loaded


def test_plan_steps_keys_and_dependencies(make_spec):
    import torch

    spec = make_spec(methods=["ga", get_method("ft", lr=0.02)], seeds=(0, 1), reference_seeds=(0, 1, 2))
    p = plan(spec, device=torch.device("cpu"))
    assert p.ids == ("original", "retrain/seed0", "retrain/seed1", "retrain/seed2", "ga/seed0", "ga/seed1",
                     "ft/seed0", "ft/seed1", "one_epoch_ft/seed0", "one_epoch_ft/seed1")
    # unlearning steps start from the original; reference retrains train from scratch and wait for nothing
    assert all(s.deps == (() if s.role in ("original", "reference") else ("original",)) for s in p.steps)
    keys = [s.model_key for s in p.steps]
    assert None not in keys and len(set(keys)) == len(keys)
    assert p["ft/seed0"].method.params.lr == 0.02          # the configured method, not a re-resolved name
    assert p["ft/seed0"].reference == "retrain" and p["retrain/seed0"].reference is None
    assert plan(spec, device=torch.device("cpu")) == p       # deterministic: every worker agrees on it


def test_configured_suite_method_keeps_its_hyperparameters(make_spec):
    spec = make_spec(methods=[get_method("ft", lr=0.02, epochs=1), "ga"])
    assert spec.suite == ("ft", "ga")
    assert spec.suite_methods[0].hyperparams()["lr"] == 0.02
    assert spec.describe()["methods_requested"] == ["ft", "ga"]
    with pytest.raises(ValueError, match=r"AuditSpec.methods: 'ft' is listed twice"):
        make_spec(methods=[get_method("ft", lr=0.02), "ft"])
    with pytest.raises(TypeError, match=r"AuditSpec.methods: expected method names or Method objects"):
        make_spec(methods=[3])
    other = plan(make_spec(methods=[get_method("ft", lr=0.03, epochs=1)]), device=spec_device())
    assert other["ft/seed0"].model_key != plan(spec, device=spec_device())["ft/seed0"].model_key


def spec_device():
    import torch

    return torch.device("cpu")


# ---------------------------------------------------------------------------------------------- bad input
def test_unknown_executor_and_bad_worker_counts(make_spec):
    spec = make_spec()
    with pytest.raises(ExecutorError, match=r"unknown executor 'dask'; use one of serial, processes, ray, xdist"):
        run_audit(spec, executor="dask")
    with pytest.raises(ExecutorError, match=r"at least 1 worker, got 0"):
        run_audit(spec, executor="processes", workers=0)
    with pytest.raises(ExecutorError, match=r"whole number of workers"):
        get_executor("processes", workers=1.5)
    with pytest.raises(ExecutorError, match=r"workers=2 needs 'processes' or 'ray'"):
        get_executor("serial", workers=2)
    with pytest.raises(ExecutorError, match=r"needs the 'ray' executor"):
        get_executor("processes", ray_address="auto")


def test_ray_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ExecutorError, match=r"pip install 'unlearn-audit\[ray\]'"):
        get_executor("ray")


def test_ray_address_that_does_not_answer_fails_fast_naming_it(make_spec):
    pytest.importorskip("ray")
    from unlearn_audit.audit.executors._ray import RayExecutor

    ex = RayExecutor(address="ray://127.0.0.1:9", connect_timeout_s=2)
    with pytest.raises(ExecutorError, match=r"nothing answers at the Ray address 'ray://127.0.0.1:9'"):
        run_audit(make_spec(), executor=ex)
    with pytest.raises(ExecutorError, match=r"'nohost' is not a Ray address"):
        run_audit(make_spec(), executor=RayExecutor(address="nohost"))


def test_a_spec_with_lambdas_cannot_go_to_workers(make_spec):
    spec = make_spec(model_factory=lambda: tiny_model())
    with pytest.raises(ExecutorError, match=r"AuditSpec.model_factory \(.*<lambda>\) cannot be sent to the workers "
                                            r"of the 'processes' executor.*module level.*executor='serial'"):
        run_audit(spec, executor="processes", workers=1)


# ---------------------------------------------------------------------------------------------- same report
def test_processes_give_the_serial_report(make_spec, tmp_path, monkeypatch):
    """UNLEARN_AUDIT_THREADS=1 serially == 2 worker processes x 1 thread, number for number."""
    monkeypatch.setenv("UNLEARN_AUDIT_THREADS", "1")
    kw = dict(methods=[get_method("ga", lr=0.004, epochs=2)], seeds=(0,), reference_seeds=(0, 1), n_boot=200)
    serial = run_audit(make_spec(cache_dir=tmp_path / "serial", **kw), progress=False)
    events: list[ProgressEvent] = []
    spread = run_audit(make_spec(cache_dir=tmp_path / "processes", **kw), executor="processes", workers=2,
                       progress=events.append)
    assert rows(spread) == rows(serial) and findings(spread) == findings(serial)
    assert all(r.status == "ok" and r.threads == 1 for r in spread.rows + serial.rows)
    assert spread.records("ga")[0].hyperparams["lr"] == 0.004
    assert spread.config["execution"] == {"executor": "processes", "workers": 2, "threads_per_step": 1,
                                          "devices": ["cpu", "cpu"], "replaced_workers": 0}
    assert serial.config["execution"]["executor"] == "serial"
    kinds = [e.kind for e in events]
    assert kinds[0] == "plan" and kinds[-1] == "finish" and kinds.count("done") == len(spread.rows)
    assert {e.worker for e in events if e.kind == "start"} <= {"w1", "w2"}
    # no cache: the original's weights travel to the workers instead
    nocache = run_audit(make_spec(cache_dir=False, **kw), executor="processes", workers=2, progress=False)
    assert rows(nocache) == rows(serial)
    # everything cached: no workers are started (they would only load the cache), same report
    again = run_audit(make_spec(cache_dir=tmp_path / "processes", **kw), executor="processes", workers=2,
                      progress=False)
    assert again.config["execution"]["executor"] == "serial" and all(r.cached for r in again.rows)
    assert rows(again) == rows(serial)


def test_a_worker_that_dies_fails_its_step_only(make_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARN_AUDIT_THREADS", "1")
    cache = tmp_path / "cache"
    spec = make_spec(unlearn_fn=dies_at_seed_one, seeds=(0, 1), reference_seeds=(0,), cache_dir=cache)
    report = run_audit(spec, executor="processes", workers=2, progress=False)
    by_seed = {r.seed: r for r in report.records("dies_at_seed_one")}
    assert by_seed[1].status == "failed" and "died while running this step (killed by SIGKILL" in by_seed[1].error
    assert by_seed[0].status == "ok"
    assert all(r.status == "ok" for r in report.rows if r.name != "dies_at_seed_one")
    # a replacement worker starts only when steps were still waiting when the death was noticed (timing-dependent)
    assert report.config["execution"]["replaced_workers"] in (0, 1)
    runs = [f for f in report.findings if f.check == "runs"]
    assert len(runs) == 1 and "seed 1" in runs[0].why
    # the cache is intact: a serial re-run of what did not die loads everything
    again = run_audit(spec.replace(seeds=(0,)), progress=False)
    assert all(r.cached for r in again.rows) and again.config["cache"]["recovered"] == 0


@pytest.mark.slow
def test_a_step_past_its_time_limit_is_stopped(make_spec, tmp_path, monkeypatch):
    from unlearn_audit.audit.executors import ProcessExecutor

    monkeypatch.setenv("UNLEARN_AUDIT_THREADS", "1")
    spec = make_spec(unlearn_fn=hangs_at_seed_one, seeds=(0, 1), reference_seeds=(0,), cache_dir=tmp_path / "c")
    report = run_audit(spec, executor=ProcessExecutor(workers=2, step_time_limit_s=30), progress=False)
    by_seed = {r.seed: r for r in report.records("hangs_at_seed_one")}
    assert by_seed[1].status == "failed" and "stopped after the time limit of 30 s" in by_seed[1].error
    assert all(r.status == "ok" for r in report.rows if (r.name, r.seed) != ("hangs_at_seed_one", 1))


@pytest.mark.slow
def test_local_ray_gives_the_serial_report(make_spec, tmp_path, monkeypatch):
    """A local Ray with 2 CPUs (2 actors x 1 thread) == UNLEARN_AUDIT_THREADS=1 serially."""
    pytest.importorskip("ray")
    monkeypatch.setenv("UNLEARN_AUDIT_THREADS", "1")
    kw = dict(seeds=(0,), reference_seeds=(0, 1), n_boot=200)
    serial = run_audit(make_spec(cache_dir=tmp_path / "serial", **kw), progress=False)
    events: list[ProgressEvent] = []
    spread = run_audit(make_spec(cache_dir=tmp_path / "ray", **kw), executor="ray", workers=2,
                       progress=events.append)
    assert rows(spread) == rows(serial) and findings(spread) == findings(serial)
    assert spread.config["execution"]["executor"] == "ray" and spread.config["execution"]["shared_cache"]
    assert {e.worker for e in events if e.kind == "start"} <= {"ray1", "ray2"}
    assert [e.kind for e in events].count("done") == len(spread.rows)


def test_spec_pickles_as_its_constructor_arguments(make_spec):
    import pickle

    spec = make_spec(methods=[get_method("ft", lr=0.02)])
    again = pickle.loads(pickle.dumps(spec))
    assert isinstance(again, AuditSpec) and again.suite_methods[0].params.lr == 0.02
    assert again.user_method.name == spec.user_method.name and again.seeds == spec.seeds
