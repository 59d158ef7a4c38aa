"""``unlearn-audit``: the command line.

::

    unlearn-audit demo [--out DIR] [--profile ci] [--strict]      # the embedded colored_digits audit
    unlearn-audit run MODULE:ATTR [--out DIR] [--strict]            # an AuditSpec built in your code
    unlearn-audit report results.json [--html [PATH]] [--checklist [PATH]] [--strict]
    unlearn-audit cache info|prune|clear [--cache-dir DIR]               # see / prune / clear the cache

``demo`` and ``run`` write ``report.json``, ``report.html`` and ``checklist.md`` into ``--out`` (default
``./unlearn-audit-report``) and print the table. Exit status: 0 (also when checks fail, unless ``--strict``),
1 with ``--strict`` when the verdict is FAIL, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Sequence

__all__ = ["main", "demo_spec", "demo_model", "demo_unlearn", "load_spec"]

DEFAULT_OUT = "unlearn-audit-report"
FORMATS = {"json": "report.json", "html": "report.html", "md": "checklist.md"}


class UsageError(Exception):
    """A bad command line; printed without a traceback, exit status 2."""


# ---------------------------------------------------------------------------------------------- the demo
def demo_model() -> Any:
    """The demo's model: ``SmallConvNet`` (width 16, about 25k parameters) for the 8x8 colored digits."""
    from unlearn_audit.models import SmallConvNet

    return SmallConvNet(2, width=16, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def demo_unlearn(model: Any, ctx: Any) -> Any:
    """An example user method: re-initialise the last 3 layers (the head and the two last convolutions) and
    train the model on the retain set for 2 epochs of the original's recipe (an "exact unlearning of the last k
    layers", Goel et al. 2022, cut short): cheap, and what the re-initialised layers knew of the forget set is
    gone."""
    import torch

    from unlearn_audit.methods import last_k_layers
    from unlearn_audit.training import fit

    layers, _ = last_k_layers(model, 3)
    torch.manual_seed(ctx.seed)
    for _, layer in layers:
        layer.reset_parameters()
    return fit(model, ctx.retain, ctx.recipe.replace(epochs=2), seed=ctx.seed, device=ctx.device, progress=False)


def demo_spec(**overrides: Any) -> Any:
    """The demo audit: ``colored_digits`` (forget half of the red ">=5" digits), ``demo_model``, the default recipe
    and suite, both reference retrains, ``demo_unlearn`` as the user's method; ``overrides`` go to ``AuditSpec``
    (``profile=`` picks a profile first)."""
    from unlearn_audit.audit import AuditSpec
    from unlearn_audit.datasets import colored_digits

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


def _console() -> Any:
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 140)


def _print_report(report: Any) -> None:
    console = _console()
    try:
        console.print(report)
    except ImportError as exc:  # the rich renderer is not part of this installation
        console.print(f"(no table: {exc})")
    console.print(f"verdict: {report.verdict_line()}")


def _write(report: Any, out: Path, formats: Sequence[str]) -> list[str]:
    """Write the requested report files; returns lines describing what was (not) written."""
    lines = []
    for fmt in formats:
        path = out / FORMATS[fmt]
        try:
            if fmt == "json":
                report.to_json(path)
            elif fmt == "html":
                report.to_html(path)
            else:
                report.to_checklist(path)
            lines.append(f"wrote {path}")
        except ImportError as exc:
            lines.append(f"not written: {path} ({fmt} renderer unavailable: {exc})")
    return lines


def _formats(text: str) -> tuple[str, ...]:
    parts = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    bad = [p for p in parts if p not in FORMATS]
    if not parts or bad:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated subset of {','.join(FORMATS)}")
    return parts


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of ints") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the time limit must be > 0 seconds")
    return value


def _methods(text: str) -> Any:
    value = text.strip()
    return value if value in ("default", "all", "none") else [m.strip() for m in value.split(",") if m.strip()]


