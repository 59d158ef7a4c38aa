"""run_audit end to end on the 8x8 colored digits: records, references, seeds, cache reuse, report contents."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch

import unlearn_audit
from unlearn_audit.audit import AuditSpec, reference_for, run_audit
from unlearn_audit.methods import get_method
from unlearn_audit.metrics import MetricConfig
from unlearn_audit.models import SmallConvNet
from unlearn_audit.report import AuditReport, Status

from .conftest import SMOKE


class Calls:
    """Counts every training (``fit``) and every evaluation the audit performs."""

    def __init__(self, monkeypatch):
        import unlearn_audit.audit._execute as runner
        import unlearn_audit.methods._retrain as retrain
        import unlearn_audit.training as training

        self.fit = 0
        self.evaluate = 0
        real_fit, real_eval = training.fit, runner.evaluate

        def fit(*args, **kwargs):
            self.fit += 1
            return real_fit(*args, **kwargs)

        def evaluate(*args, **kwargs):
            self.evaluate += 1
            return real_eval(*args, **kwargs)

        for module in (runner, retrain, training):
            monkeypatch.setattr(module, "fit", fit)
        monkeypatch.setattr(runner, "evaluate", evaluate)

    def reset(self) -> None:
        self.fit = self.evaluate = 0


class _GaCalls:
    n = 0


def _counted_ga(model, ctx, params):
    _GaCalls.n += 1
    return get_method("ga").fn(model, ctx, params)


def counting_ga_method():
    """The registered ``ga`` wrapped so its calls are counted (a counter outside the closure: closure values are
    part of a method's cache identity)."""
    _GaCalls.n = 0
    return dataclasses.replace(get_method("ga"), fn=_counted_ga), _GaCalls


def test_end_to_end_two_seeds_then_a_rerun_recomputes_nothing(make_spec, monkeypatch):
    calls = Calls(monkeypatch)
    spec = make_spec(methods=["ga"], references=("retrain", "retrain+reweight"), seeds=(0, 1))
    report = run_audit(spec, progress=True)  # not a terminal here: no bar, no error

    assert report.model_names() == ["original", "retrain", "retrain+reweight", "ga", "one_epoch_ft"]
    assert [(r.name, r.seed) for r in report.rows][:3] == [("original", 0), ("retrain", 0), ("retrain", 1)]
    roles = {r.name: r.role for r in report.rows}
    assert roles == {"original": "original", "retrain": "reference", "retrain+reweight": "reference",
                     "ga": "method", "one_epoch_ft": "user"}
    refs = {r.name: r.reference for r in report.rows}
    assert refs["ga"] == "retrain" and refs["one_epoch_ft"] == "retrain" and refs["retrain"] is None
    assert all(r.status == "ok" and not r.cached for r in report.rows)
    assert all({"RA", "TA", "GA", "EO", "MIA", "FGSM"} <= set(r.values) for r in report.rows)
    assert "PGD" not in report.rows[0].values  # the smoke metric preset
    assert report.user_method == "one_epoch_ft"
    assert calls.fit == 1 + 2 + 2 + 2  # original, two references x two seeds, the user's method x two seeds
    assert calls.evaluate == len(report.rows) == 9

    summary = report.summary()
    assert summary["retrain"]["TA"]["n"] == 2 and summary["retrain"]["TA"]["std"] >= 0
    assert summary["retrain"]["TA"]["lo"] <= summary["retrain"]["TA"]["mean"] <= summary["retrain"]["TA"]["hi"]
    unc = report.uncertainty
    assert unc["n_boot"] == spec.n_boot and unc["sizes"]["forget"] == len(spec.data.forget_idx)
    assert unc["sample_var"]["one_epoch_ft"]["TA"] > 0 and unc["delta_sample_var"]["one_epoch_ft"]["retrain"]["UA"] > 0
    assert [f.model for f in report.findings] == ["one_epoch_ft"] * len(spec.thresholds)
    assert {f.status for f in report.findings} <= set(Status) - {Status.SKIP} | {Status.SKIP}
    assert all(f.lo is not None and f.lo <= f.value <= f.hi for f in report.findings if f.status is not Status.SKIP)
    assert report.config["reference_of"] == {"ga": "retrain", "one_epoch_ft": "retrain"}
    assert report.config["seeds"] == [0, 1] and report.config["methods"] == ["ga"]
    assert report.config["cache"]["misses"] > 0
    assert report.data["n_forget"] == len(spec.data.forget_idx) and report.data["fingerprint"]["forget_idx"]
    assert report.environment["packages"]["torch"] == torch.__version__
    assert report.environment["device_type"] == "cpu"
    assert report.created
    again = AuditReport.from_json(report.to_json())
    assert again.to_dict() == json.loads(report.to_json())

    calls.reset()
    rerun = run_audit(spec, progress=False)
    assert (calls.fit, calls.evaluate) == (0, 0)
    assert all(r.cached and r.seconds == 0 for r in rerun.rows)
    assert [r.values for r in rerun.rows] == [r.values for r in report.rows]
    assert [f.to_dict() for f in rerun.findings] == [f.to_dict() for f in report.findings]
    assert rerun.config["cache"]["misses"] == 0


def test_only_what_changed_is_recomputed(make_spec, monkeypatch):
    calls = Calls(monkeypatch)
    ga, ga_calls = counting_ga_method()
    run_audit(make_spec(unlearn_fn=ga, unlearn_name="my_ga"), progress=False)
    assert (calls.fit, ga_calls.n) == (2, 1)  # original + retrain; the user's ga

    calls.reset()
    run_audit(make_spec(unlearn_fn=ga, unlearn_name="my_ga"), progress=False)
    assert (calls.fit, calls.evaluate, ga_calls.n) == (0, 0, 1)

    calls.reset()  # another metric config: metrics recomputed from the cached weights, nothing retrained
    run_audit(make_spec(unlearn_fn=ga, unlearn_name="my_ga",
                        metric_config=MetricConfig.preset("smoke", attack_max_samples=64)), progress=False)
    assert (calls.fit, calls.evaluate, ga_calls.n) == (0, 3, 1)

    calls.reset()  # other hyper-parameters of the user's method: only that method reruns
    run_audit(make_spec(unlearn_fn=ga.with_params(epochs=1), unlearn_name="my_ga"), progress=False)
    assert (calls.fit, calls.evaluate, ga_calls.n) == (0, 1, 2)


def test_corrupt_cache_entry_is_recomputed_in_a_real_run(make_spec, monkeypatch, tmp_path):
    calls = Calls(monkeypatch)
    spec = make_spec()
    run_audit(spec, progress=False)
    metrics_entries = sorted((tmp_path / "cache").rglob("v1/metrics/*/*.json"))
    assert len(metrics_entries) == 3
    metrics_entries[0].write_text("{ not json")
    model_weights = sorted((tmp_path / "cache").rglob("v1/model/*/*.safetensors"))
    assert len(model_weights) == 3
    calls.reset()
    report = run_audit(spec, progress=False)
    assert calls.evaluate == 1 and calls.fit == 0  # re-evaluated from the cached weights
    assert report.config["cache"]["recovered"] == 1


def test_provided_original_module_or_state_dict(make_spec, digits_original, monkeypatch):
    calls = Calls(monkeypatch)
    before = copy.deepcopy(digits_original.state_dict())
    report = run_audit(make_spec(original=digits_original), progress=False)
    assert calls.fit == 2  # retrain + the user's method: the original was not trained
    rec = report.records("original")[0]
    assert rec.hyperparams["provided"] is True and report.config["original"] == "provided"
    assert all(torch.equal(before[k], v) for k, v in digits_original.state_dict().items())
    calls.reset()
    again = run_audit(make_spec(original=digits_original.state_dict()), progress=False)
    assert (calls.fit, calls.evaluate) == (0, 0)  # same weights, same cache entries
    assert again.records("original")[0].values == rec.values


def test_original_of_another_architecture_is_refused(make_spec):
    other = SmallConvNet(2, width=4)
    with pytest.raises(ValueError, match=r"AuditSpec.original: does not fit model_factory's architecture \(.*shape"):
        run_audit(make_spec(original=other), progress=False)


def test_factory_must_return_a_module(make_spec):
    with pytest.raises(TypeError, match="AuditSpec.model_factory: expected a callable returning an nn.Module, it "
                                        "returned str"):
        run_audit(make_spec(model_factory=lambda: "model"), progress=False)


def test_cache_locations(make_spec, monkeypatch, tmp_path, digits_original):
    monkeypatch.chdir(tmp_path)
    run_audit(make_spec(cache_dir=None, original=digits_original, unlearn_fn=None), progress=False)
    assert (tmp_path / ".unlearn-audit-cache" / "v1").is_dir()
    off = tmp_path / "off"
    off.mkdir()
    monkeypatch.chdir(off)
    report = run_audit(make_spec(cache_dir=False, original=digits_original, unlearn_fn=None), progress=False)
    assert not any(off.iterdir()) and report.config["cache"]["dir"] is None


def test_no_user_method_checks_every_suite_method(make_spec, digits_original):
    report = run_audit(make_spec(unlearn_fn=None, methods=["ga"], original=digits_original, reference_seeds=(0, 1),
                                 thresholds=["ta:drop<=100", "eo:abs<=100"]), progress=False)
    assert report.user_method is None
    assert {(f.model, f.check) for f in report.findings} == {("ga", "ta:drop<=100"), ("ga", "eo:abs<=100")}
    # bounds of 100 points cannot be shown violated; with 2 retrains (1 df) the interval may still straddle them
    assert {f.status for f in report.findings} <= {Status.PASS, Status.INCONCLUSIVE}
    assert report.verdict is not Status.FAIL


def test_reference_rule_spec_d5():
    both = ("retrain", "retrain+reweight")
    assert reference_for(get_method("ft"), both) == "retrain"
    assert reference_for(get_method("ft+reweight"), both) == "retrain+reweight"
    miu_like = dataclasses.replace(get_method("ft"), info=dataclasses.replace(get_method("ft").info, name="miu"))
    assert reference_for(miu_like, both) == "retrain+reweight"
    assert reference_for(get_method("ft+reweight"), ("retrain",)) == "retrain"  # fallback when not audited
    assert reference_for(get_method("ft"), ()) is None


def test_public_api_names():
    for name in ("AuditSpec", "run_audit", "Thresholds", "Check", "Finding"):
        assert getattr(unlearn_audit, name) is getattr(unlearn_audit.audit, name)
    assert SMOKE.pgd is False
    assert isinstance(AuditSpec, type)
