"""The OpenAI-compatible endpoints: models, chat completions (plain and streamed),
file uploads, and forgetting a conversation.

``POST /v1/chat/completions`` takes OpenAI's body (``model`` must be ``hugginggpt``;
sampling options are accepted and not used: the engine decides). Streamed, the
status lines come first as content deltas (each chunk of them also carries the whole
status in ``hugginggpt.progress``), then the answer with its links, then a last
chunk with ``finish_reason: "stop"``, the inline media asked for and the
``hugginggpt`` object, then ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

from adapters.http import replies
from adapters.http.context import HttpContext, caller_of, context
from adapters.http.errors import ApiError, bad_request
from adapters.http.files import CallerFiles
from adapters.http.keys import Caller
from adapters.http.messages import ChatInput, needs_files, read_messages
from adapters.http.stream import EventStream, ProgressLines
from adapters.http.turns import conversation_id, conversation_of
from engine.events import Event
from engine.types import Outcome

log = logging.getLogger(__name__)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/models", models)
    app.router.add_get("/v1/models/{model}", model)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/files", upload_file)
    app.router.add_delete("/v1/conversations/{conversation}", forget)


def _model_card() -> dict[str, Any]:
    return {"id": replies.MODEL, "object": "model", "created": 0, "owned_by": "hugginggpt-bot"}


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [_model_card()]})


async def model(request: web.Request) -> web.Response:
    if request.match_info["model"] != replies.MODEL:
        raise ApiError(
            404,
            f"no model {request.match_info['model']!r}: this server has {replies.MODEL!r}",
            code="model_not_found",
        )
    return web.json_response(_model_card())


async def read_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


async def read_chat(
    ctx: HttpContext, request: web.Request, caller: Caller, messages: Any, *, with_history: bool
) -> ChatInput:
    """The turn's text, files and history; decoding files happens off the event loop."""
    source = CallerFiles(ctx.files, caller, ctx.own_origins(request))
    if needs_files(messages):
        return await asyncio.to_thread(read_messages, messages, source, ctx.limits, with_history=with_history)
    return read_messages(messages, source, ctx.limits, with_history=with_history)


def _check_options(body: dict[str, Any]) -> None:
    if body.get("model") != replies.MODEL:
        raise ApiError(
            404,
            f"no model {body.get('model')!r}: this server has one model, {replies.MODEL!r}",
            param="model",
            code="model_not_found",
        )
    if body.get("n", 1) not in (1, None):
        raise bad_request("`n` must be 1: one request runs one pipeline", "n")
    modalities = body.get("modalities") or []
    if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
        raise bad_request('`modalities` must be a list such as ["text", "audio", "image"]', "modalities")


async def chat_completions(request: web.Request) -> web.StreamResponse:
    ctx, caller = context(request), caller_of(request)
    body = await read_body(request)
    _check_options(body)
    conversation = conversation_of(request.headers, body)
    ctx.admit(caller, body.get("user"))
    chat = await read_chat(ctx, request, caller, body.get("messages"), with_history=conversation is None)
    modalities = [m for m in body.get("modalities") or [] if m != "text"]
    if body.get("stream"):
        return await _streamed(ctx, request, caller, conversation, chat, modalities)
    outcome = await ctx.turns.run(caller, conversation, chat)
    content, extras, ext = await _answer(ctx, request, outcome, conversation, modalities)
    return web.json_response(
        replies.completion_body(replies.new_completion_id(), int(time.time()), content, extras, ext)
    )


async def _answer(
    ctx: HttpContext, request: web.Request, outcome: Outcome, conversation: str | None, modalities: list[str]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    base = ctx.base_url(request)
    links, warnings = replies.media_links(outcome.reply.media, ctx.files, base)
    extras: dict[str, Any] = {}
    if modalities and links:
        extras, inline_warnings = await asyncio.to_thread(
            replies.inline_media, links, modalities, ctx.limits.max_attachment_bytes
        )
        warnings += inline_warnings
    notes = [*outcome.reply.warnings, *warnings]
    content = replies.answer_text(outcome.reply.text, links, notes)
    ext = replies.extension(outcome, links, notes, conversation, lambda p: ctx.files.url_for(p, base))
    return content, extras, ext


async def _streamed(
    ctx: HttpContext,
    request: web.Request,
    caller: Caller,
    conversation: str | None,
    chat: ChatInput,
    modalities: list[str],
) -> web.StreamResponse:
    completion_id, created = replies.new_completion_id(), int(time.time())
    stream = await EventStream.open(request, ctx.settings.stream_keepalive, {})
    stream.send(replies.chunk_body(completion_id, created, {"role": "assistant", "content": ""}))
    progress = ProgressLines()

    def on_event(event: Event) -> None:
        lines = progress.apply(event)
        if lines:
            delta = {"content": "".join(f"{line}\n" for line in lines)}
            stream.send(replies.chunk_body(completion_id, created, delta, ext={"progress": progress.text()}))

    try:
        outcome = await ctx.turns.run(caller, conversation, chat, on_event)
        content, extras, ext = await _answer(ctx, request, outcome, conversation, modalities)
        stream.send(replies.chunk_body(completion_id, created, {"content": "\n" + content}))
        stream.send(replies.chunk_body(completion_id, created, extras, "stop", ext))
    except ApiError as exc:
        stream.send({"error": {"message": exc.message, "type": "invalid_request_error", "code": exc.code}})
    except Exception as exc:  # noqa: BLE001 - the stream has begun: the error goes in it
        log.exception("a streamed turn failed")
        stream.send({"error": {"message": f"the turn failed ({type(exc).__name__})", "type": "server_error"}})
    finally:
        await stream.finish()
    return stream.response


async def upload_file(request: web.Request) -> web.Response:
    """OpenAI's ``POST /v1/files`` (multipart ``file`` and ``purpose``): the file is kept
    in the key's uploads folder and named in messages by its id."""
    ctx, caller = context(request), caller_of(request)
    if not request.content_type.startswith("multipart/"):
        raise bad_request("upload a file as multipart/form-data with a `file` field", "file")
    reader = await request.multipart()
    limit = ctx.limits.max_attachment_bytes
    while True:
        part = await reader.next()
        if part is None:
            raise bad_request("the upload has no `file` field", "file")
        if getattr(part, "name", None) != "file":
            continue
        file_id, path = ctx.files.new_upload_path(caller, getattr(part, "filename", None) or "upload")
        size = 0
        try:
            with path.open("wb") as out:
                while chunk := await part.read_chunk(256 * 1024):  # type: ignore[union-attr]
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(
                            413,
                            f"the file is over the {limit / 1048576:.1f} MB limit (limits.max_attachment_mb)",
                            param="file",
                            code="file_too_large",
                        )
                    out.write(chunk)
        except BaseException:
            ctx.files.remove(path)
            raise
        return web.json_response(ctx.files.describe(file_id, path).to_public())


async def forget(request: web.Request) -> web.Response:
    ctx, caller = context(request), caller_of(request)
    conversation = conversation_id(request.match_info["conversation"], "the conversation id")
    await ctx.turns.forget(caller, conversation)
    return web.json_response({"id": conversation, "object": "conversation.deleted", "deleted": True})
