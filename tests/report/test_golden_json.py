"""The JSON format of ``AuditReport`` is pinned by a golden file: a format change must be deliberate."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from unlearn_audit.report import SCHEMA_VERSION, AuditReport

from ._make_report import make_small_report

GOLDEN = Path(__file__).parent / "golden" / f"report_v{SCHEMA_VERSION}.json"
UPDATE_ENV = "UNLEARN_AUDIT_UPDATE_GOLDEN"


def _explain(expected: str, actual: str) -> str:
    diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), fromfile=f"golden {GOLDEN.name}",
                                     tofile="AuditReport.to_json() now", lineterm="", n=2))
    shown = "\n".join(diff[:80]) + (f"\n... ({len(diff) - 80} more diff lines)" if len(diff) > 80 else "")
    return (f"AuditReport.to_json() no longer matches {GOLDEN}.\n"
            f"Saved reports and other tools read this format. If the change is intended:\n"
            f"  1. bump SCHEMA_VERSION in unlearn_audit/report/_report.py when files written before can no longer "
            f"be read as they are (a new golden file report_v<N>.json is then expected);\n"
            f"  2. regenerate: {UPDATE_ENV}=1 .venv/bin/python -m pytest {Path(__file__).name} -p no:cacheprovider\n"
            f"  3. review the golden file's diff in the commit.\n\n{shown}")


def test_to_json_matches_golden_file():
    actual = make_small_report().to_json() + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    assert GOLDEN.exists(), f"missing {GOLDEN}; create it with {UPDATE_ENV}=1"
    expected = GOLDEN.read_text(encoding="utf-8")
    assert actual == expected, _explain(expected, actual)


def test_golden_file_round_trips():
    """A file written in this format is read back into an equal report and re-written byte for byte."""
    text = GOLDEN.read_text(encoding="utf-8")
    report = AuditReport.from_json(text)
    assert report.to_json() + "\n" == text
    assert report.to_dict() == make_small_report().to_dict()
    assert AuditReport.from_json(GOLDEN).to_dict() == report.to_dict()  # from a path as well


def test_golden_file_shape():
    """The keys a reader relies on, spelled out (a clearer failure than the diff when one is renamed)."""
    d = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert d["schema_version"] == SCHEMA_VERSION
    assert list(d) == ["schema_version", "created", "user_method", "verdict", "verdict_line", "counts", "data",
                       "environment", "config", "uncertainty", "rows", "findings"]
    assert d["verdict"] in ("PASS", "WARN", "FAIL") and d["verdict_line"].startswith(d["verdict"])
    assert list(d["rows"][0]) == ["name", "role", "seed", "reference", "status", "error", "metrics", "hyperparams",
                                  "seconds", "cached", "log", "fingerprint"]
    assert list(d["findings"][0]) == ["check", "metric", "model", "status", "value", "bound", "lo", "hi", "level",
                                      "direction", "reference", "reference_value", "model_value", "why", "decide",
                                      "interval"]
    assert {"level", "n_boot", "method", "sample_var", "delta_sample_var"} <= set(d["uncertainty"])
    assert {"values", "not_applicable", "group_acc", "group_counts", "fairness_gap", "adversarial", "mia",
            "config"} <= set(d["rows"][0]["metrics"])


def test_nan_is_written_as_null(tmp_path):
    report = make_small_report()
    report.rows[0].metrics["values"]["TA"] = float("nan")
    path = tmp_path / "r.json"
    report.to_json(path)
    assert json.loads(path.read_text())["rows"][0]["metrics"]["values"]["TA"] is None


def test_a_version_1_report_still_loads():
    old = GOLDEN.parent / "report_v1.json"
    report = AuditReport.from_json(old)
    assert report.rows and report.uncertainty == {}
