"""Datasets: embedded defaults (no download) and loaders for local copies of public benchmarks."""

from ._arrests import arrests
from ._colored_digits import colored_digits
from ._decode import PrepareError
from ._local import celeba, cifar10, fairface, waterbirds
from ._prepare import PreparedStore, prepare_images, prepare_table
from ._prepare_local import prepare_local

__all__ = ["PrepareError", "PreparedStore", "arrests", "celeba", "cifar10", "colored_digits", "fairface",
           "prepare_images", "prepare_local", "prepare_table", "waterbirds"]
