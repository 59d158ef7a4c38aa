"""Reference models: shapes, input normalization inside forward, head/embedding split."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unlearn_audit.models import Normalize, SmallConvNet, TabularMLP, find_head, head_and_embedding, resnet18_small

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_small_convnet_shapes_and_size():
    torch.manual_seed(0)
    net = SmallConvNet(2, width=32).eval()
    x = torch.rand(4, 3, 16, 16)
    assert net(x).shape == (4, 2)
    assert net.embed(x).shape == (4, 96)
    assert 80_000 <= _n_params(net) <= 130_000  # "about 100k parameters" at width 32
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert SmallConvNet(10, width=8, in_channels=1).eval()(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_tabular_mlp_shapes():
    net = TabularMLP(6, 3, hidden=(16, 8)).eval()
    assert net(torch.randn(5, 6)).shape == (5, 3)
    assert net.embed(torch.randn(5, 6)).shape == (5, 8)
    assert sum(isinstance(m, nn.LayerNorm) for m in net.modules()) == 2


def test_resnet18_small_shapes():
    torch.manual_seed(0)
    net = resnet18_small(10, mean=MEAN, std=STD).eval()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert net(x).shape == (2, 10)
        assert net.embed(x).shape == (2, 512)
    assert isinstance(net.head, nn.Linear) and net.head.out_features == 10
    assert net.backbone.conv1.stride == (1, 1) and isinstance(net.backbone.maxpool, nn.Identity)


@pytest.mark.parametrize("make, shape", [
    (lambda mean, std: SmallConvNet(2, width=8, mean=mean, std=std), (3, 3, 8, 8)),
    (lambda mean, std: TabularMLP(3, 2, mean=mean, std=std), (3, 3)),
])
def test_normalization_inside_forward(make, shape):
    """A model built with mean/std takes pixel-space input: f(x) == f_plain((x - mean) / std)."""
    torch.manual_seed(0)
    with_norm = make(MEAN, STD).eval()
    plain = make(None, None).eval()
    plain.load_state_dict(with_norm.state_dict())
    x = torch.rand(*shape)
    view = (1, -1) + (1,) * (x.ndim - 2)
    x_norm = (x - torch.tensor(MEAN).view(view)) / torch.tensor(STD).view(view)
    with torch.no_grad():
        torch.testing.assert_close(with_norm(x), plain(x_norm))
        assert not torch.allclose(with_norm(x), plain(x))


def test_normalize_module():
    assert torch.equal(Normalize()(torch.ones(2, 3)), torch.ones(2, 3))
    out = Normalize((1.0, 2.0), (2.0, 4.0))(torch.tensor([[3.0, 6.0]]))
    assert out.tolist() == [[1.0, 1.0]]
    assert "mean" not in Normalize((0.5,), (0.5,)).state_dict()  # not persisted: checkpoints stay architecture-only


def test_embed_then_head_is_forward():
    torch.manual_seed(0)
    net = SmallConvNet(2, width=8, mean=MEAN, std=STD).eval()
    x = torch.rand(3, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(net.head(net.embed(x)), net(x))


def test_find_head_explicit():
    net = SmallConvNet(2, width=8)
    assert find_head(net) == ("head", net.head)


def test_find_head_and_embedding_hook_path_matches_explicit():
    """A model without .head/.embed: the last nn.Linear is the head and a hook captures its input."""
    torch.manual_seed(0)
    net = SmallConvNet(2, width=8, mean=MEAN, std=STD).eval()
    seq = nn.Sequential(net.normalize, net.features, net.head).eval()  # same modules, no attributes
    name, head = find_head(seq)
    assert name == "2" and head is net.head
    head2, embed = head_and_embedding(seq)
    head1, explicit = head_and_embedding(net)
    assert head1 is head2 is net.head
    x = torch.rand(4, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(embed(x), explicit(x), rtol=0, atol=0)
        torch.testing.assert_close(head2(embed(x)), seq(x))
    assert not seq[2]._forward_hooks  # the hook is removed after use


def test_find_head_non_linear_head_attribute_falls_back():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model.head = nn.Identity()  # not an nn.Linear: ignored
    name, head = find_head(model)
    assert name == "2" and head is model[2]


def test_find_head_without_linear():
    with pytest.raises(ValueError, match=r"^model: Sequential has no nn.Linear layer"):
        find_head(nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten()))
