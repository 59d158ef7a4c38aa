"""Helper process for the cache tests (not a test module).

``python _cache_worker.py lock ROOT LOG READY GO``: signal READY, wait for GO, then fetch one key whose
computation appends a line to LOG and takes a second; prints "cached" or "computed".
``python _cache_worker.py crash ROOT``: compute an entry but die (os._exit) just before its metadata file is
renamed into place, as a killed process would.
``python _cache_worker.py audit ROOT LOG OUT [READY GO] [--kill-at STAGE]``: run a tiny audit (original trained by
the audit, one retrain, the user's one-epoch fine-tune) on cache ROOT and write its report to OUT; every
training appends ``pid stage`` to LOG. With READY / GO it waits like ``lock``. ``--kill-at`` STAGE (original,
reference, user, report) sends itself SIGKILL when that stage starts (for report: just before report.json is
renamed into place).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

KEY = "ab" * 32


def main() -> None:
    mode, root = sys.argv[1], sys.argv[2]
    from unlearn_audit.audit import _cache
    from unlearn_audit.audit._cache import Cache, Entry

    if mode == "audit":
        audit(sys.argv[2:])
        return
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


#: not a simple value once set up (it holds a Path), so the cache's source identity of the patched fits ignores it
STATE: dict = {}


def counting_fit(stage, model, dataset, recipe, **kw):
    """``fit`` that logs each training with what it trains (and kills the process at the requested stage)."""
    import signal

    if STATE["kill_at"] == stage:
        os.kill(os.getpid(), signal.SIGKILL)
    with open(STATE["log"], "a") as fh:
        fh.write(f"{os.getpid()} {stage}\n")
    return STATE["fit"](model, dataset, recipe, **kw)


def fit_original(model, dataset, recipe, **kw):  # the runner trains the original
    return counting_fit("original", model, dataset, recipe, **kw)


def fit_reference(model, dataset, recipe, **kw):  # the retrain reference
    return counting_fit("reference", model, dataset, recipe, **kw)


def fit_user(model, dataset, recipe, **kw):  # the user's one-epoch fine-tune imports training.fit
    return counting_fit("user", model, dataset, recipe, **kw)


def audit(argv: list[str]) -> None:
    import signal

    kill_at = None
    if "--kill-at" in argv:
        i = argv.index("--kill-at")
        kill_at, argv = argv[i + 1], argv[:i] + argv[i + 2:]
    root, log, out = argv[0], Path(argv[1]), Path(argv[2])
    if len(argv) > 3:
        ready, go = Path(argv[3]), Path(argv[4])
        ready.touch()
        while not go.exists():
            time.sleep(0.01)
    import unlearn_audit.audit._execute as runner
    import unlearn_audit.methods._retrain as retrain
    import unlearn_audit.report._report as report_module
    import unlearn_audit.training as training
    from unlearn_audit.audit import AuditSpec, run_audit
    from unlearn_audit.datasets import colored_digits
    from unlearn_audit.metrics import MetricConfig
    from unlearn_audit.training import TrainRecipe

    STATE.update(log=log, kill_at=kill_at, fit=training.fit)
    runner.fit, retrain.fit, training.fit = fit_original, fit_reference, fit_user  # type: ignore[attr-defined]
    if kill_at == "report":
        real_replace = os.replace

        def dying_replace(src, dst):
            if str(dst).endswith("report.json"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)

        report_module.os.replace = dying_replace  # type: ignore[attr-defined]
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.audit.conftest import one_epoch_ft, tiny_model

    spec = AuditSpec(data=colored_digits(scale=1, majority=0.9, size=8, seed=0), model_factory=tiny_model,
                     unlearn_fn=one_epoch_ft, recipe=TrainRecipe(epochs=2, lr=0.05, batch_size=64), methods="none",
                     references=("retrain",), seeds=(0,), reference_seeds=(0,), n_boot=200, device="cpu",
                     metric_config=MetricConfig.preset("smoke", attack_max_samples=128), cache_dir=root)
    report = run_audit(spec, progress=False)
    report.to_json(out)
    print(json.dumps({r.name: r.cached for r in report.rows}))


if __name__ == "__main__":
    main()
