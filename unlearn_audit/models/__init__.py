"""Reference models; each normalizes its input inside ``forward`` and exposes ``embed`` and ``head``."""

from ._nets import SmallConvNet, TabularMLP, resnet18, resnet18_small
from ._normalize import Normalize
from ._split import find_head, head_and_embedding

__all__ = ["Normalize", "SmallConvNet", "TabularMLP", "find_head", "head_and_embedding", "resnet18",
           "resnet18_small"]
