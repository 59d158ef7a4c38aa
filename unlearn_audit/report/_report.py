"""``AuditReport``: the audit's results as data; rendering lives in ``_rich``, ``_html`` and ``_checklist``."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._json import json_safe
from ._findings import Finding, Status

__all__ = ["ModelRecord", "AuditReport", "SCHEMA_VERSION", "atomic_write_text"]

SCHEMA_VERSION = 1
Role = Literal["original", "reference", "method", "user"]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temp file in the same folder and ``os.replace``: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(kw_only=True)
class ModelRecord:
    """One audited model for one seed.

    Attributes:
        name: ``"original"``, a reference (``"retrain"``, ``"retrain+reweight"``), a suite method or the user's.
        role: original / reference / method / user.
        seed: the seed it was produced with.
        reference: the reference its gaps and findings are computed against (spec A5/D5), ``None`` for references
            and the original.
        status: ``"ok"`` or ``"failed"`` (a method that raised or returned something unusable).
        error: why it failed.
        metrics: ``ModelMetrics.to_dict()`` (keys ``values``, ``not_applicable``, ``group_acc``, ...), or ``None``.
        hyperparams: the method's hyper-parameters.
        seconds: wall time to produce the model (0 when cached).
        cached: whether it came from the cache.
        log: method diagnostics (``UnlearnContext.log``).
    """

    name: str
    role: Role
    seed: int = 0
    reference: str | None = None
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    metrics: dict[str, Any] | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False
    log: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, float]:
        return dict(self.metrics.get("values", {})) if self.metrics else {}

    @property
    def not_applicable(self) -> dict[str, str]:
        return dict(self.metrics.get("not_applicable", {})) if self.metrics else {}

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("name", "role", "seed", "reference", "status", "error", "metrics",
                                              "hyperparams", "seconds", "cached", "log")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelRecord":
        return cls(**d)


def _mean_std_ci(xs: list[float]) -> dict[str, float]:
    """Mean, sample std and the half-width of a 95% t-interval (0 for a single seed)."""
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return {"mean": mean, "std": 0.0, "ci95": 0.0, "n": n}
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    t975 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}
    t = t975.get(n, 1.96 + 2.5 / n)
    return {"mean": mean, "std": std, "ci95": t * std / math.sqrt(n), "n": n}


@dataclass(kw_only=True)
class AuditReport:
    """Everything an audit produced: per-model records, findings, and what was audited.

    Attributes:
        rows: one ``ModelRecord`` per model and seed.
        findings: threshold outcomes (one per check and model).
        data: description of the audited data (sizes, group counts, fingerprints, forget request).
        environment: package / torch / python versions, device, threads.
        config: methods, seeds, references, metric config, thresholds, recipe.
        user_method: the name of the user's method, if any.
        created: ISO-8601 timestamp.
        schema_version: version of the JSON format.
    """

    rows: list[ModelRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    user_method: str | None = None
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ queries
    def model_names(self) -> list[str]:
        """Model names in first-appearance order (original, references, suite, user)."""
        return list(dict.fromkeys(r.name for r in self.rows))

    def records(self, name: str) -> list[ModelRecord]:
        return [r for r in self.rows if r.name == name]

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """Per model, per metric: mean, std and 95% interval half-width over the seeds that succeeded."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for name in self.model_names():
            per_metric: dict[str, list[float]] = {}
            for r in self.records(name):
                for k, v in r.values.items():
                    if v is not None and not (isinstance(v, float) and math.isnan(v)):
                        per_metric.setdefault(k, []).append(float(v))
            out[name] = {k: _mean_std_ci(v) for k, v in per_metric.items()}
        return out

    def gap(self, *, reference: str | None = None, keys: tuple[str, ...] = ("RA", "UA", "TA", "MIA", "EO", "GA"),
            ) -> dict[str, dict[str, float]]:
        """Per model: ``|Δ_M|`` vs its reference (or ``reference``) averaged over seeds, and ``avg_gap``.

        Seeds are paired (model seed s against reference seed s), per spec A5.
        """
        from ..metrics import avg_gap, deltas

        out: dict[str, dict[str, float]] = {}
        for name in self.model_names():
            recs = [r for r in self.records(name) if r.status == "ok" and r.metrics]
            ref_name = reference or (recs[0].reference if recs else None)
            if not recs or ref_name is None or ref_name == name:
                continue
            refs = {r.seed: r for r in self.records(ref_name) if r.status == "ok" and r.metrics}
            pairs = [(r.values, refs[r.seed].values) for r in recs if r.seed in refs]
            if not pairs:
                continue
            usable = tuple(k for k in keys if all(k in m and k in ref for m, ref in pairs))
            if not usable:
                continue
            per_seed = [deltas(m, ref, keys=usable) for m, ref in pairs]
            row = {k: sum(abs(d[k]) for d in per_seed) / len(per_seed) for k in usable}
            row["avg_gap"] = avg_gap([m for m, _ in pairs], [ref for _, ref in pairs], keys=usable)
            row["reference"] = ref_name  # type: ignore[assignment]
            out[name] = row
        return out

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]

    @property
    def verdict(self) -> Status:
        """FAIL if any finding or model failed, else WARN if any warned, else PASS."""
        if self.failed or any(r.status == "failed" for r in self.rows):
            return Status.FAIL
        if any(f.status is Status.WARN for f in self.findings):
            return Status.WARN
        return Status.PASS

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "created": self.created, "user_method": self.user_method,
                "data": self.data, "environment": self.environment, "config": self.config,
                "rows": [r.to_dict() for r in self.rows], "findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AuditReport":
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"report: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
        return cls(rows=[ModelRecord.from_dict(r) for r in d.get("rows", [])],
                   findings=[Finding.from_dict(f) for f in d.get("findings", [])], data=d.get("data", {}),
                   environment=d.get("environment", {}), config=d.get("config", {}),
                   user_method=d.get("user_method"), created=d.get("created", ""), schema_version=version)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The report as JSON (NaN written as ``null``); written atomically to ``path`` when given."""
        text = json.dumps(json_safe(self.to_dict()), indent=2, sort_keys=False, allow_nan=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike) -> "AuditReport":
        p = Path(path_or_text)
        text = p.read_text(encoding="utf-8") if not str(path_or_text).lstrip().startswith("{") else str(path_or_text)
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ rendering (implemented elsewhere)
    def __rich__(self) -> Any:
        from ._rich import render_table

        return render_table(self)

    def to_html(self, path: str | os.PathLike) -> Path:
        from ._html import render_html

        return atomic_write_text(path, render_html(self))

    def to_checklist(self, path: str | os.PathLike) -> Path:
        from ._checklist import render_checklist

        return atomic_write_text(path, render_checklist(self))
