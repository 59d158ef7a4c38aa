"""Crash safety and corruption of a real audit's cache: two processes compute each artefact once; kill -9 at any
stage leaves every entry valid and the re-run report equal to an uninterrupted one; a damaged entry is
detected, recomputed and named in one warning; a pickle placed in the cache never runs."""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from unlearn_audit.audit import run_audit
from unlearn_audit.audit._cache import Cache, Entry
from unlearn_audit.report import AuditReport

WORKER = Path(__file__).with_name("_cache_worker.py")


def _audit_proc(root: Path, log: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), "audit", str(root), str(log), str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _essence(report: AuditReport) -> dict:
    """What must not depend on interruptions: every row's status and metrics, the findings, the data."""
    rows = {(r.name, r.seed): (r.status, r.metrics) for r in report.rows}
    findings = sorted((f.check, f.model, f.status.value, f.value) for f in report.findings)
    return {"rows": rows, "findings": findings, "data": report.data["fingerprint"]}


def _assert_same(a: AuditReport, b: AuditReport) -> None:
    ea, eb = _essence(a), _essence(b)
    assert ea["data"] == eb["data"] and ea["rows"].keys() == eb["rows"].keys()
    for k in ea["rows"]:
        assert ea["rows"][k][0] == eb["rows"][k][0]
        assert json.dumps(ea["rows"][k][1], sort_keys=True) == json.dumps(eb["rows"][k][1], sort_keys=True), k
    assert [f[:3] for f in ea["findings"]] == [f[:3] for f in eb["findings"]]


def _all_entries_valid(root: Path) -> None:
    cache = Cache(root)
    metas = list(cache.entries())
    assert all(cache.contains(p.parent.parent.name, p.stem) for p in metas)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> AuditReport:
    """The worker's audit, uninterrupted, on a fresh cache."""
    tmp = tmp_path_factory.mktemp("baseline")
    proc = _audit_proc(tmp / "cache", tmp / "log", tmp / "report.json")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert len((tmp / "log").read_text().splitlines()) == 3  # original, retrain, the user's fine-tune
    return AuditReport.from_json(tmp / "report.json")


def test_two_processes_on_one_cache_train_each_model_once(tmp_path):
    root, log, go = tmp_path / "cache", tmp_path / "trainings.log", tmp_path / "go"
    readies = [tmp_path / f"ready{i}" for i in range(2)]
    procs = [_audit_proc(root, log, tmp_path / f"report{i}.json", str(readies[i]), str(go)) for i in range(2)]
    deadline = time.monotonic() + 300
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "workers did not start"
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    stages = sorted(line.split()[1] for line in log.read_text().splitlines())
    assert stages == ["original", "reference", "user"]          # three trainings between the two processes
    reports = [AuditReport.from_json(tmp_path / f"report{i}.json") for i in range(2)]
    _assert_same(reports[0], reports[1])


@pytest.mark.slow  # about 30 s each on a loaded 2-core machine (two audits in subprocesses)
@pytest.mark.parametrize("stage", ["original", "reference", "user", "report"])
def test_kill_9_leaves_a_valid_cache_and_the_rerun_report_is_unchanged(tmp_path, baseline, stage):
    root, out = tmp_path / "cache", tmp_path / "report.json"
    proc = _audit_proc(root, tmp_path / "killed.log", out, "--kill-at", stage)
    proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()                               # no report written, not even a partial one
    _all_entries_valid(root)
    proc = _audit_proc(root, tmp_path / "rerun.log", out)
    stdout, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    cached = json.loads(stdout.strip().splitlines()[-1])
    done_before = {"original": [], "reference": ["original"], "user": ["original", "retrain"],
                   "report": ["original", "retrain", "one_epoch_ft"]}[stage]
    assert [name for name, hit in cached.items() if hit] == done_before   # the re-run resumes
    _assert_same(AuditReport.from_json(out), baseline)


