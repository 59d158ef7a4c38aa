"""Displays of a running audit: the ``ProgressSink`` s that turn ``ProgressEvent`` s into something a person sees.

- ``LiveDisplay``: a live rich line on a terminal: the current step and what it is doing (``epoch 3/10``,
  ``evaluating``), a bar, steps done / total, time elapsed and the estimated time left. Transient: it is gone
  when the audit ends, and the summary table takes its place.
- ``PlainDisplay``: for logs (CI, a file, a pipe): one line per finished step with its time, and one at the end.
- ``display_for(mode, ...)``: the display a mode asks for (``auto``: live on a terminal, plain lines otherwise;
  ``live``; ``plain``; ``off``), used by ``run_audit(progress=True)``, the CLI and the pytest plugin.

The estimate of the time left is the time per step so far (steps loaded from the cache count as the little time
they took) times the steps left, refined by the running step's fraction.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any, Callable

from .progress import ProgressEvent, ProgressSink, null_sink

__all__ = ["PROGRESS_MODES", "LiveDisplay", "PlainDisplay", "check_progress_mode", "display_for", "resolve_sink",
           "fmt_seconds"]

#: what ``--progress`` / ``--unlearn-progress`` accept
PROGRESS_MODES = ("auto", "live", "plain", "off")


def check_progress_mode(value: Any, *, source: str = "progress") -> str:
    """``value`` lower-cased if it is one of ``PROGRESS_MODES``, else a ``ValueError`` naming ``source``."""
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in PROGRESS_MODES:
        raise ValueError(f"{source}: expected one of {', '.join(PROGRESS_MODES)} (auto = a live line on a terminal, "
                         f"one line per finished step otherwise), got {value!r}")
    return text


def fmt_seconds(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class _Tracker:
    """Steps done, the running step and the estimate of the time left, from the events."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.cached = 0
        self.failed = 0
        self.t0 = time.perf_counter()
        self.label = ""
        self.detail = ""
        self.fraction = 0.0

    def update(self, e: ProgressEvent) -> None:
        if e.kind == "plan":
            self.total, self.t0 = e.total, time.perf_counter()
        elif e.kind == "start":
            self.label, self.detail, self.fraction = e.label or e.step, "", 0.0
        elif e.kind == "advance":
            self.fraction = e.fraction if e.fraction else self.fraction
            self.detail = e.detail or self.detail
        elif e.kind in ("done", "failed"):
            self.done += 1
            self.cached += bool(e.cached)
            self.failed += e.kind == "failed"
            self.fraction, self.detail = 0.0, ""

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def eta(self) -> float | None:
        """Seconds left, or ``None`` before any step finished."""
        progress = self.done + self.fraction
        if self.done == 0 or progress <= 0 or self.total <= 0:
            return None
        return self.elapsed / progress * max(self.total - progress, 0.0)


class PlainDisplay:
    """One line per finished step (``write`` receives each line without its newline)."""

    def __init__(self, write: Callable[[str], None], *, prefix: str = "unlearn-audit") -> None:
        self.write, self.prefix = write, prefix
        self.state = _Tracker()

    def __call__(self, event: ProgressEvent) -> None:
        st = self.state
        st.update(event)
        if event.kind == "plan":
            self.write(f"{self.prefix}: {event.total} step{'s' if event.total != 1 else ''} (each model trained or "
                       f"loaded, then evaluated)")
        elif event.kind in ("done", "failed"):
            how = ("loaded from the cache" if event.cached else "done") if event.kind == "done" else "FAILED"
            eta = st.eta()
            left = f", about {fmt_seconds(eta)} left" if eta is not None and st.done < st.total else ""
            why = f": {event.detail}" if event.kind == "failed" and event.detail else ""
            self.write(f"{self.prefix}: [{st.done}/{st.total}] {event.label or event.step} {how} in "
                       f"{fmt_seconds(event.elapsed_s)}{why}{left}")
        elif event.kind == "finish":
            cached = f", {st.cached} from the cache" if st.cached else ""
            self.write(f"{self.prefix}: audit finished in {fmt_seconds(st.elapsed)} ({st.done} "
                       f"step{'s' if st.done != 1 else ''}{cached})")


