"""Event-driven DAG execution: a task starts the moment its inputs exist.

Every task gets a future; a task's coroutine awaits the futures of its
dependencies and nothing else, so independent tasks run concurrently and a chain
advances with no polling delay. A failed task is a TaskResult with an error; its
dependents are skipped with a reason. Each attempt has a timeout; on an expert
error the next candidate (another model or backend) is tried.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from engine.errors import ExpertError, InputError
from engine.events import EventCallback, TaskFinished, TaskStarted
from engine.experts.base import ExpertBackend, RunContext
from engine.llm.base import LLM
from engine.notify import emit
from engine.references import exact_ref
from engine.resolve import resolve_inputs
from engine.tasks import TASK_SPECS
from engine.types import ModelCard, Plan, Resource, Selection, Task, TaskResult

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, backends: Mapping[str, ExpertBackend], task_timeout: float) -> None:
        self.backends = backends
        self.task_timeout = task_timeout

    async def execute(
        self,
        plan: Plan,
        candidates: Mapping[int, Sequence[Selection]],
        files: Sequence[Resource],
        roots: Sequence[Path],
        output_dir: Path,
        request_text: str = "",
        on_event: EventCallback | None = None,
        llm: LLM | None = None,
        why_unavailable: Mapping[int, str] | None = None,
        language: str | None = None,
    ) -> list[TaskResult]:
        loop = asyncio.get_running_loop()
        futures: dict[int, asyncio.Future[TaskResult]] = {t.id: loop.create_future() for t in plan.tasks}
        ctx = RunContext(
            output_dir=output_dir,
            request_text=request_text,
            timeout=self.task_timeout,
            llm=llm,
            language=language,
        )

        async def run_one(task: Task) -> None:
            deps = [await futures[d] for d in task.dep]
            blocked = [d for d in deps if d.status != "ok"]
            if blocked:
                first = blocked[0]
                result = TaskResult(
                    task=task,
                    status="skipped",
                    error=f"skipped: needs task {first.task.id} ({first.task.task}), "
                    f"which {'failed' if first.status == 'failed' else 'was skipped'}",
                )
            else:
                done = {d.task.id: d for d in deps}
                why = (why_unavailable or {}).get(task.id, f"no expert for {task.task} can run here")
                result = await self._attempt(
                    task, candidates.get(task.id, ()), why, done, files, roots, ctx, on_event
                )
            futures[task.id].set_result(result)
            await emit(on_event, TaskFinished(result))

        if len(plan.tasks) == 1:  # nothing to run beside it: no task group, no extra asyncio task
            await run_one(plan.tasks[0])
        else:
            async with asyncio.TaskGroup() as group:
                for task in plan.tasks:
                    group.create_task(run_one(task))
        return [futures[t.id].result() for t in plan.tasks]

    async def _attempt(
        self,
        task: Task,
        options: Sequence[Selection],
        why_unavailable: str,
        done: Mapping[int, TaskResult],
        files: Sequence[Resource],
        roots: Sequence[Path],
        ctx: RunContext,
        on_event: EventCallback | None,
    ) -> TaskResult:
        started = time.perf_counter()
        try:
            inputs = resolve_inputs(task, done, files, roots)
        except InputError as exc:
            return TaskResult(
                task=task, status="failed", error=str(exc), seconds=time.perf_counter() - started
            )
        if not options:
            return TaskResult(
                task=task, status="failed", error=why_unavailable, seconds=time.perf_counter() - started
            )
        read = _read_from_outside(task, inputs)
        errors: list[str] = []
        deadline = time.perf_counter() + self.task_timeout  # one time bound per task, over all candidates
        for choice in options:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                errors.append(f"no time left for {choice.card.id} within {self.task_timeout:g} s")
                break
            await emit(on_event, TaskStarted(task, choice.card))
            try:
                outputs = await self._run_card(choice.card, task, inputs, ctx, remaining)
            except TimeoutError:
                errors.append(f"{choice.card.id}: timed out after {self.task_timeout:g} s")
                break
            except ExpertError as exc:
                errors.append(f"{choice.card.id}: {exc}")
                continue
            except Exception as exc:  # a runner bug: record it, keep the request alive
                log.exception("expert %s crashed on task %s", choice.card.id, task.id)
                errors.append(f"{choice.card.id}: internal error ({type(exc).__name__}: {exc})")
                continue
            return TaskResult(
                task=task,
                status="ok",
                card=choice.card,
                reason=choice.reason,
                outputs=tuple(outputs),
                seconds=time.perf_counter() - started,
                read=read,
            )
        last = options[min(len(errors), len(options)) - 1] if errors else options[0]
        return TaskResult(
            task=task,
            status="failed",
            card=last.card,
            reason=last.reason,
            error="; ".join(errors),
            seconds=time.perf_counter() - started,
            read=read,
        )

    async def _run_card(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext, seconds: float
    ) -> Sequence[Resource]:
        backend = self.backends.get(card.backend)
        if backend is None:
            raise ExpertError(f"backend {card.backend} is not configured")
        async with asyncio.timeout(seconds):
            outputs = await backend.run(card, task, inputs, ctx)
        wanted = set(TASK_SPECS[task.task].outputs)
        if not outputs or not any(o.kind in wanted for o in outputs):
            raise ExpertError(f"returned no {' or '.join(sorted(wanted))}")
        return outputs


def _read_from_outside(task: Task, inputs: Mapping[str, Resource]) -> tuple[str, ...]:
    """The files (paths) and earlier results (names) ``task`` reads, for the trace."""
    out = []
    for name, resource in inputs.items():
        if exact_ref(task.args.get(name, "")) is not None:
            continue  # another task's output in this plan
        if resource.path is not None:
            out.append(str(resource.path))
        elif resource.name:
            out.append(resource.name)
    return tuple(out)
