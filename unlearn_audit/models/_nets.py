"""Reference models. Each applies its input normalization in ``forward`` (attacks work in pixel space) and
exposes ``embed(x)`` (the features entering the classifier) and ``head`` (the final ``nn.Linear``), which
last-layer methods (influence functions, soft weights, MIU) use."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ._normalize import Normalize

__all__ = ["SmallConvNet", "TabularMLP", "resnet18", "resnet18_small"]


def _conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SmallConvNet(nn.Module):
    """A 4-block conv net with BatchNorm for small (e.g. 16x16) images, about 100k parameters at width 32.

    Architecture: Normalize -> [conv3x3-BN-ReLU](w) -> [..](2w) -> maxpool -> [..](2w) -> maxpool -> [..](3w)
    -> global average pool -> Linear(3w, n_classes).
    """

    def __init__(self, n_classes: int, *, in_channels: int = 3, width: int = 32,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        w = width
        self.features = nn.Sequential(
            _conv_bn(in_channels, w), _conv_bn(w, 2 * w), nn.MaxPool2d(2),
            _conv_bn(2 * w, 2 * w), nn.MaxPool2d(2), _conv_bn(2 * w, 3 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(3 * w, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


class TabularMLP(nn.Module):
    """An MLP with LayerNorm for standardized tabular features: [Linear-LayerNorm-ReLU] x len(hidden) -> Linear."""

    def __init__(self, in_features: int, n_classes: int, *, hidden: Sequence[int] = (64, 64),
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        layers: list[nn.Module] = []
        d = in_features
        for h in hidden:
            layers += [nn.Linear(d, h), nn.LayerNorm(h), nn.ReLU()]
            d = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(d, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


class _ResNet18(nn.Module):
    def __init__(self, n_classes: int, mean: Sequence[float] | None, std: Sequence[float] | None, *,
                 small_stem: bool) -> None:
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=n_classes)
        if small_stem:
            net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        self.head = net.fc
        net.fc = nn.Identity()
        self.normalize = Normalize(mean, std)
        self.backbone = net

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def resnet18_small(n_classes: int, *, mean: Sequence[float] | None = None,
                   std: Sequence[float] | None = None) -> nn.Module:
    """torchvision's ResNet-18 (random init, no download) adapted to small images: 3x3 stride-1 stem, no max-pool."""
    return _ResNet18(n_classes, mean, std, small_stem=True)


def resnet18(n_classes: int, *, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> nn.Module:
    """torchvision's ResNet-18 as is (7x7 stride-2 stem and max-pool; random init, no download), for 64-224 px
    images, with the normalization inside ``forward``."""
    return _ResNet18(n_classes, mean, std, small_stem=False)
