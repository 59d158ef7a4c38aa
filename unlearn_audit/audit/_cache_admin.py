"""``unlearn-audit cache info|prune|clear``: see what the cache holds and remove what is no longer needed.

An *entry* is one artefact of the cache (``_cache``): its metadata file ``<key>.json`` plus, for models and
per-sample metrics, its weights file. Its *last use* is the metadata file's modification time (refreshed on
every cache hit); its *versions* are the ``unlearn-audit`` and ``torch`` versions recorded when it was written
(entries written before versions were recorded count as another version). An entry is deleted only while this
process holds its key's file lock, so an artefact another process is computing (it holds the lock) is never
touched. Temp files left by killed processes (``.<name>.tmp``) are removed once they are an hour old.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .._cli_args import number_arg


__all__ = ["CacheEntry", "scan", "cache_info", "prune", "clear", "add_cache_command", "parse_size"]

#: A temp file this old belongs to a process that died (a live write takes seconds).
STALE_TEMP_SECONDS = 3600.0
_SIZE = re.compile(r"^(\d+(?:\.\d*)?)\s*([kmgt]?i?b?)?$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4}


class CacheAdminError(ValueError):
    """A bad cache folder or option value (the message names it)."""


@dataclass(frozen=True)
class CacheEntry:
    """One stored artefact: kind (``model`` / ``metrics``), key, files, total bytes, last use, versions."""

    kind: str
    key: str
    files: tuple[Path, ...]
    size: int
    last_used: float
    versions: dict[str, Any] | None

    @property
    def current_version(self) -> bool:
        from ._cache import writer_versions

        return self.versions == writer_versions()


def parse_size(text: str) -> int:
    """``"500M"``, ``"2GB"``, ``"1.5GiB"``, ``"1000"`` (bytes) -> bytes."""
    m = _SIZE.match(text.strip())
    if m is None or (m.group(2) or "").lower() not in _UNITS:
        raise CacheAdminError(f"--max-size: {text!r} is not a size (expected e.g. 500M, 2GB, 1.5GiB or bytes)")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _layout(root: Path) -> Path:
    from ._cache import LAYOUT_VERSION  # imported here: parsing the command line needs no torch

    return root / LAYOUT_VERSION


def check_root(root: Path) -> bool:
    """Whether a cache exists at ``root``; raises when ``root`` is something else than a folder."""
    if root.exists() and not root.is_dir():
        raise CacheAdminError(f"cache --cache-dir: {str(root)!r} is a file, not a cache folder")
    return root.is_dir()


def scan(root: Path) -> list[CacheEntry]:
    """Every entry of the current layout under ``root``, oldest last use first."""
    base = _layout(root)
    out = []
    if not base.is_dir():
        return out
    for kind_dir in sorted(p for p in base.iterdir() if p.is_dir() and p.name != "locks"):
        for meta in kind_dir.glob("*/*.json"):
            key = meta.stem
            files = tuple(p for p in meta.parent.glob(key + ".*") if p.is_file())
            try:
                st = meta.stat()
                versions = json.loads(meta.read_text(encoding="utf-8")).get("versions")
            except (OSError, ValueError):
                versions, st = None, None
            out.append(CacheEntry(kind=kind_dir.name, key=key, files=files,
                                  size=sum(p.stat().st_size for p in files if p.exists()),
                                  last_used=st.st_mtime if st is not None else 0.0, versions=versions))
    return sorted(out, key=lambda e: e.last_used)


def _stale_temps(root: Path, now: float) -> list[Path]:
    base = _layout(root)
    return [p for p in base.rglob(".*.tmp") if p.is_file() and now - p.stat().st_mtime > STALE_TEMP_SECONDS] \
        if base.is_dir() else []


def _other_layouts(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"v\d+", p.name)
                  and p.name != _layout(root).name) if root.is_dir() else []


def _lock_path(root: Path, key: str) -> Path:
    return _layout(root) / "locks" / f"{key}.lock"


def _delete(root: Path, entry: CacheEntry) -> bool:
    """Delete ``entry`` while holding its lock; ``False`` (nothing deleted) when another process holds it."""
    from filelock import FileLock, Timeout

    lock_path = _lock_path(root, entry.key)
    if lock_path.is_dir():
        return False
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return False
    try:
        meta = [p for p in entry.files if p.suffix == ".json"]
        for p in meta + [p for p in entry.files if p.suffix != ".json"]:  # metadata first: no half entry is seen
            p.unlink(missing_ok=True)
        lock_path.unlink(missing_ok=True)
    finally:
        lock.release()
    return True


def cache_info(root: Path) -> dict[str, Any]:
    """JSON-friendly summary: entries and bytes per kind, versions, locks, stale temp files, other layouts."""
    entries = scan(root)
    kinds: dict[str, dict[str, Any]] = {}
    for e in entries:
        k = kinds.setdefault(e.kind, {"entries": 0, "bytes": 0, "oldest_use": e.last_used, "newest_use": 0.0})
        k["entries"] += 1
        k["bytes"] += e.size
        k["newest_use"] = max(k["newest_use"], e.last_used)
    versions: dict[str, int] = {}
    for e in entries:
        label = (f"unlearn-audit {e.versions.get('unlearn-audit')}, torch {e.versions.get('torch')}"
                 if isinstance(e.versions, dict) else "not recorded (written by an older unlearn-audit)")
        versions[label] = versions.get(label, 0) + 1
    locks = list((_layout(root) / "locks").glob("*.lock")) if (_layout(root) / "locks").is_dir() else []
    temps = _stale_temps(root, time.time())
    from ._cache import writer_versions

    return {"root": str(root), "layout": _layout(root).name, "kinds": kinds,
            "entries": len(entries), "bytes": sum(e.size for e in entries), "versions": versions,
            "current_versions": writer_versions(),
            "other_version_entries": sum(not e.current_version for e in entries),
            "lock_files": len(locks), "stale_temp_files": len(temps),
            "other_layouts": [p.name for p in _other_layouts(root)]}


def prune(root: Path, *, older_than_days: float | None = None, max_bytes: int | None = None,
          other_versions: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Delete the entries unused for ``older_than_days``, of other versions, and then the least recently used
    ones until at most ``max_bytes`` remain; stale temp files go too (and other layouts with ``other_versions``).

    Returns ``{"deleted": n, "freed": bytes, "kept": n, "in_use": n}`` (``in_use``: locked by another process).
    """
    now = time.time()
    entries = scan(root)
    doomed: list[CacheEntry] = []
    keep: list[CacheEntry] = []
    for e in entries:
        old = older_than_days is not None and now - e.last_used > older_than_days * 86400
        (doomed if old or (other_versions and not e.current_version) else keep).append(e)
    if max_bytes is not None:
        total = sum(e.size for e in keep)
        for e in list(keep):  # oldest last use first
            if total <= max_bytes:
                break
            keep.remove(e)
            doomed.append(e)
            total -= e.size
    deleted = freed = in_use = 0
    for e in doomed:
        if dry_run or _delete(root, e):
            deleted += 1
            freed += e.size
        else:
            in_use += 1
    extra = _stale_temps(root, now) + (_other_layouts(root) if other_versions else [])
    if not dry_run:
        for p in extra:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    return {"deleted": deleted, "freed": freed, "kept": len(entries) - deleted, "in_use": in_use,
            "other": len(extra), "dry_run": dry_run}


