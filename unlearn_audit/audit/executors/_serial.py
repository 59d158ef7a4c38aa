"""``serial``: every step in the controller's process, in the plan's order (the default)."""

from __future__ import annotations

import torch

from ...progress import ProgressSink
from ...report import ModelRecord
from .._execute import StepRunner
from ._base import Execution, Job, blocked_record

__all__ = ["SerialExecutor"]


class SerialExecutor:
    """Runs the steps one after the other in this process, with the thread count torch has now."""

    name = "serial"

    def run(self, job: Job, *, sink: ProgressSink) -> Execution:
        threads = torch.get_num_threads()
        runner = StepRunner(job.spec, job.plan, device=job.device, cache=job.cache, threads=threads)
        records: dict[str, ModelRecord] = {}
        for step in job.plan.steps:
            blocked = blocked_record(step, records)
            records[step.id] = blocked if blocked is not None else runner.execute(step, sink=sink)
        return Execution(records=records, executor=self.name, workers=1, threads_per_step=threads,
                         hits=job.cache.hits, misses=job.cache.misses, recovered=len(job.cache.recovered))