class LiveDisplay:
    """A live, transient rich line: ``unlearn-audit ft (seed 0) · epoch 3/10 ━━━ 5/15 steps · 0:42 · about 1 min
    left``. Started by the ``plan`` event, stopped by ``finish``."""

    def __init__(self, console: Any = None, *, auto_refresh: bool = True) -> None:
        """Args:
            console: the rich console to draw on (default: stderr).
            auto_refresh: redraw from a background thread (4 times a second); ``False`` redraws on each event
                only (under pytest, where output may be written only while capturing is suspended).
        """
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.auto_refresh = auto_refresh
        self.state = _Tracker()
        self._progress: Any = None
        self._task: Any = None

    def _fields(self) -> dict[str, Any]:
        st = self.state
        eta = st.eta()
        step = st.label + (f" · {st.detail}" if st.detail else "")
        return {"step": step, "eta": f"about {fmt_seconds(eta)} left" if eta is not None else "",
                "steps": f"{st.done}/{st.total} steps", "elapsed": fmt_seconds(st.elapsed)}

    def __call__(self, event: ProgressEvent) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        self.state.update(event)
        if event.kind == "plan" and self._progress is None:
            self._progress = Progress(TextColumn("[bold]unlearn-audit[/bold]"), TextColumn("{task.fields[step]}"),
                                      BarColumn(bar_width=24), TextColumn("{task.fields[steps]}"),
                                      TextColumn("{task.fields[elapsed]}"), TextColumn("{task.fields[eta]}"),
                                      console=self.console, transient=True, refresh_per_second=4,
                                      auto_refresh=self.auto_refresh, redirect_stdout=False, redirect_stderr=False)
            self._progress.start()
            self._task = self._progress.add_task("", total=max(event.total, 1), **self._fields())
        elif self._progress is not None and event.kind == "finish":
            self._progress.stop()
            self._progress = None
        elif self._progress is not None:
            st = self.state
            self._progress.update(self._task, completed=st.done + st.fraction, **self._fields())
            if not self.auto_refresh:
                self._progress.refresh()


def _on_xdist_worker() -> bool:
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


def display_for(mode: str, *, stream: IO[str] | None = None, console: Any = None,
                write: Callable[[str], None] | None = None) -> ProgressSink:
    """The sink ``mode`` asks for, drawing on ``stream`` (default stderr).

    Args:
        mode: ``auto`` (live when ``stream`` is a terminal, plain lines otherwise), ``live``, ``plain`` or ``off``.
        stream: where to draw; ignored when ``console`` / ``write`` are given.
        console: a rich console for the live display.
        write: a line writer for the plain display.
    """
    mode = check_progress_mode(mode)
    if mode == "off":
        return null_sink
    out = stream if stream is not None else sys.stderr
    tty = console.is_terminal if console is not None else bool(getattr(out, "isatty", lambda: False)())
    if mode == "live" or (mode == "auto" and tty):
        if console is None:
            from rich.console import Console

            console = Console(file=out, force_terminal=True if mode == "live" else None)
        return LiveDisplay(console)

    def to_stream(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    return PlainDisplay(write or to_stream)


def resolve_sink(progress: bool | ProgressSink | str) -> ProgressSink:
    """What ``run_audit(progress=...)`` draws with: ``True`` = ``display_for("auto")`` on stderr (nothing on a
    pytest-xdist worker, whose output nobody sees), ``False`` = nothing, a mode name, or a sink of your own."""
    if progress is True:
        return null_sink if _on_xdist_worker() else display_for("auto")
    if progress is False or progress is None:
        return null_sink
    if isinstance(progress, str):
        return display_for(progress)
    if callable(progress):
        return progress
    raise TypeError(f"run_audit: progress must be True, False, a mode ({', '.join(PROGRESS_MODES)}) or a callable "
                    f"receiving ProgressEvent s, got {type(progress).__name__}")
