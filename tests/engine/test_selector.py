"""Selection order: what can run here, in the order the attempts should go."""

from __future__ import annotations

from engine.catalogue import Catalogue
from engine.experts.base import Availability
from engine.selector import Selector
from engine.types import ModelCard
from tests.fakes.experts import ScriptedBackend


class _LocalStub(ScriptedBackend):
    """A local backend whose cards are ready, loadable from disk, or need a download."""

    def availability(self, card: ModelCard) -> Availability:
        if card.id.endswith("ready"):
            return Availability(True, ready=True)
        if card.id.endswith("disk"):
            return Availability(True)
        if card.id.endswith("missing"):
            return Availability(False, "weights are not in the cache")
        return Availability(True, "will be downloaded", download=True)


def test_order_ready_disk_builtin_then_download():
    local = _LocalStub(name="local", rank=10, ready_first=True, own_cards=False)
    builtin = ScriptedBackend(
        name="builtin", card_list=[ModelCard("builtin/ocr", "image-to-text", "builtin")]
    )
    catalogue = Catalogue(
        [
            ModelCard("big/download", "image-to-text", "local", downloads=10_000),
            ModelCard("small/disk", "image-to-text", "local", downloads=5),
            ModelCard("tiny/ready", "image-to-text", "local", downloads=1),
            ModelCard("gone/missing", "image-to-text", "local", downloads=99_999),
        ]
    )
    selector = Selector(catalogue, {"local": local, "builtin": builtin}, top_k=5)
    assert [c.id for c in selector.candidates("image-to-text")] == [
        "tiny/ready",
        "small/disk",
        "builtin/ocr",
        "big/download",
    ]


def test_top_k_and_unavailable_message():
    builtin = ScriptedBackend(
        name="builtin",
        card_list=[ModelCard("builtin/tts", "text-to-speech", "builtin")],
        unavailable={"builtin/tts"},
    )
    selector = Selector(Catalogue([]), {"builtin": builtin}, top_k=1)
    assert selector.candidates("text-to-speech") == []
    why = selector.why_unavailable("text-to-speech")
    assert "Hugging Face token" in why and "builtin/tts is not installed" in why


async def test_image_question_falls_back_to_image_to_text_and_says_so():
    from engine.types import Plan, Task

    builtin = ScriptedBackend(
        name="builtin", card_list=[ModelCard("builtin/describe", "image-to-text", "builtin")]
    )
    selector = Selector(Catalogue([]), {"builtin": builtin})
    plan = Plan(
        (
            Task(0, "visual-question-answering", {"image": "cat.png", "text": "what is this?"}),
            Task(1, "text-to-image", {"text": "a cat"}),
        )
    )
    options, missing = await selector.select(plan, None)
    assert [s.card.id for s in options[0]] == ["builtin/describe"]
    assert "without using the question" in options[0][0].reason and 0 not in missing
    assert options[1] == [] and "text-to-image cannot run here" in missing[1]


async def test_builtin_priority_orders_tools_of_one_task():
    from engine.experts.builtin.backend import BuiltinBackend
    from engine.experts.builtin.registry import default_tools

    backend = BuiltinBackend(default_tools())
    ids = [c.id for c in Selector(Catalogue([]), {"builtin": backend}).candidates("image-to-text")]
    await backend.aclose()
    assert ids.index("builtin/tesseract-ocr") < ids.index("builtin/efficientnet-lite0-describe")


def test_a_new_backend_ranks_by_what_it_declares():
    """No table to extend: a backend the selector never heard of takes its place from its
    own ``rank``, its loaded cards jump ahead when it says ``ready_first``, and a card
    of a backend that is not configured is skipped."""
    builtin = ScriptedBackend(
        name="builtin", card_list=[ModelCard("builtin/ocr", "image-to-text", "builtin", downloads=9)]
    )
    cluster = ScriptedBackend(
        name="cluster",
        rank=15,
        ready_first=False,
        card_list=[ModelCard("cluster/ocr", "image-to-text", "cluster", downloads=1)],
    )
    catalogue = Catalogue([ModelCard("elsewhere/ocr", "image-to-text", "quantum", downloads=10**6)])
    selector = Selector(catalogue, {"builtin": builtin, "cluster": cluster})
    assert [c.id for c in selector.candidates("image-to-text")] == ["cluster/ocr", "builtin/ocr"]

    cluster.rank = 30  # behind the builtin tools now, unless a loaded card goes first
    assert [c.id for c in selector.candidates("image-to-text")] == ["builtin/ocr", "cluster/ocr"]
    cluster.ready_first = True  # ScriptedBackend reports every card ready
    assert [c.id for c in selector.candidates("image-to-text")] == ["cluster/ocr", "builtin/ocr"]


def test_a_backend_that_runs_another_backends_cards_gets_twins_of_them():
    local = _LocalStub(name="local", rank=10, ready_first=True, own_cards=False)
    hosted = ScriptedBackend(name="hosted", rank=30, own_cards=False, runs_cards_of=("local",), offline=False)
    catalogue = Catalogue(
        [ModelCard("big/missing", "image-to-text", "local"), ModelCard("own/ocr", "image-to-text", "builtin")]
    )
    selector = Selector(catalogue, {"local": local, "hosted": hosted})
    assert [(c.id, c.backend) for c in selector.candidates("image-to-text")] == [("big/missing", "hosted")]


def test_a_network_backend_names_itself_in_the_reason():
    cluster = ScriptedBackend(
        name="ray",
        rank=15,
        offline=False,
        card_list=[ModelCard("builtin/tts", "text-to-speech", "ray")],
        unavailable={"builtin/tts"},
    )
    why = Selector(Catalogue([]), {"ray": cluster}).why_unavailable("text-to-speech")
    assert why.endswith("; ray: builtin/tts is not installed")


async def test_select_refreshes_every_backend_once_before_ranking():
    from engine.types import Plan, Task

    seen: list[str] = []

    class Refreshing(ScriptedBackend):
        async def refresh(self) -> None:
            seen.append(self.name)
            self.unavailable.clear()  # what the refresh learnt: the tool is there now

    tool = Refreshing(
        name="builtin",
        card_list=[ModelCard("builtin/tts", "text-to-speech", "builtin")],
        unavailable={"builtin/tts"},
    )
    selector = Selector(Catalogue([]), {"builtin": tool})
    plan = Plan((Task(0, "text-to-speech", {"text": "hi"}), Task(1, "text-to-speech", {"text": "yo"})))
    options, missing = await selector.select(plan, None)
    assert seen == ["builtin"] and not missing
    assert [s.card.id for s in options[1]] == ["builtin/tts"]


async def test_a_backend_whose_refresh_breaks_does_not_fail_the_request():
    from engine.types import Plan, Task

    class Broken(ScriptedBackend):
        async def refresh(self) -> None:
            raise OSError("cannot start its helper process")

    tool = ScriptedBackend(name="builtin", card_list=[ModelCard("builtin/tts", "text-to-speech", "builtin")])
    broken = Broken(name="cluster", rank=15, card_list=[ModelCard("cluster/tts", "text-to-speech", "cluster")])
    selector = Selector(Catalogue([]), {"builtin": tool, "cluster": broken})
    options, missing = await selector.select(Plan((Task(0, "text-to-speech", {"text": "hi"}),)), None)
    assert not missing and [s.card.id for s in options[0]] == ["cluster/tts", "builtin/tts"]
