"""Progress of a running audit: the events the runner emits and the displays that show them."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from unlearn_audit.audit import run_audit
from unlearn_audit.progress import ProgressEvent
from unlearn_audit.progress_display import (LiveDisplay, PlainDisplay, check_progress_mode, display_for,
                                            fmt_seconds, resolve_sink)

from .conftest import one_epoch_ft


def _events(total: int = 3) -> list[ProgressEvent]:
    out = [ProgressEvent("plan", total=total)]
    for i, cached in enumerate((False, True, False)[:total]):
        step = f"m{i}/seed0"
        out += [ProgressEvent("start", step=step, label=f"m{i} (seed 0)"),
                ProgressEvent("advance", step=step, fraction=0.5, detail="epoch 1/2", elapsed_s=0.1),
                ProgressEvent("done", step=step, label=f"m{i} (seed 0)", elapsed_s=1.5, cached=cached)]
    return out + [ProgressEvent("finish", elapsed_s=4.0)]


def test_plain_display_writes_one_line_per_finished_step():
    lines: list[str] = []
    show = PlainDisplay(lines.append)
    for e in _events():
        show(e)
    assert lines[0] == "unlearn-audit: 3 steps (each model trained or loaded, then evaluated)"
    assert lines[1].startswith("unlearn-audit: [1/3] m0 (seed 0) done in 1.5 s") and "left" in lines[1]
    assert "[2/3] m1 (seed 0) loaded from the cache in 1.5 s" in lines[2]
    assert lines[3].startswith("unlearn-audit: [3/3] m2 (seed 0) done in 1.5 s") and "left" not in lines[3]
    assert lines[4].startswith("unlearn-audit: audit finished in") and "1 from the cache" in lines[4]
    assert len(lines) == 5          # nothing per epoch in a log


def test_plain_display_says_why_a_step_failed():
    lines: list[str] = []
    show = PlainDisplay(lines.append)
    show(ProgressEvent("plan", total=1))
    show(ProgressEvent("start", step="x/seed0", label="x (seed 0)"))
    show(ProgressEvent("failed", step="x/seed0", label="x (seed 0)", detail="returned None", elapsed_s=0.2))
    assert "x (seed 0) FAILED in 0.2 s: returned None" in lines[-1]


def test_live_display_shows_step_epoch_count_and_eta():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, color_system=None)
    show = LiveDisplay(console)
    events = _events()
    for e in events[:6]:           # plan, step 0 (start, advance, done), step 1 start and advance
        show(e)
    show._progress.refresh()
    text = buf.getvalue()
    assert "unlearn-audit" in text and "m1 (seed 0) · epoch 1/2" in text and "1/3 steps" in text
    assert "left" in text
    for e in events[6:]:
        show(e)
    assert show._progress is None   # stopped by finish


def test_display_for_picks_by_terminal_and_mode():
    assert isinstance(display_for("auto", stream=io.StringIO()), PlainDisplay)   # not a terminal: plain lines
    assert isinstance(display_for("live", stream=io.StringIO()), LiveDisplay)
    assert isinstance(display_for("plain", stream=io.StringIO()), PlainDisplay)
    off = display_for("off")
    assert off(ProgressEvent("plan", total=1)) is None
    with pytest.raises(ValueError, match="progress: expected one of auto, live, plain, off"):
        check_progress_mode("loud")
    with pytest.raises(TypeError, match="progress must be True, False"):
        resolve_sink(3)  # type: ignore[arg-type]


def test_resolve_sink_is_silent_on_an_xdist_worker(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert resolve_sink(True) is resolve_sink(False)


@pytest.mark.parametrize(("seconds", "text"), [(3.25, "3.2 s"), (42, "42 s"), (185, "3 min 05 s"),
                                                (3720, "1 h 02 min")])
def test_fmt_seconds(seconds, text):
    assert fmt_seconds(seconds) == text


def test_the_runner_emits_plan_steps_epochs_and_finish(make_spec):
    events: list[ProgressEvent] = []
    spec = make_spec(unlearn_fn=one_epoch_ft)
    report = run_audit(spec, progress=events.append)
    kinds = [e.kind for e in events]
    assert kinds[0] == "plan" and kinds[-1] == "finish"
    steps = len(report.rows)
    assert events[0].total == steps
    assert kinds.count("start") == kinds.count("done") == steps
    epochs = [e.detail for e in events if e.kind == "advance" and e.detail.startswith("epoch")]
    assert f"epoch {spec.recipe.epochs}/{spec.recipe.epochs}" in epochs   # the original's and retrains' training
    assert "epoch 1/1" in epochs                                          # fit inside the user's method
    assert any(e.kind == "advance" and e.detail == "evaluating" for e in events)
    starts = [e.label for e in events if e.kind == "start"]
    assert starts[0] == "original" and starts[-1] == "one_epoch_ft (seed 0)"
    # every step's events come between its start and its done
    for e in events:
        assert e.kind in ("plan", "finish") or e.step
    # a re-run loads everything from the cache and says so
    again: list[ProgressEvent] = []
    run_audit(spec, progress=again.append)
    assert all(e.cached for e in again if e.kind == "done")
    assert not any(e.detail.startswith("epoch") for e in again)


def test_finish_is_sent_when_the_audit_raises(make_spec, monkeypatch):
    from unlearn_audit.audit import _runner

    events: list[ProgressEvent] = []

    def boom(*args, **kwargs):
        raise RuntimeError("assembling failed")

    monkeypatch.setattr(_runner, "assemble", boom)
    with pytest.raises(RuntimeError, match="assembling failed"):
        run_audit(make_spec(cache_dir=False), progress=events.append)
    assert events[-1].kind == "finish"       # a live display is always closed


def test_weight_fingerprints_are_recorded_and_stable(make_spec):
    """Every model's SHA-256 of its weights is in its record, the same when the re-run loads from the cache."""
    spec = make_spec()
    first = run_audit(spec, progress=False)
    again = run_audit(spec, progress=False)
    fps = {(r.name, r.seed): r.fingerprint for r in first.rows}
    assert all(isinstance(fp, str) and len(fp) == 64 for fp in fps.values()), fps
    assert len(set(fps.values())) == len(fps)       # original, retrains and the user's method all differ
    assert {(r.name, r.seed): r.fingerprint for r in again.rows} == fps
