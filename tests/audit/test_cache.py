"""The content-addressed cache: round trips, atomic writes, corrupt entries, cross-process locking, identities."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from unlearn_audit.audit import _cache
from unlearn_audit.audit._cache import Cache, Entry, cache_key, source_identity, state_hash

WORKER = Path(__file__).with_name("_cache_worker.py")
KEY = "ab" * 32


class Counter:
    def __init__(self, payload=None, state=None):
        self.calls = 0
        self.payload = payload if payload is not None else {"x": 1.5, "nested": {"a": [1, 2]}}
        self.state = state

    def __call__(self) -> Entry:
        self.calls += 1
        return Entry(payload=self.payload, state=self.state)


def _net_state():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    return net.state_dict()


def _files(root: Path, suffix: str) -> list[Path]:
    return sorted(p for p in root.rglob(f"*{suffix}") if not p.name.startswith("."))


def test_roundtrip_weights_and_payload(tmp_path):
    cache, state = Cache(tmp_path), _net_state()
    compute = Counter(state=state)
    entry, cached = cache.fetch("model", KEY, compute)
    assert not cached and compute.calls == 1
    entry, cached = cache.fetch("model", KEY, compute)
    assert cached and compute.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    assert entry.payload == compute.payload
    assert set(entry.state) == set(state)
    assert all(torch.equal(entry.state[k], state[k]) for k in state)  # incl. the int64 num_batches_tracked
    assert len(_files(tmp_path, ".safetensors")) == 1 and len(_files(tmp_path, ".json")) == 1


def test_torch_save_fallback_for_shared_tensors(tmp_path):
    w = torch.randn(4, 4)
    state = {"a": w, "b": w}  # tied weights: safetensors refuses shared storage
    entry, _ = Cache(tmp_path).fetch("model", KEY, Counter(state=state))
    entry, cached = Cache(tmp_path).fetch("model", KEY, Counter(state=state))
    assert cached and torch.equal(entry.state["a"], w) and torch.equal(entry.state["b"], w)


def test_disabled_cache_and_none_key_always_compute(tmp_path):
    compute = Counter()
    for cache, key in ((Cache(None), KEY), (Cache(tmp_path), None)):
        cache.fetch("metrics", key, compute)
        cache.fetch("metrics", key, compute)
    assert compute.calls == 4
    assert not list(tmp_path.rglob("*.json"))


def test_failed_compute_stores_nothing(tmp_path):
    cache = Cache(tmp_path)

    def boom() -> Entry:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cache.fetch("metrics", KEY, boom)
    assert not cache.contains("metrics", KEY)


def test_crash_between_temp_write_and_rename_leaves_no_entry(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    real = os.replace

    def crash(src, dst):
        if str(dst).endswith(".json"):
            raise KeyboardInterrupt("simulated crash before the metadata rename")
        real(src, dst)

    monkeypatch.setattr(_cache.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.fetch("model", KEY, Counter(state=_net_state()))
    monkeypatch.setattr(_cache.os, "replace", real)
    assert not cache.contains("model", KEY)
    assert not list(tmp_path.rglob("*.tmp"))  # the temp file was cleaned up
    compute = Counter(state=_net_state())
    _, cached = cache.fetch("model", KEY, compute)
    assert not cached and compute.calls == 1  # recomputed, and now stored
    assert cache.contains("model", KEY)


def test_killed_process_leaves_no_entry(tmp_path):
    proc = subprocess.run([sys.executable, str(WORKER), "crash", str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert list(tmp_path.rglob("*.tmp"))  # a killed process cannot clean up its temp file ...
    cache = Cache(tmp_path)
    assert not cache.contains("model", KEY)  # ... but it is never taken for an entry
    compute = Counter(state={"w": torch.ones(3)})
    entry, cached = cache.fetch("model", KEY, compute)
    assert not cached and compute.calls == 1 and torch.equal(entry.state["w"], torch.ones(3))


@pytest.mark.parametrize("damage", ["weights_bytes", "weights_missing", "json_truncated", "payload_edited"])
def test_corrupt_entry_is_discarded_and_recomputed(tmp_path, damage, caplog):
    cache = Cache(tmp_path)
    cache.fetch("model", KEY, Counter(state=_net_state()))
    (weights,), (meta,) = _files(tmp_path, ".safetensors"), _files(tmp_path, ".json")
    if damage == "weights_bytes":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "weights_missing":
        weights.unlink()
    elif damage == "json_truncated":
        meta.write_text(meta.read_text()[:40])
    else:
        meta.write_text(meta.read_text().replace('"x": 1.5', '"x": 2.5'))
    compute = Counter(state=_net_state())
    entry, cached = cache.fetch("model", KEY, compute)
    assert not cached and compute.calls == 1
    assert cache.recovered == [KEY]
    assert "discarding corrupt entry" in caplog.text
    _, cached = Cache(tmp_path).fetch("model", KEY, compute)
    assert cached  # the recomputed entry is intact


def test_two_processes_compute_a_key_once(tmp_path):
    root, log = tmp_path / "cache", tmp_path / "computed.log"
    go = tmp_path / "go"
    procs, readies = [], []
    for i in range(2):
        ready = tmp_path / f"ready{i}"
        readies.append(ready)
        procs.append(subprocess.Popen([sys.executable, str(WORKER), "lock", str(root), str(log), str(ready), str(go)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 300
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "workers did not start"
        time.sleep(0.05)
    go.touch()  # both processes now race for the same key
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len(log.read_text().splitlines()) == 1  # computed once
    assert sorted(o[0].strip() for o in outs) == ["cached", "computed"]


# ---------------------------------------------------------------------------------------------- identities
def test_cache_key_is_order_independent_and_content_sensitive():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_state_hash_sees_parameters_and_buffers():
    net = torch.nn.BatchNorm1d(3)
    h = state_hash(net)
    assert h == state_hash(net.state_dict())
    net.running_mean += 1
    assert state_hash(net) != h


def _f(x):
    return x + 1


def _g(x):
    return x + 2


def test_source_identity_tracks_source_closures_and_wrapped_functions():
    assert source_identity(_f) != source_identity(_g)
    assert source_identity(_f) == source_identity(_f)

    def make(lr):
        def fn(model, ctx):
            return lr
        return fn

    assert source_identity(make(0.1)) != source_identity(make(0.2))  # closure values count

    def wrap(inner):
        def adapter(model, ctx):
            return inner(model)
        return adapter

    assert source_identity(wrap(_f)) != source_identity(wrap(_g))  # the wrapped function's source counts
    import functools

    assert source_identity(functools.partial(_f)) != source_identity(functools.partial(_g))
    assert source_identity(torch.nn.Linear) is not None  # a class
    ns: dict = {}
    exec("def made_in_exec(x):\n    return x\n", ns)
    assert source_identity(ns["made_in_exec"]) is None  # no source: the caller does not cache
    assert source_identity(wrap(ns["made_in_exec"])) is None
