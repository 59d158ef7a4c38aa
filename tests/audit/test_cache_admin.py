"""``unlearn-audit cache info|prune|clear``: sizes per artefact kind, pruning by last use, size budget and version,
and never deleting an entry another process holds the lock on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from unlearn_audit.audit._cache import Cache, Entry
from unlearn_audit.audit._cache_admin import cache_info, clear, parse_size, prune, scan
from unlearn_audit.cli import main

DAY = 86400.0


def _key(i: int) -> str:
    return f"{i:02x}" * 32


@pytest.fixture
def filled(tmp_path) -> Path:
    """A cache with 3 model entries (with weights) and 2 metrics entries."""
    cache = Cache(tmp_path / "cache")
    for i in range(3):
        cache.fetch("model", _key(i), lambda i=i: Entry(payload={"seconds": i}, state={"w": torch.zeros(100 * (i + 1))}))
    for i in range(3, 5):
        cache.fetch("metrics", _key(i), lambda: Entry(payload={"metrics": {"ua": 1.0}}))
    return tmp_path / "cache"


def _age(root: Path, key: str, days: float) -> None:
    for e in scan(root):
        if e.key == key:
            t = time.time() - days * DAY
            for p in e.files:
                os.utime(p, (t, t))


def _keys(root: Path) -> set[str]:
    return {e.key for e in scan(root)}


def test_info_counts_entries_and_bytes_per_kind(filled):
    info = cache_info(filled)
    files = [p for p in filled.rglob("*") if p.is_file() and "locks" not in p.parts]
    assert info["entries"] == 5 and info["bytes"] == sum(p.stat().st_size for p in files)
    assert info["kinds"]["model"]["entries"] == 3 and info["kinds"]["metrics"]["entries"] == 2
    assert info["kinds"]["model"]["bytes"] > info["kinds"]["metrics"]["bytes"]
    assert info["other_version_entries"] == 0 and sum(info["versions"].values()) == 5


def test_prune_by_last_use_and_a_hit_counts_as_use(filled):
    for i in range(5):
        _age(filled, _key(i), 30)
    Cache(filled).fetch("model", _key(0), lambda: pytest.fail("should be cached"))  # a hit refreshes last use
    res = prune(filled, older_than_days=7)
    assert res["deleted"] == 4 and _keys(filled) == {_key(0)}
    assert Cache(filled).contains("model", _key(0))


def test_prune_to_a_size_budget_drops_the_least_recently_used(filled):
    for i, days in enumerate([5, 1, 3, 2, 4]):
        _age(filled, _key(i), days)
    sizes = {e.key: e.size for e in scan(filled)}
    budget = sizes[_key(1)] + sizes[_key(3)]
    res = prune(filled, max_bytes=budget, dry_run=True)
    assert res["deleted"] == 3 and len(_keys(filled)) == 5          # dry run: nothing deleted
    prune(filled, max_bytes=budget)
    assert _keys(filled) == {_key(1), _key(3)}                       # the two most recently used


def test_prune_other_versions(filled):
    for i, versions in ((0, {"unlearn-audit": "0.0.1", "torch": "1.0"}), (1, None)):
        meta = next(p for e in scan(filled) if e.key == _key(i) for p in e.files if p.suffix == ".json")
        data = json.loads(meta.read_text())
        data.pop("versions") if versions is None else data.update(versions=versions)
        meta.write_text(json.dumps(data))
    (filled / "v0" / "model").mkdir(parents=True)
    assert cache_info(filled)["other_version_entries"] == 2
    prune(filled, other_versions=True)
    assert _keys(filled) == {_key(i) for i in (2, 3, 4)} and not (filled / "v0").exists()


def test_nothing_another_process_holds_the_lock_on_is_deleted(filled, tmp_path):
    lock, ready = filled / "v1" / "locks" / f"{_key(2)}.lock", tmp_path / "holding"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time, pathlib; from filelock import FileLock; l = FileLock(sys.argv[1]); "
                               "l.acquire(); pathlib.Path(sys.argv[2]).touch(); time.sleep(120)", str(lock), str(ready)])
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.05)
        res = clear(filled)
        assert res["deleted"] == 4 and res["in_use"] == 1
        assert _keys(filled) == {_key(2)} and Cache(filled).contains("model", _key(2)) and lock.exists()
    finally:
        holder.kill()
        holder.wait()
    clear(filled)
    assert not _keys(filled) and not list((filled / "v1" / "locks").glob("*.lock"))


def test_stale_temp_files_of_killed_processes_are_removed(filled):
    stale = filled / "v1" / "model" / "00" / ".x.json.tmp"
    fresh = filled / "v1" / "model" / "00" / ".y.json.tmp"
    stale.write_text("half")
    fresh.write_text("being written")
    os.utime(stale, (time.time() - 2 * 3600,) * 2)
    assert cache_info(filled)["stale_temp_files"] == 1
    prune(filled, older_than_days=365)
    assert not stale.exists() and fresh.exists() and len(_keys(filled)) == 5


def test_cli(filled, capsys, tmp_path):
    assert main(["cache", "info", "--cache-dir", str(filled)]) == 0
    out = capsys.readouterr().out
    assert "model" in out and "metrics" in out and "total            5" in out and "(this installation)" in out
    assert main(["cache", "info", "--json", "--cache-dir", str(filled)]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 5
    assert main(["cache", "prune", "--older-than", "1", "--cache-dir", str(filled)]) == 0
    assert "deleted 0 entries" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(filled)]) == 0
    assert "deleted 5 entries" in capsys.readouterr().out and not _keys(filled)
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "nowhere")]) == 0
    assert "no cache at" in capsys.readouterr().out and not (tmp_path / "nowhere").exists()


def test_cache_dir_from_the_environment(filled, capsys, monkeypatch):
    monkeypatch.setenv("UNLEARN_AUDIT_CACHE_DIR", str(filled))
    assert main(["cache", "info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["root"] == str(filled.resolve())


@pytest.mark.parametrize("text, n", [("1000", 1000), ("2kB", 2000), ("1.5M", 1_500_000), ("1GiB", 1024 ** 3)])
def test_parse_size(text, n):
    assert parse_size(text) == n
