"""``boundary_shrink`` / ``boundary_expand`` (Chen et al. 2023, spec B7 / D2) on the memorisation setup."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from unlearn_audit.data import GroupDataset
from unlearn_audit.methods import get_method
from unlearn_audit.methods._boundary import fgsm_neighbours

from ._contract import MethodContract
from ._memorise import accuracy, context, memorisation_setup, state_hash, unlearn

# Measured on the memorisation setup (setup seed 0, method seed 0, CPU; original FA 1.000 / RA 1.000):
#   boundary_shrink  FA 0.025  RA 0.976  attack success 1.00  (method seeds 1, 2: FA 0.050 / 0.075,
#                    RA 0.978 / 0.961)
#   boundary_expand  FA 0.400  RA 0.991  (seeds 1, 2: FA 0.525 / 0.350, RA 0.998 / 0.989)
BOUNDS = {"boundary_shrink": (0.4, 0.9), "boundary_expand": (0.75, 0.93)}
FAST = {"boundary_shrink": {"epochs": 2}, "boundary_expand": {"epochs": 2}}


class TestBoundaryContract(MethodContract):
    BOUNDS = BOUNDS
    FAST = FAST

    def test_boundary_shrink_logs_the_attack_success_rate(self, default_runs):
        _, ctx, _, _ = default_runs["boundary_shrink"]
        _, y_nb = fgsm_neighbours(ctx.original, ctx.forget, bound=0.1)
        assert ctx.log["attack_success_rate"] == pytest.approx(float((y_nb != ctx.forget.y).float().mean()))
        assert ctx.log["attack_success_rate"] >= 0.9  # measured 1.00 on this setup


def test_fgsm_on_images_stays_in_pixel_space_on_the_255_grid():
    ctx = context(0)
    forget = ctx.forget
    x_adv, y_nb = fgsm_neighbours(ctx.original, forget, bound=0.1)
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    assert torch.allclose(x_adv * 255, (x_adv * 255).round(), atol=1e-4)
    assert float((x_adv - forget.x).abs().max()) <= 0.1 + 0.5 / 255 + 1e-6
    with torch.no_grad():
        assert torch.equal(y_nb, ctx.original(x_adv).argmax(1))
    raw, _ = fgsm_neighbours(ctx.original, forget, bound=0.1, quantize=False)
    assert not torch.allclose(raw * 255, (raw * 255).round(), atol=1e-4)


def test_fgsm_on_tabular_data_neither_clamps_nor_quantizes():
    torch.manual_seed(0)
    x = torch.rand(32, 5)  # in [0, 1], so a clamp to [0, 1] would show
    ds = GroupDataset(x, torch.randint(0, 3, (32,)), torch.zeros(32, dtype=torch.long), n_classes=3)
    net = nn.Sequential(nn.Linear(5, 3)).eval()
    x_adv, _ = fgsm_neighbours(net, ds, bound=0.25)
    step = (x_adv - x).abs()
    assert torch.allclose(step[step > 0], torch.full_like(step[step > 0], 0.25))
    assert float(x_adv.min()) < 0.0 and float(x_adv.max()) > 1.0
    assert all(p.grad is None for p in net.parameters())


def test_boundary_expand_restores_the_original_head():
    setup = memorisation_setup()
    model = copy.deepcopy(setup.original)
    head = model.head
    out = get_method("boundary_expand", **FAST["boundary_expand"])(model, context(0))
    assert out.head is head and head.out_features == 10 and head.weight.shape == (10, head.in_features)
    assert {k: v.shape for k, v in out.state_dict().items()} == \
        {k: v.shape for k, v in setup.original.state_dict().items()}
    assert not torch.equal(head.weight, setup.original.head.weight)
    with torch.no_grad():
        assert out(setup.data.forget.x[:4]).shape == (4, 10)


def test_errors_name_the_method_and_argument():
    setup = memorisation_setup()
    for name in BOUNDS:
        with pytest.raises(ValueError, match=f"method '{name}': does not support sample_weights"):
            unlearn(name, seed=0, sample_weights=torch.zeros(len(setup.data.train)))
        with pytest.raises(ValueError, match=f"method '{name}': does not support retain_weights"):
            unlearn(name, seed=0, retain_weights=torch.ones(len(setup.data.retain)))
        with pytest.raises(ValueError, match=f"method '{name}': cannot be combined with \\+reweight"):
            get_method(f"{name}+reweight")
    with pytest.raises(ValueError, match="BoundaryShrinkParams.bound: expected a number > 0"):
        get_method("boundary_shrink", bound=0)

    class NoLinear(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 10, 8)

        def forward(self, x):
            return self.conv(x).flatten(1)

    with pytest.raises(ValueError, match="method 'boundary_expand': model: NoLinear has no nn.Linear layer"):
        get_method("boundary_expand")(NoLinear(), context(0))

    class Hidden(nn.Module):
        """Calls its head through a reference the widening cannot replace."""

        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(192, 10)
            self._calls = [self.head]

        def forward(self, x):
            return self._calls[0](x.flatten(1))

    net = Hidden()
    with pytest.raises(ValueError, match="method 'boundary_expand': widening the head 'head' did not change"):
        get_method("boundary_expand")(net, context(0))
    assert net.head is net._calls[0]  # restored
