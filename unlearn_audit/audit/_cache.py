"""Content-addressed cache of audit artefacts (trained weights and metric results).

Layout under the cache root (default ``./.unlearn-audit-cache``)::

    v1/<kind>/<key[:2]>/<key>.json           metadata + payload, with checksums (written last)
    v1/<kind>/<key[:2]>/<key>.safetensors    weights (or <key>.pt: torch.save of a state_dict)
    v1/locks/<key>.lock                      one file lock per key

An entry exists only once its metadata file does: weights are written first, then the metadata, each to a temp
file in the same folder and ``os.replace`` d into place, so an interrupted run never leaves a half-written entry.
The metadata carries SHA-256 checksums of the payload and of the weights file; an entry whose checksums do not
match, whose files do not parse, or that its caller's ``validate`` rejects (weights of another architecture) is
deleted and recomputed, with one warning naming the entry and the file at fault. Weights are only ever read with
safetensors or ``torch.load(weights_only=True)``: a pickle placed in the cache never runs code. Computing an
artefact holds a ``filelock`` on its key, and the entry is looked up again under the lock, so several processes
(pytest-xdist workers) sharing the cache compute each artefact once. The metadata also records the versions that
wrote it; its modification time is refreshed on every hit (the "last used" time ``unlearn-audit cache prune``
goes by).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import nn

from .._json import jsonable

__all__ = ["Cache", "Entry", "cache_key", "state_hash", "source_identity", "code_fingerprint", "writer_versions",
           "LAYOUT_VERSION"]

log = logging.getLogger("unlearn_audit.cache")

LAYOUT_VERSION = "v1"


def cache_key(parts: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``parts``."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def state_hash(obj: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over every parameter and buffer (names, dtypes, shapes, bytes) of a module or state dict."""
    state = obj.state_dict() if isinstance(obj, nn.Module) else obj
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name]
        if not isinstance(t, torch.Tensor):
            h.update(f"{name}={t!r};".encode())
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def writer_versions() -> dict[str, str | None]:
    """The versions recorded in every entry written by this process (``unlearn-audit`` and ``torch``)."""
    from ._environment import package_versions

    versions = package_versions()
    return {"unlearn-audit": versions["unlearn-audit"], "torch": versions["torch"]}


def _sha_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _simple(v: Any) -> bool:
    if isinstance(v, (bool, int, float, str, type(None))):
        return True
    if isinstance(v, (tuple, list)):
        return all(_simple(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _simple(x) for k, x in v.items())
    return False


def source_identity(obj: Any, *, _depth: int = 0) -> dict[str, Any] | None:
    """What identifies a callable's behaviour for caching: qualified name, source hash, simple closure values and
    defaults, and the arguments of a ``functools.partial``. ``None`` when the source is unavailable (the caller
    then does not cache what depends on it).
    """
    ident: dict[str, Any] = {}
    while isinstance(obj, functools.partial):
        ident.setdefault("partials", []).append(repr((obj.args, sorted(obj.keywords.items()))))
        obj = obj.func
    target = getattr(obj, "__func__", obj)  # bound method -> function
    if not (inspect.isfunction(target) or inspect.isclass(target) or inspect.ismethod(target)):
        target = type(obj)  # a callable instance: its class's source
        ident["instance"] = repr(sorted((k, repr(v)) for k, v in vars(obj).items() if _simple(v))) if hasattr(
            obj, "__dict__") else ""
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):
        return None
    module = getattr(target, "__module__", "?")
    module = "__main__" if module == "__mp_main__" else module   # a spawned worker's name for the main script
    ident["qualname"] = f"{module}.{getattr(target, '__qualname__', repr(target))}"
    ident["source_sha256"] = _sha_text(source)
    if inspect.isfunction(target):
        try:
            cv = inspect.getclosurevars(target)
        except (TypeError, ValueError):  # pragma: no cover - exotic callables
            cv = None
        if cv is not None:
            # values the function reads from its closure and module globals: simple values by repr, functions
            # and classes (helpers it calls, the wrapped function of an adapter) by their own identity
            for scope, values in (("nonlocals", cv.nonlocals), ("globals", cv.globals)):
                out: dict[str, Any] = {}
                for k, v in sorted(values.items()):
                    if _simple(v):
                        out[k] = repr(v)
                    elif _depth < 3 and (inspect.isfunction(v) or isinstance(v, functools.partial)
                                         or (inspect.isclass(v) and v.__module__ == target.__module__)):
                        nested = source_identity(v, _depth=_depth + 1)
                        if nested is None:
                            return None  # something it depends on cannot be identified: do not cache
                        out[k] = nested
                if out:
                    ident[scope] = out
        ident["defaults"] = repr((target.__defaults__, target.__kwdefaults__)) if _simple(
            list(target.__defaults__ or ()) + list((target.__kwdefaults__ or {}).values())) else "complex"
    return ident