def _finish(report: Any, args: argparse.Namespace) -> int:
    _print_report(report)
    for line in _write(report, Path(args.out), args.formats):
        print(line)
    return 1 if args.strict and report.verdict.value == "FAIL" else 0


# ---------------------------------------------------------------------------------------------- commands
def _cmd_demo(args: argparse.Namespace) -> int:
    from unlearn_audit.audit import run_audit

    overrides: dict[str, Any] = {"profile": args.profile}
    for key in ("methods", "seeds", "device", "method_timeout"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.no_cache:
        overrides["cache_dir"] = False
    elif args.cache_dir is not None:
        overrides["cache_dir"] = args.cache_dir
    report = run_audit(demo_spec(**overrides), progress=not args.no_progress)
    return _finish(report, args)


def _cmd_run(args: argparse.Namespace) -> int:
    from unlearn_audit.audit import run_audit

    spec = load_spec(args.target)
    changes: dict[str, Any] = {}
    if args.method_timeout is not None:
        changes["method_timeout"] = args.method_timeout
    if args.no_cache:
        changes["cache_dir"] = False
    elif args.cache_dir is not None:
        changes["cache_dir"] = args.cache_dir
    if changes:
        spec = spec.replace(**changes)
    report = run_audit(spec, progress=not args.no_progress)
    return _finish(report, args)


def _cmd_report(args: argparse.Namespace) -> int:
    from unlearn_audit.report import AuditReport

    path = Path(args.results)
    if not path.is_file():
        raise UsageError(f"report: no such file {args.results!r}")
    try:
        report = AuditReport.from_json(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"report: {args.results!r} is not an unlearn-audit report ({exc})") from None
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
    return 1 if args.strict and report.verdict.value == "FAIL" else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unlearn-audit",
                                     description="Audit machine unlearning for fairness, robustness and privacy.")
    from unlearn_audit import __version__

    parser.add_argument("--version", action="version", version=f"unlearn-audit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def audit_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                       help=f"folder for report.json, report.html and checklist.md (default ./{DEFAULT_OUT})")
        p.add_argument("--formats", type=_formats, default=tuple(FORMATS), metavar="LIST",
                       help="report files to write: comma-separated subset of json,html,md (default: all)")
        p.add_argument("--strict", action="store_true", help="exit with status 1 when the verdict is FAIL")
        p.add_argument("--cache-dir", default=None, metavar="DIR",
                       help="cache folder (default ./.unlearn-audit-cache)")
        p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--method-timeout", type=_seconds, default=None, metavar="SECONDS",
                       help="time limit of each method; a method still running then is stopped and recorded as "
                            "failed (methods then run in worker processes; default: no limit)")

    demo = sub.add_parser("demo", help="audit an example method on the embedded colored_digits data",
                          description="Audit an example unlearning function (fine-tuning) on colored_digits against "
                                      "the default suite and both reference retrains.")
    audit_options(demo)
    demo.add_argument("--profile", choices=("smoke", "ci", "full"), default="ci", help="audit size (default ci)")
    demo.add_argument("--methods", type=_methods, default=None, metavar="NAMES",
                      help="default | all | none | comma-separated method names (default: the profile's)")
    demo.add_argument("--seeds", type=_seeds, default=None, metavar="INTS", help="e.g. 0,1,2 (default: the profile's)")
    demo.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N | mps")
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
    rep.add_argument("--strict", action="store_true", help="exit with status 1 when the verdict is FAIL")
    rep.set_defaults(func=_cmd_report)
    from unlearn_audit.audit._cache_admin import add_cache_command

    add_cache_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unlearn-audit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"unlearn-audit: error: {exc}", file=sys.stderr)
        return 2
    except (TypeError, ValueError) as exc:
        if type(exc).__name__ in ("ThresholdError", "CacheAdminError") or str(exc).startswith("AuditSpec."):
            print(f"unlearn-audit: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
