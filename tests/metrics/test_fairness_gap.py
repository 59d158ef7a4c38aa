"""Fairness-gap (spec A7): the streaming float64 statistics against a naive implementation that stores every
activation, on BatchNorm2d / GroupNorm / InstanceNorm conv nets, LayerNorm (flat and over tokens) and BatchNorm1d."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from unlearn_audit.data import GroupDataset
from unlearn_audit.metrics import (FairnessGap, NotApplicableError, fairness_gap, fairness_gap_change,
                                   norm_layers)


def _randomize_norm_stats(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
        if getattr(m, "weight", None) is not None and isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d)):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g))
    return model.eval()


class _Tokens(nn.Module):
    """(N, D) -> (N, T, D) -> LayerNorm over the last dim (a sequence model's layout)."""

    def __init__(self, d: int, t: int = 5) -> None:
        super().__init__()
        self.proj = nn.Linear(d, d * t)
        self.t, self.d = t, d
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, 3)

    def forward(self, x):
        return self.head(self.ln(self.proj(x).view(-1, self.t, self.d)).mean(1))


def _conv(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 8, 3),
                         nn.GroupNorm(2, 8), nn.Conv2d(8, 4, 1), nn.InstanceNorm2d(4, affine=True),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


def _mlp(seed, norm):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(7, 16), norm(16), nn.ReLU(), nn.Linear(16, 12), norm(12), nn.Linear(12, 3))


def _tokens(seed):
    torch.manual_seed(seed)
    return _Tokens(7)


def _data(kind: str, seed: int, n: int = 90) -> GroupDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 8, 8, generator=g) if kind == "image" else torch.randn(n, 7, generator=g) * 2 + 1
    y = torch.randint(0, 3, (n,), generator=g)
    return GroupDataset(x, y, torch.randint(0, 2, (n,), generator=g), n_classes=3, n_attrs=2)


