"""pytest-unlearn-audit: audit machine unlearning from your test suite (entry point ``pytest11: unlearn_audit``).

Hooks only; each delegates to the session object in ``_session`` (thin glue, fat core). Importing this package
imports neither torch nor the library: that happens when an audit is computed.
"""

from __future__ import annotations

from typing import Any

import pytest

from . import _options, _session
from .assertions import AuditCheckError, UnlearnAuditWarning
from .fixtures import (unlearn_audit, unlearn_check, unlearn_data, unlearn_fn, unlearn_model_factory,
                       unlearn_original, unlearn_recipe, unlearn_thresholds)

__all__ = ["AuditCheckError", "UnlearnAuditWarning", "unlearn_audit", "unlearn_check", "unlearn_data",
           "unlearn_fn", "unlearn_model_factory", "unlearn_original", "unlearn_recipe", "unlearn_thresholds"]


def pytest_addoption(parser: pytest.Parser) -> None:
    _options.addoption(parser)


def pytest_configure(config: pytest.Config) -> None:
    _session.configure(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return _session.get(config).header()


def pytest_collectstart(collector: pytest.Collector) -> None:
    _session.get(collector.config).note_collector(collector)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    _session.get(config).collect(session, items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    _session.lead_with_the_reason(report, call)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    _session.get(session.config).sessionfinish()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _session.get(node.config).testnodedown(node)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    _session.get(config).terminal_summary(terminalreporter)
