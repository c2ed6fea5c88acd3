"""Reference resolution: which resources of the conversation a request is about.

Run before planning, the same for every planner. What holds:

- this message's attachments are always in scope, first;
- an earlier resource is in scope only when the words point at it: its name, a noun
  with a definite or demonstrative article ("the picture", "that recording", "the
  Spanish version", "what it said"), or a pronoun ("it", "that", "again") when the
  message brings no file of its own; a pronoun means the newest result of the kind
  the request needs (a text to speak, an image to read), found in the last turns;
- a request that names no earlier thing uses none ("generate an image of a dog"
  after a cat photo reads nothing), so no plan can pick up an old file by accident;
- "do that again with this one" with a new file asks for the last request's steps on
  it: ``repeat`` carries that request's text.

The words are English here plus the French, Spanish and Chinese forms in
``engine.referent_words``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.conversation import ConversationState, StateEntry
from engine.referent_words import (
    AGAIN,
    ANNOTATING_TASKS,
    ANNOTATION_WORDS,
    ANOTHER,
    BARE_WORDS,
    DESCRIBED,
    KIND_REFERENCES,
    KIND_REFERENCES_ZH,
    NEEDS,
    NEEDS_ANY,
    PRONOUN,
    RESULT_NOUNS,
    SELF_SAID,
)

__all__ = ["Scope", "resolve_scope"]

_QUOTED = re.compile(r"([\"“‘«「『])(.+?)([\"”’»」』])|(?<![\w])'(.+?)'(?![\w])", re.S)
_LOOKBACK_TURNS = 3  # a pronoun reaches this many turns back for a result of the needed kind


@dataclass(frozen=True, slots=True)
class Scope:
    """What one request may read: its attachments, then the earlier entries it refers to."""

    state: ConversationState
    referred: tuple[StateEntry, ...] = ()
    repeat: str | None = None  # the earlier request to plan again on this message's files
    why: str = ""

    @property
    def entries(self) -> tuple[StateEntry, ...]:
        return (*self.state.attachments, *(e for e in self.referred if e not in self.state.attachments))

    @property
    def resources(self) -> list:
        return [e.resource for e in self.entries]


def unquoted(text: str) -> str:
    """``text`` without its quoted parts: words inside quotes are content, not references."""
    return _QUOTED.sub(" ", text)


def resolve_scope(text: str, state: ConversationState) -> Scope:
    if not state.earlier:
        return Scope(state)
    words = unquoted(text).lower()
    named = tuple(e for e in state.named(words) if e.turn < state.current)
    if named:
        return Scope(state, named, why="named")
    attached = state.attachments
    if attached and (AGAIN.search(words) or ANOTHER.search(words)) and state.last_request:
        return Scope(state, (), repeat=state.last_request, why="again with a new file")
    payload = _payload(text)
    if payload and not attached and ANOTHER.search(words) and state.last_request:
        return Scope(state, (), repeat=_with_payload(state.last_request, payload), why="again with new words")
    if not attached and SELF_SAID.search(words):  # "what did it say?" about an earlier note or recording
        said = state.latest(("text",))
        if said is not None:
            return Scope(state, (said,), why="said")
    # quoted words are the text to work on ("say 'see you'"): no earlier text is meant
    quoted = words != text.lower()
    found = tuple(e for e in _by_noun(words, state, attached) if not (quoted and e.kind == "text"))
    implicit = not quoted and ":" not in words and _bare(words)
    if not found and not attached and (PRONOUN.search(words) or implicit):
        pronoun = _by_pronoun(words, state)
        found = (pronoun,) if pronoun is not None and not (quoted and pronoun.kind == "text") else ()
    return Scope(state, found, why="refers back") if found else Scope(state)


def _by_noun(words: str, state: ConversationState, attached: Sequence[StateEntry]) -> tuple[StateEntry, ...]:
    """ "the spanish version", "the transcript", "that picture": the newest earlier entry
    each noun names. A kind noun with a file of that kind attached means the attachment."""
    for pattern, origins, kinds in RESULT_NOUNS:
        if pattern.search(words):
            entry = state.latest(kinds, origins=origins)
            if entry is not None:
                return (entry,)
    found = []
    for kind, pattern in KIND_REFERENCES.items():
        if not (pattern.search(words) or DESCRIBED[kind].search(words) or KIND_REFERENCES_ZH[kind].search(words)):
            continue
        if any(a.kind == kind for a in attached):
            continue  # "this pic" is the one sent with it
        entry = _described(words, kind, state) or _newest_of_kind(words, kind, state)
        if entry is not None:
            found.append(entry)
    return tuple(found)


def _newest_of_kind(words: str, kind: str, state: ConversationState) -> StateEntry | None:
    """The newest entry of ``kind``; for "the same pic", the picture itself rather than a
    drawing an analysis made of it (boxes, a skeleton), unless the words name the drawing."""
    if kind == "image" and not ANNOTATION_WORDS.search(words):
        for entry in reversed(state.earlier):
            if entry.kind == "image" and entry.origin not in ANNOTATING_TASKS:
                return entry
    return state.latest((kind,))


_NOT_DESCRIPTIVE = frozenset({"last", "previous", "first", "new", "same", "original", "other", "one"})


def _described(words: str, kind: str, state: ConversationState) -> StateEntry | None:
    """ "the cat picture": the newest entry of ``kind`` whose turn speaks of a cat (the user's
    words, or a text result of that turn such as a classification)."""
    match = DESCRIBED[kind].search(words)
    what = match and (match.group("what") or match.group("what2"))
    if not what or what in _NOT_DESCRIPTIVE:
        return None
    for entry in reversed(state.earlier):
        if entry.kind != kind:
            continue
        said = [e.resource.text or "" for e in state.earlier if e.turn == entry.turn and e.kind == "text"]
        said.append(state.requests.get(entry.turn, ""))
        if any(what in text.lower() for text in said):
            return entry
    return None


def _bare(words: str) -> bool:
    """A request made only of its verb and the words around it ("traduis en espagnol stp",
    "念出来"): its object is the last result, as if it said "it"."""
    return bool(NEEDS_ANY.search(words)) and not BARE_WORDS.sub("", words).strip()


def _by_pronoun(words: str, state: ConversationState) -> StateEntry | None:
    """ "say it out loud", "translate that": the newest recent result of the kind the
    request needs; with no such need stated, the last turn's newest result."""
    needed = next((kinds for pattern, kinds in NEEDS if pattern.search(words)), None)
    recent = [e for e in reversed(state.earlier) if e.turn > state.current - 1 - _LOOKBACK_TURNS]
    if needed is None:
        last = state.last_results()
        return last[0] if last else None
    for kind in needed:
        for entry in recent:
            if entry.kind == kind:
                return entry
    return None


def _payload(text: str) -> str | None:
    """The words a message gives to work on: its quote, or what follows its colon."""
    quoted = _QUOTED.search(text)
    if quoted:
        return quoted.group(2) or quoted.group(4)
    _, colon, tail = text.partition(":")
    return tail.strip() or None if colon else None


def _with_payload(request: str, payload: str) -> str:
    """``request`` with its own quote (or the words after its colon) replaced by ``payload``."""
    quoted = _QUOTED.search(request)
    if quoted:
        return request[: quoted.start()] + f'"{payload}"' + request[quoted.end() :]
    head, colon, _ = request.partition(":")
    return f"{head}: {payload}" if colon else f'{request}: "{payload}"'
