"""Audit runner: ``AuditSpec`` -> ``run_audit`` -> ``AuditReport``, with a content-addressed cache, threshold
checks (``Check`` / ``Thresholds``) and the ``smoke`` / ``ci`` / ``full`` profiles."""

from __future__ import annotations

import importlib
from typing import Any

# Imported lazily (PEP 562): the torch-free parts (metric metadata, thresholds) import without torch.
_LAZY: dict[str, str] = {
    "Finding": "..report",
    "Status": "..report",
    "Cache": "._cache",
    "DEFAULT_METHODS": "._profiles",
    "DEFAULT_REFERENCES": "._profiles",
    "PROFILES": "._profiles",
    "Profile": "._profiles",
    "MethodFailure": "._runner",
    "reference_for": "._runner",
    "run_audit": "._runner",
    "REFERENCE_AUDITS": "._reference_recipes",
    "reference_spec": "._reference_recipes",
    "ExecutorError": ".executors",
    "EXECUTOR_NAMES": ".executors",
    "get_executor": ".executors",
    "DEFAULT_CACHE_DIR": "._spec",
    "AuditSpec": "._spec",
    "default_recipe": "._spec",
    "DEFAULT_CHECKS": "._thresholds",
    "METRIC_ALIASES": "._thresholds",
    "Check": "._thresholds",
    "ThresholdError": "._thresholds",
    "Thresholds": "._thresholds",
    "DEFAULT_LEVEL": "._thresholds",
    "resolve_metric": "._thresholds",
}

__all__ = ["DEFAULT_CACHE_DIR", "DEFAULT_CHECKS", "DEFAULT_METHODS", "DEFAULT_REFERENCES", "METRIC_ALIASES",
           "PROFILES", "AuditSpec", "Cache", "Check", "Finding", "MethodFailure", "Profile", "Status",
           "ThresholdError", "Thresholds", "default_recipe", "DEFAULT_LEVEL", "reference_for", "resolve_metric",
           "run_audit", "REFERENCE_AUDITS", "reference_spec", "ExecutorError", "EXECUTOR_NAMES", "get_executor"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