# ---------------------------------------------------------------------------------------------- corruption
def _entries(root: Path) -> dict[str, list[Path]]:
    """Metadata files by role: ``original`` / ``method`` model entries and ``metrics`` entries."""
    out: dict[str, list[Path]] = {"original": [], "method": [], "metrics": []}
    for meta in Cache(root).entries():
        payload = json.loads(meta.read_text())["payload"]
        kind = meta.parent.parent.name
        out["metrics" if kind == "metrics" else ("method" if "log" in payload else "original")].append(meta)
    return out


def _drop_metrics(root: Path) -> None:
    for meta in _entries(root)["metrics"]:
        for p in meta.parent.glob(meta.stem + ".*"):
            p.unlink()


@pytest.fixture
def audited(make_spec, tmp_path, digits_original):
    """``(spec, root)``: the spec has run once; its cache at ``root``."""
    spec = make_spec(cache_dir=tmp_path / "cache")
    run_audit(spec, progress=False)
    return spec, tmp_path / "cache"


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "unlearn_audit.cache" and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("damage", ["truncated_weights", "flipped_metrics_byte", "weights_of_another_shape",
                                    "lock_path_is_a_folder"])
def test_damaged_cache_is_detected_recomputed_and_named_once(audited, caplog, damage):
    spec, root = audited
    first = run_audit(spec, progress=False)
    entries = _entries(root)
    if damage == "truncated_weights":
        (meta,) = entries["original"]
        weights = meta.with_suffix(".safetensors")
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        _drop_metrics(root)
        named = weights.name
    elif damage == "flipped_metrics_byte":
        meta = entries["metrics"][0]
        data = bytearray(meta.read_bytes())
        i = data.index(b'"metrics"') + 40
        data[i] ^= 0x01
        meta.write_bytes(bytes(data))
        named = meta.name
    elif damage == "weights_of_another_shape":
        meta = entries["method"][0]
        key = meta.stem
        Cache(root)._write("model", key, Entry(payload={"seconds": 1.0, "log": {}},
                                                state={"conv.weight": torch.zeros(2, 2)}))
        _drop_metrics(root)
        named = f"{key}.safetensors: weights of another architecture"
    else:
        meta = entries["metrics"][0]
        key = meta.stem
        for p in meta.parent.glob(key + ".*"):
            p.unlink()
        lock = root / "v1" / "locks" / f"{key}.lock"
        lock.unlink(missing_ok=True)
        lock.mkdir()
        named = str(lock)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="unlearn_audit.cache"):
        again = run_audit(spec, progress=False)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and named in warnings[0], warnings
    assert again.config["cache"]["misses"] >= 1
    _assert_same(first, again)
    _all_entries_valid(root)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="unlearn_audit.cache"):
        third = run_audit(spec, progress=False)
    assert not _warnings(caplog) and third.config["cache"]["misses"] == 0   # repaired for good


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('UNLEARN_AUDIT_EVIL_MARK', '/nonexistent/x')}",))


def test_a_malicious_pickle_in_the_cache_is_refused_and_recomputed(tmp_path, monkeypatch, caplog):
    import hashlib

    mark = tmp_path / "code-ran"
    monkeypatch.setenv("UNLEARN_AUDIT_EVIL_MARK", str(mark))
    cache, key = Cache(tmp_path / "cache"), "cd" * 32
    base = cache._base("model", key)
    base.parent.mkdir(parents=True)
    weights = base.with_name(base.name + ".pt")
    weights.write_bytes(pickle.dumps({"w": _Evil()}, protocol=2))
    payload = {"seconds": 1.0}
    meta = {"key": key, "kind": "model", "layout": "v1", "payload": payload,
            "weights": {"suffix": ".pt", "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()},
            "payload_sha256": hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()}
    base.with_name(base.name + ".json").write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="unlearn_audit.cache"):
        entry, cached = cache.fetch("model", key, lambda: Entry(payload={"seconds": 2.0},
                                                                state={"w": torch.ones(2)}))
    assert not cached and torch.equal(entry.state["w"], torch.ones(2))
    assert not mark.exists()                                   # no code ran
    (warning,) = _warnings(caplog)
    assert f"{key}.pt could not be loaded safely" in warning
