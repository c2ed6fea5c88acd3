"""The four stages end to end: real openai client -> scripted server, scripted experts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from PIL import Image

from engine.events import Done, PlanReady, Responding, Started, TaskFinished, TaskStarted
from engine.types import Resource, Turn
from tests.engine.helpers import request, router, stage_of
from tests.fakes.experts import Script, ScriptedBackend
from tests.fakes.openai_server import Reply


def _image(tmp_path: Path, name: str = "page.png") -> Resource:
    path = tmp_path / name
    Image.new("RGB", (16, 16), "white").save(path)
    return Resource(kind="image", path=path, name=name, mime="image/png")


async def test_chain_passes_typed_resources_and_emits_events(openai_server, tmp_path, make):
    plan = json.dumps(
        [
            {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "page.png"}},
            {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
        ]
    )
    openai_server.responder = router([plan])
    engine, backend = make(openai_server.base_url)
    events = []
    outcome = await engine.run(
        request(tmp_path, "Read page.png aloud", attachments=(_image(tmp_path),)), on_event=events.append
    )
    assert [r.status for r in outcome.results] == ["ok", "ok"]
    # the speech task got the OCR task's text, not the file name
    spoken = backend.seen_inputs[1]["text"]
    assert spoken.kind == "text" and spoken.text.startswith("image-to-text(")
    assert [m.kind for m in outcome.reply.media] == ["audio"]
    assert outcome.reply.media[0].path.is_file()
    assert outcome.llm_calls == 2  # plan + respond
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[1] is PlanReady and kinds[-1] is Done
    assert kinds.count(TaskStarted) == 2 and kinds.count(TaskFinished) == 2 and Responding in kinds
    assert set(outcome.timings) >= {"plan", "select", "execute", "respond", "total"}


async def test_independent_tasks_start_together(openai_server, tmp_path, make):
    plan = json.dumps(
        [
            {"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}},
            {"task": "text-to-speech", "id": 1, "dep": [-1], "args": {"text": "hello"}},
            {"task": "text-classification", "id": 2, "dep": [-1], "args": {"text": "great day"}},
        ]
    )
    openai_server.responder = router([plan])
    backend = ScriptedBackend.for_all_tasks(
        text_to_image=Script(sleep=0.3),
        text_to_speech=Script(sleep=0.3),
        text_classification=Script(sleep=0.3),
    )
    engine, _ = make(openai_server.base_url, backend)
    outcome = await engine.run(request(tmp_path, "cat picture, say hello, and classify"))
    assert all(r.status == "ok" for r in outcome.results)
    starts = [start for _, _, start, _ in backend.log]
    assert max(starts) - min(starts) < 0.1, "independent tasks should start at once"
    assert outcome.timings["execute"] < 0.6


async def test_dependent_starts_when_its_input_exists(openai_server, tmp_path, make):
    plan = json.dumps(
        [
            {"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}},
            {"task": "image-classification", "id": 1, "dep": [0], "args": {"image": "<GENERATED>-0"}},
            {"task": "text-to-speech", "id": 2, "dep": [-1], "args": {"text": "slow"}},
        ]
    )
    openai_server.responder = router([plan])
    backend = ScriptedBackend.for_all_tasks(
        text_to_image=Script(sleep=0.05), text_to_speech=Script(sleep=0.5)
    )
    engine, _ = make(openai_server.base_url, backend)
    await engine.run(request(tmp_path, "draw a cat and classify it; also say slow"))
    times = {tid: (s, e) for tid, _, s, e in backend.log}
    assert times[1][0] - times[0][1] < 0.05  # no polling gap
    assert times[1][1] < times[2][1]  # it did not wait for the unrelated slow task


async def test_failure_skips_dependents_and_reply_explains(openai_server, tmp_path, make):
    plan = json.dumps(
        [
            {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "page.png"}},
            {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
        ]
    )
    openai_server.responder = router([plan], respond="Sorry, image-to-text failed.")
    backend = ScriptedBackend.for_all_tasks(image_to_text=Script(fail="tesseract crashed"))
    engine, _ = make(openai_server.base_url, backend)
    outcome = await engine.run(request(tmp_path, "read it aloud", attachments=(_image(tmp_path),)))
    first, second = outcome.results
    assert first.status == "failed" and "tesseract crashed" in first.error
    assert second.status == "skipped" and "task 0" in second.error
    assert outcome.reply.media == ()
    assert "failed" in outcome.reply.text


async def test_task_timeout_is_a_failed_result(openai_server, tmp_path, make):
    plan = json.dumps([{"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}}])
    openai_server.responder = router([plan])
    backend = ScriptedBackend.for_all_tasks(text_to_image=Script(sleep=5))
    engine, _ = make(openai_server.base_url, backend, task_timeout=0.2)
    outcome = await engine.run(request(tmp_path, "draw a cat"))
    assert outcome.results[0].status == "failed"
    assert "timed out after 0.2 s" in outcome.results[0].error
    assert outcome.timings["execute"] < 1.0


async def test_invalid_plan_is_retried_with_the_error(openai_server, tmp_path, make):
    cyclic = json.dumps(
        [
            {"task": "image-to-image", "id": 0, "dep": [1], "args": {"image": "<GENERATED>-1"}},
            {"task": "image-to-image", "id": 1, "dep": [0], "args": {"image": "<GENERATED>-0"}},
        ]
    )
    good = json.dumps([{"task": "text-to-image", "id": 0, "dep": [-1], "args": {"text": "a cat"}}])
    openai_server.responder = router([cyclic, good])
    engine, _ = make(openai_server.base_url)
    outcome = await engine.run(request(tmp_path, "draw a cat"))
    plans = [r for r in openai_server.requests if stage_of(r) == "plan"]
    assert len(plans) == 2
    retry_prompt = plans[1]["messages"][-1]["content"]
    assert "not a valid plan" in retry_prompt and "cycle" in retry_prompt.lower()
    assert [t.task for t in outcome.plan.tasks] == ["text-to-image"]
    assert outcome.results[0].status == "ok"


async def test_garbage_twice_falls_back_to_a_direct_answer(openai_server, tmp_path, make):
    openai_server.responder = router(["I think you want a picture!", "still not json"])
    engine, _ = make(openai_server.base_url)
    outcome = await engine.run(request(tmp_path, "draw a cat"))
    assert outcome.plan.tasks == () and outcome.plan.source == "fallback"
    assert outcome.reply.text == "Hello! How can I help?"
    assert outcome.error is None


async def test_chitchat_answers_directly(openai_server, tmp_path, make):
    openai_server.responder = router(["[]"])
    engine, backend = make(openai_server.base_url)
    outcome = await engine.run(request(tmp_path, "hi there"))
    assert outcome.reply.text == "Hello! How can I help?"
    assert outcome.results == () and backend.log == []
    assert outcome.llm_calls == 2


async def test_unreachable_llm_gives_a_clear_reply(tmp_path, make):
    from tests.fakes.openai_server import unused_port

    engine, _ = make(f"http://127.0.0.1:{unused_port()}/v1")
    outcome = await engine.run(request(tmp_path, "draw a cat"))
    assert outcome.error and "reach" in outcome.reply.text.lower()


async def test_unusable_answers_are_not_called_unreachable(openai_server, tmp_path, make):
    """The server answers, but never usably (empty content): the apology says so."""
    openai_server.responder = lambda body: Reply.empty()
    engine, _ = make(openai_server.base_url)
    outcome = await engine.run(request(tmp_path, "draw a cat"))
    assert outcome.error and "empty answer" in outcome.error
    assert "answer was unusable" in outcome.reply.text and "reach" not in outcome.reply.text
    assert outcome.plan is not None and "unusable twice" in (outcome.plan.note or "")


async def test_slow_llm_times_out_cleanly(openai_server, tmp_path, make):
    openai_server.script(Reply("[]", delay=3))
    engine, _ = make(openai_server.base_url)
    engine.llm._client = engine.llm._client.with_options(timeout=0.3)  # type: ignore[attr-defined]
    outcome = await engine.run(request(tmp_path, "hi"))
    assert outcome.error and "too long" in outcome.reply.text
    openai_server.queue.clear()


async def test_path_outside_the_request_is_refused(openai_server, tmp_path, make):
    plan = json.dumps([{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "/etc/passwd"}}])
    openai_server.responder = router([plan])
    engine, backend = make(openai_server.base_url)
    outcome = await engine.run(request(tmp_path, "read /etc/passwd"))
    assert outcome.results[0].status == "failed"
    assert "refused" in outcome.results[0].error
    assert backend.log == []


async def test_earlier_image_is_found_by_a_later_turn(openai_server, tmp_path, make):
    earlier = _image(tmp_path, "photo.png")
    history = (Turn("user", "here is a photo", (earlier,)), Turn("assistant", "Nice photo."))
    plan = json.dumps([{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "photo.png"}}])
    openai_server.responder = router([plan])
    engine, backend = make(openai_server.base_url)
    outcome = await engine.run(request(tmp_path, "now read the text of the image above", history=history))
    assert outcome.results[0].status == "ok"
    assert backend.seen_inputs[0]["image"].path == earlier.path
    plan_prompt = "\n".join(m["content"] for m in openai_server.requests[0]["messages"])
    assert "- photo.png | image | turn 1 | sent by the user" in plan_prompt  # the planner saw the earlier file


async def test_fallback_to_next_candidate_on_expert_error(openai_server, tmp_path, make):
    from engine.types import ModelCard

    backend = ScriptedBackend.for_all_tasks()
    backend.card_list.append(ModelCard(id="fake/second-tts", task="text-to-speech", backend="builtin"))
    backend.card_list[[c.task for c in backend.card_list].index("text-to-speech")] = ModelCard(
        id="fake/broken-tts", task="text-to-speech", backend="builtin", downloads=10
    )
    backend.scripts["fake/broken-tts"] = Script(fail="no voice")
    plan = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    openai_server.responder = router([plan])
    engine, _ = make(openai_server.base_url, backend)
    outcome = await engine.run(request(tmp_path, "say hi"))
    assert outcome.results[0].status == "ok"
    assert outcome.results[0].card.id == "fake/second-tts"


async def test_concurrent_requests_share_the_engine(openai_server, tmp_path, make):
    plan = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    openai_server.responder = router(lambda body: plan)
    backend = ScriptedBackend.for_all_tasks(text_to_speech=Script(sleep=0.2))
    engine, _ = make(openai_server.base_url, backend)
    outcomes = await asyncio.gather(*(engine.run(request(tmp_path / str(i), "say hi")) for i in range(5)))
    assert all(o.results[0].status == "ok" for o in outcomes)


def _two_tts_backend():
    from engine.types import ModelCard

    backend = ScriptedBackend.for_all_tasks()
    backend.card_list.append(ModelCard(id="fake/other-tts", task="text-to-speech", backend="builtin"))
    return backend


async def test_planner_chooses_the_model_without_a_selection_call(openai_server, tmp_path, make):
    plan = json.dumps(
        {
            "tasks": [
                {
                    "task": "text-to-speech",
                    "id": 0,
                    "dep": [-1],
                    "args": {"text": "hi"},
                    "model": "fake/other-tts",
                }
            ]
        }
    )
    openai_server.responder = router([plan])
    engine, backend = make(openai_server.base_url, _two_tts_backend(), choose_with_llm=True)
    outcome = await engine.run(request(tmp_path, "say hi"))
    messages = openai_server.requests[0]["messages"]
    request_message = messages[-1]["content"]  # the choices are request-specific: last, not in the system
    assert "- text-to-speech: fake/text-to-speech" in request_message and "fake/other-tts" in request_message
    assert "fake/other-tts" not in messages[0]["content"]
    assert outcome.selections[0].card.id == "fake/other-tts"
    assert outcome.selections[0].reason == "chosen by the planner for this request"
    assert [stage_of(r) for r in openai_server.requests] == ["plan", "respond"]
    assert outcome.llm_calls == 2


async def test_selection_call_when_the_planner_left_the_choice_open(openai_server, tmp_path, make):
    plan = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    choice = json.dumps({"choices": [{"task_id": 0, "id": "fake/other-tts", "reason": "clearer voice"}]})
    openai_server.responder = router([plan], select=choice)
    engine, _ = make(openai_server.base_url, _two_tts_backend(), choose_with_llm=True)
    outcome = await engine.run(request(tmp_path, "say hi"))
    assert [stage_of(r) for r in openai_server.requests] == ["plan", "select", "respond"]
    assert (
        outcome.selections[0].card.id == "fake/other-tts" and outcome.selections[0].reason == "clearer voice"
    )
    assert outcome.results[0].card.id == "fake/other-tts"


async def test_invalid_model_choice_falls_back_to_the_top_ranked(openai_server, tmp_path, make):
    plan = json.dumps(
        [{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}, "model": "no/such-model"}]
    )
    openai_server.responder = router(
        [plan], select='{"choices": [{"task_id": 0, "id": "nope", "reason": "x"}]}'
    )
    engine, _ = make(openai_server.base_url, _two_tts_backend(), choose_with_llm=True)
    outcome = await engine.run(request(tmp_path, "say hi"))
    assert outcome.selections[0].card.id == "fake/text-to-speech"
    assert "highest-ranked" in outcome.selections[0].reason


async def test_summary_responder_answers_from_results_without_the_llm(openai_server, tmp_path, make):
    from engine.responder import Responder

    plan = json.dumps(
        [
            {"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "page.png"}},
            {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<GENERATED>-0"}},
        ]
    )
    openai_server.responder = router([plan])
    engine, _ = make(openai_server.base_url)
    engine.responder = Responder(write_with_llm=False)
    outcome = await engine.run(request(tmp_path, "Read page.png aloud", attachments=(_image(tmp_path),)))
    assert outcome.llm_calls == 1  # planning only
    assert "image-to-text(" in outcome.reply.text  # the text read, stated
    assert "Here it is read aloud." in outcome.reply.text
    assert [m.path.name for m in outcome.reply.media] == ["task1-0.wav"]


async def test_reference_inside_text_is_substituted(openai_server, tmp_path, make):
    plan = json.dumps(
        [
            {"task": "text-classification", "id": 0, "dep": [-1], "args": {"text": "what a lovely day"}},
            {
                "task": "text-to-speech",
                "id": 1,
                "dep": [0],
                "args": {"text": "<GENERATED>-0 is the sentiment"},
            },
        ]
    )
    openai_server.responder = router([plan])
    backend = ScriptedBackend.for_all_tasks(text_classification=Script(text="positive"))
    engine, _ = make(openai_server.base_url, backend)
    outcome = await engine.run(request(tmp_path, "classify and say it"))
    assert [r.status for r in outcome.results] == ["ok", "ok"]
    assert backend.seen_inputs[1]["text"].text == "positive is the sentiment"


async def test_null_model_choices_fall_back_to_ranking(openai_server, tmp_path, make):
    plan = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    openai_server.responder = router([plan], select='{"choices": null}')
    engine, _ = make(openai_server.base_url, _two_tts_backend(), choose_with_llm=True)
    outcome = await engine.run(request(tmp_path, "say hi"))
    assert outcome.error is None and outcome.results[0].status == "ok"
    assert "highest-ranked" in outcome.selections[0].reason


async def test_the_time_bound_covers_all_candidates_of_a_task(openai_server, tmp_path, make):
    from engine.types import ModelCard

    backend = ScriptedBackend.for_all_tasks()
    for n in range(3):
        backend.card_list.append(
            ModelCard(id=f"fake/slow-{n}", task="text-to-speech", backend="builtin", downloads=10 - n)
        )
        backend.scripts[f"fake/slow-{n}"] = Script(sleep=0.15, fail="broke")
    backend.card_list = [c for c in backend.card_list if c.id != "fake/text-to-speech"]
    plan = json.dumps([{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    openai_server.responder = router([plan])
    engine, _ = make(openai_server.base_url, backend, task_timeout=0.25)
    outcome = await engine.run(request(tmp_path, "say hi"))
    result = outcome.results[0]
    assert result.status == "failed" and result.seconds < 0.45
    assert "fake/slow-0: broke" in result.error and "fake/slow-1: timed out" in result.error
    assert "fake/slow-2" not in result.error  # no third attempt past the task's time bound