def _naive(model: nn.Module, ds: GroupDataset, statistic: str = "var", min_count: int = 2,
           batch_size: int = 13) -> dict[str, float]:
    """Store every normalization output, then per class: variance per feature, mean over features, max - min.
    (Same batches as the streaming pass, so that both see bitwise-identical float32 activations.)"""
    acts: dict[str, list[torch.Tensor]] = {name: [] for name, _ in norm_layers(model)}
    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: acts[name].append(o.detach().double()))
             for name, m in norm_layers(model)]
    with torch.no_grad():
        for i in range(0, len(ds), batch_size):
            model(ds.x[i:i + batch_size])
    for h in hooks:
        h.remove()
    out = {}
    for name, mod in norm_layers(model):
        o = torch.cat(acts[name])
        # rows = (sample, position) pairs, columns = features
        feats = o.reshape(-1, o.shape[-1]) if isinstance(mod, nn.LayerNorm) else \
            o.movedim(1, -1).reshape(-1, o.shape[1])
        per_row_y = ds.y.repeat_interleave(feats.shape[0] // len(ds))
        sig = []
        for c in range(ds.n_classes):
            if int((ds.y == c).sum()) < min_count:
                continue
            v = feats[per_row_y == c].var(0, unbiased=False)
            sig.append(float((v.sqrt() if statistic == "std" else v).mean()))
        out[name] = max(sig) - min(sig)
    return out


CASES = [("conv", "image", _conv), ("layernorm", "tab", lambda s: _mlp(s, nn.LayerNorm)),
         ("batchnorm1d", "tab", lambda s: _mlp(s, nn.BatchNorm1d)), ("tokens", "tab", _tokens)]


@pytest.mark.parametrize("name,kind,make", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("statistic", ["var", "std"])
def test_streaming_matches_naive(name, kind, make, statistic):
    for seed in range(3):
        model = _randomize_norm_stats(make(seed), seed)
        ds = _data(kind, seed)
        want = _naive(model, ds, statistic)
        fg = fairness_gap(model, ds, statistic=statistic, batch_size=13)  # streaming over uneven batches
        assert fg.layer_names == list(want)
        # float32 per-sample partial sums: agreement to float32 precision of the class variances
        tol = 1e-6 * max(v for row in fg.class_sigma for v in row if v is not None)
        assert fg.values == pytest.approx(list(want.values()), rel=1e-5, abs=tol)
        assert fg.mean == pytest.approx(sum(want.values()) / len(want), rel=1e-5, abs=tol)
        assert fg.max == pytest.approx(max(want.values()), rel=1e-5, abs=tol)
        assert fg.statistic == statistic and fg.split == "retain"
        assert all(v >= 0 for v in fg.values)


def test_large_feature_means_do_not_cancel():
    """Features with mean ~1000 and class variances ~1: the per-feature shift keeps float32 partial sums exact
    enough (without it, E[o^2] - E[o]^2 in float32 would be off by ~0.1)."""
    model = _randomize_norm_stats(_mlp(2, nn.LayerNorm), 2)
    with torch.no_grad():
        model[1].bias.add_(1000.0)
        model[4].bias.sub_(500.0)
    ds = _data("tab", 2, n=300)
    want = _naive(model, ds)
    assert fairness_gap(model, ds, batch_size=13).values == pytest.approx(list(want.values()), rel=1e-4, abs=1e-5)


class _FlatTokens(_Tokens):
    """LayerNorm applied to a flattened (N * T, D) view, plus a BatchNorm1d over (N * T, D) rows."""

    def __init__(self, d: int, t: int = 5) -> None:
        super().__init__(d, t)
        self.bn = nn.BatchNorm1d(d)

    def forward(self, x):
        h = self.ln(self.proj(x).view(-1, self.d))  # (N * T, D)
        return self.head(self.bn(h).view(-1, self.t, self.d).mean(1))


def test_flattened_token_layouts():
    torch.manual_seed(0)
    ds = _data("tab", 0)
    flat, tokens = _randomize_norm_stats(_FlatTokens(7), 0), _Tokens(7)
    tokens.load_state_dict({k: v for k, v in flat.state_dict().items() if not k.startswith("bn.")})
    with pytest.warns(UserWarning, match=r"layers \['bn'\] are skipped"):
        fg = fairness_gap(flat, ds, batch_size=13)
    assert fg.layer_names == ["ln"]  # LayerNorm rows regrouped per sample; BatchNorm1d rows cannot be
    assert fg.values == pytest.approx(fairness_gap(tokens.eval(), ds, batch_size=13).values, rel=1e-6)


def test_layer_filter_split_label_and_batch_invariance():
    model = _randomize_norm_stats(_conv(0), 0)
    ds = _data("image", 0)
    full = fairness_gap(model, ds, batch_size=13)
    only = fairness_gap(model, ds, layers=r"^4$", split_name="test", batch_size=13)
    assert only.layer_names == ["4"] and only.split == "test"
    assert only.values == pytest.approx([full.values[1]], rel=1e-9)
    # other batches change the float32 activations in the last bits only
    assert fairness_gap(model, ds, batch_size=1000).values == pytest.approx(full.values, rel=1e-3, abs=1e-7)


def test_class_with_too_few_samples_is_skipped_with_a_warning():
    model = _randomize_norm_stats(_mlp(1, nn.LayerNorm), 1)
    ds = _data("tab", 1)
    y = ds.y.clone()
    y[y == 2] = 0
    y[0] = 2  # class 2 has a single sample
    ds1 = GroupDataset(ds.x, y, ds.a, n_classes=3, n_attrs=2)
    with pytest.warns(UserWarning, match=r"classes \[2\]"):
        fg = fairness_gap(model, ds1, batch_size=13)
    assert fg.skipped_classes == [2] and fg.class_counts[2] == 1
    assert all(row[2] is None for row in fg.class_sigma)
    assert fg.values == pytest.approx(list(_naive(model, ds1).values()), rel=1e-5, abs=1e-7)


def test_not_applicable_without_normalization_or_classes():
    ds = _data("tab", 0)
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(7, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(NotApplicableError, match="no normalization layer"):
        fairness_gap(plain, ds)
    with pytest.raises(NotApplicableError, match="matching"):
        fairness_gap(_mlp(0, nn.LayerNorm), ds, layers="nothing-matches")
    one_class = GroupDataset(ds.x, torch.zeros(len(ds), dtype=torch.long), ds.a, n_classes=3, n_attrs=2)
    with pytest.raises(NotApplicableError, match="fewer than two classes"):
        fairness_gap(_mlp(0, nn.LayerNorm), one_class)


def test_model_state_is_unchanged():
    model = _conv(0).train()
    model[4].eval()  # mixed modes must survive
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fairness_gap(model, _data("image", 0))
    assert model.training and not model[4].training and model[1].training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats and counters untouched
    assert not any(m._forward_hooks for m in model.modules())  # hooks removed


def test_change_and_serialization():
    org = FairnessGap(layer_names=["a", "b", "c"], values=[0.2, 0.0, 0.5])
    cur = FairnessGap(layer_names=["a", "b", "c"], values=[0.3, 0.1, 0.25])
    ch = fairness_gap_change(cur, org)
    assert ch.delta == pytest.approx([0.1, 0.1, -0.25])
    assert ch.relative[0] == pytest.approx(0.5) and ch.relative[1] is None and ch.relative[2] == pytest.approx(0.5)
    assert ch.mean_relative == pytest.approx(0.5)
    assert fairness_gap_change(org, org.to_dict()).delta == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="different layers"):
        fairness_gap_change(FairnessGap(layer_names=["a"], values=[0.1]), org)
    fg = fairness_gap(_randomize_norm_stats(_conv(0), 0), _data("image", 0))
    back = FairnessGap.from_dict(json.loads(json.dumps(fg.to_dict(), allow_nan=False)))
    assert back == fg
    assert type(ch).from_dict(json.loads(json.dumps(ch.to_dict()))) == ch
