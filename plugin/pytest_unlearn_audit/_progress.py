"""The audit's progress under pytest, drawn through pytest's terminal writer.

The audit runs inside a fixture, while pytest captures output; every event is drawn with capturing suspended
(``CaptureManager.global_and_fixture_disabled``, what ``capsys.disabled()`` uses), so the display reaches the
terminal under ``-q``, ``-s`` and the default capture alike. On a terminal it is the library's live display
(refreshed on each event: no background thread writes while pytest captures); in CI logs one plain line per
finished step. Nothing under ``-qq``, ``--unlearn-progress=off`` or on a pytest-xdist worker (whose output
nobody sees: the controller prints the summary).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import pytest

__all__ = ["progress_sink"]


def progress_sink(config: pytest.Config, mode: str) -> Callable[[Any], None] | bool:
    """The ``progress`` argument of ``run_audit`` for this session (``False``: no display)."""
    if mode == "off" or config.get_verbosity() <= -2 or hasattr(config, "workerinput"):
        return False
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return False
    from unlearn_audit.progress_display import LiveDisplay, PlainDisplay

    tw = config.get_terminal_writer()
    stream = getattr(tw, "_file", sys.stdout)
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if mode == "live" or (mode == "auto" and tty):
        from rich.console import Console

        console = Console(file=stream, force_terminal=True, width=tw.fullwidth,
                          color_system="standard" if tw.hasmarkup else None)
        started = [False]

        def live_write(display: Any, event: Any) -> None:
            if not started[0]:
                reporter.ensure_newline()
                started[0] = True
            display(event)

        inner: Any = LiveDisplay(console, auto_refresh=False)
        draw = lambda event: live_write(inner, event)  # noqa: E731
    else:
        inner = PlainDisplay(reporter.write_line)
        draw = inner
    capture = config.pluginmanager.get_plugin("capturemanager")

    def sink(event: Any) -> None:
        if capture is None:
            draw(event)
            return
        with capture.global_and_fixture_disabled():
            draw(event)

    return sink
