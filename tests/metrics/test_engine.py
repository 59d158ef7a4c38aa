"""``evaluate``: every value against an independent recomputation, the one-pass contract, the model's state, and
not-applicable reasons."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fairlearn.metrics import (demographic_parity_difference, equal_opportunity_difference,
                               equalized_odds_difference)
from sklearn.metrics import roc_auc_score
from torch import nn

from unlearn_audit.data import AuditData, GroupDataset
from unlearn_audit.metrics import (METRIC_INFO, MetricConfig, ModelMetrics, SplitOutputs, adversarial_accuracy,
                                   evaluate, fairness_gap, metrics_from_outputs, mia_efficacy)

CHEAP = MetricConfig(pgd=False, mia_protocols=())


@pytest.fixture(scope="module")
def evaluated(digits_original, digits_data):
    return evaluate(digits_original, digits_data, config=MetricConfig(), device="cpu")


def _outputs(model, ds):
    with torch.no_grad():
        logits = model.eval()(ds.x)
    return logits.argmax(1).numpy(), F.cross_entropy(logits, ds.y, reduction="none").numpy()


def test_values_match_an_independent_recomputation(evaluated, digits_original, digits_data):
    m, data = evaluated, digits_data
    out = {name: _outputs(digits_original, ds) for name, ds in data.splits().items()}
    acc = {name: 100 * np.mean(out[name][0] == ds.y.numpy()) for name, ds in data.splits().items()}
    assert m["RA"] == pytest.approx(acc["retain"]) and m["TA"] == pytest.approx(acc["test"])
    assert m["FA"] == pytest.approx(acc["forget"]) and m["UA"] == pytest.approx(100 - acc["forget"])
    assert m["VA"] == pytest.approx(acc["val"])
    y, a, p = data.test.y.numpy(), data.test.a.numpy(), out["test"][0]
    for (gy, ga), key in [((gy, ga), f"y={gy},a={ga}") for gy in (0, 1) for ga in (0, 1)]:
        sel = (y == gy) & (a == ga)
        assert m.group_counts[key] == int(sel.sum())
        assert m.group_acc[key] == pytest.approx(100 * np.mean(p[sel] == y[sel]))
    assert m["WG"] == pytest.approx(min(m.group_acc.values()))
    assert data.dominant_groups == ((1, 0),)
    assert m["GA"] == pytest.approx(m.group_acc["y=1,a=0"])
    # binary task: the binarised EO is fairlearn's equalized odds with agg mean / worst case (spec A3)
    assert m["EO"] == pytest.approx(100 * equalized_odds_difference(y, p, sensitive_features=a, agg="mean"))
    assert m["EO_WORST"] == pytest.approx(100 * equalized_odds_difference(y, p, sensitive_features=a))
    assert m["DP"] == pytest.approx(100 * demographic_parity_difference(y, p, sensitive_features=a))
    assert m["EP"] == pytest.approx(100 * equal_opportunity_difference(y, p, sensitive_features=a))
    lf, lt = out["forget"][1], out["test"][1]
    assert m["LT_AUC"] == pytest.approx(100 * roc_auc_score(np.r_[np.ones(lf.size), np.zeros(lt.size)],
                                                            -np.r_[lf, lt]), abs=1e-6)
    mia = mia_efficacy(train_member_losses=out["retain"][1], train_nonmember_losses=out["val"][1],
                       forget_losses=lf, test_losses=lt, seed=0)
    assert m["MIA"] == pytest.approx(mia["efficacy"]) and m["MIA_AUC"] == pytest.approx(mia["auc"])
    assert m.mia["efficacy"]["nonmembers"] == "val"
    fg = fairness_gap(digits_original, data.retain)
    assert m.fairness_gap.layer_names == fg.layer_names and len(fg.layer_names) == 4
    assert m.fairness_gap.values == pytest.approx(fg.values, rel=1e-6)
    assert m["FG"] == pytest.approx(fg.mean, rel=1e-6) and m["FG_MAX"] == pytest.approx(fg.max, rel=1e-6)
    assert m["FGSM"] == pytest.approx(adversarial_accuracy(digits_original, data.test, eps=8 / 255))
    assert m["PGD"] == pytest.approx(adversarial_accuracy(digits_original, data.test, attack="pgd", eps=8 / 255))
    assert m.adversarial == {"fgsm": {"0.0313725": m["FGSM"]}, "pgd": {"0.0313725": m["PGD"]}}
    assert m.not_applicable == {} and set(m.values) == set(METRIC_INFO) - {"MIA_GRMU", "MIA_SVC", "FQ"}
    assert m.config == MetricConfig().to_dict()


def test_sanity_of_a_trained_model(evaluated):
    m = evaluated
    assert m["RA"] > 90 and m["TA"] > 60  # trained on the spurious colour: test accuracy is lower
    assert m["FGSM"] <= m["TA"] and m["PGD"] <= m["FGSM"] + 5
    assert all(0 <= m[k] <= 100 for k in ("EO", "EO_WORST", "DP", "EP", "MIA", "MIA_AUC", "LT_AUC", "LT_TPR1"))


def test_to_dict_round_trips_exactly(evaluated):
    d = evaluated.to_dict()
    text = json.dumps(d, allow_nan=False)
    back = ModelMetrics.from_dict(json.loads(text))
    assert back == evaluated
    assert back.to_dict() == d


def test_one_forward_pass_per_split(digits_original, digits_data):
    model = copy.deepcopy(digits_original)
    calls = []
    model.register_forward_hook(lambda mod, inp, out: calls.append(len(inp[0])))
    evaluate(model, digits_data, config=CHEAP.replace(fgsm=False, batch_size=100), device="cpu")
    sizes = {name: len(ds) for name, ds in digits_data.splits().items()}
    assert sum(calls) == sum(sizes.values())  # the fairness-gap rides on the retain pass
    assert len(calls) == sum(math.ceil(n / 100) for n in sizes.values())


def test_model_state_is_unchanged(digits_original, digits_data):
    model = copy.deepcopy(digits_original).train()
    model.features[1].eval()  # mixed modes survive
    for i, p in enumerate(model.parameters()):
        p.grad = torch.full_like(p, float(i))
    model.head.weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    evaluate(model, digits_data, config=CHEAP.replace(pgd=True, pgd_steps=2), device="cpu")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "BN running stats or weights changed"
    assert model.training and not model.features[1].training and model.features[0].training
    assert all(torch.equal(p.grad, torch.full_like(p, float(i))) for i, p in enumerate(model.parameters()))
    assert not model.head.weight.requires_grad and model.head.bias.requires_grad
    assert not any(m._forward_hooks for m in model.modules())


def _tabular_audit(n_attrs_seen: int = 1, val: bool = False):
    g = torch.Generator().manual_seed(0)

    def split(n):
        x = torch.randn(n, 6, generator=g)
        y = (x[:, 0] > 0).long()
        a = torch.randint(0, n_attrs_seen, (n,), generator=g)
        return GroupDataset(x, y, a, n_classes=2, n_attrs=2)

    return AuditData(train=split(300), test=split(120), val=split(80) if val else None, forget_idx=range(0, 300, 10))


def test_not_applicable_reasons_on_a_tabular_model_without_normalization():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    cfg = MetricConfig(eps_sweep=(1 / 255,), pgd_steps=2, mia_protocols=("efficacy",))
    m = evaluate(model, _tabular_audit(), config=cfg, device="cpu")
    assert "no normalization layer" in m.not_applicable["FG"] and "FG_MAX" in m.not_applicable
    assert m.fairness_gap is None
    assert m.not_applicable["VA"] == "the audit has no validation split"
    for k in ("EO", "EO_WORST", "DP", "EP"):
        assert "single value" in m.not_applicable[k]
    with pytest.raises(KeyError, match="not applicable: the model has no normalization layer"):
        m["FG"]
    assert m.mia["efficacy"]["nonmembers"] == "test"
    assert m.adversarial["fgsm"].keys() == {"0.1"}  # tabular eps, no pixel sweep
    assert not set(m.values) & set(m.not_applicable)
    assert set(m.values) | set(m.not_applicable) == set(METRIC_INFO) - {"MIA_GRMU", "MIA_SVC", "FQ"}


def test_multiclass_task_and_config_switches():
    from unlearn_audit.datasets import colored_digits
    from unlearn_audit.models import SmallConvNet

    data = colored_digits(scale=1, majority=0.9, target="digit", size=8, seed=0, forget_groups=((3, 1),))
    torch.manual_seed(0)
    model = SmallConvNet(10, width=4)
    m = evaluate(model, data, config=CHEAP.replace(fairness_gap_layers="nothing", fgsm=False), device="cpu")
    assert "binary-task metric" in m.not_applicable["DP"] and "10 classes" in m.not_applicable["EP"]
    assert "EO" in m.values and "GA" in m.values
    assert "matching 'nothing'" in m.not_applicable["FG"]
    for k in ("PGD", "FGSM", "MIA", "MIA_AUC", "MIA_GRMU", "MIA_SVC"):  # not requested: absent from both
        assert k not in m.values and k not in m.not_applicable
    m2 = evaluate(model, data, config=CHEAP.replace(fgsm=False, fairness_gap_split="test",
                                                    fairness_gap_statistic="std"), device="cpu")
    assert m2.fairness_gap.split == "test" and m2.fairness_gap.statistic == "std"
    assert m2.fairness_gap.class_counts == torch.bincount(data.test.y, minlength=10).tolist()


def _split(y, a, logits=None, losses=None):
    y, a = torch.as_tensor(y), torch.as_tensor(a)
    logits = F.one_hot(y, 2).float() * 3 if logits is None else logits
    losses = F.cross_entropy(logits, y, reduction="none") if losses is None else losses
    return SplitOutputs(logits, losses, y, a)


def test_derivation_edge_cases_empty_forget_one_class_constant_predictions():
    retain = _split([0, 1, 0, 1, 1, 0], [0, 1, 1, 0, 0, 1])
    empty = SplitOutputs(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long),
                         torch.zeros(0, dtype=torch.long))
    one_class = _split([0, 0, 0, 0], [0, 1, 0, 1], logits=torch.tensor([[2.0, 0.0]] * 3 + [[0.0, 2.0]]))
    m = metrics_from_outputs({"retain": retain, "forget": empty, "test": one_class}, n_classes=2, n_attrs=2,
                             dominant_groups=[(1, 0)], config=MetricConfig(mia_protocols=("efficacy",)))
    for k in ("FA", "UA", "LT_AUC", "LT_TPR1", "MIA", "MIA_AUC"):
        assert m.not_applicable[k] == "the forget set is empty", k
    assert "positive (y=1) test sample" in m.not_applicable["EP"]
    assert "no test sample belongs to the dominant forget group" in m.not_applicable["GA"]
    assert m["EO"] == pytest.approx(50.0) and any("left out" in n for n in m.notes)  # t=0 cells only
    assert "y=1,a=0" not in m.group_acc and m.group_counts["y=1,a=0"] == 0
    assert any("groups without test samples" in n for n in m.notes)
    const = _split([0, 1, 0, 1], [0, 0, 1, 1], logits=torch.tensor([[0.0, 1.0]] * 4))
    m = metrics_from_outputs({"retain": retain, "forget": retain, "test": const}, n_classes=2, n_attrs=2,
                             dominant_groups=[(1, 0)], config=CHEAP)
    assert m["DP"] == 0.0 and m["EP"] == 0.0 and m["EO"] == 0.0 and m["TA"] == 50.0 and m["WG"] == 0.0
    nan = _split([0, 1], [0, 1], logits=torch.full((2, 2), float("nan")))
    m = metrics_from_outputs({"retain": retain, "forget": nan, "test": const}, n_classes=2, n_attrs=2,
                             dominant_groups=[(1, 0)], config=CHEAP)
    assert "not finite" in m.not_applicable["LT_AUC"]


@pytest.mark.slow
def test_full_preset(digits_original, digits_data):
    m = evaluate(digits_original, digits_data, config=MetricConfig.preset("full"), device="cpu")
    assert set(m.adversarial["fgsm"]) == {"0.00392157", "0.00784314", "0.0156863", "0.0313725"}
    accs = [m.adversarial["fgsm"][k] for k in ("0.00392157", "0.00784314", "0.0156863", "0.0313725")]
    assert accs[0] >= accs[-1]
    assert {"MIA_GRMU", "MIA_SVC"} <= set(m.values)
    assert m.mia["grmu"]["config"]["criterion"] in ("gini", "entropy")
    assert ModelMetrics.from_dict(json.loads(json.dumps(m.to_dict(), allow_nan=False))) == m


def test_argument_validation(digits_original, digits_data):
    with pytest.raises(TypeError, match="AuditData"):
        evaluate(digits_original, digits_data.test)
    with pytest.raises(TypeError, match="MetricConfig"):
        evaluate(digits_original, digits_data, config={"pgd": False})
    with pytest.raises(TypeError, match="nn.Module"):
        evaluate(lambda x: x, digits_data)


def test_logits_of_the_wrong_width_or_non_finite_are_clear_errors(digits_original, digits_data):
    from unlearn_audit.models import SmallConvNet

    cfg = MetricConfig(fgsm=False, pgd=False, mia_protocols=())
    wide = SmallConvNet(5, width=4, mean=digits_data.train.mean, std=digits_data.train.std)
    with pytest.raises(ValueError, match=r"model: returned logits of shape \(\d+, 5\) on split .*expected "
                                         r"\(batch, 2\)"):
        evaluate(wide, digits_data, config=cfg, device="cpu")
    broken = copy.deepcopy(digits_original)
    with torch.no_grad():
        broken.head.bias.fill_(float("inf"))
    with pytest.raises(ValueError, match="model: returned NaN or inf logits for .* samples of split"):
        evaluate(broken, digits_data, config=cfg, device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_path_agrees_with_cpu_and_returns_the_model(digits_original, digits_data):
    model = copy.deepcopy(digits_original).cpu()
    cfg = MetricConfig(pgd_steps=3)
    cpu = evaluate(model, digits_data, config=cfg, device="cpu")
    gpu = evaluate(model, digits_data, config=cfg, device="cuda")  # bf16 autocast, channels_last
    assert next(model.parameters()).device.type == "cpu"  # moved back
    for k in ("RA", "TA", "FA", "GA", "FGSM", "PGD"):
        assert gpu[k] == pytest.approx(cpu[k], abs=3.0), k
    assert gpu["FG"] == pytest.approx(cpu["FG"], rel=0.05)
    fp32 = evaluate(model, digits_data, config=cfg.replace(amp=False), device="cuda")
    assert fp32["FG"] == pytest.approx(cpu["FG"], rel=1e-3) and fp32["TA"] == pytest.approx(cpu["TA"], abs=0.6)
