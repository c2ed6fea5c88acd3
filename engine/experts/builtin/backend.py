"""The ``builtin`` expert backend: offline tools run in worker threads.

Availability is asked of each tool once and remembered (it looks at PATH, installed
packages and weight files, which do not change while the bot runs); ``ready`` is
read fresh so a tool reports itself loaded after its first run. Media inputs are
checked against ``MediaLimits`` from their headers before a tool decodes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from engine.errors import EngineError, ExpertError, ExpertUnavailable
from engine.experts.base import Availability, RunContext
from engine.experts.builtin.base import BuiltinTool
from engine.media_limits import MediaLimits, check_inputs
from engine.types import ModelCard, Resource, Task


class BuiltinBackend:
    name = "builtin"
    rank = 20  # after local models on disk (they are the better experts), before the network
    ready_first = False  # a loaded tool is no reason to pass a local model by
    own_cards = True
    runs_cards_of: tuple[str, ...] = ()
    offline = True

    def __init__(self, tools: Sequence[BuiltinTool], limits: MediaLimits | None = None) -> None:
        self.limits = limits or MediaLimits()
        self._tools: dict[str, BuiltinTool] = {}
        for tool in tools:
            if tool.tool_id in self._tools:
                raise ValueError(f"two builtin tools share the id {tool.tool_id!r}")
            self._tools[tool.tool_id] = tool
        self._availability: dict[str, Availability] = {}

    def cards(self) -> Sequence[ModelCard]:
        return [tool.card for tool in self._tools.values()]

    def tool(self, card_id: str) -> BuiltinTool | None:
        return self._tools.get(card_id)

    def availability(self, card: ModelCard) -> Availability:
        tool = self._tools.get(card.id)
        if tool is None:
            return Availability(ok=False, why=f"{card.id} is not a builtin tool")
        known = self._availability.get(card.id)
        if known is None:
            try:
                known = tool.available()
            except Exception as exc:  # a broken install must not break catalogue listing
                known = Availability(ok=False, why=f"{card.id}: availability check failed: {exc}")
            self._availability[card.id] = known
        if known.ok and tool.loaded and not known.ready:
            return Availability(ok=True, why=known.why, ready=True)
        return known

    async def refresh(self) -> None:
        return None  # availability looks at this machine only

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        tool = self._tools.get(card.id)
        if tool is None:
            raise ExpertUnavailable(f"{card.id} is not a builtin tool")
        state = self.availability(card)
        if not state.ok:
            raise ExpertUnavailable(state.why or f"{card.id} cannot run here")
        await asyncio.to_thread(check_inputs, inputs, self.limits)
        try:
            return await asyncio.to_thread(tool.run, task, inputs, ctx)
        except EngineError:
            raise
        except Exception as exc:
            raise ExpertError(f"{card.id} failed: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        for tool in self._tools.values():
            tool.unload()
