"""Imports every built-in method module so that each registers itself (loaded lazily by the registry)."""

from __future__ import annotations

import importlib
import importlib.util

# One module per method family, in the order of the README's method table.
_MODULES = ("_retrain", "_finetune", "_gradient", "_relabel", "_l1_sparse", "_boundary", "_distill", "_fisher",
            "_ssd", "_influence", "_miu", "_soft_variants")

for _name in _MODULES:
    if importlib.util.find_spec(f"{__package__}.{_name}") is not None:
        importlib.import_module(f"{__package__}.{_name}")
