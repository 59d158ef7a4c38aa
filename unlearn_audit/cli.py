"""``unlearn-audit``: the command line.

::

    unlearn-audit demo [--out DIR] [--profile ci] [--seeds 0,1,2] [--methods ...]   # the embedded data set
    unlearn-audit run MODULE:ATTR [--out DIR] [--profile ...] [--seeds ...] [--methods ...]   # your AuditSpec
    unlearn-audit report results.json [--html [PATH]] [--checklist [PATH]]
    unlearn-audit compare OLD.json NEW.json [--max-regression 2] [--fail-on fail|warn]
    unlearn-audit cache info|prune|clear [--cache-dir DIR]               # see / prune / clear the cache
    unlearn-audit prepare SOURCE --out STORE [--csv CSV | --dataset NAME] [--size N]   # build an image store
    unlearn-audit reference celeba|waterbirds|fairface|cifar10 --root DIR             # a seed paper's setup
    ... [--executor serial|processes|ray] [--workers N] [--ray-address ADDRESS]   # where the models are trained

``demo`` and ``run`` write ``report.json``, ``report.html`` and ``checklist.md`` into ``--out`` (default
``./unlearn-audit-report``), print the table, and with ``--save-baseline PATH`` / ``--baseline PATH`` save this
audit as a baseline or compare it with one. Exit status (every command): 0 when the verdict passes, 1 when it is
FAIL (``--fail-on warn``: also WARN; ``--no-strict``: never), 2 on a usage error or an unreadable / incomparable
report.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from ._cli_args import number_arg

__all__ = ["main", "demo_spec", "demo_model", "demo_unlearn", "load_spec"]

DEFAULT_OUT = "unlearn-audit-report"
FAIL_ON = ("fail", "warn")


class UsageError(Exception):
    """A bad command line; printed without a traceback, exit status 2."""


# ---------------------------------------------------------------------------------------------- the demo
def demo_model() -> Any:
    """The demo's model: ``SmallConvNet`` (width 16, about 25k parameters) for the 8x8 colored digits."""
    from unlearn_audit.models import SmallConvNet

    return SmallConvNet(2, width=16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def demo_unlearn(model: Any, ctx: Any) -> Any:
    """An example user method: exact unlearning, i.e. a retrain from scratch on the retain set with the original's
    recipe, seeded apart from the reference retrains (seed ``1000 + ctx.seed``) so that it is an independent
    retrain, not a copy of one. It is what every approximate method is measured against, so its audit shows what
    a PASS looks like: every difference to the references is seed noise, and every interval says how much."""
    from unlearn_audit.training import fit

    return fit(ctx.model_factory(), ctx.retain, ctx.recipe, seed=1000 + ctx.seed, device=ctx.device,
               progress=False)


def demo_spec(**overrides: Any) -> Any:
    """The demo audit: ``colored_digits`` (forget half of the red ">=5" digits), ``demo_model``, the default recipe
    and suite, both reference retrains, ``demo_unlearn`` as the user's method; ``overrides`` go to ``AuditSpec``
    (``profile=`` picks a profile first)."""
    from unlearn_audit.audit import AuditSpec
    from unlearn_audit.datasets import colored_digits

    from unlearn_audit.cli import demo_model, demo_unlearn   # the importable ones, also under `python -m`

    profile = overrides.pop("profile", "ci")
    kwargs = {"data": colored_digits(), "model_factory": demo_model, "unlearn_fn": demo_unlearn, **overrides}
    return AuditSpec.from_profile(profile, **kwargs)


# ---------------------------------------------------------------------------------------------- helpers
def load_spec(target: str) -> Any:
    """Import ``module:attr`` (a dotted module or a ``.py`` path) and return the ``AuditSpec`` it names (or that
    the zero-argument callable it names returns).

    Raises:
        UsageError: malformed target, module or attribute not found, not an AuditSpec.
    """
    from unlearn_audit.audit import AuditSpec

    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"run: {target!r} is not MODULE:ATTR (e.g. 'my_project.audit:spec' or 'audit.py:spec')")
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        path = Path(module_name).expanduser().resolve()
        if not path.is_file():
            raise UsageError(f"run: no such file {module_name!r}")
        sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:  # pragma: no cover - odd file types
            raise UsageError(f"run: cannot import {module_name!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        if str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise UsageError(f"run: cannot import module {module_name!r} (run from the folder that contains "
                                 f"it, or give a path such as path/to/{module_name.split('.')[-1]}.py)") from None
            raise
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise UsageError(f"run: module {module_name!r} has no attribute {attr!r}") from None
    if callable(obj) and not isinstance(obj, AuditSpec):
        obj = obj()
    if not isinstance(obj, AuditSpec):
        raise UsageError(f"run: {target} is of type {type(obj).__name__}, expected an AuditSpec or a zero-argument "
                         f"function returning one")
    return obj


def _width() -> int:
    """The terminal's width (80 to 160 columns); 100 when stdout is not a terminal."""
    import shutil

    if not sys.stdout.isatty():
        return 100
    return max(80, min(160, shutil.get_terminal_size((100, 24)).columns))


def _print_report(report: Any) -> None:
    try:
        print(report.to_text(width=_width(), color=sys.stdout.isatty()), end="")
    except ImportError as exc:  # the rich renderer is not part of this installation
        print(f"(no table: {exc})")
    print(f"verdict: {report.verdict_line()}")


def _write(report: Any, out: Path, formats: Sequence[str]) -> list[str]:
    """Write the requested report files; returns lines describing what was (not) written."""
    from unlearn_audit.report import REPORT_FORMATS

    lines = []
    for name in formats:
        fmt = REPORT_FORMATS[name]
        try:
            lines.append(f"wrote {fmt.write(report, out)}")
        except ImportError as exc:
            lines.append(f"not written: {out / fmt.filename} ({name} renderer unavailable: {exc})")
    return lines


def _formats(text: str) -> tuple[str, ...]:
    from unlearn_audit.report import parse_formats

    try:
        return parse_formats(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of ints") from None


_seconds = number_arg(float, noun="a number of seconds", accept=lambda v: v > 0,
                      rule="the time limit must be > 0 seconds")


def _methods(text: str) -> Any:
    value = text.strip()
    return value if value in ("default", "all", "none") else [m.strip() for m in value.split(",") if m.strip()]


def _exit_status(verdict: Any, args: argparse.Namespace) -> int:
    """1 when ``verdict`` is FAIL (or WARN with ``--fail-on warn``), unless ``--no-strict``; else 0."""
    if not args.strict:
        return 0
    failing = ("FAIL", "WARN") if args.fail_on == "warn" else ("FAIL",)
    return 1 if verdict.value in failing else 0


def _load(path_text: str, command: str) -> Any:
    from unlearn_audit.report import AuditReport

    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"{command}: no such file {path_text!r}")
    try:
        return AuditReport.from_json(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{command}: {path_text!r} is not an unlearn-audit report ({exc})") from None


def _against_baseline(report: Any, args: argparse.Namespace) -> int:
    """Save ``report`` as a baseline and / or compare it with one; the comparison's exit status (0 without one)."""
    status = 0
    if getattr(args, "baseline", None):
        status = _print_comparison(_load(args.baseline, "--baseline"), report, args)
    if getattr(args, "save_baseline", None):
        target = Path(args.save_baseline)
        report.to_json(target)
        print(f"saved the baseline {target}")
    return status


def _print_comparison(old: Any, new: Any, args: argparse.Namespace) -> int:
    from unlearn_audit.report import BaselineMismatch, compare_reports, parse_max_regression
    from unlearn_audit.report._baseline import render_comparison

    try:
        bounds = parse_max_regression(args.max_regression or [])
        cmp = compare_reports(old, new, max_regression=bounds)
    except BaselineMismatch as exc:
        raise UsageError(f"the baseline cannot be compared with this audit: {exc}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(render_comparison(cmp, width=_width(), all_models=getattr(args, "all_models", False)), end="")
    return _exit_status(cmp.verdict, args)


_workers = number_arg(int, noun="a whole number of workers", accept=lambda v: v >= 1, rule="use at least 1 worker")


def _execution(args: argparse.Namespace, *, parallel_on_cpu: bool = False) -> dict[str, Any]:
    """``run_audit``'s executor arguments from ``--executor``, ``--workers`` and ``--ray-address``.

    With ``parallel_on_cpu`` (the demo) and none of them given, a CPU-only machine with several cores runs one
    worker process per core: the demo's small models leave most of a second core idle in one process (measured
    on 2 cores: 2 min 04 s serial vs 1 min 17 s with two workers)."""
    executor = args.executor
    if executor is None:
        executor = "ray" if args.ray_address else ("processes" if args.workers else "serial")
        if executor == "serial" and parallel_on_cpu and _cpu_cores() >= 2 and getattr(args, "device", None) in (
                None, "cpu"):
            import torch

            if args.device == "cpu" or not torch.cuda.is_available():
                executor = "processes"
    return {"executor": executor, "workers": args.workers, "ray_address": args.ray_address}


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        return os.cpu_count() or 1


def _finish(report: Any, args: argparse.Namespace) -> int:
    if getattr(args, "request_id", None):
        report.config["request_id"] = args.request_id
    _print_report(report)
    for line in _write(report, Path(args.out), args.formats):
        print(line)
    regressed = _against_baseline(report, args)
    return max(_exit_status(report.verdict, args), regressed)


def _progress(args: argparse.Namespace) -> Any:
    from unlearn_audit.progress_display import display_for

    return display_for("off" if args.no_progress else args.progress)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The spec fields set on the command line (``--methods``, ``--seeds``, ``--suite-seeds``, ``--device``, the
    cache)."""
    out: dict[str, Any] = {}
    for key in ("methods", "seeds", "suite_seeds", "device", "method_timeout"):
        if getattr(args, key, None) is not None:
            out[key] = getattr(args, key)
    if args.no_cache:
        out["cache_dir"] = False
    elif args.cache_dir is not None:
        out["cache_dir"] = args.cache_dir
    return out


# ---------------------------------------------------------------------------------------------- commands
def _cmd_demo(args: argparse.Namespace) -> int:
    from unlearn_audit.audit import run_audit

    report = run_audit(demo_spec(profile=args.profile or "ci", **_overrides(args)), progress=_progress(args),
                       **_execution(args, parallel_on_cpu=True))
    return _finish(report, args)


def _cmd_run(args: argparse.Namespace) -> int:
    from unlearn_audit.audit import PROFILES, run_audit

    spec = load_spec(args.target)
    changes = _overrides(args)
    if args.profile is not None:   # the profile's methods, seeds, references and metrics, then the options above
        profile = PROFILES[args.profile].spec_kwargs()
        if "seeds" in changes:
            profile.pop("reference_seeds")
        changes = {**profile, **changes}
    if changes:
        spec = spec.replace(**changes)
    report = run_audit(spec, progress=_progress(args), **_execution(args))
    return _finish(report, args)


def _cmd_reference(args: argparse.Namespace) -> int:
    from unlearn_audit.audit import PROFILES, reference_spec, run_audit

    overrides = _overrides(args)
    if args.profile is not None:
        profile = PROFILES[args.profile].spec_kwargs()
        if "seeds" in overrides:
            profile.pop("reference_seeds")
        overrides = {**profile, **overrides}
    if args.method is not None:
        overrides["unlearn_fn"] = args.method
    try:
        spec = reference_spec(args.name, root=args.root, store=args.store, size=args.size,
                              forget_ratio=args.forget_ratio, progress=not args.no_progress, **overrides)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    return _finish(run_audit(spec, progress=_progress(args)), args)


def _cmd_report(args: argparse.Namespace) -> int:
    report = _load(args.results, "report")
    path = Path(args.results)
    _print_report(report)
    formats = []
    if args.html is not None:
        formats.append(("html", Path(args.html) if args.html else path.with_suffix(".html")))
    if args.checklist is not None:
        formats.append(("md", Path(args.checklist) if args.checklist else path.with_name("checklist.md")))
    for fmt, target in formats:
        try:
            (report.to_html if fmt == "html" else report.to_checklist)(target)
            print(f"wrote {target}")
        except ImportError as exc:
            print(f"not written: {target} ({fmt} renderer unavailable: {exc})")
    return _exit_status(report.verdict, args)


def _cmd_compare(args: argparse.Namespace) -> int:
    return _print_comparison(_load(args.old, "compare"), _load(args.new, "compare"), args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unlearn-audit",
                                     description="Audit machine unlearning for fairness, robustness and privacy.")
    from unlearn_audit import __version__

    parser.add_argument("--version", action="version", version=f"unlearn-audit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def gate_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--fail-on", choices=FAIL_ON, default="fail",
                       help="exit with status 1 on a FAIL (default) or also on a WARN (an inconclusive check gates as "
                            "a warning by default)")
        p.add_argument("--no-strict", dest="strict", action="store_false",
                       help="always exit with status 0 when the command ran (default: 1 on a failing verdict)")
        p.add_argument("--strict", dest="strict", action="store_true", default=True,
                       help=argparse.SUPPRESS)   # the default since 0.2; kept so old scripts keep working

    def baseline_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--max-regression", action="append", default=None, metavar="[METRIC=]N",
                       help="largest regression allowed against a baseline, in the metric's unit (default 2 "
                            "points for every percentage metric); repeatable, e.g. 2 or ta=1 or fg=0.05")

    def audit_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                       help=f"folder for report.json, report.html and checklist.md (default ./{DEFAULT_OUT})")
        p.add_argument("--formats", type=_formats, default=None, metavar="LIST",
                       help="report files to write: comma-separated subset of json,html,md (default: all)")
        gate_options(p)
        p.add_argument("--profile", choices=("smoke", "ci", "full"), default=None,
                       help="audit size: smoke (your method and one retrain), ci (the default suite; 3 seeds of "
                            "yours, 5 of each reference), full (every method, 3 seeds); for run, replaces the "
                            "spec's methods, seeds, references and metrics")
        p.add_argument("--methods", type=_methods, default=None, metavar="NAMES",
                       help="default | all | none | comma-separated method names")
        p.add_argument("--seeds", type=_seeds, default=None, metavar="INTS",
                       help="seeds of your method, e.g. 0,1,2 (ci: 0,1,2; the references get at least 3)")
        p.add_argument("--suite-seeds", type=_seeds, default=None, metavar="INTS",
                       help="seeds of the suite methods (ci: 0; default: the profile's)")
        p.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N | mps")
        p.add_argument("--cache-dir", default=None, metavar="DIR",
                       help="cache folder (default ./.unlearn-audit-cache)")
        p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
        p.add_argument("--method-timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="time limit of each method; a method still running then is stopped and recorded as "
                            "failed (methods then run in worker processes; default: no limit)")
        p.add_argument("--progress", choices=("auto", "live", "plain", "off"), default="auto",
                       help="auto (default): a live line on a terminal, one line per finished step otherwise")
        p.add_argument("--no-progress", action="store_true", help="the same as --progress off")
        p.add_argument("--request-id", default=None, metavar="ID",
                       help="the erasure request this audit answers (recorded in the reports and the checklist)")
        p.add_argument("--save-baseline", default=None, metavar="PATH",
                       help="also save this audit's report.json at PATH, to compare later runs with")
        p.add_argument("--baseline", default=None, metavar="PATH",
                       help="compare this audit with a saved one; a significant regression beyond "
                            "--max-regression fails")
        baseline_options(p)
        p.add_argument("--all-models", action="store_true", help="show every model against the baseline")
        p.add_argument("--executor", choices=("serial", "processes", "ray"), default=None,
                       help="how the audit's models are trained: serial (default, this process; demo: processes "
                            "on a CPU-only machine with 2+ cores), processes (worker "
                            "processes on this machine: one per GPU, or CPU workers splitting the cores) or ray "
                            "(a Ray cluster; pip install 'unlearn-audit[ray]')")
        p.add_argument("--workers", type=_workers, default=None, metavar="N",
                       help="worker count of --executor processes / ray (default: one per GPU, else the cores); "
                            "alone it implies --executor processes")
        p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                       help="the Ray cluster of --executor ray: auto (the one running on this machine), "
                            "ray://host:10001 (default: a local Ray started for the run)")

    demo = sub.add_parser("demo", help="audit an example method on the embedded colored_digits data",
                          description="Audit an example unlearning function (an independent retrain from "
                                      "scratch on the retain set: what a PASS looks like) on colored_digits against "
                                      "the default suite and both reference retrains. On a CPU-only machine with "
                                      "several cores it runs one worker process per core unless --executor says "
                                      "otherwise.")
    audit_options(demo)
    demo.set_defaults(func=_cmd_demo)

    run = sub.add_parser("run", help="run an AuditSpec defined in your code",
                         description="Run the AuditSpec named by MODULE:ATTR: ATTR is an AuditSpec or a zero-argument "
                                     "function returning one; MODULE is a dotted module (importable from the "
                                     "current folder) or a path to a .py file.")
    run.add_argument("target", metavar="MODULE:ATTR")
    audit_options(run)
    run.set_defaults(func=_cmd_run)

    rep = sub.add_parser("report", help="print a saved report and render it as HTML / a checklist",
                         description="Print the table of a saved report.json; --html / --checklist also render it "
                                     "(next to the JSON file unless a path is given).")
    rep.add_argument("results", metavar="RESULTS.json")
    rep.add_argument("--html", nargs="?", const="", default=None, metavar="PATH",
                     help="write the HTML report (default: RESULTS.html)")
    rep.add_argument("--checklist", nargs="?", const="", default=None, metavar="PATH",
                     help="write the Markdown compliance checklist (default: checklist.md beside RESULTS)")
    gate_options(rep)
    rep.set_defaults(func=_cmd_report)
    from unlearn_audit.audit._cache_admin import add_cache_command

    add_cache_command(sub)

    cmp = sub.add_parser("compare", help="compare an audit with a baseline (two report.json files)",
                         description="Per model and metric, the baseline (OLD) against this audit (NEW) with "
                                     "confidence intervals. A regression fails only when it is significant (its whole "
                                     "interval is beyond the bound) and larger than --max-regression. Refused when "
                                     "the two audits use other data or another forget request.")
    cmp.add_argument("old", metavar="OLD.json")
    cmp.add_argument("new", metavar="NEW.json")
    baseline_options(cmp)
    gate_options(cmp)
    cmp.add_argument("--all-models", action="store_true",
                     help="show every model (default: your method, and any other model that regressed)")
    cmp.set_defaults(func=_cmd_compare)

    from unlearn_audit.audit._reference_recipes import REFERENCE_AUDITS

    ref = sub.add_parser("reference", help="audit a seed paper's setup (ResNet-18) on a local copy of its data set",
                         description="ResNet-18 on CelebA / Waterbirds / FairFace at 224 px with the forget requests "
                                     "and recipes of De Min et al. (2025), or on CIFAR-10 at 32 px. The data set is "
                                     "prepared once into an image store (never downloaded).")
    ref.add_argument("name", choices=tuple(REFERENCE_AUDITS))
    ref.add_argument("--root", required=True, metavar="DIR", help="the local copy of the data set")
    ref.add_argument("--store", default=None, metavar="STORE",
                     help="image store to build / reuse (default ./unlearn-audit-stores/NAME-SIZEpx.uastore)")
    ref.add_argument("--size", type=int, default=None, metavar="N", help="image side (default 224; CIFAR-10 32)")
    ref.add_argument("--forget-ratio", type=float, default=0.5, metavar="R", help="share of the forget group (0.5)")
    ref.add_argument("--method", default=None, metavar="NAME", help="a registered method audited as yours")
    audit_options(ref)
    ref.set_defaults(func=_cmd_reference)

    from unlearn_audit._cli_prepare import add_prepare_parser

    add_prepare_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unlearn-audit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "formats", "absent") is None:
        from unlearn_audit.report import FORMAT_NAMES

        args.formats = FORMAT_NAMES
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"unlearn-audit: error: {exc}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as exc:
        if type(exc).__name__ in ("ThresholdError", "CacheAdminError", "ExecutorError") or \
                str(exc).startswith("AuditSpec."):
            print(f"unlearn-audit: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
