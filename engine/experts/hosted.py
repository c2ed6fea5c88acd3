"""The ``hosted`` expert backend: Hugging Face Inference Providers through
``huggingface_hub.AsyncInferenceClient``.

The token comes from an environment variable (its name is configured, ``HF_TOKEN``
by default) and is read when the client is made, never stored in config. With
``base_url`` set, requests go to that server instead of the Hugging Face router:
``{model}`` in it is replaced by the model id, otherwise ``/models/<id>`` is appended
(the layout of the hf-inference API, TGI-style proxies and the test fake).

Failures are retried where waiting helps: 429 with exponential backoff (honouring
Retry-After) up to ``max_retries``, 503 "model loading" until ``max_wait_loading``
seconds have passed. Everything else is translated once (hosted_errors.py), and the
token's value is redacted from what the server said (a 401 body may echo it).

Without ``base_url`` the calls go to the Hub's router: the shared ``HubReachability``
is asked first (one short look-up, remembered for a while), and a call that cannot
connect marks the Hub unreachable, so an offline bot does not try hosted inference
again for every task. Media inputs are checked against ``MediaLimits`` first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from engine.errors import ExpertUnavailable, InputError
from engine.experts.base import Availability, RunContext
from engine.experts.hosted_errors import body_of, status_of, translate
from engine.experts.hub_reachability import HubReachability, is_connection_failure
from engine.experts.local.media import open_image, save_audio_bytes, save_image, save_video_bytes
from engine.experts.local.runners import detection_outputs, jsonable, labels_outputs
from engine.media_limits import MediaLimits, check_inputs
from engine.secrets import Redactor
from engine.types import ModelCard, Resource, Task

log = logging.getLogger(__name__)

Call = Callable[[Any, str, Mapping[str, Resource], RunContext, Task], Awaitable[list[Resource]]]


# ------------------------------------------------------------------ argument helpers


def _text(inputs: Mapping[str, Resource], name: str = "text", required: bool = True) -> str:
    res = inputs.get(name)
    if res is None or res.text is None:
        if required:
            raise InputError(f"this task needs a {name!r} text argument")
        return ""
    return res.text


def _file(inputs: Mapping[str, Resource], name: str) -> Any:
    res = inputs.get(name)
    if res is None or res.path is None:
        raise InputError(f"this task needs an {name!r} file")
    return res.path


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [jsonable(dict(i)) if isinstance(i, Mapping) else jsonable(vars(i)) for i in items]


def _first(value: Any, attr: str) -> str:
    item = value[0] if isinstance(value, list) and value else value
    return str(getattr(item, attr, "") or "").strip()


# ------------------------------------------------------------------ runners, one per task


async def _text_classification(client, model, inputs, ctx, task):
    return labels_outputs(_dicts(await client.text_classification(_text(inputs), model=model, top_k=5)))


async def _token_classification(client, model, inputs, ctx, task):
    entities = _dicts(await client.token_classification(_text(inputs), model=model))
    text = (
        "; ".join(
            f"{str(e.get('word', '')).strip()}: {e.get('entity_group') or e.get('entity')}" for e in entities
        )
        or "no entities found"
    )
    return [Resource(kind="text", text=text), Resource(kind="json", data=entities)]


async def _summarization(client, model, inputs, ctx, task):
    out = await client.summarization(_text(inputs), model=model)
    return [Resource(kind="text", text=out.summary_text.strip())]


async def _translation(client, model, inputs, ctx, task):
    out = await client.translation(_text(inputs), model=model)
    return [Resource(kind="text", text=out.translation_text.strip())]


async def _text_generation(client, model, inputs, ctx, task):
    out = await client.text_generation(_text(inputs), model=model, max_new_tokens=256)
    return [Resource(kind="text", text=str(out).strip())]


async def _question_answering(client, model, inputs, ctx, task):
    context = _text(inputs, "context", required=False) or ctx.request_text
    out = await client.question_answering(question=_text(inputs), context=context, model=model)
    return [Resource(kind="text", text=_first(out, "answer") or "no answer found")]


async def _sentence_similarity(client, model, inputs, ctx, task):
    scores = await client.sentence_similarity(
        _text(inputs), other_sentences=[_text(inputs, "text2")], model=model
    )
    score = float(scores[0])
    return [
        Resource(kind="text", text=f"similarity {score:.3f}"),
        Resource(kind="json", data={"score": round(score, 4)}),
    ]


async def _image_classification(client, model, inputs, ctx, task):
    return labels_outputs(_dicts(await client.image_classification(_file(inputs, "image"), model=model)))


async def _object_detection(client, model, inputs, ctx, task):
    boxes = _dicts(await client.object_detection(_file(inputs, "image"), model=model))
    return detection_outputs(open_image(inputs["image"]), boxes, ctx, task.id)


async def _image_to_text(client, model, inputs, ctx, task):
    out = await client.image_to_text(_file(inputs, "image"), model=model)
    return [Resource(kind="text", text=_first(out, "generated_text") or "(no caption)")]


async def _text_to_image(client, model, inputs, ctx, task):
    prompt = _text(inputs)
    image = await client.text_to_image(prompt, model=model)
    return [save_image(image, ctx, task.id, text=prompt)]


async def _image_to_image(client, model, inputs, ctx, task):
    prompt = _text(inputs, required=False) or ctx.request_text or None
    image = await client.image_to_image(_file(inputs, "image"), prompt=prompt, model=model)
    return [save_image(image, ctx, task.id, text=prompt)]


async def _visual_question_answering(client, model, inputs, ctx, task):
    out = await client.visual_question_answering(_file(inputs, "image"), _text(inputs), model=model)
    return [Resource(kind="text", text=_first(out, "answer") or "no answer")]


async def _document_question_answering(client, model, inputs, ctx, task):
    out = await client.document_question_answering(_file(inputs, "image"), _text(inputs), model=model)
    return [Resource(kind="text", text=_first(out, "answer") or "no answer found in the document")]


async def _speech_recognition(client, model, inputs, ctx, task):
    out = await client.automatic_speech_recognition(_file(inputs, "audio"), model=model)
    return [Resource(kind="text", text=str(out.text).strip())]


async def _audio_classification(client, model, inputs, ctx, task):
    return labels_outputs(_dicts(await client.audio_classification(_file(inputs, "audio"), model=model)))


async def _text_to_speech(client, model, inputs, ctx, task):
    blob = await client.text_to_speech(_text(inputs), model=model)
    return [save_audio_bytes(blob, ctx, task.id)]


async def _text_to_video(client, model, inputs, ctx, task):
    blob = await client.text_to_video(_text(inputs), model=model)
    return [save_video_bytes(blob, ctx, task.id)]


HOSTED_CALLS: dict[str, Call] = {
    "text-classification": _text_classification,
    "token-classification": _token_classification,
    "summarization": _summarization,
    "translation": _translation,
    "text-generation": _text_generation,
    "text2text-generation": _text_generation,
    "question-answering": _question_answering,
    "sentence-similarity": _sentence_similarity,
    "image-classification": _image_classification,
    "object-detection": _object_detection,
    "image-to-text": _image_to_text,
    "text-to-image": _text_to_image,
    "image-to-image": _image_to_image,
    "visual-question-answering": _visual_question_answering,
    "document-question-answering": _document_question_answering,
    "automatic-speech-recognition": _speech_recognition,
    "audio-classification": _audio_classification,
    "text-to-speech": _text_to_speech,
    "text-to-video": _text_to_video,
}


# ------------------------------------------------------------------ the backend


class HostedBackend:
    name = "hosted"
    rank = 30  # after what runs on this machine: it costs a round trip and a token's quota
    ready_first = False
    own_cards = False
    runs_cards_of: tuple[str, ...] = ("local",)  # every hub model of the catalogue runs hosted too
    offline = False

    def __init__(
        self,
        token_env: str = "HF_TOKEN",
        provider: str | None = None,
        base_url: str | None = None,
        max_wait_loading: float = 60.0,
        max_retries: int = 3,
        *,
        timeout: float | None = 120.0,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        environ: Mapping[str, str] | None = None,
        hub: HubReachability | None = None,
        limits: MediaLimits | None = None,
    ) -> None:
        self.token_env = token_env
        self.provider = provider
        self.base_url = base_url.rstrip("/") if base_url else None
        self.max_wait_loading = max_wait_loading
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._environ = environ if environ is not None else os.environ
        self.hub = hub or HubReachability()
        self.limits = limits or MediaLimits()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def cards(self) -> Sequence[ModelCard]:
        return ()  # hosted twins of the catalogue's cards are derived by the engine

    def tasks(self) -> list[str]:
        return sorted(HOSTED_CALLS)

    @property
    def token(self) -> str | None:
        return self._environ.get(self.token_env) or None

    def availability(self, card: ModelCard) -> Availability:
        from huggingface_hub import constants

        if card.task not in HOSTED_CALLS:
            return Availability(False, f"the hosted backend does not run {card.task}")
        if constants.is_offline_mode():
            return Availability(False, "hosted inference needs the network, but HF_HUB_OFFLINE is set")
        if self.base_url is None and self.hub.known_unreachable():
            return Availability(False, self._unreachable())
        if self.token is None and self.base_url is None:
            return Availability(
                False,
                f"hosted inference needs a Hugging Face token: set the environment "
                f"variable {self.token_env} (create one at "
                f"https://huggingface.co/settings/tokens)",
            )
        return Availability(True)

    def _unreachable(self) -> str:
        return f"hosted inference needs the Hugging Face Hub, which cannot be reached now ({self.hub.why})"

    def model_target(self, model_id: str) -> str:
        """What the client gets as ``model``: the id, or a URL on the configured server."""
        if self.base_url is None:
            return model_id
        if "{model}" in self.base_url:
            return self.base_url.replace("{model}", model_id)
        return f"{self.base_url}/models/{model_id}"

    def _client(self) -> Any:
        from huggingface_hub import AsyncInferenceClient

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            provider = None if self.base_url else self.provider
            client = AsyncInferenceClient(provider=provider, token=self.token, timeout=self.timeout)  # type: ignore[arg-type]
            self._clients[loop] = client
        return client

    async def refresh(self) -> None:
        return None  # availability reads the token and offline mode, nothing remote

    async def run(
        self, card: ModelCard, task: Task, inputs: Mapping[str, Resource], ctx: RunContext
    ) -> Sequence[Resource]:
        call = HOSTED_CALLS.get(card.task)
        if call is None:
            raise ExpertUnavailable(f"the hosted backend does not run {card.task}")
        available = self.availability(card)
        if not available.ok:
            raise ExpertUnavailable(available.why)
        await asyncio.to_thread(check_inputs, inputs, self.limits)
        if self.base_url is None and not await asyncio.to_thread(self.hub.check):
            raise ExpertUnavailable(self._unreachable())
        client, target = self._client(), self.model_target(card.id)
        if not self.base_url and self.provider in (None, "auto"):
            await asyncio.to_thread(_warm_provider_mapping, card.id)
        return tuple(await self._with_retries(card.id, lambda: call(client, target, inputs, ctx, task)))

    async def _with_retries(
        self, model_id: str, attempt: Callable[[], Awaitable[list[Resource]]]
    ) -> list[Resource]:
        from huggingface_hub.errors import HfHubHTTPError

        retries, started = 0, time.monotonic()
        while True:
            try:
                return await attempt()
            except (InputError, ExpertUnavailable):
                raise
            except (HfHubHTTPError, OSError, ValueError) as exc:
                status, waited = status_of(exc), time.monotonic() - started
                if status == 429 and retries < self.max_retries:
                    delay = self._backoff(exc, retries)
                elif status == 503 and waited < self.max_wait_loading:
                    delay = self._loading_wait(exc, retries, self.max_wait_loading - waited)
                else:
                    raise self._translated(exc, model_id, retries=retries, waited=waited) from exc
                retries += 1
                log.info("hosted %s: HTTP %s, retry %d in %.2f s", model_id, status, retries, delay)
                await asyncio.sleep(delay)
            except Exception as exc:  # noqa: BLE001 - foreign errors are translated at this edge
                raise self._translated(exc, model_id) from exc

    def _translated(self, exc: BaseException, model_id: str, **details: Any) -> Exception:
        """The engine error for ``exc``, with the token's value redacted from it; a call
        that could not connect to the Hub's router marks the Hub unreachable."""
        if self.base_url is None and status_of(exc) is None and is_connection_failure(exc):
            self.hub.mark_unreachable(f"{type(exc).__name__}: {exc}")
        error = translate(exc, model_id, self.token_env, **details)
        redacted = Redactor([self.token] if self.token else []).redact(str(error))
        return type(error)(redacted) if redacted != str(error) else error

    def _backoff(self, exc: BaseException, retries: int) -> float:
        after = getattr(getattr(exc, "response", None), "headers", {}).get("retry-after")
        try:
            wanted = float(after) if after is not None else None
        except ValueError:
            wanted = None
        if wanted is None:
            wanted = self.backoff_base * (2**retries) * (1 + random.random() * 0.25)
        return min(wanted, self.backoff_max)

    def _loading_wait(self, exc: BaseException, retries: int, left: float) -> float:
        estimated = body_of(exc).get("estimated_time")
        if isinstance(estimated, (int, float)) and estimated > 0:
            wanted = float(estimated)
        else:
            wanted = self.backoff_base * (2 ** min(retries, 5))
        return max(0.0, min(wanted, left, self.backoff_max))

    async def aclose(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.close()


def _warm_provider_mapping(model_id: str) -> None:
    """With provider "auto", huggingface_hub finds the model's providers through a
    blocking, cached HTTP call made inside the async client: make that call here, in a
    worker thread, so the event loop never waits on it. Errors are left for the real
    call to raise and translate; a huggingface_hub without this helper is fine too."""
    try:
        from huggingface_hub.inference._providers._common import _fetch_inference_provider_mapping
    except ImportError:
        return
    try:
        _fetch_inference_provider_mapping(model_id)
    except Exception:  # noqa: BLE001 - the real call reports it with a clear message
        return
