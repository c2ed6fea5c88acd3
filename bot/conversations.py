"""The conversation service: the TurnHandler every adapter calls.

It keeps each conversation's turns in order (one lock per conversation), loads the
context from the store, types and saves the user's files, runs the engine, and
stores the turn with its plan, choices, results and timings. It never raises for
bad input or model trouble: the user gets a reply and the turn is stored.

What holds at this boundary:
- durable before shown: the user's message is committed before the engine runs,
  the reply and its request-log row before ``handle`` returns; adapters post only
  after that, so a reply a user saw is never lost with the process;
- a store that cannot write is said, never hidden: the turn is refused before the
  engine runs, or the reply carries a warning that it was not saved;
- the engine gets valid UTF-8 (``valid_text``) and cleaned file names (ingest);
- nothing that leaves (the returned outcome, every progress event) carries a
  configured secret or a token-shaped string (engine/secrets.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from adapters.base import ConversationKey, IncomingMessage
from bot.ingest import Ingested, ingest_files
from bot.locks import KeyedLocks
from bot.store import Store
from engine.conversation import generated_resources
from engine.engine import Engine, StopAfter
from engine.events import Event, EventCallback, Received
from engine.media_limits import MediaLimits
from engine.notify import emit
from engine.secrets import Redactor, redact_event, redact_outcome
from engine.text_hygiene import clean_name, valid_text
from engine.types import Outcome, Reply, Request, Turn

log = logging.getLogger(__name__)

# Turn folders are named time-tag-count: the tag tells this process from another on
# the same data dir (drawn once per process, not per turn)
_PROCESS_TAG = os.urandom(3).hex()
_turn_numbers = itertools.count(1)
_KNOWN_FOLDERS = 10_000  # conversation folders remembered (path joins cost every turn)


class ConversationService:
    def __init__(
        self,
        engine: Engine,
        store: Store,
        data_dir: Path,
        max_attachment_bytes: int = 25 * 1024 * 1024,
        max_attachments: int = 10,
        max_request_chars: int = 8000,
        history_turns: int = 40,
        media_limits: MediaLimits | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.artifacts = data_dir / "artifacts"
        self.max_attachment_bytes = max_attachment_bytes
        self.max_attachments = max_attachments
        self.max_request_chars = max_request_chars
        self.history_turns = history_turns
        self.media_limits = media_limits or MediaLimits()
        self.redactor = redactor or Redactor()
        self.locks = KeyedLocks()
        self._folders: dict[ConversationKey, Path] = {}

    async def handle(self, message: IncomingMessage, on_event: EventCallback | None = None) -> Outcome:
        events = self._redacted_events(on_event)
        await emit(events, Received(message.text, queued_behind=self.locks.waiting(message.key)))
        async with self.locks.hold(message.key):
            return await self._turn(message, events)

    async def handle_ephemeral(
        self,
        message: IncomingMessage,
        history: Sequence[Turn],
        on_event: EventCallback | None = None,
        *,
        stop_after: StopAfter | None = None,
    ) -> Outcome:
        """One turn over the ``history`` the caller gives (an HTTP client that sends the
        whole conversation each time): no stored context is read and none is kept, so
        turns under one key need no lock. The request log still records the turn, and its
        files stay under the key's folder, where the reply's links point. ``stop_after``
        ends the run early (see ``Engine.run``)."""
        events = self._redacted_events(on_event)
        await emit(events, Received(message.text))
        return await self._turn(message, events, history=tuple(history), stop_after=stop_after)

    def _redacted_events(self, on_event: EventCallback | None) -> EventCallback | None:
        if on_event is None:
            return None

        async def forward(event: Event) -> None:
            await emit(on_event, redact_event(event, self.redactor))

        return forward

    async def forget(self, key: ConversationKey) -> None:
        """Clear the context and delete the conversation's files: a later plan cannot
        name them, and forgetting means they are gone."""
        async with self.locks.hold(key):
            await self.store.forget(await self.store.conversation_id(key))
            await asyncio.to_thread(shutil.rmtree, self._conversation_folder(key), True)

    async def knows(self, key: ConversationKey) -> bool:
        return await self.store.has_context(key)

    async def _turn(
        self,
        message: IncomingMessage,
        on_event: EventCallback | None,
        history: tuple[Turn, ...] | None = None,
        stop_after: StopAfter | None = None,
    ) -> Outcome:
        stored = history is None  # an ephemeral turn brings its history and keeps no context
        try:
            conv = await self.store.conversation_id(message.key)
            if history is None:
                history = tuple(await self.store.recent_turns(conv, limit=self.history_turns))
        except sqlite3.Error as exc:
            return self._unsaved(exc)
        conversation_dir = self._conversation_folder(message.key)
        turn_dir = conversation_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{_PROCESS_TAG}-{next(_turn_numbers)}"
        if message.files:  # file writes and type sniffing: off the event loop
            ingested = await asyncio.to_thread(
                ingest_files,
                message.files,
                turn_dir / "in",
                self.max_attachment_bytes,
                self.max_attachments,
                self.max_request_chars,
                self.media_limits,
                self.artifacts,
            )
        else:  # nothing to read: no thread hop and no folder
            ingested = Ingested()
        warnings = [*(clean_name(w, limit=500) for w in message.warnings), *ingested.warnings]
        text = valid_text(message.text).strip()
        for name, content in ingested.texts:
            text += f"\n\n[{name}]\n{content}"
        if len(text) > self.max_request_chars:
            warnings.append(f"your message was cut to {self.max_request_chars} characters")
            text = text[: self.max_request_chars]
        try:
            asked = await self.store.add_message(conv, "user", text, ingested.resources) if stored else None
        except sqlite3.Error as exc:
            return self._unsaved(exc)
        if not text and not ingested.resources:
            outcome = Outcome(reply=Reply(text="Send me a request in words, with files if you like."))
        else:
            request = Request(
                text=text or "(files only)",
                artifact_dir=turn_dir / "out",
                attachments=tuple(ingested.resources),
                history=tuple(history),
                allowed_roots=(conversation_dir,),
            )
            outcome = await self._run_engine(request, on_event, stop_after)
        if warnings:
            outcome = replace(
                outcome, reply=replace(outcome.reply, warnings=(*outcome.reply.warnings, *warnings))
            )
        outcome = redact_outcome(outcome, self.redactor)
        try:
            if stored:
                # every result (texts too, each marked with its task), so later turns can refer to it
                await self.store.record_reply(conv, asked, text, outcome, generated_resources(outcome.results))
            else:
                await self.store.log_request(conv, None, text, outcome)
        except sqlite3.Error as exc:
            log.error("could not store a turn's reply: %s", exc)
            note = f"this answer could not be saved ({exc}), so I will not remember it"
            outcome = replace(outcome, reply=replace(outcome.reply, warnings=(*outcome.reply.warnings, note)))
        return outcome

    def _unsaved(self, exc: sqlite3.Error) -> Outcome:
        """The reply when the store cannot take the user's message: nothing was run."""
        log.error("the store refused a turn: %s", exc)
        text = (
            f"Sorry, I cannot save our conversation right now ({exc}), "
            "so I did not start on your message. Please try again in a moment."
        )
        return redact_outcome(Outcome(reply=Reply(text=text), error=f"store: {exc}"), self.redactor)

    def _conversation_folder(self, key: ConversationKey) -> Path:
        folder = self._folders.get(key)
        if folder is None:
            if len(self._folders) >= _KNOWN_FOLDERS:
                self._folders.clear()
            folder = self._folders[key] = self.artifacts / key.slug()
        return folder

    async def _run_engine(
        self, request: Request, on_event: EventCallback | None, stop_after: StopAfter | None = None
    ) -> Outcome:
        try:
            return await self.engine.run(request, on_event, stop_after=stop_after)
        except Exception as exc:  # a bug must not lose the turn: store it and tell the user
            log.exception("engine crashed on a request")
            return Outcome(
                reply=Reply(text=f"Sorry, something went wrong on my side ({type(exc).__name__})."),
                error=f"{type(exc).__name__}: {exc}",
            )