def clear(root: Path) -> dict[str, Any]:
    """Delete every entry (except those another process holds the lock on), stale temp files, other layouts."""
    from filelock import FileLock, Timeout

    out = prune(root, older_than_days=-1.0, other_versions=True)
    locks = _layout(root) / "locks"
    for path in sorted(locks.glob("*.lock")) if locks.is_dir() else []:
        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            continue  # held by another process: its artefact is being computed
        try:
            path.unlink(missing_ok=True)
        finally:
            lock.release()
    return out


# ---------------------------------------------------------------------------------------------- the command
def _default_root() -> str:
    from ._spec import DEFAULT_CACHE_DIR

    return os.environ.get("UNLEARN_AUDIT_CACHE_DIR") or DEFAULT_CACHE_DIR


_days = number_arg(float, noun="a number of days", accept=lambda v: v >= 0, rule="the number of days must be >= 0")


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except CacheAdminError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None


def add_cache_command(sub: Any) -> None:
    """Register ``cache info|prune|clear`` on the CLI's subparsers."""
    cache = sub.add_parser("cache", help="see, prune or clear the cache of trained models and metrics",
                           description="See what the audit cache holds (size per artefact kind, versions), prune "
                                       "entries unused for N days / beyond a size budget / of other versions, or "
                                       "clear it. Entries another process is computing (it holds their lock) are "
                                       "never deleted.")
    actions = cache.add_subparsers(dest="cache_command", metavar="ACTION")
    actions.required = True
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--cache-dir", default=None, metavar="DIR",
                       help="the cache folder (default $UNLEARN_AUDIT_CACHE_DIR or ./.unlearn-audit-cache)")
    info = actions.add_parser("info", parents=[where], help="entries and size per artefact kind, versions, locks")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    pr = actions.add_parser("prune", parents=[where], help="delete old, oversized or other-version entries")
    pr.add_argument("--older-than", type=_days, default=None, metavar="DAYS",
                    help="delete entries not used for more than DAYS days")
    pr.add_argument("--max-size", type=_size, default=None, metavar="SIZE",
                    help="then delete the least recently used entries until at most SIZE remain (e.g. 2GB, 500M)")
    pr.add_argument("--other-versions", action="store_true",
                    help="delete entries written by another unlearn-audit or torch version (and older layouts)")
    pr.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    actions.add_parser("clear", parents=[where], help="delete every entry")
    cache.set_defaults(func=run_cache_command)


