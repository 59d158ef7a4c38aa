"""unlearn-audit: audit machine unlearning for fairness, robustness and privacy.

The public API is curated here and imported lazily, so ``import unlearn_audit`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # data
    "GroupDataset": "unlearn_audit.data", "AuditData": "unlearn_audit.data",
    "forget_from_groups": "unlearn_audit.data", "forget_random": "unlearn_audit.data",
    "forget_class": "unlearn_audit.data",
    # training
    "TrainRecipe": "unlearn_audit.training", "fit": "unlearn_audit.training",
    # metrics
    "evaluate": "unlearn_audit.metrics", "MetricConfig": "unlearn_audit.metrics",
    "ModelMetrics": "unlearn_audit.metrics",
    # methods
    "METHODS": "unlearn_audit.methods", "get_method": "unlearn_audit.methods",
    "register_method": "unlearn_audit.methods", "UnlearnContext": "unlearn_audit.methods",
    "as_method": "unlearn_audit.methods",
    # audit
    "AuditSpec": "unlearn_audit.audit", "run_audit": "unlearn_audit.audit", "Thresholds": "unlearn_audit.audit",
    "Check": "unlearn_audit.audit", "Finding": "unlearn_audit.audit",
    # report
    "AuditReport": "unlearn_audit.report",
}
_SUBMODULES = {"data", "datasets", "models", "training", "metrics", "methods", "audit", "report", "cli"}

__all__ = sorted(_LAZY) + sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"unlearn_audit.{name}")
    raise AttributeError(f"module 'unlearn_audit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
