"""The chat evaluation sets: every row of the four files holds to the format (task types
from the task table, reads that point at something that exists, media some task set
makes), the sets keep their sizes and splits apart, and the fixture builder makes every
attachment they name, openable and the same each time, with English notes that Tesseract
reads back as labelled."""

from __future__ import annotations

import copy
import re
import wave
from pathlib import Path

import cv2
import pytesseract
import pytest
from PIL import Image

from bot.chat_sets import fixtures
from bot.chat_sets.fixtures import PHOTOS, VOICES, build_all, build_attachment, find_font, spec_kind
from bot.chat_sets.schema import CATEGORIES, load_set, summary, validate_row, validate_set
from engine.errors import InputError

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data"
SETS = {
    "chats_dev.jsonl": ("dev", ("en",)),
    "chats_heldout.jsonl": ("heldout", ("en",)),
    "chats_ml_dev.jsonl": ("dev", ("zh", "fr", "es")),
    "chats_ml_heldout.jsonl": ("heldout", ("zh", "fr", "es")),
}
# (conversations, turns) a set or a language of the multilingual sets may have
SIZES = {
    "chats_dev.jsonl": ((38, 48), (100, 110)),
    "chats_heldout.jsonl": ((28, 36), (80, 90)),
    "chats_ml_dev.jsonl": ((10, 14), (27, 33)),
    "chats_ml_heldout.jsonl": ((10, 14), (27, 33)),
}
EXAMPLE = {
    "id": "en-dev-007",
    "lang": "en",
    "category": "follow-up",
    "turns": [
        {
            "user": "can u read this",
            "attach": [{"name": "note.png", "note": "Dentist Tuesday 3pm"}],
            "expect": {
                "tools": True,
                "tasks": [["image-to-text"]],
                "reads": ["note.png"],
                "facts": [["dentist"], ["tuesday", "tue"]],
                "media": [],
            },
        },
        {
            "user": "now say it out loud",
            "expect": {
                "tools": True,
                "tasks": [["text-to-speech"]],
                "reads": ["@0.text"],
                "facts": [],
                "media": ["audio"],
            },
        },
        {
            "user": "thanks! whats the capital of australia btw",
            "expect": {"tools": False, "tasks": [[]], "reads": [], "facts": [["canberra"]], "media": []},
        },
    ],
}


def _rows(name: str) -> list[dict]:
    return load_set(DATA / name)


def _all_turns(rows):
    return [turn for row in rows for turn in row["turns"]]


@pytest.mark.parametrize("name", SETS)
def test_every_row_holds_to_the_format(name):
    split, langs = SETS[name]
    assert validate_set(_rows(name), split=split, langs=langs) == []


@pytest.mark.parametrize("name", SETS)
def test_sets_keep_their_sizes(name):
    (low_c, high_c), (low_t, high_t) = SIZES[name]
    rows = _rows(name)
    for lang in SETS[name][1]:
        mine = [r for r in rows if r["lang"] == lang]
        assert low_c <= len(mine) <= high_c, (lang, len(mine))
        assert low_t <= sum(len(r["turns"]) for r in mine) <= high_t, lang


@pytest.mark.parametrize("name", SETS)
def test_each_set_covers_chat_tools_follow_ups_and_offline_gaps(name):
    rows = _rows(name)
    turns = _all_turns(rows)
    expects = [t["expect"] for t in turns]
    assert {r["category"] for r in rows} == set(CATEGORIES)
    assert any(not e["tools"] for e in expects) and any(e["tools"] for e in expects)
    assert any(r.startswith("@") for e in expects for r in e["reads"]), "no turn reads an earlier result"
    assert any(e.get("offline") is False for e in expects)
    assert {m for e in expects for m in e["media"]} == {"audio", "image", "video"}
    kinds = {spec_kind(spec) for t in turns for spec in t.get("attach", [])}
    assert {"image", "audio"} <= kinds
    share_chat = sum(not e["tools"] for e in expects) / len(expects)
    assert 0.3 <= share_chat <= 0.7, (
        share_chat
    )  # chat and questions next to tool requests, as in real traffic


