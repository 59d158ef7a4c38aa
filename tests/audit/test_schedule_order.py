"""Pool executors start the costliest ready step first (longest-processing-time order), respecting dependencies."""

from __future__ import annotations

import torch

from unlearn_audit.audit._plan import Plan, Step, estimated_cost, plan
from unlearn_audit.audit.executors._base import failed_record
from unlearn_audit.audit.executors._schedule import Schedule
from unlearn_audit.methods import get_method
from unlearn_audit.report import ModelRecord


def step(step_id: str, cost: float, deps: tuple[str, ...] = ("original",)) -> Step:
    return Step(id=step_id, name=step_id.split("/")[0], role="method", seed=0, method=None, model_key=None,
                metrics_key=None, deps=deps, cost=cost)


def ok(s: Step) -> ModelRecord:
    return ModelRecord(name=s.name, role=s.role, seed=s.seed)  # type: ignore[arg-type]


def hand_out(sched: Schedule, workers: int) -> list[str]:
    """Every step in the order the schedule starts them, ``workers`` at a time, each finishing in start order."""
    order: list[str] = []
    running: list[Step] = []
    while not sched.finished:
        while len(running) < workers and (s := sched.next_step()) is not None:
            sched.start(s.id, s, 0.0)
            running.append(s)
            order.append(s.id)
        done = running.pop(0)
        sched.finish(done.id, done.id, ok(done), None)
    return order


def test_costliest_ready_step_first_ties_in_plan_order():
    steps = (step("original", 10, ()), step("a/seed0", 1), step("b/seed0", 5), step("c/seed0", 5),
             step("d/seed0", 15), step("e/seed0", 1))
    sched = Schedule(Plan(steps=steps, arch={}), lambda ev: None)
    assert hand_out(sched, 2) == ["original", "d/seed0", "b/seed0", "c/seed0", "a/seed0", "e/seed0"]


def test_a_costly_step_waits_for_its_dependencies():
    steps = (step("original", 10, ()), step("a/seed0", 2), step("b/seed0", 1), step("late/seed0", 50, ("b/seed0",)))
    sched = Schedule(Plan(steps=steps, arch={}), lambda ev: None)
    order = hand_out(sched, 1)
    assert order == ["original", "a/seed0", "b/seed0", "late/seed0"]
    for s in steps:
        assert all(order.index(d) < order.index(s.id) for d in s.deps)


def test_a_step_whose_dependency_failed_is_recorded_not_run():
    steps = (step("original", 10, ()), step("a/seed0", 2), step("b/seed0", 9, ("a/seed0",)), step("c/seed0", 1))
    events = []
    sched = Schedule(Plan(steps=steps, arch={}), events.append)
    first = sched.next_step()
    sched.start("w", first, 0.0)
    sched.finish("w", first.id, ok(first), None)
    a = sched.next_step()
    assert a.id == "a/seed0"
    sched.start("w", a, 0.0)
    sched.finish("w", a.id, failed_record(a, "boom"), None)
    assert sched.next_step().id == "c/seed0"
    assert sched.records["b/seed0"].status == "failed" and "a/seed0" in sched.records["b/seed0"].error
    assert [e.step for e in events if e.kind == "failed"] == ["b/seed0"]


def test_estimated_cost_in_passes_over_the_data(make_spec):
    assert estimated_cost(None, 7) == 7.0
    assert estimated_cost(get_method("retrain"), 7) == 7.0
    assert estimated_cost(get_method("ft", epochs=3), 7) == 3.0
    miu = get_method("miu")
    assert miu.hyperparams()["epochs"] is None                 # the recipe's epochs
    assert estimated_cost(miu, 7) == 7 + miu.hyperparams()["forget_epochs"]
    assert estimated_cost(get_method("fisher"), 7) == 1.0    # no epochs: about one pass
    p = plan(make_spec(methods=["ga", get_method("ft", epochs=4)]), device=torch.device("cpu"))
    assert p["ft/seed0"].cost == 4.0 and p["original"].cost == p["retrain/seed0"].cost >= 1.0
