"""Scaling of the audit over workers: serial vs ``processes``, pytest-xdist and a local Ray, 1 and 2 workers.

    python benchmarks/scaling.py                    # every executor, 1 and 2 workers
    python benchmarks/scaling.py --only processes   # one executor

The audit (``_scaling_spec.spec``): the default suite x 3 seeds, both reference retrains x 3 seeds and the demo's
user method x 3 seeds on the small embedded default (``colored_digits(scale=1)``), CPU, one torch thread per
step (``UNLEARN_AUDIT_THREADS=1``) in every run, serial included, so every executor computes the same numbers
and the comparison is of executors, not of thread counts (each run's report records its threads per step; the
benchmark checks it is 1). Every run on a fresh cache. Prints the wall time of each run, the speed-up of 2
workers over 1 worker and over serial, and the overhead per step of an executor with one worker over serial
(``(wall(1 worker) - wall(serial)) / steps``; for xdist, over a plain ``pytest --unlearn-audit`` run), with the
load average before and after (figures from a loaded machine say little).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ["UNLEARN_AUDIT_THREADS"] = "1"


def timed_audit(executor: str, workers: int | None, root: Path) -> tuple[float, int]:
    import _scaling_spec

    from unlearn_audit.audit import run_audit

    spec = _scaling_spec.spec(root / f"cache-{executor}-{workers}")
    t0 = time.perf_counter()
    report = run_audit(spec, executor=executor, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    failed = [r.name for r in report.rows if r.status != "ok"]
    assert not failed, failed
    threads = report.config["execution"]["threads_per_step"]
    assert threads == 1, f"{executor}: steps ran with {threads} torch threads, expected 1"
    return wall, len(report.rows)


def timed_pytest(workers: int | None, root: Path) -> float:
    import _scaling_spec

    project = root / "project"
    _scaling_spec.write_project(str(project))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent), str(HERE.parent / "plugin"),
                                                        os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--unlearn-audit",
            "--unlearn-seeds=0,1,2", "--unlearn-suite-seeds=0,1,2", "--unlearn-bootstrap=500", "--unlearn-device=cpu",
            f"--unlearn-cache-dir={root / f'cache-pytest-{workers}'}"]
    if workers is not None:
        args += ["-n", str(workers)]
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("processes", "xdist", "ray"), default=None)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="unlearn-audit-scaling-") as tmp:
        root = Path(tmp)
        serial, steps = timed_audit("serial", None, root)
        print(f"{steps} steps, 1 torch thread per step in every run; serial: {serial:.1f} s", flush=True)
        for name in ("processes", "ray", "xdist"):
            if args.only not in (None, name):
                continue
            if name == "xdist":
                base = timed_pytest(None, root)
                one, two = timed_pytest(1, root), timed_pytest(2, root)
                print(f"pytest --unlearn-audit (no -n): {base:.1f} s", flush=True)
            else:
                base = serial
                one, two = timed_audit(name, 1, root)[0], timed_audit(name, 2, root)[0]
            print(f"{name:9s}: 1 worker {one:6.1f} s, 2 workers {two:6.1f} s; speed-up x{one / two:.2f} over 1 "
                  f"worker, x{base / two:.2f} over serial; overhead {1000 * (one - base) / steps:.0f} ms per step",
                  flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
