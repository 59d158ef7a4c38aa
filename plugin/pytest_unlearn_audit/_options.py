"""Every ``--unlearn-*`` option, its ``unlearn_audit_*`` ini key and ``UNLEARN_AUDIT_*`` environment variable.

Precedence, per setting: command line > environment > ini file > profile default. Each resolved value
remembers where it came from (``Resolved.source``), so a bad value raises a ``pytest.UsageError`` that names
its origin, e.g. ``--unlearn-seeds: 'a,b' is not a comma-separated list of ints`` or
``ini unlearn_audit_profile: 'fast' is not one of smoke, ci, full``.

Nothing here imports torch or the library's heavy parts (only the torch-free registry of report formats):
values are checked for syntax only; names that need the library
(method names, threshold strings) are checked when the audit is built (``_session``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

import pytest

from unlearn_audit.report._formats import FORMAT_NAMES as REPORT_FORMATS, parse_formats

__all__ = ["SETTINGS", "PROFILE_NAMES", "REPORT_FORMATS", "Resolved", "Settings", "Setting", "addoption",
           "resolve_settings"]

T = TypeVar("T")

PROFILE_NAMES = ("smoke", "ci", "full")
DEFAULT_PROFILE = "ci"
DEFAULT_CACHE_DIR = ".unlearn-audit-cache"
INCONCLUSIVE_POLICIES = ("warn", "fail", "pass")    # as unlearn_audit.report.INCONCLUSIVE_POLICIES (torch-free copy)
PROGRESS_MODES = ("auto", "live", "plain", "off")   # as unlearn_audit.progress_display.PROGRESS_MODES
FAIL_ON = ("fail", "warn")
MIN_BOOTSTRAP = 100
#: as unlearn_audit.audit.EXECUTOR_NAMES (torch-free copy; a test keeps them equal), plus "auto"
EXECUTOR_NAMES = ("auto", "serial", "processes", "ray", "xdist")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(\+[A-Za-z0-9_.\-]+)?$")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Bad(ValueError):
    """A value that does not parse; the message is completed with the value's source."""


# ---------------------------------------------------------------------------------------------- value parsers
def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _Bad(f"{text!r} is not a boolean (use 1/0, true/false, yes/no or on/off)")


def _profile(text: str) -> str:
    value = text.strip()
    if value not in PROFILE_NAMES:
        raise _Bad(f"{text!r} is not one of {', '.join(PROFILE_NAMES)}")
    return value


def _methods(text: str) -> str | tuple[str, ...]:
    value = text.strip()
    if value in ("default", "all", "none"):
        return value
    names = tuple(n.strip() for n in value.split(","))
    if not names or any(not _NAME.match(n) for n in names):
        raise _Bad(f"{text!r} is not 'default', 'all', 'none' or a comma-separated list of method names")
    return names


def _seeds(text: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",")]
    try:
        seeds = tuple(int(p) for p in parts)
    except ValueError:
        raise _Bad(f"{text!r} is not a comma-separated list of ints") from None
    if any(s < 0 for s in seeds):
        raise _Bad(f"{text!r}: seeds must be >= 0")
    if len(set(seeds)) != len(seeds):
        raise _Bad(f"{text!r}: seeds must be distinct")
    return seeds


def _device(text: str) -> str:
    value = text.strip()
    if not _DEVICE.match(value):
        raise _Bad(f"{text!r} is not a device (use auto, cpu, cuda, cuda:N or mps)")
    return value


def _formats(text: str) -> tuple[str, ...]:
    try:
        return parse_formats(text)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _path_or_none(text: str) -> str | None:
    value = text.strip()
    if not value:
        raise _Bad("an empty path (use 'none' to switch it off)")
    return None if value.lower() in ("none", "off") else value


def _policy(text: str) -> str:
    value = text.strip().lower()
    if value not in INCONCLUSIVE_POLICIES:
        raise _Bad(f"{text!r} is not one of {', '.join(INCONCLUSIVE_POLICIES)} (how an INCONCLUSIVE check gates: "
                   "warn = passes with a warning, fail = fails the test, pass = passes silently)")
    return value