@functools.lru_cache(maxsize=None)
def code_fingerprint(*subpackages: str) -> str:
    """SHA-256 over the source files of ``unlearn_audit.<subpackage>`` (so library edits invalidate the cache
    even when the version number does not change)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for sub in subpackages:
        for p in sorted((root / sub).rglob("*.py")):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@dataclass
class Entry:
    """A cached artefact: a JSON-friendly ``payload`` and, for models, a ``state`` dict of tensors."""

    payload: dict[str, Any] = field(default_factory=dict)
    state: dict[str, torch.Tensor] | None = None


def _atomic_write_bytes(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` a temp file next to ``path``, then ``os.replace`` it into place (removed on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Cache:
    """A cache rooted at ``root``; ``Cache(None)`` is a disabled cache that computes everything.

    Attributes:
        hits, misses: counters (for reports and tests).
        recovered: keys whose corrupt entry was discarded and recomputed.
    """

    def __init__(self, root: str | os.PathLike | None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self.hits = 0
        self.misses = 0
        self.recovered: list[str] = []

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def __repr__(self) -> str:
        return f"Cache({str(self.root) if self.root else 'disabled'})"

    # ------------------------------------------------------------------ paths
    def _base(self, kind: str, key: str) -> Path:
        assert self.root is not None
        return self.root / LAYOUT_VERSION / kind / key[:2] / key

    def _lock_path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / LAYOUT_VERSION / "locks" / f"{key}.lock"

    def contains(self, kind: str, key: str) -> bool:
        """Whether a readable, intact entry exists (verifies checksums)."""
        return self.enabled and self._read(kind, key, count=False) is not None

    # ------------------------------------------------------------------ read / write
    def _discard(self, kind: str, key: str, why: str) -> None:
        base = self._base(kind, key)
        log.warning("unlearn-audit cache: discarding corrupt entry %s/%s in %s (%s); it will be recomputed", kind,
                    key, base.parent, why)
        for suffix in (".json", ".safetensors", ".pt"):
            base.with_name(base.name + suffix).unlink(missing_ok=True)
        self.recovered.append(key)

    def _read(self, kind: str, key: str, *, count: bool = True,
              validate: Callable[[Entry], str | None] | None = None) -> Entry | None:
        base = self._base(kind, key)
        meta_path = base.with_name(base.name + ".json")
        if not meta_path.exists():
            return None
        try:
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                payload = meta["payload"]
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"{meta_path.name} does not parse: {type(exc).__name__}: {exc}") from None
            if meta.get("key") != key or meta.get("payload_sha256") != _sha_text(json.dumps(payload, sort_keys=True)):
                raise ValueError(f"{meta_path.name}: payload checksum mismatch")
            state = None
            if meta.get("weights") is not None:
                wpath = base.with_name(base.name + meta["weights"]["suffix"])
                if not wpath.exists():
                    raise ValueError(f"{wpath.name}: weights file missing")
                if _file_sha(wpath) != meta["weights"]["sha256"]:
                    raise ValueError(f"{wpath.name}: weights checksum mismatch")
                try:
                    state = _load_state(wpath)
                except Exception as exc:  # noqa: BLE001 - e.g. an unpickling refused by weights_only
                    raise ValueError(f"{wpath.name} could not be loaded safely: {type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
            entry = Entry(payload=payload, state=state)
            why = validate(entry) if validate is not None else None
            if why:
                raise ValueError(f"{base.name}{meta['weights']['suffix'] if meta.get('weights') else '.json'}: {why}")
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is treated as corrupt
            if count:
                self._discard(kind, key, str(exc))
            return None
        if count:
            with contextlib.suppress(OSError):  # last used (a read-only cache still works)
                os.utime(meta_path)
        return entry

    def _write(self, kind: str, key: str, entry: Entry) -> None:
        base = self._base(kind, key)
        weights = None
        if entry.state is not None:
            state = {k: v.detach().to("cpu").contiguous().clone() for k, v in entry.state.items()}
            suffix = _save_state(state, base)
            wpath = base.with_name(base.name + suffix)
            weights = {"suffix": suffix, "sha256": _file_sha(wpath)}
        payload = jsonable(entry.payload)
        meta = {"key": key, "kind": kind, "layout": LAYOUT_VERSION, "weights": weights, "payload": payload,
                "payload_sha256": _sha_text(json.dumps(payload, sort_keys=True)), "versions": writer_versions()}
        meta_path = base.with_name(base.name + ".json")
        text = json.dumps(meta, indent=1)
        _atomic_write_bytes(meta_path, lambda p: p.write_text(text, encoding="utf-8"))

    # ------------------------------------------------------------------ the one entry point
    def fetch(self, kind: str, key: str | None, compute: Callable[[], Entry], *,
              validate: Callable[[Entry], str | None] | None = None) -> tuple[Entry, bool]:
        """``(entry, cached)``: the stored entry, or ``compute()`` stored under ``key`` (once across processes).

        ``key=None`` (something uncachable) or a disabled cache computes without storing. An exception in
        ``compute`` propagates and stores nothing. ``validate(entry)`` returns why a stored entry is unusable
        (e.g. weights of another shape), or ``None``; an unusable entry is discarded and recomputed.
        """
        if not self.enabled or key is None:
            return compute(), False
        entry = self._read(kind, key, validate=validate)
        if entry is not None:
            self.hits += 1
            return entry, True
        with self._locked(key):
            entry = self._read(kind, key, validate=validate)
            if entry is not None:
                self.hits += 1
                return entry, True
            self.misses += 1
            entry = compute()
            self._write(kind, key, entry)
        return entry, False

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        """Hold the key's file lock. A lock path that is not a file (a folder) is removed when empty, else the
        artefact is computed without the lock; either way one warning names it."""
        from filelock import FileLock

        lock_path = self._lock_path(key)
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        if lock_path.is_dir():
            try:
                lock_path.rmdir()
                log.warning("unlearn-audit cache: the lock path %s was a folder, not a lock file; removed it",
                            lock_path)
            except OSError:
                log.warning("unlearn-audit cache: the lock path %s is a folder that is not empty, so this artefact "
                            "is computed without a lock (another process may compute it too); remove the folder",
                            lock_path)
                yield
                return
        with FileLock(str(lock_path)):
            yield

    def claim(self, key: str) -> Any:
        """A ``filelock.FileLock`` on ``claim-<key>``: held by the process that works on ``key`` while it does, so
        processes sharing a plan (pytest-xdist workers) each take steps no other one holds. Separate from the
        lock ``fetch`` takes, which the holder takes inside it."""
        from filelock import FileLock

        path = self._lock_path(f"claim-{key}")
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path))

    def entries(self, kind: str | None = None) -> Iterator[Path]:
        """Metadata files of the stored entries (for tests and housekeeping)."""
        if not self.enabled:
            return iter(())
        base = self.root / LAYOUT_VERSION  # type: ignore[operator]
        kinds = [kind] if kind else [p.name for p in base.iterdir() if p.is_dir() and p.name != "locks"] \
            if base.exists() else []
        return iter(sorted(p for k in kinds for p in (base / k).glob("*/*.json")))


def _save_state(state: dict[str, torch.Tensor], base: Path) -> str:
    """Write weights next to ``base`` (safetensors when possible, else ``torch.save``); returns the suffix."""
    try:
        from safetensors.torch import save_file
    except ImportError:  # pragma: no cover - safetensors is optional
        save_file = None
    if save_file is not None:
        try:
            _atomic_write_bytes(base.with_name(base.name + ".safetensors"), lambda p: save_file(state, str(p)))
            return ".safetensors"
        except (ValueError, RuntimeError) as exc:  # shared / non-contiguous tensors
            log.debug("safetensors refused the state dict (%s); falling back to torch.save", exc)
    _atomic_write_bytes(base.with_name(base.name + ".pt"), lambda p: torch.save(state, p))
    return ".pt"


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path.name} does not hold a state dict")
    return state
