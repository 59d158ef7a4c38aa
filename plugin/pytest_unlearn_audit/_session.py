"""The plugin's core: one ``AuditSession`` per pytest session, kept in ``config.stash``.

It resolves the settings (``_options``), builds the ``AuditSpec`` from the user's fixtures and runs the audit
once (the library's file-locked cache makes a re-run, or a second xdist worker, recompute nothing), collects the
``--unlearn-audit`` check items, writes the report files and prints the terminal summary.

Check items (``unlearn_audit::<check id>``) are ``pytest.Function`` items whose test function requests the
``unlearn_audit`` fixture, so the fixture system gives them the user's fixtures like any test. Fixtures from a
``conftest.py`` are only visible to nodes under that conftest's directory, so the items hang below the collected
directory node of the (shallowest) conftest that defines ``unlearn_data`` (the session when it is the rootdir's
conftest, or when none is found), under a collector whose node id is fixed to ``unlearn_audit``.

Under pytest-xdist the workers that run a check share the audit's plan (the library's ``xdist`` executor: each
trains the models no other worker has claimed in the shared cache, then loads the rest), one of them assembles
the report and the others load it; each sends it to the controller in ``workeroutput``, and the controller writes
the report files and prints the summary once.

The library is imported only when it is needed (an audit is computed, or checks are collected or validated),
never when the plugin is imported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pytest

from . import _baseline
from ._options import Settings, resolve_settings
from ._progress import progress_sink
from .assertions import AuditCheckError, assert_findings, status_of

if TYPE_CHECKING:  # pragma: no cover
    from unlearn_audit.audit import Thresholds
    from unlearn_audit.report import AuditReport, Finding

__all__ = ["AuditSession", "SESSION_KEY", "configure", "get"]

SESSION_KEY = pytest.StashKey["AuditSession"]()
WORKER_OUTPUT_KEY = "unlearn_audit_report"
RUNS_ID = "runs"                      # the library's finding for "the user's method ran" (check="runs")
OTHER_ID = "other_checks"             # checks only the unlearn_thresholds fixture adds
MIN_WIDTH = 80                        # the summary is laid out for the terminal's width, at least this
USER_FIXTURES = ("unlearn_data", "unlearn_model_factory", "unlearn_fn", "unlearn_original", "unlearn_recipe",
                 "unlearn_thresholds")
# AuditSpec field named in a library error -> where the plugin user set it
_FIELD_SOURCE = {"data": "fixture unlearn_data", "model_factory": "fixture unlearn_model_factory",
                 "unlearn_fn": "fixture unlearn_fn", "original": "fixture unlearn_original",
                 "recipe": "fixture unlearn_recipe", "thresholds": "fixture unlearn_thresholds"}


def configure(config: pytest.Config) -> None:
    """``pytest_configure``: resolve settings (UsageError on a bad value) and stash the session object."""
    config.addinivalue_line("markers", "unlearn_audit: an unlearning-audit check item (collected by --unlearn-audit)")
    config.stash[SESSION_KEY] = AuditSession(config)


def get(config: pytest.Config) -> "AuditSession":
    return config.stash[SESSION_KEY]


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class AuditSession:
    """Per-session state: settings, the report once computed, and the check items' bookkeeping."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings: Settings = resolve_settings(config)
        self.report: AuditReport | None = None
        self.thresholds: Thresholds | None = None       # what the audit was evaluated with
        self.report_paths: list[Path] = []
        self.baseline: _baseline.BaselineOutcome | None = None
        self._check_ids: tuple[str, ...] = ()
        self._directories: dict[Path, pytest.Directory] = {}   # every Directory collected, by resolved path
        if self.settings.thresholds:
            self.static_thresholds()                      # a bad --unlearn-threshold fails now, naming its source

    # ------------------------------------------------------------------------------------------ thresholds
    def static_thresholds(self, base: "Thresholds | None" = None) -> "Thresholds":
        """``base`` (default: the library defaults) with the ini / env / command-line checks merged in by id."""
        __tracebackhide__ = True
        from unlearn_audit.audit import Check, ThresholdError, Thresholds

        overrides = []
        for text, source in self.settings.thresholds:
            try:
                overrides.append(Check.parse(text, source=source))
            except ThresholdError as exc:
                raise pytest.UsageError(str(exc)) from None
        base = Thresholds.default() if base is None else base
        return base.merge(overrides, source="unlearn-audit thresholds") if overrides else base

    def _thresholds(self, fixture_value: Any) -> "Thresholds":
        """Library defaults < ``unlearn_thresholds`` fixture < ini < env < command line (merged by check id).

        A ``Thresholds`` from the fixture replaces the defaults; strings / ``Check`` s adjust them by id.
        """
        __tracebackhide__ = True
        from unlearn_audit.audit import Check, ThresholdError, Thresholds

        source = "fixture unlearn_thresholds"
        try:
            if fixture_value is None:
                base = Thresholds.default()
            elif isinstance(fixture_value, Thresholds):
                base = fixture_value
            elif isinstance(fixture_value, (str, Check, list, tuple)):
                items = [fixture_value] if isinstance(fixture_value, (str, Check)) else list(fixture_value)
                base = Thresholds.default().merge(items, source=source)
            else:
                raise pytest.UsageError(f"{source}: expected None, a Thresholds, a compact check string such as "
                                        f"'eo:abs<=5' or a list of them, got {type(fixture_value).__name__}")
        except ThresholdError as exc:
            raise pytest.UsageError(str(exc)) from None
        return self.static_thresholds(base)

    def _gating(self, thresholds: "Thresholds") -> "Thresholds":
        """``thresholds`` with the confidence level and INCONCLUSIVE policy of the settings, where they were set
        (a ``Thresholds`` from the fixture keeps its own unless an option, env variable or ini key says otherwise)."""
        s = self.settings
        level = s.level.value if s.level.source != "default" else None
        policy = s.inconclusive.value if s.inconclusive.source != "default" else None
        if level is None and policy is None:
            return thresholds
        return thresholds.replace(level=level, inconclusive=policy, source="unlearn-audit settings")

    @property
    def policy(self) -> str:
        """How an INCONCLUSIVE finding gates: ``warn``, ``fail`` or ``pass``."""
        if self.thresholds is not None:
            return self.thresholds.inconclusive
        return str(self.settings.inconclusive.value)

    # ------------------------------------------------------------------------------------------ the audit
    def audit(self, *, data: Any, model_factory: Any, unlearn_fn: Any, original: Any, recipe: Any,
              thresholds: Any) -> "AuditReport":
        """Build the ``AuditSpec`` from the fixtures and settings, run it (cached), and remember the report."""
        __tracebackhide__ = True
        from unlearn_audit.audit import PROFILES, AuditSpec, run_audit

        s = self.settings
        self.thresholds = self._gating(self._thresholds(thresholds))
        kwargs = PROFILES[s.profile.value].spec_kwargs()
        if s.seeds.value is not None and s.reference_seeds.value is None:
            kwargs.pop("reference_seeds", None)   # derived from the given seeds (extended to at least 3)
        overrides = {"methods": s.methods, "seeds": s.seeds, "suite_seeds": s.suite_seeds,
                     "reference_seeds": s.reference_seeds,
                     "device": s.device, "n_boot": s.bootstrap, "method_timeout": s.method_timeout}
        kwargs.update({k: r.value for k, r in overrides.items() if r.value is not None})
        cache_dir = s.cache_dir.value if s.cache_dir.value is not None else False
        try:
            spec = AuditSpec(data=data, model_factory=model_factory, unlearn_fn=unlearn_fn, original=original,
                             recipe=recipe, thresholds=self.thresholds, cache_dir=cache_dir, **kwargs)
        except (TypeError, ValueError) as exc:
            raise pytest.UsageError(self._where(str(exc))) from None
        executor, workers, address, source = self._executor()
        from unlearn_audit.audit import ExecutorError

        try:
            self.report = run_audit(spec, progress=progress_sink(self.config, s.progress.value), executor=executor,
                                    workers=workers, ray_address=address)
        except ExecutorError as exc:
            raise pytest.UsageError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:  # checks made when the audit starts (what model_factory returns,
            if not str(exc).startswith("AuditSpec."):  # a method a worker process cannot import, ...)
                raise
            raise pytest.UsageError(self._where(str(exc))) from None
        if s.request_id.value is not None:
            self.report.config["request_id"] = s.request_id.value
        if s.baseline.value is not None:
            self.baseline = _baseline.compare_with_baseline(self.report, Path(s.baseline.value), s.baseline.source,
                                                            s.max_regression.value)
        return self.report

    def _executor(self) -> tuple[str, Any, Any, str]:
        """``(executor, workers, ray_address, source)`` from the settings: ``auto`` shares the plan between the
        workers of ``pytest -n`` (``xdist``) and is ``serial`` otherwise (``ray`` / ``processes`` when an address
        or a worker count is given)."""
        s = self.settings
        name, source = s.executor.value, s.executor.source
        xdist = _is_xdist_worker(self.config)
        if name == "auto":
            if xdist:
                name = "xdist"
            elif s.ray_address.value is not None:
                name, source = "ray", s.ray_address.source
            elif s.workers.value is not None:
                name, source = "processes", s.workers.source
            else:
                name = "serial"
        if xdist and name in ("processes", "ray"):
            raise pytest.UsageError(f"{source}: executor {name!r} under pytest -n would start workers in every "
                                    f"xdist worker; drop -n (the {name} executor spreads the audit's models) or "
                                    f"leave the executor to auto (the xdist workers share the audit)")
        workers = s.workers.value if name in ("processes", "ray") else None
        return name, workers, s.ray_address.value if name == "ray" else None, source

    def _where(self, message: str) -> str:
        """Reword ``AuditSpec.<field>: ...`` to name where the plugin user set that field."""
        m = re.match(r"^AuditSpec\.(\w+)(?::\s*|\s+)(.*)$", message, re.S)
        if m is None:
            return f"unlearn-audit: {message}"
        field, rest = m.groups()
        resolved = getattr(self.settings, field, None)
        where = resolved.source if resolved is not None and hasattr(resolved, "source") else _FIELD_SOURCE.get(field)
        return f"{where or 'unlearn-audit ' + field}: {rest}"

    def check_id(self, finding: "Finding") -> str:
        """The id (item name) of the check a finding came from."""
        if finding.check == RUNS_ID:
            return RUNS_ID
        if self.thresholds is not None:
            for c in self.thresholds:
                if c.compact == finding.check:
                    return c.id
        return finding.check.split(":", 1)[0]

    # ------------------------------------------------------------------------------------------ unlearn_check
    def checker(self, report: "AuditReport", node: pytest.Item) -> Callable[..., list["Finding"]]:
        """The ``unlearn_check`` helper bound to ``report`` and the calling test."""

        def unlearn_check(*checks: Any, metric: str | None = None, model: str | None = None,
                          **bound: Any) -> list["Finding"]:
            """``unlearn_check("eo:abs<=5", ...)`` or ``unlearn_check(metric="EO", max_abs_delta=5, reference=...)``.

            Evaluates the checks on the user's method (or ``model``); raises ``AssertionError`` with a table of
            metric, value, bound and margin when one FAILs; returns the findings.
            """
            __tracebackhide__ = True
            from unlearn_audit.audit import Check, Thresholds

            items = [Check.parse(c, source="unlearn_check") if isinstance(c, str) else c for c in checks]
            if metric is not None:
                items.append(Check(metric, **bound))
            elif bound:
                raise TypeError(f"unlearn_check: {', '.join(sorted(bound))} given without metric=")
            if not items:
                raise TypeError("unlearn_check: give a check, e.g. unlearn_check('eo:abs<=5') or "
                                "unlearn_check(metric='EO', max_abs_delta=5)")
            findings = Thresholds(items, source="unlearn_check").evaluate(
                report, models=None if model is None else [model])
            _record(node, findings, {c.compact: c.id for c in items})
            return assert_findings(findings, what="unlearn_check", inconclusive=self.policy,
                                   fail_on=self.settings.fail_on.value)

        return unlearn_check

    # ------------------------------------------------------------------------------------------ collection
    def note_collector(self, collector: pytest.Collector) -> None:
        """Remember each collected ``Directory``: the check items hang below the one holding the user's
        ``conftest.py``, where its fixtures are visible on every pytest version."""
        if isinstance(collector, pytest.Directory):
            self._directories.setdefault(Path(collector.path).resolve(), collector)

    def collect(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """With ``--unlearn-audit``: append one item per check id (plus ``runs``, and ``other_checks`` when the
        user overrides ``unlearn_thresholds``)."""
        if not self.settings.collect.value:
            check_fixture_scopes(items)
            return
        from unlearn_audit._device import configure_threads

        configure_threads()     # before the user's fixtures run: one thread per xdist worker
        ids = [RUNS_ID, *self.static_thresholds().ids]
        if self.settings.baseline.value is not None:
            ids.append(_baseline.BASELINE_ID)
        scope, fixture_dirs, location = _fixture_scope(session, self._directories)
        if "unlearn_thresholds" in fixture_dirs:
            ids.append(OTHER_ID)
        self._check_ids = tuple(ids)
        collector = AuditCollector.from_parent(scope, name="unlearn_audit", nodeid="unlearn_audit")
        collector.check_ids = self._check_ids
        collector.location_in_conftest = location
        # collected like any node, so the terminal's "collected N items" and collection errors include it
        collector.ihook.pytest_collectstart(collector=collector)
        report = collector.ihook.pytest_make_collect_report(collector=collector)
        collector.ihook.pytest_collectreport(report=report)
        if report.passed:
            items.extend(report.result)
        check_fixture_scopes(items)

    def run_check(self, item: pytest.Item, check_id: str, report: "AuditReport") -> None:
        """The body of ``unlearn_audit::<check_id>``."""
        __tracebackhide__ = True
        if check_id == _baseline.BASELINE_ID:
            _baseline.run_baseline_check(self.baseline, self.settings.fail_on.value)
            return
        if check_id == OTHER_ID:
            findings = [f for f in report.findings if self.check_id(f) not in self._check_ids]
        else:
            findings = [f for f in report.findings if self.check_id(f) == check_id]
        _record(item, findings, {f.check: self.check_id(f) for f in findings})
        if check_id == RUNS_ID:
            user = report.user_method
            if user is None:
                _skip("the audit has no user method (unlearn_fn)")
            if not findings:
                seeds = [r.seed for r in report.records(user)]
                item.user_properties.append(("unlearn_audit.runs.seeds", ",".join(map(str, seeds))))
                return
        if not findings:
            _skip(f"no check with id {check_id!r} in this audit's thresholds"
                  if check_id != OTHER_ID else "every check of unlearn_thresholds has its own item")
        if all(status_of(f) == "SKIP" for f in findings):
            _skip("; ".join(f"{f.model}: {f.why}" for f in findings))
        assert_findings(findings, what=f"unlearn_audit::{check_id}", inconclusive=self.policy,
                        fail_on=self.settings.fail_on.value)

    # ------------------------------------------------------------------------------------------ reporting
    def header(self) -> list[str]:
        import unlearn_audit

        return [f"unlearn-audit {unlearn_audit.__version__}: {self.settings.describe()}"]

    def sessionfinish(self) -> None:
        if self.report is None:
            return
        if _is_xdist_worker(self.config):
            self.config.workeroutput[WORKER_OUTPUT_KEY] = self.report.to_json()  # type: ignore[attr-defined]
            return
        if self.settings.save_baseline.value is not None:
            self.report_paths.append(_baseline.save_baseline(self.report, Path(self.settings.save_baseline.value)))
        directory = self.settings.report_dir.value
        if directory is None:
            return
        from unlearn_audit.report import write_reports

        self.report_paths += write_reports(self.report, directory, self.settings.report_formats.value)

    def testnodedown(self, node: Any) -> None:
        """xdist controller: take the report a worker computed (they are identical: same spec, same cache)."""
        text = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        if text and self.report is None:
            from unlearn_audit.report import AuditReport

            self.report = AuditReport.from_json(text)

    def terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None or _is_xdist_worker(self.config):
            return
        verbosity = self.config.get_verbosity()
        if verbosity < -1:
            return
        written = f"reports: {', '.join(str(p) for p in self.report_paths)}" if self.report_paths else ""
        if verbosity < 0:
            terminalreporter.write_line(f"unlearn-audit: {self.report.verdict_line()}" +
                                        (f"; {written}" if written else ""))
            return
        tw = self.config.get_terminal_writer()
        terminalreporter.write_sep("=", "unlearn-audit")
        width = max(tw.fullwidth, MIN_WIDTH)
        text = self.report.to_text(width=width, color=tw.hasmarkup)
        terminalreporter.write(text if text.endswith("\n") else text + "\n")
        for line in _baseline.summary_lines(self.baseline, width):
            terminalreporter.write_line(line)
        if written:
            terminalreporter.write_line(f"unlearn-audit {written}")


def check_fixture_scopes(items: list[pytest.Item]) -> None:
    """A user fixture the audit is built from must be session-scoped: the audit is computed once per session.

    Raises:
        pytest.UsageError: naming the fixture, its scope and where it is defined (instead of pytest's bare
            ``ScopeMismatch`` when the audit is set up).
    """
    __tracebackhide__ = True
    seen: set[int] = set()
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or "unlearn_audit" not in info.names_closure:
            continue
        for name in USER_FIXTURES:
            defs = info.name2fixturedefs.get(name) or ()
            if not defs or id(defs[-1]) in seen:
                continue
            fixturedef = defs[-1]
            seen.add(id(fixturedef))
            scope = getattr(fixturedef, "scope", "session")
            if scope == "session":
                continue
            code = getattr(getattr(fixturedef, "func", None), "__code__", None)
            where = f" (defined in {code.co_filename}:{code.co_firstlineno})" if code is not None else ""
            raise pytest.UsageError(
                f"fixture {name} is {scope}-scoped{where}, but the audit is computed once per session from it, "
                f"so pytest cannot give it to the session-scoped unlearn_audit fixture (a ScopeMismatch). Define "
                f"it with @pytest.fixture(scope=\"session\"); a fixture it uses must be session-scoped too.")


def lead_with_the_reason(report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    """For a failed audit check, the one-line short summary shows the reason (the message's first line) instead
    of the exception's type name, which would use up the line."""
    exc = call.excinfo.value if call.excinfo is not None else None
    crash = getattr(report.longrepr, "reprcrash", None)
    if isinstance(exc, AuditCheckError) and crash is not None:
        try:
            crash.message = str(exc).splitlines()[0]
        except (AttributeError, TypeError):  # pragma: no cover - a frozen repr in another pytest version
            pass


def _skip(reason: str) -> None:
    """Skip the running check item, reported at the item's location (the user's conftest), not pytest's."""
    __tracebackhide__ = True
    raise pytest.skip.Exception(reason, _use_item_location=True)


def _record(item: pytest.Item, findings: list["Finding"], ids: dict[str, str]) -> None:
    """Findings as JUnit properties (``record_property`` writes to ``user_properties`` too)."""
    for f in findings:
        prefix = f"unlearn_audit.{ids.get(f.check, f.check)}"
        if len({x.model for x in findings}) > 1:
            prefix += f".{f.model}"
        item.user_properties.append((f"{prefix}.status", status_of(f)))
        for name in ("value", "lo", "hi", "bound", "margin", "model_value", "reference_value"):
            value = getattr(f, name)
            if value is not None:
                item.user_properties.append((f"{prefix}.{name}", f"{value:.6g}"))


# ---------------------------------------------------------------------------------------------- the items
def _fixture_names(module: Any) -> set[str]:
    """Names of the fixtures a (conftest) module defines, honouring ``@pytest.fixture(name=...)``."""
    names = set()
    for attr, obj in vars(module).items():
        marker = getattr(obj, "_pytestfixturefunction", None)   # pytest < 8.4
        if marker is not None:
            names.add(marker.name or attr)
        elif type(obj).__name__ == "FixtureFunctionDefinition":  # pytest >= 8.4
            names.add(getattr(obj, "name", None) or attr)
    return names


def _fixture_line(obj: Any) -> int:
    """0-based line of a fixture's definition (0 when it cannot be found)."""
    import inspect

    func = getattr(obj, "_get_wrapped_function", None)
    func = func() if callable(func) else getattr(obj, "__wrapped__", obj)
    try:
        return max(0, inspect.unwrap(func).__code__.co_firstlineno - 1)
    except AttributeError:
        return 0


def _fixture_scope(session: pytest.Session, directories: dict[Path, pytest.Directory]
                   ) -> tuple[pytest.Collector, dict[str, Path], tuple[Path, int] | None]:
    """The node the check items hang below, the directory of each user fixture found in a conftest, and where
    ``unlearn_data`` is defined (``(conftest path, 0-based line)``: the location reported for the check items).

    The node is the collected ``Directory`` of the conftest that defines ``unlearn_data`` -- the rootdir's one
    included: pytest 9.1 scopes even the rootdir conftest's fixtures to its ``Directory`` node (9.0 and 9.2
    make them session-wide), so items hung below the ``Session`` would not see them there. The ``Session`` is
    the fallback when that directory was not collected (a conftest above the rootdir, say).
    """
    found: dict[str, Path] = {}
    location: tuple[Path, int] | None = None
    for plugin in session.config.pluginmanager.get_plugins():
        file = getattr(plugin, "__file__", None)
        if not file or Path(file).name != "conftest.py":
            continue
        defined = _fixture_names(plugin) & set(USER_FIXTURES)
        for name in defined:
            here = Path(file).resolve().parent
            if name not in found or len(here.parts) < len(found[name].parts):
                found[name] = here
                if name == "unlearn_data":
                    obj = next((o for o in vars(plugin).values() if _defines(o, "unlearn_data")), None)
                    location = (Path(file).resolve(), _fixture_line(obj) if obj is not None else 0)
    where = found.get("unlearn_data")
    return (directories.get(where, session) if where is not None else session), found, location


def _defines(obj: Any, name: str) -> bool:
    """Whether ``obj`` (a conftest attribute) is the fixture called ``name``."""
    marker = getattr(obj, "_pytestfixturefunction", None)
    if marker is not None:
        return (marker.name or getattr(obj, "__name__", "")) == name
    return type(obj).__name__ == "FixtureFunctionDefinition" and (getattr(obj, "name", None) or "") == name


class AuditCollector(pytest.Collector):
    """``unlearn_audit``: the parent of the check items (created by ``AuditSession.collect``)."""

    check_ids: tuple[str, ...] = ()
    location_in_conftest: tuple[Path, int] | None = None

    def collect(self) -> list[pytest.Item]:
        return [AuditCheckItem.from_parent(self, name=cid, callobj=_check_function(cid)) for cid in self.check_ids]

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, "unlearn_audit"


def _check_function(check_id: str) -> Callable[..., None]:
    def unlearn_audit_check(unlearn_audit: Any, request: pytest.FixtureRequest) -> None:
        __tracebackhide__ = True
        get(request.config).run_check(request.node, check_id, unlearn_audit)

    unlearn_audit_check.__name__ = f"unlearn_audit_{check_id}"
    return unlearn_audit_check


class AuditCheckItem(pytest.Function):
    """``unlearn_audit::<check id>``: asserts the audit's findings of one check on the user's method."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_marker(pytest.mark.unlearn_audit)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Where the item is reported (a SKIP's location): the user's ``unlearn_data`` fixture in their conftest."""
        where = getattr(self.parent, "location_in_conftest", None)
        if where is not None:
            return where[0], where[1], self.nodeid
        return self.path, 0, self.nodeid

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, AuditCheckError):
            return str(excinfo.value)     # the table is the whole explanation
        return super().repr_failure(excinfo)

