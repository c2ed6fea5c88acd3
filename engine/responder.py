"""Stage 4: write the answer from the structured results.

The LLM writes the reply from the tasks, chosen models with reasons, and outputs.
Small controllers sometimes drop or garble the actual results, so when the reply
does not quote a text result it gets a short digest of them appended; if the LLM
fails outright the digest alone is the reply. The user always sees what was found.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from engine import messages as M
from engine.claims import without_false_claims
from engine.conversation import StateEntry
from engine.errors import LLMError
from engine.i18n import Messages
from engine.llm.base import LLM, ChatMessage
from engine.prompts import CHAT_SYSTEM, RESPOND_SYSTEM, answer_language, history_text
from engine.selector import PLANNER_REASON, RANKED_REASON, SOLE_REASON
from engine.summary import summary as results_summary
from engine.types import MEDIA_KINDS, Request, Resource, TaskResult, Turn

log = logging.getLogger(__name__)

_STOCK_REASONS = {RANKED_REASON, SOLE_REASON, PLANNER_REASON, "fallback"}


def result_lines(results: Sequence[TaskResult]) -> list[str]:
    """The digest shown to the user: each step, its model, why it was chosen when that
    is news (not the stock ranking reasons), and its output."""
    return [_result_line(r) for r in results]


def _result_line(r: TaskResult) -> str:
    """One result: step, model (and why, when it was a real choice), output."""
    model = f" with {r.card.id}" if r.card else ""
    why = f" ({r.reason})" if r.reason and r.reason not in _STOCK_REASONS else ""
    if r.status != "ok":
        return f"- #{r.task.id} {r.task.task}{model}: {r.status}: {r.error}"
    outputs = "; ".join(_short(o) for o in r.outputs if o.kind != "json") or "done"
    return f"- #{r.task.id} {r.task.task}{model}{why}: {outputs}"


def _short(resource: Resource) -> str:
    if resource.kind == "text":
        text = (resource.text or "").strip()
        return f'"{text[:400]}{"…" if len(text) > 400 else ""}"'
    name = resource.path.name if resource.path else ""
    note = f" ({resource.text})" if resource.text else ""
    return f"{resource.kind} file {name}{note}"


def summary(request: Request, results: Sequence[TaskResult], say: Messages | None = None) -> str:
    """A faithful answer built from the results alone (engine/summary.py)."""
    return results_summary(results, say)


def recall(entries: Sequence[StateEntry], say: Messages | None = None) -> str:
    """ "what did it say again?": the earlier text result, quoted as it was."""
    say = say or Messages("en")
    texts = [e.resource.text for e in entries if e.kind == "text" and e.resource.text]
    if not texts:
        return say(M.RECALL_NOTHING)
    return say(M.RECALL_SAID, text=texts[0].strip())


def reply_media(results: Sequence[TaskResult]) -> tuple[Resource, ...]:
    """Media files the tasks generated, in task order, for the reply to carry."""
    return tuple(o for r in results if r.status == "ok" for o in r.outputs if o.kind in MEDIA_KINDS)


class Responder:
    """``write_with_llm=False`` answers with the summary of the results alone (no LLM
    call): the right choice for tiny controllers, which were measured to invent results
    (SmolLM2-135M described a spoken WAV as "a video game that allows you to record
    yourself") however the results were phrased."""

    def __init__(self, context_tokens: int = 1500, write_with_llm: bool = True) -> None:
        self.context_tokens = context_tokens
        self.write_with_llm = write_with_llm

    async def respond(
        self, request: Request, results: Sequence[TaskResult], llm: LLM, say: Messages | None = None
    ) -> str:
        if not self.write_with_llm:
            return summary(request, results, say)
        digest = "\n".join(result_lines(results))
        # Plain lines, not JSON: small controllers answer far better from text (measured with
        # SmolLM2-135M: JSON payloads made it ramble, these lines made it quote the result).
        body = f"Request: {request.text}\nResults:\n{digest}"
        lang = say.lang if say is not None else None
        messages = [ChatMessage("system", RESPOND_SYSTEM + answer_language(lang)), ChatMessage("user", body)]
        try:
            text = (await llm.complete(messages, max_tokens=400, temperature=0.2)).strip()
        except LLMError as exc:
            log.info("responder fell back to the summary: %s", exc)
            return summary(request, results, say)
        if not text:
            return summary(request, results, say)
        if not _quotes_results(text, results):
            text += "\n\n" + summary(request, results, say)
        return text

    async def chat(self, request: Request, llm: LLM, say: Messages | None = None) -> str:
        """A direct answer when no expert is needed. Earlier tool replies reach the model as
        plain sentences (not the digest's layout, which small models copy), and a sentence
        of the answer that claims a file or a result nobody made is taken out."""
        lang = say.lang if say is not None else None
        messages = [ChatMessage("system", CHAT_SYSTEM + answer_language(lang))]
        for role, text in history_text(_plain_history(request.history), self.context_tokens):
            messages.append(ChatMessage(role, text))
        messages.append(ChatMessage("user", request.text))
        answer = (await llm.complete(messages, max_tokens=300, temperature=0.3)).strip()
        return without_false_claims(answer, say)


_DIGEST_LINE = re.compile(r"^\s*-\s*#\d+\s+[\w-]+(?: with [^:]+)?:\s*", re.M)


def _plain_history(turns: Sequence[Turn]) -> list[Turn]:
    """Assistant turns whose text is a list of step results, said as plain lines."""
    out = []
    for turn in turns:
        text = turn.text
        if turn.role == "assistant" and _DIGEST_LINE.search(text):
            text = _DIGEST_LINE.sub("", text).replace("Here is what I did:", "").strip()
        out.append(Turn(turn.role, text, turn.resources))
    return out


def _quotes_results(text: str, results: Sequence[TaskResult]) -> bool:
    """True when every ok task's text output (its first words) appears in ``text``,
    and every failed task is mentioned by its task type."""
    lowered = text.lower()
    for r in results:
        if r.status != "ok":
            if r.task.task.lower() not in lowered and "fail" not in lowered and "could not" not in lowered:
                return False
            continue
        for out in r.outputs:
            if out.kind == "text" and out.text and out.text.strip():
                probe = " ".join(out.text.split()[:4]).lower()
                if probe and probe not in " ".join(lowered.split()):
                    return False
            elif out.kind in MEDIA_KINDS and out.path is not None and out.path.name.lower() not in lowered:
                continue  # media travel as attachments; naming them is optional
    return True
