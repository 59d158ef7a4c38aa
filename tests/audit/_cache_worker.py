"""Helper process for the cache tests (not a test module).

``python _cache_worker.py lock ROOT LOG READY GO``: signal READY, wait for GO, then fetch one key whose
computation appends a line to LOG and takes a second; prints "cached" or "computed".
``python _cache_worker.py crash ROOT``: compute an entry but die (os._exit) just before its metadata file is
renamed into place, as a killed process would.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

KEY = "ab" * 32


def main() -> None:
    mode, root = sys.argv[1], sys.argv[2]
    from unlearn_audit.audit import _cache
    from unlearn_audit.audit._cache import Cache, Entry

    cache = Cache(root)
    if mode == "lock":
        log, ready, go = (Path(p) for p in sys.argv[3:6])
        ready.touch()
        while not go.exists():
            time.sleep(0.01)

        def compute() -> Entry:
            with open(log, "a") as fh:
                fh.write(f"{os.getpid()}\n")
            time.sleep(1.0)
            return Entry(payload={"value": 42})

        entry, cached = cache.fetch("metrics", KEY, compute)
        assert entry.payload == {"value": 42}
        print("cached" if cached else "computed")
    elif mode == "crash":
        import torch

        real_replace = os.replace

        def dying_replace(src, dst):
            if str(dst).endswith(".json"):
                os._exit(3)
            real_replace(src, dst)

        _cache.os.replace = dying_replace  # type: ignore[attr-defined]
        cache.fetch("model", KEY, lambda: Entry(payload={"v": 1}, state={"w": torch.ones(3)}))


if __name__ == "__main__":
    main()
