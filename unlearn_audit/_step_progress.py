"""Progress within the running step: how ``fit`` and ``UnlearnContext.report_progress`` reach the audit's display.

The runner wraps each step in ``reporting_to(callback)``; inside it, ``report_step(fraction, detail)`` (called
by ``fit`` once per epoch, by a method through ``ctx.report_progress``, and by the runner before evaluating)
forwards to that callback, which turns it into an ``advance`` ``ProgressEvent``. Outside a step nothing is
reported. A context variable, so concurrent audits in threads do not mix their steps.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator

__all__ = ["StepReporter", "reporting_to", "report_step", "current_reporter"]

#: ``callback(fraction, detail)``: ``fraction`` in ``[0, 1]`` of the step (``None``: unchanged), ``detail`` such
#: as ``"epoch 3/10"``
StepReporter = Callable[[float | None, str], None]

_CURRENT: contextvars.ContextVar[StepReporter | None] = contextvars.ContextVar("unlearn_audit_step", default=None)


@contextlib.contextmanager
def reporting_to(callback: StepReporter | None) -> Iterator[None]:
    """Within the block, ``report_step`` calls ``callback``."""
    token = _CURRENT.set(callback)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_reporter() -> StepReporter | None:
    """The reporter of the step running in this context, or ``None`` outside a step."""
    return _CURRENT.get()


def report_step(fraction: float | None, detail: str = "") -> None:
    """Tell the running step's display how far it is (a no-op outside an audit step)."""
    callback = _CURRENT.get()
    if callback is not None:
        callback(None if fraction is None else min(1.0, max(0.0, float(fraction))), detail)
