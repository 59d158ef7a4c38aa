"""AuditSpec validation (errors name the field), method / reference resolution, profiles."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unlearn_audit.audit import (DEFAULT_METHODS, PROFILES, AuditSpec, Check, ThresholdError, Thresholds,
                                 default_recipe)
from unlearn_audit.metrics import MetricConfig
from unlearn_audit.training import TrainRecipe

from .conftest import one_epoch_ft, tiny_model


@pytest.fixture
def base(digits_data):
    return dict(data=digits_data, model_factory=tiny_model)


@pytest.mark.parametrize("field, value, exc, fragment", [
    ("data", "digits", TypeError, "AuditSpec.data: expected an AuditData"),
    ("model_factory", 3, TypeError, "AuditSpec.model_factory: expected a callable returning an nn.Module, got int"),
    ("model_factory", torch.nn.Linear(2, 2), TypeError, "AuditSpec.model_factory: expected a callable returning a "
                                                        "fresh nn.Module, got an nn.Module instance (Linear)"),
    ("unlearn_fn", 3, TypeError, "AuditSpec.unlearn_fn: expected None, a callable"),
    ("unlearn_fn", "no_such_method", ValueError, "AuditSpec.unlearn_fn: unknown unlearning method"),
    ("unlearn_fn", lambda a, b, c: a, TypeError, "AuditSpec.unlearn_fn"),
    ("original", 3.0, TypeError, "AuditSpec.original: expected None, a trained nn.Module or its state_dict, got float"),
    ("original", {"w": 1}, TypeError, "AuditSpec.original: a state_dict maps parameter names to tensors"),
    ("recipe", {"epochs": 3}, TypeError, "AuditSpec.recipe: expected None or a TrainRecipe, got dict"),
    ("methods", "fast", ValueError, "AuditSpec.methods: expected 'default', 'all', 'none' or a list"),
    ("methods", ["nope"], ValueError, "AuditSpec.methods: unknown unlearning method 'nope'"),
    ("methods", ["retrain"], ValueError, "AuditSpec.methods: 'retrain' is a reference retrain"),
    ("methods", ["ft", "ft"], ValueError, "AuditSpec.methods: 'ft' is listed twice"),
    ("methods", 3, TypeError, "AuditSpec.methods: expected 'default', 'all', 'none' or a list of method names"),
    ("references", ["ft"], ValueError, "AuditSpec.references: 'ft' is not a reference retrain"),
    ("references", ["nope"], ValueError, "AuditSpec.references: 'nope' is not a method"),
    ("references", ["retrain", "retrain"], ValueError, "AuditSpec.references: 'retrain' is listed twice"),
    ("seeds", (), ValueError, "AuditSpec.seeds: is empty"),
    ("seeds", (0, 0), ValueError, "AuditSpec.seeds: seeds must be distinct"),
    ("seeds", (-1,), ValueError, "AuditSpec.seeds: expected non-negative ints, got -1"),
    ("seeds", "0,1", TypeError, "AuditSpec.seeds: expected a sequence of ints"),
    ("device", "tpu", ValueError, "AuditSpec.device"),
    ("device", 0, TypeError, "AuditSpec.device: expected a str"),
    ("thresholds", 5, TypeError, "AuditSpec.thresholds: expected None, a Thresholds"),
    ("thresholds", ["eo:abs<<5"], ThresholdError, "AuditSpec.thresholds: 'eo:abs<<5' is not a valid check"),
    ("metric_config", {"fgsm": True}, TypeError, "AuditSpec.metric_config: expected None or a MetricConfig"),
    ("cache_dir", 3, TypeError, "AuditSpec.cache_dir: expected None, False or a folder path, got int"),
    ("unlearn_name", "a+b", ValueError, "AuditSpec.unlearn_name"),
])
def test_bad_fields_are_named(base, field, value, exc, fragment):
    with pytest.raises(exc) as info:
        AuditSpec(**{**base, field: value})
    assert fragment in str(info.value)


def test_defaults_are_resolved(base, digits_data):
    spec = AuditSpec(**base)
    assert spec.recipe == default_recipe(digits_data)
    assert spec.metric_config == MetricConfig()
    assert spec.thresholds.ids == Thresholds.default().ids
    assert spec.references == ("retrain", "retrain+reweight")
    assert spec.suite == tuple(m for m in DEFAULT_METHODS if m not in spec.unavailable_methods)
    assert spec.user_method is None
    assert spec.resolved_cache_dir() == Path.cwd() / ".unlearn-audit-cache"
    assert spec.replace(cache_dir=False).resolved_cache_dir() is None


def test_default_recipe_depends_on_the_data(digits_data):
    r = default_recipe(digits_data)
    assert isinstance(r, TrainRecipe) and r.optimizer == "sgd" and r.epochs == 10


def test_thresholds_forms(base):
    assert AuditSpec(**base, thresholds=["eo:abs<=3"]).thresholds.ids == ["eo"]
    assert AuditSpec(**base, thresholds="ga:drop<=2").thresholds.ids == ["ga"]
    assert AuditSpec(**base, thresholds=[Check("ta", min_value=40)]).thresholds.ids == ["ta_min"]
    th = Thresholds.default()
    assert AuditSpec(**base, thresholds=th).thresholds is th


def test_reference_aliases_and_methods(base):
    spec = AuditSpec(**base, references=["retrain_reweight", "retrain+groupdro"], methods=["ft", "ft+reweight"])
    assert spec.references == ("retrain+reweight", "retrain_groupdro")
    assert spec.suite == ("ft", "ft+reweight")
    assert AuditSpec(**base, methods="none").suite == ()
    everything = AuditSpec(**base, methods="all").suite
    assert "ft" in everything and "retrain" not in everything
    assert not any(n.startswith("_") for n in everything)


def test_user_method_names(base):
    spec = AuditSpec(**base, unlearn_fn=one_epoch_ft, methods=["ft"])
    assert spec.user_method.name == "one_epoch_ft"
    assert AuditSpec(**base, unlearn_fn=lambda m, c: m).user_method.name == "user"
    assert AuditSpec(**base, unlearn_fn=one_epoch_ft, unlearn_name="mine").user_method.name == "mine"

    def ft(model, ctx):  # shadows a registered method's name
        return model

    shadow = AuditSpec(**base, unlearn_fn=ft, methods=["ft"])
    assert shadow.user_method.name == "user:ft" and shadow.suite == ("ft",)
    registered = AuditSpec(**base, unlearn_fn="ft", methods=["ft", "ga"])
    assert registered.user_method.name == "ft" and registered.suite == ("ga",)  # not audited twice

    def four(net, retain_loader, forget_loader, val_loader):
        return net

    assert AuditSpec(**base, unlearn_fn=four).user_method.name == "four"


def test_seeds_accept_an_int(base):
    assert AuditSpec(**base, seeds=3).seeds == (3,)


def test_profiles(base):
    assert set(PROFILES) == {"smoke", "ci", "full"}
    smoke = AuditSpec.from_profile("smoke", **base, unlearn_fn=one_epoch_ft)
    assert smoke.suite == () and smoke.references == ("retrain",) and smoke.seeds == (0,)
    assert smoke.metric_config == MetricConfig.preset("smoke")
    ci = AuditSpec.from_profile("ci", **base)
    assert ci.seeds == (0, 1, 2) and ci.suite_seeds == (0,) and ci.references == ("retrain", "retrain+reweight")
    assert ci.suite == AuditSpec(**base).suite
    full = AuditSpec.from_profile("full", **base)
    assert full.seeds == full.suite_seeds == (0, 1, 2) and "retrain_groupdro" in full.references
    assert full.metric_config == MetricConfig.preset("full") and len(full.suite) >= len(ci.suite)
    explicit = AuditSpec.from_profile("ci", **base, seeds=(4, 5))  # explicit beats the profile
    assert explicit.seeds == (4, 5) and explicit.suite_seeds == (0,)


def test_suite_seeds_default_to_the_seeds_and_shape_the_plan(base):
    from unlearn_audit.audit._plan import plan

    assert AuditSpec(**base, seeds=(0, 1)).suite_seeds == (0, 1)
    spec = AuditSpec(**base, unlearn_fn=one_epoch_ft, methods=["ga"], seeds=(0, 1, 2), suite_seeds=(0,),
                     reference_seeds=(0, 1, 2), references=("retrain",), cache_dir=False)
    roles = [(s.role, s.name, s.seed) for s in plan(spec, device=torch.device("cpu")).steps]
    assert [x for x in roles if x[1] == "ga"] == [("method", "ga", 0)]
    assert [x[2] for x in roles if x[0] == "user"] == [0, 1, 2]
    assert spec.describe()["suite_seeds"] == [0]
    with pytest.raises(ValueError, match="AuditSpec.suite_seeds"):
        AuditSpec(**base, suite_seeds=(1, 1))
    with pytest.raises(ValueError, match="unknown profile 'fast'; use smoke, ci, full"):
        AuditSpec.from_profile("fast", **base)


def test_describe_is_json_friendly(base):
    import json

    d = AuditSpec(**base, unlearn_fn=one_epoch_ft).describe()
    json.dumps(d)
    assert d["user_method"]["name"] == "one_epoch_ft" and d["original"] == "trained by the audit"