def _number(text: str, cast: Callable[[str], Any], expected: str) -> Any:
    try:
        return cast(text.strip())
    except ValueError:
        kind = "an int" if cast is int else "a number"
        raise _Bad(f"{text!r} is not {kind} (expected {expected})") from None


def _level(text: str) -> float:
    value = _number(text, float, "a confidence level such as 0.95")
    if not 0.5 <= value < 1.0:
        raise _Bad(f"{text!r}: the confidence level must be in [0.5, 1), e.g. 0.9, 0.95 or 0.99")
    return value


def _n_boot(text: str) -> int:
    value = _number(text, int, "a number of bootstrap replicates such as 2000")
    if value < MIN_BOOTSTRAP:
        raise _Bad(f"{text!r}: use at least {MIN_BOOTSTRAP} bootstrap replicates (2000 is the default)")
    return value


_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h)?$")


def _timeout(text: str) -> float | None:
    """Seconds (``90``, ``90s``, ``5m``, ``1h``), or ``none`` / ``off`` for no limit."""
    value = text.strip().lower()
    if value in ("none", "off"):
        return None
    m = _DURATION.match(value)
    if m is None or float(m.group(1)) <= 0:
        raise _Bad(f"{text!r} is not a positive duration (expected seconds such as 600, or 90s, 10m, 1h; "
                   f"'none' for no limit)")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]


