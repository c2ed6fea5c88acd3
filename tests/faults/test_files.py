"""One file-access rule, whichever way a file is named: its real path must lie inside
the conversation's folders, and no symlink is followed out of them (reading or writing)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from adapters.base import ConversationKey, IncomingFile, IncomingMessage
from bot.conversations import ConversationService
from bot.store import Store
from engine.errors import InputError
from engine.resolve import resolve_inputs
from engine.types import Resource, Task, TaskResult
from tests.engine.helpers import router

KEY = ConversationKey("terminal", "local", "files")


def png(colour: str = "white") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, format="PNG")
    return buf.getvalue()


def classify(name: str) -> str:
    return json.dumps([{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": name}}])


async def test_a_stored_file_replaced_by_a_symlink_is_refused_when_named(openai_server, tmp_path, make):
    openai_server.responder = router([classify("cat.png"), classify("cat.png")])
    engine, backend = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    service = ConversationService(engine, store, tmp_path / "data")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes(png("black"))
    try:
        first = await service.handle(
            IncomingMessage(KEY, "u", "what is this?", (IncomingFile("cat.png", png()),))
        )
        assert [r.status for r in first.results] == ["ok"]
        stored_file = backend.seen_inputs[0]["image"].path
        stored_file.unlink()
        stored_file.symlink_to(secret)  # someone swaps the stored upload for a link out

        second = await service.handle(IncomingMessage(KEY, "u", "and cat.png again?"))
        (result,) = second.results
        assert result.status == "failed" and "refused" in (result.error or "")
        assert len(backend.log) == 1  # the expert never ran on the linked file
        logged = (await store.requests(await store.conversation_id(KEY)))[-1]
        assert logged["results"][0]["status"] == "failed"
    finally:
        await store.close()


def test_every_way_of_naming_a_file_follows_the_same_rule(tmp_path):
    """By name, by path, by placeholder and by reference to another task's output."""
    root = tmp_path / "conversation"
    root.mkdir()
    inside = root / "photo.png"
    inside.write_bytes(png())
    secret = tmp_path / "secret.png"
    secret.write_bytes(png("black"))
    link = root / "link.png"
    link.symlink_to(secret)
    files = [Resource("image", path=link, name="link.png")]
    task = Task(1, "image-classification", {"image": "link.png"})

    def resolve(value: str, produced: Resource | None = None) -> Resource:
        done = (
            {0: TaskResult(Task(0, "text-to-image", {"text": "x"}), "ok", outputs=(produced,))}
            if produced
            else {}
        )
        t = Task(1, "image-classification", {"image": value}, dep=(0,) if produced else ())
        return resolve_inputs(t, done, files, [root])["image"]

    for value in ("link.png", str(link), "the image"):  # by name, by path, by placeholder
        with pytest.raises(InputError, match="refused"):
            resolve(value)
    with pytest.raises(InputError, match="refused"):  # by reference
        resolve("<GENERATED>-0", Resource("image", path=link))
    assert resolve("<GENERATED>-0", Resource("image", path=inside)).path == inside.resolve()
    assert (
        resolve_inputs(task, {}, [Resource("image", path=inside, name="link.png")], [root])["image"].path
        == inside
    )


async def test_ingest_never_writes_through_a_symlinked_folder(openai_server, tmp_path, make):
    openai_server.responder = router(["[]"])
    engine, _ = make(openai_server.base_url)
    store = await Store.open(tmp_path / "db.sqlite3")
    data = tmp_path / "data"
    service = ConversationService(engine, store, data)
    outside = tmp_path / "outside"
    outside.mkdir()
    (data / "artifacts").mkdir(parents=True)
    (data / "artifacts" / KEY.slug()).symlink_to(outside, target_is_directory=True)
    try:
        out = await service.handle(IncomingMessage(KEY, "u", "keep this", (IncomingFile("cat.png", png()),)))
        assert not [p for p in outside.rglob("*") if p.is_file()]  # nothing landed outside
        assert any("cat.png" in w and "could not be saved" in w for w in out.reply.warnings)
    finally:
        await store.close()
