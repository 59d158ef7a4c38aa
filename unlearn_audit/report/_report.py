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
from ._findings import Finding, Status, gate_status

__all__ = ["ModelRecord", "AuditReport", "SCHEMA_VERSION", "atomic_write_text"]

SCHEMA_VERSION = 2
#: Versions ``from_dict`` reads: version 1 (before intervals) has no ``uncertainty``; its checks re-evaluate without
#: the sampling part of the intervals.
READABLE_VERSIONS = (1, 2)
Role = Literal["original", "reference", "method", "user"]


def _parse_list(d: dict[str, Any], key: str, parse: Any, source: str = "report") -> list[Any]:
    """``[parse(x) for x in d[key]]`` with errors naming the entry (``rows[3]``, ``findings[0].status``)."""
    items = d.get(key, [])
    if not isinstance(items, list):
        raise ValueError(f"{source}: {key}: expected a list, got {type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        where = f"{source}: {key}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
        if key == "findings" and item.get("status") not in {s.value for s in Status}:
            raise ValueError(f"{where}.status: {item.get('status')!r} is not one of "
                             f"{', '.join(s.value for s in Status)}")
        try:
            out.append(parse(item))
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{where}: {type(exc).__name__}: {exc}") from None
    return out


def _file_mode() -> int:
    """The mode a plain new file gets here: ``0o666`` less the umask (``0o644`` under the usual umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a temp file in the same folder and ``os.replace``: never half-written, and
    readable like any file the user creates (``0o644`` under umask 022, not the temp file's private ``0o600``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _file_mode())
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
        reference: the reference its gaps and findings are computed against, ``None`` for references
            and the original.
        status: ``"ok"`` or ``"failed"`` (a method that raised or returned something unusable).
        error: why it failed.
        metrics: ``ModelMetrics.to_dict()`` (keys ``values``, ``not_applicable``, ``group_acc``, ...), or ``None``.
        hyperparams: the method's hyper-parameters.
        seconds: wall time to produce the model (0 when cached).
        cached: whether it came from the cache.
        log: method diagnostics (``UnlearnContext.log``).
        fingerprint: SHA-256 of the model's weights (every parameter and buffer: names, dtypes, shapes, bytes),
            recorded when it was trained or loaded; ``None`` when not known (e.g. metrics cached by an older
            version).
        threads: torch's CPU thread count the model was trained and evaluated with (CPU results depend on it);
            ``None`` when unknown.
        samples: the per-sample outcomes of its evaluation (``ModelMetrics.samples``) while the audit assembles;
            not serialised.
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
    fingerprint: str | None = None
    threads: int | None = None
    samples: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def values(self) -> dict[str, float]:
        return dict(self.metrics.get("values", {})) if self.metrics else {}

    @property
    def not_applicable(self) -> dict[str, str]:
        return dict(self.metrics.get("not_applicable", {})) if self.metrics else {}

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("name", "role", "seed", "reference", "status", "error", "metrics",
                                             "hyperparams", "seconds", "cached", "log", "fingerprint")}
        if self.threads is not None:   # unknown (reports written before it was recorded): left out
            out["threads"] = self.threads
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelRecord":
        return cls(**{k: v for k, v in d.items() if k != "samples"})


@dataclass(kw_only=True)
class AuditReport:
    """Everything an audit produced: per-model records, findings, and what was audited.

    Attributes:
        rows: one ``ModelRecord`` per model and seed.
        findings: threshold outcomes (one per check and model).
        data: description of the audited data (sizes, group counts, fingerprints, forget request).
        environment: package / torch / python versions, device, threads.
        config: methods, seeds, references, metric config, thresholds, recipe.
        uncertainty: what the intervals are computed from: ``level``, ``n_boot``, ``method`` (in words),
            ``sample_var`` (model -> metric -> bootstrap variance of its seed-mean) and ``delta_sample_var`` (model
            -> reference -> metric -> bootstrap variance of the difference, paired); see ``_compare``.
        user_method: the name of the user's method, if any.
        created: ISO-8601 timestamp.
        schema_version: version of the JSON format.
    """

    rows: list[ModelRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    uncertainty: dict[str, Any] = field(default_factory=dict)
    user_method: str | None = None
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ queries
    def model_names(self) -> list[str]:
        """Model names in first-appearance order (original, references, suite, user)."""
        return list(dict.fromkeys(r.name for r in self.rows))

    def records(self, name: str) -> list[ModelRecord]:
        return [r for r in self.rows if r.name == name]

    def summary(self, *, level: float | None = None) -> dict[str, dict[str, dict[str, float]]]:
        """Per model, per metric: ``mean`` and ``std`` over the seeds that ran, ``n`` seeds, and the confidence
        interval ``lo`` / ``hi`` / ``ci`` (half-width) of the mean (``_compare.value_interval``)."""
        from ._compare import ok_records, value_interval

        out: dict[str, dict[str, dict[str, float]]] = {}
        for name in self.model_names():
            keys = list(dict.fromkeys(k for r in ok_records(self, name) for k in r.values))
            row = {}
            for k in keys:
                xs = [r.values[k] for r in ok_records(self, name, k)]
                iv = value_interval(self, name, k, level=level)
                mean = math.fsum(xs) / len(xs)
                std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
                row[k] = {"mean": mean, "std": std, "n": len(xs), "lo": iv.lo, "hi": iv.hi, "ci": iv.half_width}
            out[name] = row
        return out

    def gap(self, *, reference: str | None = None, keys: tuple[str, ...] = ("RA", "UA", "TA", "MIA", "EO", "GA"),
            ) -> dict[str, dict[str, float]]:
        """Per model: ``|Δ_M|`` vs its reference (or ``reference``) and ``avg_gap`` (De Min et al. 2025).

        ``|Δ_M| = mean_s |M(model, s) - M(ref, s)|`` over the seeds both have (the paper's per-seed absolute
        difference, ``Comparison.abs_paired``); ``avg_gap = 100 - mean_M |Δ_M|``.
        """
        from ._compare import compare, ok_records

        out: dict[str, dict[str, float]] = {}
        for name in self.model_names():
            recs = ok_records(self, name)
            ref_name = reference or (recs[0].reference if recs else None)
            if not recs or ref_name is None or ref_name == name:
                continue
            row: dict[str, Any] = {}
            for k in keys:  # the keys both models have (a metric that does not apply is left out)
                c = compare(self, name, ref_name, k)
                if c is not None and c.abs_paired is not None:
                    row[k] = c.abs_paired
            if row:
                row["avg_gap"] = 100.0 - math.fsum(row.values()) / len(row)
                row["reference"] = ref_name
                out[name] = row
        return out

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]

    @property
    def inconclusive_policy(self) -> str:
        """How INCONCLUSIVE findings gate: ``"warn"`` (default), ``"fail"`` or ``"pass"`` (``Thresholds``)."""
        return str(self.config.get("inconclusive", "warn"))

    @property
    def verdict(self) -> Status:
        """The gate: FAIL if any finding gates FAIL (INCONCLUSIVE by ``inconclusive_policy``) or a model failed,
        else WARN if any gates WARN, else PASS."""
        gated = [gate_status(f.status, self.inconclusive_policy) for f in self.findings]
        if Status.FAIL in gated or any(r.status == "failed" for r in self.rows):
            return Status.FAIL
        if Status.WARN in gated:
            return Status.WARN
        return Status.PASS

    def counts(self) -> dict[str, int]:
        """How many findings have each status (SKIP included), e.g. ``{"PASS": 6, "INCONCLUSIVE": 1, ...}``."""
        out = {s.value: 0 for s in Status}
        for f in self.findings:
            out[f.status.value] += 1
        return out

    def verdict_line(self) -> str:
        """One sentence with the verdict and the counts, the same in every output, e.g. ``"FAIL: 1 of 8 checks
        failed, 1 inconclusive, 6 passed"``."""
        c = self.counts()
        decided = sum(v for k, v in c.items() if k != "SKIP")
        if not self.findings:
            failed = sorted({r.name for r in self.rows if r.status == "failed"})
            return f"{self.verdict.value}: no threshold checks were run" + (
                f", model(s) that failed to run: {', '.join(failed)}" if failed else "")
        parts = [f"{c['FAIL']} of {decided} checks failed"] if c["FAIL"] else [f"0 of {decided} checks failed"]
        for key, word in (("INCONCLUSIVE", "inconclusive"), ("WARN", "warned"), ("PASS", "passed"),
                          ("SKIP", "skipped")):
            if c[key]:
                parts.append(f"{c[key]} {word}")
        failed_models = sorted({r.name for r in self.rows if r.status == "failed"})
        if failed_models:
            parts.append(f"model(s) that failed to run: {', '.join(failed_models)}")
        text = ", ".join(parts)
        if c["INCONCLUSIVE"]:
            text += f" (inconclusive gates as {gate_status(Status.INCONCLUSIVE, self.inconclusive_policy).value})"
        return f"{self.verdict.value}: {text}"

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "created": self.created, "user_method": self.user_method,
                "verdict": self.verdict.value, "verdict_line": self.verdict_line(), "counts": self.counts(),
                "data": self.data, "environment": self.environment, "config": self.config,
                "uncertainty": self.uncertainty,
                "rows": [r.to_dict() for r in self.rows], "findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "report") -> "AuditReport":
        """The report stored by ``to_dict``; ``source`` names it in errors.

        Raises:
            ValueError: not an object, an unsupported ``schema_version``, a field of the wrong type, or a stored
                ``verdict`` / ``counts`` that its findings do not give (the file was edited by hand or is corrupt).
        """
        if not isinstance(d, dict):
            raise ValueError(f"{source}: expected a JSON object (an unlearn-audit report), got {type(d).__name__}")
        version = d.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"{source}: schema_version {version!r} is not supported (this version reads "
                             f"{', '.join(map(str, READABLE_VERSIONS))}; it writes {SCHEMA_VERSION})")
        for key, kind in (("data", dict), ("environment", dict), ("config", dict), ("uncertainty", dict)):
            if key in d and not isinstance(d[key], kind):
                raise ValueError(f"{source}: field {key!r} should be a JSON {'array' if kind is list else 'object'}, "
                                 f"got {type(d[key]).__name__}")
        rows = _parse_list(d, "rows", ModelRecord.from_dict, source)
        findings = _parse_list(d, "findings", Finding.from_dict, source)
        report = cls(rows=rows, findings=findings, data=d.get("data", {}), environment=d.get("environment", {}),
                     config=d.get("config", {}), uncertainty=d.get("uncertainty", {}),
                     user_method=d.get("user_method"), created=d.get("created", ""), schema_version=version)
        stored, counts = d.get("verdict"), d.get("counts")
        if stored is not None and stored != report.verdict.value or counts is not None and counts != report.counts():
            raise ValueError(f"{source}: its stored verdict ({stored}, counts {counts}) is not what its findings give "
                             f"({report.verdict.value}, counts {report.counts()}): the file was edited by hand or is "
                             f"corrupt; re-run the audit (or `unlearn-audit report`) to regenerate it")
        return report

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The report as JSON (NaN written as ``null``); written atomically to ``path`` when given."""
        text = json.dumps(json_safe(self.to_dict()), indent=2, sort_keys=False, allow_nan=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike) -> "AuditReport":
        """A report from a ``report.json`` path or its text.

        Raises:
            ValueError: naming the file: not JSON (a truncated or damaged file), or not a report ``from_dict``
                reads. ``FileNotFoundError`` for a missing file.
        """
        is_text = isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{")
        source = "report text" if is_text else str(path_or_text)
        text = str(path_or_text) if is_text else Path(path_or_text).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not valid JSON (truncated or hand-edited?): {exc.msg} at line "
                             f"{exc.lineno}, column {exc.colno}") from None
        return cls.from_dict(data, source=source)

    # ------------------------------------------------------------------ rendering (implemented elsewhere)
    def __rich__(self) -> Any:
        from ._rich import render_table

        return render_table(self)

    def to_text(self, *, width: int = 100, color: bool = False) -> str:
        """The summary table and the checks as plain text laid out for ``width`` columns (no line is longer; 80
        and up), the layout the CLI and the pytest plugin print; ANSI colours only with ``color``."""
        from ._rich import render_text

        if not isinstance(width, int) or isinstance(width, bool) or width < 60:
            raise ValueError(f"AuditReport.to_text: width must be an int >= 60 (columns), got {width!r}")
        return render_text(self, width=width, color=color)

    def to_html(self, path: str | os.PathLike) -> Path:
        from ._html import render_html

        return atomic_write_text(path, render_html(self))

    def to_checklist(self, path: str | os.PathLike) -> Path:
        from ._checklist import render_checklist

        return atomic_write_text(path, render_checklist(self))
