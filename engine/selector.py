"""Model selection: which expert runs each task.

Candidates are the catalogue's cards of the task type that can run here, plus the
cards backends bring themselves, in the order of attempts each backend declares
(engine/experts/base.py): a model already loaded (local, or deployed on Ray), a local
model that can load from disk, a Ray deployment, a builtin tool, hosted inference,
the controller LLM (for language tasks), then local models that must be downloaded
first; by downloads within each. The top K are kept. When a task has one candidate there
is nothing to ask; otherwise (if enabled) one LLM call chooses for all such tasks at
once, with a reason, and an invalid answer falls back to the top-ranked card. The
other candidates stay behind the choice as fallbacks for the scheduler. An LLM planner
can make the choice in its planning call (``contested`` lists the options), which
saves the separate call; it is then only made for tasks the planner left open.
When every candidate of a task with a substitute (``SUBSTITUTES``) needs a download,
the substitute's cards follow them as fallbacks: with no network the downloads fail
at once (the Hub is known unreachable) and the substitute answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

from engine.catalogue import Catalogue
from engine.errors import LLMError
from engine.experts.base import DOWNLOAD_RANK, LOADED_RANK, ExpertBackend
from engine.json_repair import NoJSON, load_json
from engine.llm.base import LLM, ChatMessage
from engine.types import ModelCard, Plan, Selection, Task

log = logging.getLogger(__name__)

RANKED_REASON = "highest-ranked model that can run here (by downloads)"
SOLE_REASON = "the only expert for this task that can run here"
PLANNER_REASON = "chosen by the planner for this request"

# When nothing can run a question about an image, the image-to-text experts give a
# degraded but real answer (the document's text, what the photo shows); the reason
# says the question itself could not be used.
SUBSTITUTES = {
    "visual-question-answering": "image-to-text",
    "document-question-answering": "image-to-text",
}
_CONTESTED_TTL = 30.0

SELECT_SCHEMA = {
    "type": "object",
    "properties": {
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "task_id": {"type": "integer"},
                    "id": {"type": "string"},
                    "reason": {"type": "string"},
                },
                "required": ["task_id", "id", "reason"],
            },
        }
    },
    "required": ["choices"],
}


async def _refresh(backend: ExpertBackend) -> None:
    """A backend whose refresh breaks keeps answering from what it knew: one broken
    backend must not fail the request (its experts are then simply not chosen)."""
    try:
        await backend.refresh()
    except Exception:
        log.exception("refreshing the %s backend failed", backend.name)


class Selector:
    def __init__(
        self,
        catalogue: Catalogue,
        backends: Mapping[str, ExpertBackend],
        top_k: int = 5,
        choose_with_llm: bool = True,
    ) -> None:
        self.catalogue = catalogue
        self.backends = backends
        self.top_k = top_k
        self.choose_with_llm = choose_with_llm
        self._contested: dict[str, list[ModelCard]] = {}
        self._contested_at = float("-inf")

    def _cards_of(self, task_type: str) -> list[ModelCard]:
        listed = list(self.catalogue.cards_for(task_type))
        cards = list(listed)
        for backend in self.backends.values():
            if backend.runs_cards_of:  # hosted inference runs the catalogue's hub models too
                cards += [
                    replace(c, backend=backend.name) for c in listed if c.backend in backend.runs_cards_of
                ]
            if backend.own_cards:
                cards += [c for c in backend.cards() if c.task == task_type]
        unique: dict[tuple[str, str], ModelCard] = {}
        for card in cards:  # a card listed twice (catalogue and backend) counts once
            unique.setdefault((card.id, card.backend), card)
        return list(unique.values())

    def candidates(self, task_type: str) -> list[ModelCard]:
        """Runnable cards for a task type, in order of attempts, at most top K."""
        return [card for _, card in self._ranked(task_type)]

    def _ranked(self, task_type: str) -> list[tuple[tuple[int, int, int], ModelCard]]:
        ranked: list[tuple[tuple[int, int, int], ModelCard]] = []
        for card in self._cards_of(task_type):
            backend = self.backends.get(card.backend)
            if backend is None:
                continue
            availability = backend.availability(card)
            if not availability.ok:
                continue
            if availability.download:
                tier = DOWNLOAD_RANK
            elif availability.ready and backend.ready_first:
                tier = LOADED_RANK
            else:
                tier = backend.rank
            ranked.append(((tier, -card.downloads, -card.likes), card))
        ranked.sort(key=lambda pair: pair[0])
        return ranked[: self.top_k]

    def _substitutes(
        self, task_type: str, ranked: list[tuple[tuple[int, int, int], ModelCard]]
    ) -> list[ModelCard]:
        """Cards of the substitute task, tried after ``ranked`` when every one of those
        needs a download first: offline, the downloads fail and the substitute answers."""
        substitute = SUBSTITUTES.get(task_type)
        if substitute is None or any(tier[0] < DOWNLOAD_RANK for tier, _ in ranked):
            return []
        return self.candidates(substitute)

    def contested(self, task_types: Sequence[str]) -> dict[str, list[ModelCard]]:
        """Candidates of each task type that has a real choice (more than one), for the
        planner to choose from. Cached briefly: availability changes only as models load."""
        now = time.monotonic()
        if now - self._contested_at > _CONTESTED_TTL:
            self._contested = {}
            self._contested_at = now
        out = {}
        for task_type in task_types:
            if task_type not in self._contested:
                self._contested[task_type] = self.candidates(task_type)
            if len(self._contested[task_type]) > 1:
                out[task_type] = self._contested[task_type]
        return out

    def why_unavailable(self, task_type: str) -> str:
        """A message naming what to configure so ``task_type`` can run."""
        text = (
            f"{task_type} cannot run here: it needs a GPU model (or its weights in the Hugging Face "
            f"cache) or a Hugging Face token (HF_TOKEN) for hosted inference"
        )
        notes: list[str] = []
        for card in self._cards_of(task_type):
            backend = self.backends.get(card.backend)
            if backend is None or not backend.own_cards:
                continue
            state = backend.availability(card)
            if state.ok or not state.why:
                continue
            note = (
                f"its offline tool is missing: {state.why}"
                if backend.offline
                else f"{card.backend}: {state.why}"
            )
            if note not in notes:
                notes.append(note)
        return "; ".join([text, *notes])

    async def refresh(self) -> None:
        """Let every backend bring its availability up to date (a cluster's status, say),
        concurrently; awaited once per request, before the candidates are ranked."""
        async with asyncio.TaskGroup() as group:
            for backend in self.backends.values():
                group.create_task(_refresh(backend))

    async def select(self, plan: Plan, llm: LLM | None) -> tuple[dict[int, list[Selection]], dict[int, str]]:
        """Ordered selections per task id (choice first, fallbacks after), and reasons
        for tasks nothing can run."""
        options: dict[int, list[ModelCard]] = {}
        missing: dict[int, str] = {}
        substituted: dict[int, str] = {}
        if plan.tasks:
            await self.refresh()
        stand_ins: dict[int, list[ModelCard]] = {}  # substitute cards after download-only candidates
        for task in plan.tasks:
            ranked = self._ranked(task.task)
            cards = [card for _, card in ranked]
            extra = self._substitutes(task.task, ranked)
            if not cards and extra:
                cards = extra
                substituted[task.id] = (
                    f"no {task.task} expert can run here, so {SUBSTITUTES[task.task]} answered instead, "
                    "without using the question"
                )
            elif extra:
                stand_ins[task.id] = extra
            options[task.id] = cards
            if not cards:
                missing[task.id] = self.why_unavailable(task.task)
        chosen: dict[int, tuple[str, str]] = {
            t.id: (t.model, PLANNER_REASON)
            for t in plan.tasks
            if t.model and any(c.id == t.model for c in options[t.id])
        }
        contested = [t for t in plan.tasks if len(options[t.id]) > 1 and t.id not in chosen]
        if contested and llm is not None and self.choose_with_llm:
            chosen.update(await self._ask_llm(contested, options, llm))
        result: dict[int, list[Selection]] = {}
        for task in plan.tasks:
            cards = options[task.id]
            pick = chosen.get(task.id)
            ordered = cards
            reason = substituted.get(task.id) or (RANKED_REASON if len(cards) > 1 else SOLE_REASON)
            if pick is not None:
                first = next(c for c in cards if c.id == pick[0])
                ordered = [first, *[c for c in cards if c is not first]]
                reason = pick[1]
            result[task.id] = [
                Selection(task.id, c, reason if i == 0 or task.id in substituted else "fallback")
                for i, c in enumerate(ordered)
            ]
            stand_in_reason = (
                f"no {task.task} expert could run here without a download, so "
                f"{SUBSTITUTES.get(task.task)} answered instead, without using the question"
            )
            result[task.id] += [Selection(task.id, c, stand_in_reason) for c in stand_ins.get(task.id, ())]
        return result, missing

    async def _ask_llm(
        self, tasks: Sequence[Task], options: Mapping[int, Sequence[ModelCard]], llm: LLM
    ) -> dict[int, tuple[str, str]]:
        listing = []
        for task in tasks:
            cands = [
                {
                    "id": c.id,
                    "backend": c.backend,
                    "downloads": c.downloads,
                    "description": c.description[:160],
                }
                for c in options[task.id]
            ]
            listing.append(
                {"task_id": task.id, "task": task.task, "args": dict(task.args), "candidates": cands}
            )
        messages = [
            ChatMessage(
                "system",
                "You choose the best model for each task of a user's request. "
                'Answer only with JSON: {"choices": [{"task_id": N, "id": MODEL_ID, '
                '"reason": WHY}]}, one choice per task, ids taken from that task\'s candidates. '
                "Prefer models that fit the request's language and content; more downloads means "
                "better tested.",
            ),
            ChatMessage("user", json.dumps(listing, ensure_ascii=False)),
        ]
        try:
            raw = await llm.complete(messages, json_schema=SELECT_SCHEMA, max_tokens=120 * len(tasks))
            data = load_json(raw)
        except (LLMError, NoJSON) as exc:
            log.info("model choice fell back to ranking: %s", exc)
            return {}
        chosen: dict[int, tuple[str, str]] = {}
        choices = data.get("choices") if isinstance(data, dict) else None
        for item in choices if isinstance(choices, list) else []:
            if not isinstance(item, dict):
                continue
            tid, mid = item.get("task_id"), item.get("id")
            if isinstance(tid, int) and tid in options and any(c.id == mid for c in options[tid]):
                chosen[tid] = (str(mid), str(item.get("reason") or "chosen by the controller")[:300])
        return chosen
