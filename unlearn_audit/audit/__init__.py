"""Audit runner: ``AuditSpec`` -> ``run_audit`` -> ``AuditReport``, with a content-addressed cache, threshold
checks (``Check`` / ``Thresholds``) and the ``smoke`` / ``ci`` / ``full`` profiles."""

from ..report import Finding, Status
from ._cache import Cache
from ._profiles import DEFAULT_METHODS, DEFAULT_REFERENCES, PROFILES, Profile
from ._runner import MethodFailure, reference_for, run_audit
from ._spec import DEFAULT_CACHE_DIR, AuditSpec, default_recipe
from ._thresholds import DEFAULT_CHECKS, METRIC_ALIASES, Check, ThresholdError, Thresholds, noise_floor, resolve_metric

__all__ = ["DEFAULT_CACHE_DIR", "DEFAULT_CHECKS", "DEFAULT_METHODS", "DEFAULT_REFERENCES", "METRIC_ALIASES",
           "PROFILES", "AuditSpec", "Cache", "Check", "Finding", "MethodFailure", "Profile", "Status",
           "ThresholdError", "Thresholds", "default_recipe", "noise_floor", "reference_for", "resolve_metric",
           "run_audit"]
