"""Progress events: what a running audit tells whoever displays it.

The runner (and every executor's workers) emit ``ProgressEvent`` values to one ``ProgressSink``; displays
(a live rich view in a terminal, one plain line per finished step in CI logs, pytest's terminal reporter)
consume them. Workers never print on their own: they forward events to the sink of the process that owns
the display. Events are small, picklable and JSON-able, so they travel through queues and Ray unchanged.

Kinds:
    ``plan``: the audit's steps are known; ``total`` is how many.
    ``start``: a step began (``step``, ``label``, ``worker``).
    ``advance``: progress within a step; ``fraction`` in ``[0, 1]``, ``detail`` such as ``"epoch 3/10"``.
    ``done``: a step finished (``elapsed_s``; ``cached`` when it was loaded, not computed).
    ``failed``: a step finished as a failure (``detail`` is the reason).
    ``finish``: the audit is assembled; the display may close.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Literal

__all__ = ["ProgressEvent", "ProgressSink", "EventKind", "null_sink"]

EventKind = Literal["plan", "start", "advance", "done", "failed", "finish"]


@dataclass(frozen=True)
class ProgressEvent:
    """One thing that happened in a running audit.

    Attributes:
        kind: see the module docstring.
        step: the step's id, e.g. ``"original"``, ``"retrain/seed1"``, ``"ft/seed0"`` (empty for plan/finish).
        label: a human label for the step, e.g. ``"ft (seed 0)"``.
        worker: which worker runs the step (``""`` in a serial run).
        total: number of steps (``plan`` only).
        fraction: progress within the step in ``[0, 1]`` (``advance``).
        detail: ``"epoch 3/10"`` for ``advance``, the reason for ``failed``.
        elapsed_s: seconds since the step started (``advance``/``done``/``failed``).
        cached: the step's result was loaded from the cache.
    """

    kind: EventKind
    step: str = ""
    label: str = ""
    worker: str = ""
    total: int = 0
    fraction: float = 0.0
    detail: str = ""
    elapsed_s: float = 0.0
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: A callable that receives every event of an audit, in order, in the process that owns the display.
ProgressSink = Callable[[ProgressEvent], None]


def null_sink(event: ProgressEvent) -> None:
    """A sink that ignores every event (``progress=False``)."""
