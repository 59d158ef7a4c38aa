"""``AuditSpec.method_timeout``: a method that never returns is stopped in its worker process and recorded as
failed with its elapsed time; the audit completes. Methods here are top-level functions (a worker imports them)."""

from __future__ import annotations

import os
import time

import pytest
import torch

from unlearn_audit.audit import run_audit
from unlearn_audit.audit._isolation import check_portable
from unlearn_audit.methods import as_method
from unlearn_audit.report import Status

from .conftest import one_epoch_ft

LIMIT = 2.0


def never_returns(model, ctx):
    while True:
        time.sleep(0.05)


def dies(model, ctx):
    os._exit(7)


def poisons_in_the_worker(model, ctx):
    ctx.retain.x.zero_()
    return model


def other_architecture(model, ctx):
    from unlearn_audit.models import SmallConvNet

    return SmallConvNet(2, width=4)


def four_args(net, retain_loader, forget_loader, val_loader):
    return net


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory, digits_data, fast_recipe, digits_original):
    """A cache holding the retrain reference (so only the user's method runs in a worker)."""
    from unlearn_audit.audit import AuditSpec
    from unlearn_audit.metrics import MetricConfig

    from .conftest import tiny_model

    root = tmp_path_factory.mktemp("timeout-cache")
    spec = AuditSpec(data=digits_data, model_factory=tiny_model, unlearn_fn=None, recipe=fast_recipe, methods="none",
                     references=("retrain",), seeds=(0,), reference_seeds=(0,), original=digits_original,
                     metric_config=MetricConfig.preset("smoke", attack_max_samples=128), cache_dir=root,
                     device="cpu")
    run_audit(spec, progress=False)
    return root


def test_a_method_that_never_returns_is_stopped(make_spec, warm_cache, digits_original):
    t0 = time.perf_counter()
    report = run_audit(make_spec(unlearn_fn=never_returns, original=digits_original, cache_dir=warm_cache,
                                 method_timeout=LIMIT), progress=False)
    wall = time.perf_counter() - t0
    (rec,) = report.records("never_returns")
    assert rec.status == "failed" and "timed out: still running after" in rec.error
    assert f"time limit of {LIMIT:g} s (method_timeout)" in rec.error
    assert rec.seconds >= LIMIT
    assert report.records("retrain")[0].status == "ok"
    runs = [f for f in report.findings if f.check == "runs"]
    assert runs[0].status is Status.FAIL and "timed out" in runs[0].why
    assert wall < 120  # the audit completed
    assert report.config["method_timeout"] == LIMIT


def test_a_method_within_the_limit_runs_in_a_worker(make_spec, warm_cache, digits_original):
    report = run_audit(make_spec(unlearn_fn=one_epoch_ft, original=digits_original, cache_dir=warm_cache,
                                 method_timeout=300), progress=False)
    (rec,) = report.records("one_epoch_ft")
    assert rec.status == "ok" and rec.metrics and not rec.cached and 0 < rec.seconds < 300


@pytest.mark.parametrize("fn, reason", [
    (dies, "the worker process ended with exit status 7 without a result"),
    pytest.param(poisons_in_the_worker, "changed the audit data in place (ctx.retain.x", marks=pytest.mark.slow),
    pytest.param(other_architecture, "returned a model of another architecture than model_factory's (shape",
                 marks=pytest.mark.slow),
])
def test_failures_inside_the_worker(make_spec, warm_cache, digits_original, fn, reason):
    report = run_audit(make_spec(unlearn_fn=fn, original=digits_original, cache_dir=warm_cache, method_timeout=120),
                       progress=False)
    (rec,) = report.records(fn.__name__)
    assert rec.status == "failed" and reason in rec.error


def test_what_a_worker_cannot_import_is_refused_before_anything_runs(make_spec, tmp_path, digits_original):
    calls = []

    def local_method(model, ctx):
        calls.append(1)
        return model

    cache = tmp_path / "never-written"
    with pytest.raises(ValueError, match=r"AuditSpec.method_timeout: each method runs in a worker process.*"
                                         r"'local_method'.*top level of an importable module"):
        run_audit(make_spec(unlearn_fn=local_method, original=digits_original, cache_dir=cache, method_timeout=5),
                  progress=False)
    with pytest.raises(ValueError, match="AuditSpec.method_timeout: .*model_factory"):
        run_audit(make_spec(model_factory=lambda: torch.nn.Linear(2, 2), cache_dir=cache, method_timeout=5),
                  progress=False)
    assert not calls and not cache.exists()


def test_portable_user_function_behind_a_local_adapter():
    method = as_method(four_args)            # the 4-argument adapter is a closure; the function itself is not
    sent = check_portable(method, user_fn=four_args)
    assert sent["kind"] == "fn" and sent["method"] is four_args


@pytest.mark.parametrize("value, exc, fragment", [
    (0, ValueError, "AuditSpec.method_timeout: expected a positive number of seconds"),
    (-1.5, ValueError, "AuditSpec.method_timeout: expected a positive number of seconds"),
    (float("inf"), ValueError, "AuditSpec.method_timeout: expected a positive number"),
    ("10", TypeError, "AuditSpec.method_timeout: expected None or a number of seconds"),
    (True, TypeError, "AuditSpec.method_timeout: expected None or a number of seconds"),
])
def test_bad_timeouts_are_named(make_spec, value, exc, fragment):
    with pytest.raises(exc, match=fragment.replace(".", r"\.")):
        make_spec(method_timeout=value)