def run_cache_command(args: argparse.Namespace) -> int:
    """The body of ``unlearn-audit cache ...``; returns the exit status."""
    root = Path(args.cache_dir if args.cache_dir is not None else _default_root()).expanduser().resolve()
    if not check_root(root):
        print(f"no cache at {root}")
        return 0
    if args.cache_command == "info":
        info = cache_info(root)
        if args.json:
            print(json.dumps(info, indent=1))
        else:
            for line in _info_lines(info):
                print(line)
        return 0
    if args.cache_command == "prune":
        if args.older_than is None and args.max_size is None and not args.other_versions:
            raise CacheAdminError("cache prune: give at least one of --older-than DAYS, --max-size SIZE, --other-versions")
        res = prune(root, older_than_days=args.older_than, max_bytes=args.max_size,
                    other_versions=args.other_versions, dry_run=args.dry_run)
    else:
        res = clear(root)
    verb = "would delete" if res["dry_run"] else "deleted"
    print(f"{verb} {res['deleted']} entries ({human_size(res['freed'])}) from {root}; {res['kept']} kept"
          + (f"; {res['in_use']} in use by another process, left alone" if res["in_use"] else ""))
    return 0


def _info_lines(info: dict[str, Any]) -> Iterator[str]:
    def when(t: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))

    yield f"cache {info['root']} (layout {info['layout']})"
    yield f"  {'kind':<10}{'entries':>8}{'size':>12}   last used"
    for kind, k in sorted(info["kinds"].items()):
        yield (f"  {kind:<10}{k['entries']:>8}{human_size(k['bytes']):>12}   {when(k['oldest_use'])} .. "
               f"{when(k['newest_use'])}")
    yield f"  {'total':<10}{info['entries']:>8}{human_size(info['bytes']):>12}"
    current = info["current_versions"]
    for label, n in sorted(info["versions"].items()):
        mine = label == f"unlearn-audit {current['unlearn-audit']}, torch {current['torch']}"
        yield f"  versions {label}: {n} entries" + (" (this installation)" if mine else "")
    yield f"  lock files: {info['lock_files']}; stale temp files: {info['stale_temp_files']}" + (
        f"; older layouts: {', '.join(info['other_layouts'])}" if info["other_layouts"] else "")