def test_ids_are_unique_across_all_four_sets():
    ids = [row["id"] for name in SETS for row in _rows(name)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("dev", "heldout"),
    [
        ("chats_dev.jsonl", "chats_heldout.jsonl"),
        ("chats_ml_dev.jsonl", "chats_ml_heldout.jsonl"),
    ],
)
def test_held_out_does_not_reuse_dev_messages_or_notes(dev, heldout):
    def messages(name):  # longer messages only: "hey" or "gracias" may well be in both
        return {t["user"].lower() for t in _all_turns(_rows(name)) if len(re.findall(r"\w+", t["user"])) >= 4}

    def texts(name):
        return {
            s.get("note") or s.get("speech") for t in _all_turns(_rows(name)) for s in t.get("attach", [])
        } - {None}

    assert messages(dev) & messages(heldout) == set()
    assert texts(dev) & texts(heldout) == set()


def test_a_turn_may_switch_language_and_the_multilingual_sets_write_like_chat():
    rows = _rows("chats_ml_dev.jsonl") + _rows("chats_ml_heldout.jsonl")
    assert any("lang" in t for t in _all_turns(rows))
    users = [t["user"] for t in _all_turns(rows)]
    assert any(re.search(r"\b(stp|xfa|pls|porfa|q)\b", u) for u in users)  # chat abbreviations
    assert any("？" in u or "，" in u for u in users)  # full-width punctuation in Chinese
    zh = [t["user"] for r in rows if r["lang"] == "zh" for t in r["turns"] if "lang" not in t]
    assert all(re.search(r"[\u4e00-\u9fff]", u) for u in zh)  # Chinese rows are written in Chinese
    assert summary(rows)["by_lang"].keys() == {"zh", "fr", "es"}


def test_the_checker_accepts_the_documented_example():
    assert validate_row(EXAMPLE, split="dev", langs=("en",)) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r["turns"][0]["expect"]["tasks"].__setitem__(0, ["ocr"]), "unknown task types"),
        (lambda r: r["turns"][1]["expect"]["reads"].__setitem__(0, "@1.text"), "not an earlier one"),
        (lambda r: r["turns"][1]["expect"]["reads"].__setitem__(0, "photo.png"), "no turn so far attached"),
        (lambda r: r["turns"][1]["expect"]["reads"].__setitem__(0, "@0.audio"), "makes no audio"),
        (lambda r: r["turns"][0]["expect"]["media"].append("audio"), "makes no audio"),
        (lambda r: r["turns"][0]["expect"]["reads"].clear(), "does not read them"),
        (lambda r: r["turns"][2]["expect"]["tasks"].__setitem__(0, ["text-to-speech"]), "tools false means"),
        (
            lambda r: r["turns"][1]["expect"]["tasks"].__setitem__(0, ["text-to-image"]),
            "offline default lacks",
        ),
        (
            lambda r: r["turns"][1].setdefault("attach", []).append({"name": "note.png", "photo": "coffee"}),
            "already used",
        ),
        (lambda r: r["turns"][0]["attach"][0].__setitem__("note", "a\nb\nc\nd"), "at most 3 lines"),
        (lambda r: r["turns"][0]["attach"][0].__setitem__("name", "note.wav"), "must end in"),
        (lambda r: r.__setitem__("id", "en-heldout-007"), "id says"),
        (lambda r: r.__setitem__("category", "chat"), "category"),
    ],
)
def test_the_checker_names_each_kind_of_mistake(change, problem):
    row = copy.deepcopy(EXAMPLE)
    change(row)
    problems = validate_row(row, split="dev", langs=("en",))
    assert any(problem in p for p in problems), problems


