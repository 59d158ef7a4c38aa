"""A user's unlearning function that misbehaves is a FAIL of that method with the reason; the audit completes."""

from __future__ import annotations

import copy

import pytest
import torch

from unlearn_audit.audit import run_audit
from unlearn_audit.models import SmallConvNet
from unlearn_audit.report import Status
from unlearn_audit.audit._cache import state_hash


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module, so the retrain reference is trained once for all failure cases."""
    return tmp_path_factory.mktemp("failures-cache")


def raises(model, ctx):
    raise ValueError("boom")


def returns_int(model, ctx):
    return 42


def returns_none(model, ctx):
    model.train()


def other_architecture(model, ctx):
    return SmallConvNet(2, width=4)


def a_linear_model(model, ctx):
    return torch.nn.Linear(3, 2)


def mutates_ctx_original(model, ctx):
    with torch.no_grad():
        next(ctx.original.parameters()).add_(1.0)
    return model


def diverges(model, ctx):
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    return model


def four_args_raising(net, retain_loader, forget_loader, val_loader):
    next(iter(forget_loader))
    raise RuntimeError("bad loaders")


@pytest.mark.parametrize("fn, reason", [
    (raises, "raised ValueError: boom"),
    (returns_int, "returned int, expected an nn.Module"),
    (returns_none, "returned None, expected an nn.Module (did you forget `return model`?)"),
    (other_architecture, "returned a model of another architecture than model_factory's (shape"),
    (a_linear_model, "returned a model of another architecture than model_factory's (missing"),
    (mutates_ctx_original, "changed ctx.original in place"),
    (four_args_raising, "raised RuntimeError: bad loaders"),
    (diverges, "could not be evaluated: ValueError: model: returned NaN or inf logits"),
])
def test_failure_mode_is_reported_and_the_rest_completes(make_spec, shared_cache, digits_original, fn, reason):
    report = run_audit(make_spec(unlearn_fn=fn, original=digits_original, cache_dir=shared_cache, methods=["ga"]),
                       progress=False)
    name = fn.__name__
    (rec,) = report.records(name)
    assert rec.status == "failed" and reason in rec.error and rec.metrics is None
    assert all(r.status == "ok" and r.metrics for r in report.rows if r.name != name)  # original, retrain, ga
    runs = [f for f in report.findings if f.check == "runs"]
    assert len(runs) == 1 and runs[0].status is Status.FAIL and reason in runs[0].why and runs[0].model == name
    checks = [f for f in report.findings if f.check != "runs"]
    assert checks and all(f.status is Status.FAIL and "the method failed" in f.why for f in checks)
    assert report.verdict is Status.FAIL
    report.to_json()  # still serialisable


def test_mutating_the_users_original_object_is_caught_and_undone(make_spec, shared_cache, digits_original):
    mine = copy.deepcopy(digits_original)
    before = state_hash(mine)

    def touches_closure_original(model, ctx):
        with torch.no_grad():
            for p in mine.parameters():
                p.mul_(0.0)
        return model

    report = run_audit(make_spec(unlearn_fn=touches_closure_original, original=mine, cache_dir=shared_cache),
                       progress=False)
    (rec,) = report.records("touches_closure_original")
    assert rec.status == "failed"
    assert "changed the original model passed as AuditSpec.original in place" in rec.error
    assert state_hash(mine) == before  # restored for whatever runs next


def test_failed_runs_are_not_cached(make_spec, shared_cache, digits_original):
    calls = []

    def flaky(model, ctx):
        calls.append(1)
        raise RuntimeError("transient")

    spec = make_spec(unlearn_fn=flaky, original=digits_original, cache_dir=shared_cache)
    run_audit(spec, progress=False)
    run_audit(spec, progress=False)
    assert len(calls) == 2


def test_a_failing_suite_method_does_not_stop_the_audit(make_spec, shared_cache, digits_original):
    from unlearn_audit.methods import register_method

    @register_method("_test_broken_suite", replace=True)
    def broken(model, ctx):
        raise KeyError("suite bug")

    report = run_audit(make_spec(methods=["_test_broken_suite"], original=digits_original, cache_dir=shared_cache),
                       progress=False)
    (rec,) = report.records("_test_broken_suite")
    assert rec.status == "failed" and "raised KeyError" in rec.error
    user = report.records("one_epoch_ft")[0]
    assert user.status == "ok"
    assert not [f for f in report.findings if f.check == "runs"]  # only the user's method gets a 'runs' finding
