"""JARVIS's endpoints, with its bodies and answers, so its clients work unchanged.

All three take ``{"messages": [...]}`` (JARVIS's ``model``, ``api_key``,
``api_type`` and ``api_endpoint`` fields are accepted and not used: this server's
own controller answers) and, like JARVIS, read the conversation from the messages
(the earlier ones are the history). ``/hugginggpt`` may also name a stored
conversation with ``X-Conversation-Id``.

- ``POST /hugginggpt`` -> ``{"message": answer}`` (links to generated files in the text).
- ``POST /tasks`` -> the plan, a list of ``{"task", "id", "dep", "args"}`` (stage 1).
- ``POST /results`` -> ``{"<task id>": {"task", "inference result", "choose model
  result"}}`` (stages 1-3: plan, model choice, execution; no answer is written).

A request that needs no tools gets ``{"message": answer}`` from all three, as JARVIS
answers chit-chat. Errors are ``{"error": "message"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.http import replies
from adapters.http.context import caller_of, context
from adapters.http.errors import bad_request
from adapters.http.openai_api import read_body, read_chat
from adapters.http.turns import conversation_id
from engine.engine import StopAfter
from engine.types import Outcome, TaskResult

# JARVIS's names for what a task produced, by the kind of output
_INFERENCE_KEYS = {
    "text": "generated text",
    "image": "generated image",
    "audio": "generated audio",
    "video": "generated video",
    "json": "predicted",
}


def add_routes(app: web.Application) -> None:
    app.router.add_post("/hugginggpt", hugginggpt)
    app.router.add_post("/tasks", tasks)
    app.router.add_post("/results", results)


async def _run(
    request: web.Request, stop_after: StopAfter | None
) -> tuple[Outcome, Callable[[Path], str | None]]:
    ctx, caller = context(request), caller_of(request)
    body = await read_body(request)
    if "messages" not in body:
        raise bad_request('the body needs "messages": [{"role": "user", "content": "..."}]')
    named = request.headers.get("X-Conversation-Id") if stop_after is None else None
    conversation = conversation_id(named, "X-Conversation-Id") if named is not None else None
    ctx.admit(caller, body.get("user"))
    chat = await read_chat(ctx, request, caller, body["messages"], with_history=conversation is None)
    outcome = await ctx.turns.run(caller, conversation, chat, stop_after=stop_after)
    base = ctx.base_url(request)
    return outcome, lambda path: ctx.files.url_for(path, base)


def _message(outcome: Outcome, request: web.Request) -> dict[str, str]:
    ctx = context(request)
    links, warnings = replies.media_links(outcome.reply.media, ctx.files, ctx.base_url(request))
    return {"message": replies.answer_text(outcome.reply.text, links, [*outcome.reply.warnings, *warnings])}


async def hugginggpt(request: web.Request) -> web.Response:
    outcome, _ = await _run(request, None)
    return web.json_response(_message(outcome, request))


async def tasks(request: web.Request) -> web.Response:
    outcome, _ = await _run(request, "plan")
    if outcome.plan is None or not outcome.plan.tasks or outcome.reply.text:
        return web.json_response(_message(outcome, request))
    return web.json_response(outcome.plan.to_public())


async def results(request: web.Request) -> web.Response:
    outcome, url_of = await _run(request, "execute")
    if not outcome.results or outcome.reply.text:
        return web.json_response(_message(outcome, request))
    return web.json_response({str(r.task.id): _result(r, url_of) for r in outcome.results})


def _result(result: TaskResult, url_of: Callable[[Path], str | None]) -> dict[str, Any]:
    chosen: dict[str, str] | str = {"id": result.card.id, "reason": result.reason} if result.card else ""
    return {
        "task": result.task.to_public(),
        "inference result": _inference(result, url_of),
        "choose model result": chosen,
    }


def _inference(result: TaskResult, url_of: Callable[[Path], str | None]) -> dict[str, Any]:
    if result.status != "ok":
        return {"error": result.error or f"the task was {result.status}"}
    out: dict[str, Any] = {}
    for output in result.outputs:
        if output.path is not None:
            _put(out, _INFERENCE_KEYS[output.kind], url_of(output.path))
            if output.data is not None:  # e.g. the boxes drawn on a detection image
                _put(out, "predicted", output.data)
        else:
            _put(out, _INFERENCE_KEYS[output.kind], output.data if output.kind == "json" else output.text)
    return out


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """A second output of one kind keeps both, as a list."""
    if key in out:
        previous = out[key]
        out[key] = [*(previous if isinstance(previous, list) else [previous]), value]
    else:
        out[key] = value
