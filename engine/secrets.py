"""Secrets never leave: redaction of credentials from text the bot shows, logs or stores.

A ``Redactor`` knows two things: the configured secret values (the environment
variables that the config's ``*_env`` keys name: OPENAI_API_KEY, HF_TOKEN,
DISCORD_TOKEN, SLACK_BOT_TOKEN, ...) and the shapes of common tokens (``sk-...``,
``hf_...``, Slack's ``xox?-`` and ``xapp-``, Discord bot tokens, ``Bearer ...``).
Either is replaced by ``[redacted]``.

Where it applies (the boundaries text crosses on its way out):
- the store: every text and JSON column before it is written (bot/store.py);
- the reply and the progress events: ConversationService hands adapters only
  redacted values (``redact_outcome``, ``redact_event``);
- logs: the CLI installs ``RedactingFilter`` on the root logger's handlers, which also
  covers the text of logged exceptions.

Text from an LLM, a hosted API or an exception message all pass one of these before a
person or a file sees them. Values shorter than ``MIN_SECRET_CHARS`` are not treated
as secrets: redacting "1" or "abc" everywhere would garble replies and protect nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from engine.events import Done, Event, PlanReady, TaskFinished, TaskStarted
from engine.types import Outcome, Plan, Reply, Resource, Task, TaskResult

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "Redactor",
    "env_keys",
    "redact_event",
    "redact_outcome",
]

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 6

TOKEN_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_-]{16,}"  # OpenAI and compatible servers: sk-..., sk-proj-...
    r"|\bhf_[A-Za-z0-9]{16,}"  # Hugging Face
    r"|\bxox[abposre]-[A-Za-z0-9-]{8,}"  # Slack bot, user and refresh tokens
    r"|\bxapp-[A-Za-z0-9-]{8,}"  # Slack app-level tokens
    r"|\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"  # Discord bot tokens
    # an Authorization header's credentials; long enough that "Bearer of bad news" is prose
    r"|\b[Bb]earer\s+[A-Za-z0-9._~+/=-]{20,}",
)


class Redactor:
    """Replaces configured secret values and token-shaped strings with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s.strip() for s in secrets if s and len(s.strip()) >= MIN_SECRET_CHARS}
        # longest first, so a secret that contains another is replaced whole
        ordered = sorted(values, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_environment(cls, names: Iterable[str], environ: Mapping[str, str]) -> Redactor:
        """A redactor for the values of the environment variables ``names``."""
        return cls(environ.get(name, "") for name in names)

    def redact(self, text: str) -> str:
        if not text:
            return text
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        return TOKEN_SHAPES.sub(REDACTED, text)

    def redact_value(self, value: Any) -> Any:
        """``value`` with every string inside it (in dicts, lists, tuples) redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact_value(k): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact_value(v) for v in value)
        return value


def env_keys(config: Mapping[str, Any]) -> list[str]:
    """The values of every key ending in ``_env`` in a nested config mapping: the names
    of the environment variables that hold its secrets."""
    found: list[str] = []
    for key, value in config.items():
        if isinstance(value, Mapping):
            found += env_keys(value)
        elif isinstance(key, str) and key.endswith("_env") and isinstance(value, str) and value:
            found.append(value)
    return found


def _resource(res: Resource, r: Redactor) -> Resource:
    if res.text is None and res.data is None:
        return res
    return replace(
        res,
        text=None if res.text is None else r.redact(res.text),
        data=None if res.data is None else r.redact_value(res.data),
    )


def _task(task: Task, r: Redactor) -> Task:
    return replace(task, args={k: r.redact(v) if isinstance(v, str) else v for k, v in task.args.items()})


def _plan(plan: Plan, r: Redactor) -> Plan:
    return replace(plan, tasks=tuple(_task(t, r) for t in plan.tasks))


def _result(result: TaskResult, r: Redactor) -> TaskResult:
    return replace(
        result,
        task=_task(result.task, r),
        reason=r.redact(result.reason),
        outputs=tuple(_resource(o, r) for o in result.outputs),
        error=None if result.error is None else r.redact(result.error),
    )


def _reply(reply: Reply, r: Redactor) -> Reply:
    return replace(
        reply,
        text=r.redact(reply.text),
        media=tuple(_resource(m, r) for m in reply.media),
        warnings=tuple(r.redact(w) for w in reply.warnings),
    )


def redact_outcome(outcome: Outcome, r: Redactor) -> Outcome:
    """``outcome`` with its reply, plan, results and error redacted."""
    return replace(
        outcome,
        reply=_reply(outcome.reply, r),
        plan=None if outcome.plan is None else _plan(outcome.plan, r),
        results=tuple(_result(x, r) for x in outcome.results),
        error=None if outcome.error is None else r.redact(outcome.error),
    )


def redact_event(event: Event, r: Redactor) -> Event:
    """A progress event as an adapter may show it."""
    if isinstance(event, TaskFinished):
        return TaskFinished(_result(event.result, r))
    if isinstance(event, TaskStarted):
        return TaskStarted(_task(event.task, r), event.card)
    if isinstance(event, PlanReady):
        return PlanReady(_plan(event.plan, r))
    if isinstance(event, Done):
        return Done(_reply(event.reply, r))
    return event


class RedactingFilter(logging.Filter):
    """A handler filter that redacts a record's message and its exception's text.

    The message is formatted here (``getMessage``) and its arguments dropped, so a
    secret passed as an argument is caught as well as one in the format string."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = self.redactor.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True
