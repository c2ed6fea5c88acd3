"""Text hygiene and redaction as functions: what each keeps and what it drops."""

from __future__ import annotations

import logging

from engine.events import Done, TaskFinished
from engine.secrets import REDACTED, RedactingFilter, Redactor, env_keys, redact_event, redact_outcome
from engine.text_hygiene import clean_name, for_terminal, valid_text
from engine.types import Outcome, Plan, Reply, Resource, Task, TaskResult


def test_valid_text_replaces_lone_surrogates_only():
    assert valid_text("plain") == "plain"
    assert valid_text("caf\udce9 ok \ud83d") == "caf\ufffd ok \ufffd"
    assert valid_text("emoji 😀 and é") == "emoji 😀 and é"
    valid_text("x\udfff").encode("utf-8")  # encodes now


def test_clean_name_keeps_letters_and_drops_what_forges_a_line():
    assert clean_name("photo\u200f\nwarning: fake.png") == "photo warning: fake.png"
    assert clean_name("résumé 2024 (final).pdf") == "résumé 2024 (final).pdf"
    assert clean_name("\u202egnp.exe") == "gnp.exe"
    assert clean_name("a\x00b\x1b[31mc\tz") == "ab[31mc z"
    assert clean_name("שלום.png") == "שלום.png"  # right-to-left letters themselves are kept
    assert len(clean_name("x" * 500)) == 120


def test_for_terminal_strips_sequences_and_controls_but_not_text():
    hostile = "a\x1b]0;title\x07b\x1b]52;c;Zm9v\x1b\\c\x1b[2J\x1b[31md\x9b2Je\x07\rf\u202eg\u2066h"
    assert for_terminal(hostile) == "abcd2Jefgh"
    assert for_terminal("line 1\n\tline 2\r\n") == "line 1\n\tline 2\n"
    assert for_terminal("مرحبا world ✓") == "مرحبا world ✓"
    assert for_terminal("unterminated \x1b]0;never ends") == "unterminated "


def test_redactor_knows_configured_values_and_token_shapes():
    redactor = Redactor(["configured-secret-1", "ab"])  # too short to be a secret: kept
    text = (
        "configured-secret-1 sk-proj-abcdefghijklmnop1234 hf_abcdefghijklmnopqrstu "
        "xoxb-1234-5678-abcdef xapp-1-A0-123-abc Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y ab"
    )
    assert redactor.redact(text) == (
        f"{REDACTED} {REDACTED} {REDACTED} {REDACTED} {REDACTED} Authorization: {REDACTED} ab"
    )
    kept = "hf_hub_download, sk-learn and the Bearer of responsibilities stay"
    assert redactor.redact(kept) == kept
    assert redactor.redact_value({"k": ["configured-secret-1", 3]}) == {"k": [REDACTED, 3]}


def test_env_keys_walks_the_whole_config():
    config = {"llm": {"api_key_env": "OPENAI_API_KEY"}, "slack": {"bot_token_env": "SLACK_BOT_TOKEN"}, "x": 1}
    assert env_keys(config) == ["OPENAI_API_KEY", "SLACK_BOT_TOKEN"]


def test_outcomes_and_events_are_redacted_everywhere_text_lives():
    r = Redactor(["topsecret-value"])
    task = Task(0, "text-to-speech", {"text": "say topsecret-value"})
    result = TaskResult(
        task,
        "failed",
        reason="because topsecret-value",
        outputs=(Resource("json", data={"echo": "topsecret-value"}),),
        error="401 topsecret-value",
    )
    outcome = Outcome(
        Reply("reply topsecret-value", warnings=("w topsecret-value",)),
        plan=Plan((task,)),
        results=(result,),
        error="e topsecret-value",
    )
    assert "topsecret-value" not in repr(redact_outcome(outcome, r))
    assert "topsecret-value" not in repr(redact_event(TaskFinished(result), r))
    assert "topsecret-value" not in repr(redact_event(Done(outcome.reply), r))


def test_the_logging_filter_redacts_messages_arguments_and_tracebacks():
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(RedactingFilter(Redactor(["topsecret-value"])))
    logger = logging.getLogger("tests.hygiene")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("key %s refused", "topsecret-value")
        try:
            raise RuntimeError("boom with topsecret-value")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert records[0] == f"key {REDACTED} refused"
    assert "boom with" in records[1] and "topsecret-value" not in records[1]
