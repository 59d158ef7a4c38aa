"""FGSM / PGD (spec A8) against straightforward reference implementations written here."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unlearn_audit.data import GroupDataset
from unlearn_audit.metrics import adversarial_accuracy, fgsm, pgd
from unlearn_audit.models import SmallConvNet, TabularMLP


def _image_model(seed=0):
    torch.manual_seed(seed)
    model = SmallConvNet(3, width=4, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


def _images(n=37, seed=0):
    g = torch.Generator().manual_seed(seed)
    return GroupDataset(torch.rand(n, 3, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g),
                        torch.randint(0, 2, (n,), generator=g), n_classes=3, n_attrs=2)


def _reference_fgsm(model, x, y, eps, clamp=True):
    """The textbook version: eval mode, mean CE, backward, one signed step, clip to [0, 1]."""
    model.eval()
    x = x.clone().requires_grad_(True)
    F.cross_entropy(model(x), y).backward()
    x_adv = x + eps * x.grad.sign()
    return (x_adv.clamp(0, 1) if clamp else x_adv).detach()


def _reference_pgd(model, x, y, eps, steps, step, seed):
    model.eval()
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed))
    x_adv = (x + (2 * noise - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        x_adv = x_adv.clone().requires_grad_(True)
        F.cross_entropy(model(x_adv), y).backward()
        x_adv = x_adv + step * x_adv.grad.sign()
        x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0, 1).detach()
    return x_adv


@pytest.mark.parametrize("eps", [1 / 255, 8 / 255, 0.1])
def test_fgsm_matches_reference(eps):
    for seed in range(3):
        model, ds = _image_model(seed), _images(seed=seed)
        got = fgsm(model, ds.x, ds.y, eps=eps)
        want = _reference_fgsm(_image_model(seed), ds.x, ds.y, eps)
        assert torch.allclose(got, want, atol=1e-6)
        assert float((got - ds.x).abs().max()) <= eps + 1e-6
        assert float(got.min()) >= 0.0 and float(got.max()) <= 1.0


def test_fgsm_tabular_has_no_clamp():
    torch.manual_seed(0)
    model = TabularMLP(5, 2).eval()
    x, y = torch.randn(50, 5) * 3, torch.randint(0, 2, (50,))
    got = fgsm(model, x, y, eps=0.1)
    assert torch.allclose(got, _reference_fgsm(model, x, y, 0.1, clamp=False), atol=1e-6)
    assert float(got.max()) > 1.0 and float(got.min()) < 0.0  # not clamped to [0, 1]


def test_pgd_matches_reference_and_is_seeded():
    model, ds = _image_model(1), _images(seed=1)
    eps, steps = 8 / 255, 5
    got = pgd(model, ds.x, ds.y, eps=eps, steps=steps, seed=7)
    want = _reference_pgd(_image_model(1), ds.x, ds.y, eps, steps, 2.5 * eps / steps, 7)
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.equal(got, pgd(model, ds.x, ds.y, eps=eps, steps=steps, seed=7))
    assert not torch.equal(got, pgd(model, ds.x, ds.y, eps=eps, steps=steps, seed=8))
    assert float((got - ds.x).abs().max()) <= eps + 1e-6
    one_step = pgd(model, ds.x, ds.y, eps=eps, steps=1, step_size=eps, random_start=False)
    assert torch.allclose(one_step, fgsm(model, ds.x, ds.y, eps=eps), atol=1e-7)  # PGD-1 from x = FGSM


def test_attacks_leave_the_model_untouched_even_in_train_mode():
    model = _image_model(2).train()
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ds = _images(seed=2)
    got = fgsm(model, ds.x, ds.y, eps=8 / 255)
    assert torch.allclose(got, _reference_fgsm(_image_model(2), ds.x, ds.y, 8 / 255), atol=1e-6)  # eval mode
    pgd(model, ds.x, ds.y, eps=8 / 255, steps=2)
    adversarial_accuracy(model, ds, attack="pgd", steps=2)
    assert all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in model.parameters())


def test_adversarial_accuracy_matches_per_batch_reference():
    model, ds = _image_model(3), _images(n=50, seed=3)
    for eps in (2 / 255, 8 / 255):
        x_adv = _reference_fgsm(_image_model(3), ds.x, ds.y, eps)
        with torch.no_grad():
            want = 100 * float((model(x_adv).argmax(1) == ds.y).float().mean())
        assert adversarial_accuracy(model, ds, eps=eps, batch_size=16) == pytest.approx(want)
        assert adversarial_accuracy(model, ds, eps=eps, batch_size=50) == pytest.approx(want)
    acc_pgd = adversarial_accuracy(model, ds, attack="pgd", eps=8 / 255, steps=3, batch_size=16, seed=4)
    parts = [pgd(model, ds.x[i:i + 16], ds.y[i:i + 16], eps=8 / 255, steps=3, seed=4 + i) for i in range(0, 50, 16)]
    with torch.no_grad():
        want = 100 * float((model(torch.cat(parts)).argmax(1) == ds.y).float().mean())
    assert acc_pgd == pytest.approx(want)


def test_adversarial_accuracy_subset_and_validation():
    model, ds = _image_model(0), _images(n=40)
    a = adversarial_accuracy(model, ds, max_samples=10, seed=1)
    assert a == adversarial_accuracy(model, ds, max_samples=10, seed=1)
    assert a * 10 / 100 == pytest.approx(round(a * 10 / 100))  # an accuracy over 10 samples
    with pytest.raises(ValueError, match="attack"):
        adversarial_accuracy(model, ds, attack="cw")
    with pytest.raises(ValueError, match="eps"):
        adversarial_accuracy(model, ds, eps=0.0)