# ---- the fixture builder ----


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every attachment of the four sets, built once."""
    rows = [row for name in SETS for row in _rows(name)]
    return rows, build_all(rows, tmp_path_factory.mktemp("attachments"))


def test_build_all_makes_every_attachment_and_each_opens(built):
    rows, paths = built
    specs = {f"{row['id']}/{s['name']}": s for row in rows for t in row["turns"] for s in t.get("attach", [])}
    assert paths.keys() == specs.keys()
    for key, path in paths.items():
        assert path.name == specs[key]["name"] and path.parent.name == key.split("/")[0]
        kind = spec_kind(specs[key])
        if kind == "image":
            with Image.open(path) as image:
                image.verify()
            with Image.open(path) as image:
                assert image.mode == "RGB" and min(image.size) >= 100
        elif kind == "audio":
            with wave.open(str(path)) as audio:
                assert audio.getnchannels() == 1 and audio.getnframes() > audio.getframerate() // 2
        else:
            capture = cv2.VideoCapture(str(path))
            assert capture.read()[0]
            capture.release()


def test_english_dev_notes_read_back_as_labelled(built):
    rows, paths = built
    checked = 0
    for row in (r for r in rows if r["id"].startswith("en-dev-")):
        for turn in row["turns"]:
            notes = [s for s in turn.get("attach", []) if "note" in s]
            if len(notes) != 1 or turn["expect"]["reads"] != [notes[0]["name"]]:
                continue
            text = pytesseract.image_to_string(
                Image.open(paths[f"{row['id']}/{notes[0]['name']}"]), lang="eng"
            )
            assert set(text.split()) >= set(notes[0]["note"].split()), (text, notes[0]["note"])
            if turn["expect"]["tasks"] == [["image-to-text"]]:  # reading it: the facts are words of the note
                for fact in turn["expect"]["facts"]:
                    assert any(s in text.lower() for s in fact), (fact, text)
            checked += 1
    assert checked >= 10


def test_the_same_spec_gives_the_same_bytes(tmp_path):
    specs = [
        {"name": "n.png", "note": "Dentist Tuesday 3pm\nRoom 4"},
        {"name": "z.png", "note": "明天下午三点开会"},
        {"name": "c.jpg", "photo": "chelsea"},
        {"name": "s.wav", "speech": "Call mom after work tonight", "voice": "en"},
        {"name": "v.mp4", "video_of": ["n.png", "c.jpg"]},
    ]
    first = [build_attachment(s, tmp_path / "a").read_bytes() for s in specs]
    second = [build_attachment(s, tmp_path / "b").read_bytes() for s in specs]
    assert first == second


def test_every_photo_and_voice_builds(tmp_path):
    assert set(PHOTOS) == set(fixtures._photo_loaders())
    for photo in PHOTOS:
        with Image.open(build_attachment({"name": f"{photo}.png", "photo": photo}, tmp_path)) as image:
            assert image.mode == "RGB" and min(image.size) >= 150
    for voice in VOICES:
        path = build_attachment(
            {"name": f"{voice}.wav", "speech": "uno dos tres 一二三", "voice": voice}, tmp_path
        )
        with wave.open(str(path)) as audio:
            assert audio.getnframes() > 0


def test_a_chinese_note_is_drawn_with_a_cjk_font(tmp_path):
    assert "wqy" in find_font("停水").name.lower() or "cjk" in find_font("停水").name.lower()
    with Image.open(
        build_attachment({"name": "z.png", "note": "明天上午停水\n请提前储水"}, tmp_path)
    ) as image:
        dark = sum(1 for p in image.convert("L").getdata() if p < 128)
    assert dark > 2000  # glyphs, not the empty boxes a Latin font draws for Han


def test_a_video_shows_each_image_in_turn(tmp_path):
    for name, photo in (("a.png", "chelsea"), ("b.jpg", "rocket")):
        build_attachment({"name": name, "photo": photo}, tmp_path)
    path = build_attachment({"name": "clip.mp4", "video_of": ["a.png", "b.jpg"]}, tmp_path)
    capture = cv2.VideoCapture(str(path))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert frames == 2 * fixtures.SLIDE_SECONDS * 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "x.png", "photo": "dog"}, "unknown photo"),
        ({"name": "x.png", "note": "  "}, "needs its text"),
        ({"name": "x.wav", "speech": "hi", "voice": "de"}, "unknown voice"),
        ({"name": "x.mp3", "speech": "hi"}, ".wav"),
        ({"name": "x.png", "note": "hi", "photo": "coffee"}, "exactly one"),
        ({"name": "../x.png", "note": "hi"}, "plain file name"),
        ({"name": "x.mp4", "video_of": ["missing.png"]}, "not built before it"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_attachment(tmp_path, spec, message):
    with pytest.raises(InputError, match=re.escape(message)):
        build_attachment(spec, tmp_path)


def test_a_missing_cjk_font_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(fixtures, "CJK_FONTS", (str(tmp_path / "none.ttc"),))
    with pytest.raises(FileNotFoundError, match="fonts-wqy-microhei"):
        build_attachment({"name": "z.png", "note": "停水"}, tmp_path)


def test_build_all_refuses_a_name_used_twice_in_one_conversation(tmp_path):
    row = {
        "id": "en-dev-999",
        "turns": [
            {"attach": [{"name": "a.png", "photo": "coffee"}]},
            {"attach": [{"name": "a.png", "note": "hi"}]},
        ],
    }
    with pytest.raises(InputError, match="used twice"):
        build_all([row], tmp_path)
