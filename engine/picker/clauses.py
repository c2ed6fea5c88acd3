"""Split a request into clauses, one intended step each, with literals masked.

The encoder compares clauses with short exemplar phrases, so quoted text and file
names are replaced by their kind ("the text", "the image"): "Translate 'Bonjour'"
and "translate the text" then look alike. The literals are kept on the clause so the
picker can fill task arguments with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

FILE_KINDS: dict[str, str] = {
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff"), "image"),
    **dict.fromkeys(("wav", "mp3", "flac", "ogg", "m4a", "opus"), "audio"),
    **dict.fromkeys(("mp4", "avi", "mov", "mkv", "webm"), "video"),
    **dict.fromkeys(("txt", "md", "csv", "json", "pdf", "doc", "docx"), "text"),
}
_FILE = re.compile(r"(?<![\w/.-])((?:[\w.-]*/)*[\w-]+(?:\.[\w-]+)*\.(" + "|".join(FILE_KINDS) + r"))\b", re.I)
# A quote opens after a boundary and closes before one, so "I'd" and "it's" stay words.
_QUOTE = re.compile(r"(?<![\w])(['\"“‘])(.+?)(?:['\"”’])(?![\w])", re.S)

ACTION_VERBS = (
    "generate create detect identify translate summari[sz]e convert transcribe classify answer estimate "
    "segment transform edit modify change extract read describe caption compare calculate find tell get "
    "perform provide make produce speak turn give show check analy[sz]e recogni[sz]e label remove enhance "
    "separate improve divide draw paint render synthesi[sz]e write paraphrase rewrite continue respond reply "
    "use count predict determine measure compute visuali[sz]e augment shorten tag split apply explain "
    "chat have let help list shorten expand complete denoise clean say narrate dub illustrate depict "
    "recognize sort categori[sz]e locate outline caption correct fix sum"
).split()
_VERB = r"(?:" + "|".join(ACTION_VERBS) + r")"
_SPLITS = [
    re.compile(r"(?<=[.!?;])\s+"),
    re.compile(r"(?<=\x00)[.!?]?\s+(?=[A-Z])"),  # a quoted question ends its sentence
    re.compile(
        r",?\s+(?=(?:and\s+)?(?:then|after that|afterwards|finally|lastly|next|subsequently)\b)", re.I
    ),
    re.compile(
        r"(?:,\s*(?:and\s+|also\s+|as well as\s+)?|\s+and\s+(?:also\s+|then\s+)?|\s+as well as\s+)"
        r"(?=(?:please\s+|also\s+|then\s+)?" + _VERB + r"\b)",
        re.I,
    ),
    re.compile(r"\s+and\s+(?=\w+ing\s+(?:a|an|the|it|them|this|that|some|its|their)\b)", re.I),
    # "a shorter version of the text and an image that represents it": a second deliverable
    re.compile(
        r"\s+and\s+(?=an? (?:\w+ )?(?:image|picture|photo|video|illustration|audio file|recording)\s+"
        r"(?:that|which|of|showing|depicting|representing|based|to)\b)",
        re.I,
    ),
    re.compile(r",?\s+and\s+(?=(?:then\s+|also\s+)?(?:I\s+(?:want|would|need|also)|I'd|I'm|please)\b)", re.I),
    # French, Spanish and Chinese: "puis", "luego", "然后", and "et"/"y"/"并" before a verb
    re.compile(
        r"\s*[,，]?\s*(?=(?:et\s+)?(?:puis|ensuite)\b|(?:y\s+)?(?:luego|despu[ée]s)\b|然后|接着|再把|再用)", re.I
    ),
    re.compile(
        r"\s+(?:et|y)\s+(?=(?:lis|lire|traduis|traduire|dis|résume|transcris|génère|dessine|lee|leer|traduce|"
        r"traducir|di|dime|resume|transcribe|genera|dibuja|léelo|tradúcelo|léemelo)\b)|[,，]?并(?=读|念|翻译|朗读|说|总结)",
        re.I,
    ),
]


@dataclass(frozen=True)
class Literal_:
    kind: str  # "text" for quoted text, else the file's kind
    value: str
    is_file: bool


@dataclass(frozen=True)
class Clause:
    index: int
    text: str  # masked: literals replaced by "the text" / "the image" / ...
    raw: str  # with the literals back in place
    literals: tuple[Literal_, ...]

    def files(self, kind: str) -> list[str]:
        return [lit.value for lit in self.literals if lit.is_file and lit.kind == kind]

    @property
    def quotes(self) -> list[str]:
        return [lit.value for lit in self.literals if not lit.is_file]


def file_kind(name: str) -> str | None:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return FILE_KINDS.get(ext)


def _protect(text: str) -> tuple[str, list[Literal_]]:
    """Replace literals by sentinels (so their dots and commas do not split clauses)."""
    literals: list[Literal_] = []

    def keep(lit: Literal_) -> str:
        literals.append(lit)
        return f"\x00{len(literals) - 1}\x00"

    def quote(m: re.Match[str]) -> str:
        inner = m.group(2).strip()
        kind = file_kind(inner) if _FILE.fullmatch(inner) else None
        return keep(Literal_(kind or "text", inner, kind is not None))

    text = _sub_quotes(text, quote)
    text = _FILE.sub(lambda m: keep(Literal_(FILE_KINDS[m.group(2).lower()], m.group(1), True)), text)
    return text, literals


_NESTED = re.compile(r"(?<![\w])['\"‘“](?=\w)")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z])")


def _sub_quotes(text: str, quote: Callable[[re.Match[str]], str]) -> str:
    """``_QUOTE.sub``, except that a quote holding another quote ("description: 'Change the car
    to red. Make sure to classify it, then answer: 'What is it?''") ends at its first sentence:
    the rest is the user's instructions, not the quoted text."""
    out, pos = [], 0
    while (m := _QUOTE.search(text, pos)) is not None:
        out.append(text[pos : m.start()])
        nested = _NESTED.search(m.group(2))
        end = _SENTENCE_END.search(m.group(2), 0, nested.start()) if nested else None
        if end is not None:
            cut = m.start(2) + end.end()
            out.append(quote(_QUOTE.match(text[m.start() : cut] + m.group(1), 0)))  # type: ignore[arg-type]
            pos = cut
        else:
            out.append(quote(m))
            pos = m.end()
    return "".join(out) + text[pos:]


_SENTINEL = re.compile(r"\x00(\d+)\x00")
_CONNECTOR = re.compile(
    r"^(?:and|then|also|after that|afterwards|finally|lastly|next|and then|and finally|puis|ensuite|et puis|"
    r"luego|después|y luego|然后|接着)\W*$",
    re.I,
)
_NOUN = r"(?:image|picture|photo|audio|audio file|recording|video|file|text|document|text file|question)"
# "the image example.jpg" masks to "the image the image": keep one.
_DOUBLED = re.compile(
    r"\b(an?\s+|the\s+)?("
    + _NOUN
    + r")\s*,?\s*(?:named\s+|called\s+)?(?:\(\s*)?the (?:image|audio|video|text|question)\b\)?",
    re.I,
)


def _mask(part: str, literals: list[Literal_]) -> str:
    masked = _SENTINEL.sub(lambda m: "the " + _label(literals[int(m.group(1))]), part)
    masked = _DOUBLED.sub(lambda m: (m.group(1) or "") + m.group(2), masked)
    masked = re.sub(r"\bthe the (image|audio|video|text) (?:\1|file)\b", r"the \1", masked)
    return re.sub(r"\ban? the\b", "the", masked)


def _label(lit: Literal_) -> str:
    return "question" if not lit.is_file and lit.value.rstrip().endswith("?") else lit.kind


def _merge_connectors(parts: list[str]) -> list[str]:
    merged: list[str] = []
    carry = ""
    for part in parts:
        part = part.strip(" ,;")
        if _CONNECTOR.match(part):
            carry += part.rstrip(",. ") + " "
            continue
        merged.append(carry + part)
        carry = ""
    return merged


def split_clauses(text: str) -> list[Clause]:
    protected, literals = _protect(text.strip())
    parts = [protected]
    for pattern in _SPLITS:
        parts = [piece for part in parts for piece in pattern.split(part)]
    clauses: list[Clause] = []
    for part in _merge_connectors(parts):
        if not re.search(r"\w", _SENTINEL.sub("x", part)):
            continue
        used = tuple(literals[int(i)] for i in _SENTINEL.findall(part))
        masked = _mask(part, literals)
        raw = _SENTINEL.sub(lambda m: literals[int(m.group(1))].value, part)
        clauses.append(Clause(len(clauses), masked, raw, used))
    return clauses
