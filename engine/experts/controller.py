"""Language tasks run by the controller LLM itself, as HuggingGPT does when no
better expert is set up (summarization, translation, question answering, ...).

The per-request LLM (which counts calls) arrives in ``RunContext.llm``. The controller
is the last resort among backends (a generalist answering a specialist's step), and it
runs offline exactly when the controller LLM is embedded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.errors import ExpertError, LLMError
from engine.experts.base import Availability, RunContext
from engine.llm.base import ChatMessage
from engine.tasks import LANGUAGE_TASKS, TASK_SPECS
from engine.types import ModelCard, Resource, Task


class ControllerBackend:
    name = "llm"
    rank = 40
    ready_first = False
    own_cards = True
    runs_cards_of: tuple[str, ...] = ()

    def __init__(self, llm_name: str, offline: bool = False) -> None:
        self.offline = offline
        self._cards = [
            ModelCard(
                id=f"llm/{llm_name}",
                task=t,
                backend="llm",
                description="the controller language model, answering this step itself",
            )
            for t in sorted(LANGUAGE_TASKS)
        ]

    def cards(self) -> Sequence[ModelCard]:
        return self._cards

    def availability(self, card: ModelCard) -> Availability:
        return Availability(ok=True, ready=True)

    async def refresh(self) -> None:
        return None

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        llm = ctx.llm
        if llm is None:
            raise ExpertError("no controller LLM was given to this request")
        spec = TASK_SPECS[task.task]
        system = (
            f"You perform one step of a larger job: {task.task} ({spec.description}). "
            f"The user's whole request was: {ctx.request_text!r}. "
            "Reply with only the result of this step: no preamble, no commentary."
        )
        body = "\n\n".join(f"{name}: {res.describe()}" for name, res in inputs.items())
        try:
            text = await llm.complete(
                [ChatMessage("system", system), ChatMessage("user", body)], max_tokens=600
            )
        except LLMError as exc:
            raise ExpertError(f"the controller LLM failed: {exc}") from exc
        if not text.strip():
            raise ExpertError("the controller LLM returned nothing")
        return [Resource(kind="text", text=text.strip())]

    async def aclose(self) -> None:
        return None