def _choice(choices: tuple[str, ...], meaning: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise _Bad(f"{text!r} is not one of {', '.join(choices)} ({meaning})")
        return value

    return parse


def _text(text: str) -> str:
    value = text.strip()
    if not value:
        raise _Bad("an empty value")
    return value


def _max_regression(text: str) -> dict[str, float]:
    from unlearn_audit.report._baseline import parse_max_regression   # torch-free

    try:
        return parse_max_regression(text)
    except ValueError as exc:
        raise _Bad(str(exc).removeprefix("max regression: ")) from None


def _executor(text: str) -> str:
    value = text.strip().lower()
    if value not in EXECUTOR_NAMES:
        raise _Bad(f"{text!r} is not one of {', '.join(EXECUTOR_NAMES)} (auto: xdist under pytest -n, else serial)")
    return value


def _workers(text: str) -> int:
    value = _number(text, int, "a whole number of workers >= 1")
    if value < 1:
        raise _Bad(f"{text!r}: use at least 1 worker")
    return value


def _ray_address(text: str) -> str:
    value = text.strip()
    if not value or any(c.isspace() for c in value):
        raise _Bad(f"{text!r} is not a Ray address (use auto, ray://host:port or host:port)")
    return value


def _thresholds(text: str) -> tuple[str, ...]:
    """``;``- or newline-separated compact checks (env form); syntax is checked by the library later."""
    parts = tuple(p.strip() for p in re.split(r"[;\n]", text) if p.strip())
    if not parts:
        raise _Bad(f"{text!r} holds no check (expected e.g. 'eo:abs<=5;ga:drop<=5')")
    return parts


# ---------------------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Setting:
    """One setting: its option, ini key, environment variable and parser."""

    name: str
    help: str
    parse: Callable[[str], Any]
    metavar: str | None = None
    flag: bool = False            # a store_true option
    repeat: bool = False          # an append option / linelist ini key
    path: bool = False            # relative paths are resolved against the source's directory
    key: str | None = None        # ini / env suffix when it differs from ``name``

    @property
    def cli(self) -> str:
        return "--unlearn-" + ("audit" if self.name == "collect" else self.name.replace("_", "-"))

    @property
    def dest(self) -> str:
        return "unlearn_" + self.name

    @property
    def ini(self) -> str:
        return "unlearn_audit_" + (self.key or self.name)

    @property
    def env(self) -> str:
        return "UNLEARN_AUDIT_" + (self.key or self.name).upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("collect", "collect one test item per audit check (unlearn_audit::eo, ::ga, ...), so `pytest "
            "--unlearn-audit` alone gates CI", _bool, flag=True),
    Setting("profile", f"audit size: {'|'.join(PROFILE_NAMES)} (default {DEFAULT_PROFILE}); sets the defaults of "
            "methods, seeds, recipe and metrics", _profile, metavar="NAME"),
    Setting("methods", "suite methods compared with yours: default | all | none | comma-separated names "
            "(default: the profile's)", _methods, metavar="NAMES"),
    Setting("seeds", "comma-separated seeds of your method, e.g. 0,1,2 (default: the profile's; ci: 0,1,2)", _seeds,
            metavar="INTS"),
    Setting("suite_seeds", "comma-separated seeds of the suite methods (default: the profile's; ci: 0)", _seeds,
            metavar="INTS"),
    Setting("reference_seeds", "comma-separated seeds of the reference retrains (default: the profile's, ci: "
            "0,1,2,3,4; with --unlearn-seeds: those extended to at least 3, so the training-seed spread is "
            "measured)", _seeds, metavar="INTS"),
    Setting("level", "confidence level of every interval and check decision (default 0.95)", _level,
            metavar="P"),
    Setting("inconclusive", "how an INCONCLUSIVE check (its interval straddles the bound) gates: warn (default: "
            "passes with a warning) | fail | pass", _policy, metavar="POLICY"),
    Setting("bootstrap", "bootstrap replicates per interval (default 2000)", _n_boot, metavar="N"),
    Setting("device", "auto | cpu | cuda | cuda:N | mps (default auto: CUDA when available)", _device,
            metavar="DEVICE"),
    Setting("method_timeout", "time limit of each method (yours, the suite's, the references): seconds, or 90s, "
            "10m, 1h; a method still running then is stopped and recorded as failed (default: none). Methods then "
            "run in worker processes, so they must be importable (top-level functions)", _timeout,
            metavar="DURATION"),
    Setting("executor", "where the audit's models are trained: auto (default: shared between the workers of "
            "pytest -n, else serial) | serial | processes (worker processes on this machine) | ray (a Ray cluster; "
            "pip install 'unlearn-audit[ray]')", _executor, metavar="NAME"),
    Setting("workers", "worker count of --unlearn-executor=processes / ray (default: one per GPU, else the cores)",
            _workers, metavar="N"),
    Setting("ray_address", "the Ray cluster of --unlearn-executor=ray: auto | ray://host:port (default: a local "
            "Ray started for the session)", _ray_address, metavar="ADDRESS"),
    Setting("cache_dir", f"where trained models and metrics are cached across runs (default "
            f"<rootdir>/{DEFAULT_CACHE_DIR}; 'none' switches caching off)", _path_or_none, metavar="DIR", path=True),
    Setting("report_dir", "write the audit report files into this folder (default: none written)", _path_or_none,
            metavar="DIR", path=True),
    Setting("report_formats", f"report files to write: comma-separated subset of {','.join(REPORT_FORMATS)} "
            "(default: all)", _formats, metavar="LIST"),
    Setting("progress", "show the audit's progress: auto (default: a live line on a terminal, one line per finished "
            "step in CI logs) | live | plain | off; -qq also switches it off",
            _choice(PROGRESS_MODES, "auto = live on a terminal, plain lines otherwise"), metavar="MODE"),
    Setting("fail_on", "what fails a check item: fail (default) | warn (also a WARN, and an INCONCLUSIVE check "
            "that gates as a warning)", _choice(FAIL_ON, "the least severe status that fails"), metavar="STATUS"),
    Setting("request_id", "the erasure request this audit answers (recorded in report.json and the checklist)",
            _text, metavar="ID"),
    Setting("save_baseline", "save this audit's report.json at PATH, as the baseline later runs compare with",
            _path_or_none, metavar="PATH", path=True),
    Setting("baseline", "compare this audit with a saved one (a report.json); with --unlearn-audit the item "
            "unlearn_audit::baseline fails on a significant regression beyond --unlearn-max-regression",
            _path_or_none, metavar="PATH", path=True),
    Setting("max_regression", "largest regression allowed against the baseline, in the metric's unit: N or "
            "METRIC=N, comma-separated (default 2 points for every percentage metric)", _max_regression,
            metavar="BOUNDS"),
    Setting("threshold", "a compact check such as eo:abs<=5 or ga:drop<=5; repeat the option for several; "
            "overrides the library default (and ini / env) check with the same id; ini / env: one per line or "
            "';'-separated", _thresholds, metavar="CHECK", repeat=True, key="thresholds"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def addoption(parser: pytest.Parser) -> None:
    """Register the options and ini keys (called from ``pytest_addoption``)."""
    group = parser.getgroup("unlearn-audit", "machine-unlearning audit (pytest-unlearn-audit)")
    for s in SETTINGS:
        if s.flag:
            group.addoption(s.cli, action="store_true", default=None, dest=s.dest, help=s.help)
        elif s.repeat:
            group.addoption(s.cli, action="append", default=None, dest=s.dest, metavar=s.metavar, help=s.help)
        else:
            group.addoption(s.cli, action="store", default=None, dest=s.dest, metavar=s.metavar, help=s.help)
        parser.addini(s.ini, type="linelist" if s.repeat else "string", default=[] if s.repeat else "",
                      help=f"{s.cli} as an ini key" + (" (one check per line)" if s.repeat else "") + f"; env {s.env}")


# ---------------------------------------------------------------------------------------------- resolution
@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A setting's value and where it came from (``"--unlearn-seeds"``, ``"env UNLEARN_AUDIT_SEEDS"``,
    ``"ini unlearn_audit_seeds"``, ``"profile 'ci'"`` or ``"default"``). ``value=None`` = the profile decides."""

    value: T
    source: str


@dataclass(frozen=True)
class Settings:
    """All resolved settings. ``thresholds`` lists ``(check_text, source)`` lowest precedence first."""

    collect: Resolved[bool]
    profile: Resolved[str]
    methods: Resolved[Any]
    seeds: Resolved[Any]
    suite_seeds: Resolved[Any]
    reference_seeds: Resolved[Any]
    level: Resolved[Any]
    inconclusive: Resolved[Any]
    bootstrap: Resolved[Any]
    device: Resolved[Any]
    method_timeout: Resolved[Any]
    executor: Resolved[Any]
    workers: Resolved[Any]
    ray_address: Resolved[Any]
    cache_dir: Resolved[Path | None]
    report_dir: Resolved[Path | None]
    report_formats: Resolved[tuple[str, ...]]
    progress: Resolved[str] = Resolved("auto", "default")
    fail_on: Resolved[str] = Resolved("fail", "default")
    request_id: Resolved[Any] = Resolved(None, "default")
    save_baseline: Resolved[Any] = Resolved(None, "default")
    baseline: Resolved[Any] = Resolved(None, "default")
    max_regression: Resolved[Any] = Resolved(None, "default")
    thresholds: tuple[tuple[str, str], ...] = field(default=())

    def describe(self) -> str:
        """One line for the report header."""
        def v(r: Resolved[Any]) -> str:
            value = r.value
            if value is None:
                return "(profile)"
            if isinstance(value, tuple):
                return ",".join(str(x) for x in value)
            return str(value)

        parts = [f"profile={self.profile.value}", f"methods={v(self.methods)}", f"seeds={v(self.seeds)}"]
        if self.suite_seeds.value is not None:
            parts.append(f"suite_seeds={v(self.suite_seeds)}")
        if self.reference_seeds.value is not None:
            parts.append(f"reference_seeds={v(self.reference_seeds)}")
        parts += [f"level={v(self.level)}", f"inconclusive={v(self.inconclusive)}"]
        if self.bootstrap.value is not None:
            parts.append(f"bootstrap={self.bootstrap.value}")
        if self.method_timeout.value is not None:
            parts.append(f"method_timeout={self.method_timeout.value:g}s")
        if self.executor.value != "auto" or self.workers.value is not None:
            parts.append(f"executor={self.executor.value}")
            if self.workers.value is not None:
                parts.append(f"workers={self.workers.value}")
        parts += [f"device={v(self.device)}",
                 f"cache={self.cache_dir.value if self.cache_dir.value is not None else 'off'}"]
        if self.thresholds:
            parts.append(f"thresholds={len(self.thresholds)} custom")
        if self.fail_on.value != "fail":
            parts.append(f"fail_on={self.fail_on.value}")
        if self.baseline.value is not None:
            parts.append(f"baseline={self.baseline.value}")
        parts.append("checks collected" if self.collect.value else "checks not collected (--unlearn-audit)")
        return ", ".join(parts)


def _parse(setting: Setting, text: str, source: str) -> Any:
    try:
        return setting.parse(text)
    except _Bad as exc:
        raise pytest.UsageError(f"{source}: {exc}") from None


def _raw(config: pytest.Config, setting: Setting) -> tuple[str, str, Path] | None:
    """``(text, source, base_dir)`` from the highest-precedence place that sets ``setting``, or ``None``."""
    cli = config.getoption(setting.dest)
    if cli is not None:
        text = "1" if cli is True else str(cli)
        return text, setting.cli, config.invocation_params.dir
    env = os.environ.get(setting.env)
    if env is not None and env.strip():
        return env, f"env {setting.env}", config.invocation_params.dir
    ini = config.getini(setting.ini)
    if ini is not None and str(ini).strip():
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return str(ini), f"ini {setting.ini}", base
    return None


def _resolve(config: pytest.Config, name: str, default: Any, default_source: str) -> Resolved[Any]:
    setting = _BY_NAME[name]
    raw = _raw(config, setting)
    if raw is None:
        return Resolved(default, default_source)
    text, source, base = raw
    value = _parse(setting, text, source)
    if setting.path and value is not None:
        value = (base / Path(value).expanduser()).resolve()
    return Resolved(value, source)


def _resolve_thresholds(config: pytest.Config) -> tuple[tuple[str, str], ...]:
    """Every compact check with its source, lowest precedence first (ini, env, then command line)."""
    s = _BY_NAME["threshold"]
    out: list[tuple[str, str]] = []
    for line in config.getini(s.ini) or []:
        out.extend((t.strip(), f"ini {s.ini}") for t in line.split(";") if t.strip())
    env = os.environ.get(s.env)
    if env is not None and env.strip():
        out.extend((t, f"env {s.env}") for t in _parse(s, env, f"env {s.env}"))
    for text in config.getoption(s.dest) or []:
        if not text.strip():
            raise pytest.UsageError("--unlearn-threshold: an empty check (expected e.g. 'eo:abs<=5')")
        out.append((text.strip(), "--unlearn-threshold"))
    return tuple(out)


def resolve_settings(config: pytest.Config) -> Settings:
    """Resolve every setting (CLI > env > ini > profile default); raises ``pytest.UsageError`` on a bad value."""
    profile = _resolve(config, "profile", DEFAULT_PROFILE, "default")
    from_profile = f"profile {profile.value!r}"
    return Settings(
        collect=_resolve(config, "collect", False, "default"),
        profile=profile,
        methods=_resolve(config, "methods", None, from_profile),
        seeds=_resolve(config, "seeds", None, from_profile),
        suite_seeds=_resolve(config, "suite_seeds", None, from_profile),
        reference_seeds=_resolve(config, "reference_seeds", None, from_profile),
        level=_resolve(config, "level", 0.95, "default"),
        inconclusive=_resolve(config, "inconclusive", "warn", "default"),
        bootstrap=_resolve(config, "bootstrap", None, "default"),
        device=_resolve(config, "device", "auto", "default"),
        method_timeout=_resolve(config, "method_timeout", None, "default"),
        executor=_resolve(config, "executor", "auto", "default"),
        workers=_resolve(config, "workers", None, "default"),
        ray_address=_resolve(config, "ray_address", None, "default"),
        cache_dir=_resolve(config, "cache_dir", (config.rootpath / DEFAULT_CACHE_DIR), "default"),
        report_dir=_resolve(config, "report_dir", None, "default"),
        report_formats=_resolve(config, "report_formats", REPORT_FORMATS, "default"),
        progress=_resolve(config, "progress", "auto", "default"),
        fail_on=_resolve(config, "fail_on", "fail", "default"),
        request_id=_resolve(config, "request_id", None, "default"),
        save_baseline=_resolve(config, "save_baseline", None, "default"),
        baseline=_resolve(config, "baseline", None, "default"),
        max_regression=_resolve(config, "max_regression", None, "default"),
        thresholds=_resolve_thresholds(config),
    )
