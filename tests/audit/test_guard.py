"""A user function cannot corrupt the audit: data written in place is restored and the method fails; sys.exit()
fails only that method; KeyboardInterrupt stops the audit cleanly and the next run resumes."""

from __future__ import annotations

import sys

import pytest
import torch

from unlearn_audit.audit import run_audit
from unlearn_audit.audit._guard import DataGuard, MethodFailure, call_method
from unlearn_audit.report import Status


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("guard-cache")


def poisons_retain_x(model, ctx):
    with torch.no_grad():
        ctx.retain.x.mul_(0.0)
    return model


def flips_train_labels(model, ctx):
    ctx.data.train.y[:10] = 1 - ctx.data.train.y[:10]
    return model


def swaps_test_split(model, ctx):
    object.__setattr__(ctx.data.test, "a", torch.zeros_like(ctx.data.test.a))
    return model


def edits_forget_idx_then_raises(model, ctx):
    ctx.data.forget_idx[0] = 0
    raise RuntimeError("after the damage")


def exits(model, ctx):
    sys.exit(3)


def returns_a_tuple(model, ctx):
    return model, {"loss": 0.1}


@pytest.mark.parametrize("fn, what", [
    (poisons_retain_x, "ctx.retain.x"),
    (flips_train_labels, "ctx.data.train.y"),
    (swaps_test_split, "ctx.data.test.a"),
    (edits_forget_idx_then_raises, "ctx.data.forget_idx"),
])
def test_changing_the_data_in_place_fails_the_method_and_is_undone(make_spec, shared_cache, digits_data,
                                                                    digits_original, fn, what):
    before = digits_data.fingerprint()
    train_x = digits_data.train.x.clone()
    report = run_audit(make_spec(unlearn_fn=fn, original=digits_original, cache_dir=shared_cache, methods=["ga"]),
                       progress=False)
    (rec,) = report.records(fn.__name__)
    assert rec.status == "failed" and "changed the audit data in place" in rec.error and what in rec.error
    assert "restored" in rec.error
    if fn is edits_forget_idx_then_raises:
        assert "it also raised RuntimeError: after the damage" in rec.error
    assert digits_data.fingerprint() == before and torch.equal(digits_data.train.x, train_x)
    assert report.data["fingerprint"] == before
    assert all(r.status == "ok" for r in report.rows if r.name != fn.__name__)  # ga ran after on clean data
    runs = [f for f in report.findings if f.check == "runs"]
    assert runs and runs[0].status is Status.FAIL


def test_data_guard_restores_every_alias(digits_data):
    guard = DataGuard(digits_data)
    mine = digits_data.retain.x            # the user's own reference to the cached retain split
    x_before = mine.clone()
    mine[0].fill_(0.5)
    digits_data.train.a[3] = 1 - digits_data.train.a[3]
    changed = guard.check_and_restore()
    assert changed == ["ctx.data.train.a", "ctx.retain.x"]
    assert torch.equal(mine, x_before) and not guard.changed()
    assert guard.check_and_restore() == []


@pytest.mark.parametrize("fn, reason", [
    (exits, "raised SystemExit: 3 (sys.exit() was called inside the method"),
    (returns_a_tuple, "returned a tuple of 2 (SmallConvNet, dict), expected an nn.Module alone"),
])
def test_system_exit_and_tuples_fail_only_that_method(make_spec, shared_cache, digits_original, fn, reason):
    report = run_audit(make_spec(unlearn_fn=fn, original=digits_original, cache_dir=shared_cache), progress=False)
    (rec,) = report.records(fn.__name__)
    assert rec.status == "failed" and reason in rec.error
    assert report.records("retrain")[0].status == "ok"


def test_system_exit_in_a_suite_method(make_spec, shared_cache, digits_original):
    from unlearn_audit.methods import register_method

    @register_method("_test_exits", replace=True)
    def suite_exit(model, ctx):
        raise SystemExit("bye")

    report = run_audit(make_spec(methods=["_test_exits"], original=digits_original, cache_dir=shared_cache),
                       progress=False)
    (rec,) = report.records("_test_exits")
    assert rec.status == "failed" and "raised SystemExit: bye" in rec.error
    assert report.records("one_epoch_ft")[0].status == "ok"


def test_keyboard_interrupt_stops_cleanly_and_the_next_run_resumes(make_spec, tmp_path, digits_data,
                                                                   digits_original):
    from tests.audit.conftest import one_epoch_ft

    calls = []

    def interrupted(model, ctx):
        calls.append(1)
        ctx.retain.x.mul_(0.0)          # half-done damage when Ctrl-C arrives
        raise KeyboardInterrupt

    before = digits_data.fingerprint()
    cache = tmp_path / "ki-cache"
    with pytest.raises(KeyboardInterrupt):
        run_audit(make_spec(unlearn_fn=interrupted, unlearn_name="mine", original=digits_original, cache_dir=cache),
                  progress=False)
    assert digits_data.fingerprint() == before            # data restored even on the way out
    from unlearn_audit.audit._cache import Cache

    store = Cache(cache)
    assert all(store.contains(p.parent.parent.name, p.stem) for p in store.entries())  # every entry valid
    assert not list(cache.rglob("*.tmp"))
    report = run_audit(make_spec(unlearn_fn=one_epoch_ft, unlearn_name="mine", original=digits_original,
                                 cache_dir=cache), progress=False)
    assert report.records("retrain")[0].cached            # resumed: what finished before Ctrl-C is reused
    assert report.records("mine")[0].status == "ok" and not report.records("mine")[0].cached


def test_call_method_contract(digits_data, digits_original):
    import copy

    from unlearn_audit.methods import UnlearnContext
    from unlearn_audit.training import TrainRecipe

    ctx = UnlearnContext.build(data=digits_data, original=digits_original, recipe=TrainRecipe(epochs=1, lr=0.1,
                               batch_size=32), device="cpu", seed=0)
    model = copy.deepcopy(digits_original)
    assert call_method(lambda m, c: m, model, ctx, guard=DataGuard(digits_data)) is model
    with pytest.raises(KeyboardInterrupt):
        call_method(lambda m, c: (_ for _ in ()).throw(KeyboardInterrupt), model, ctx, guard=None)
    with pytest.raises(MethodFailure, match="raised GeneratorExit"):
        call_method(lambda m, c: (_ for _ in ()).throw(GeneratorExit), model, ctx, guard=None)


def test_cluster_ids_are_guarded_too(digits_data):
    import unlearn_audit as ua

    n = len(digits_data.train)
    data = ua.AuditData(train=digits_data.train, test=digits_data.test, forget_idx=digits_data.forget_idx,
                        clusters={"train": torch.arange(n) // 2})
    guard = DataGuard(data)
    ids = data._clusters["train"]
    before = ids.clone()
    ids[:4] = 0
    assert guard.check_and_restore() == ["the cluster ids of train (AuditData.clusters)"]
    assert torch.equal(data._clusters["train"], before)
