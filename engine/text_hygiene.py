"""Text cleaned for where it goes: valid UTF-8 for the engine and the store, safe file
names for messages to the user, and plain text for a terminal.

What holds:
- ``valid_text`` returns a string that encodes as UTF-8: a lone surrogate (from a
  terminal's undecodable bytes read with ``surrogateescape``, or JSON's "\\ud800")
  becomes U+FFFD. Everything the engine is given, and everything stored, passes it.
- ``clean_name`` keeps a name's letters, digits, punctuation and spaces, and drops
  control and format characters: a newline cannot start a fake line of the reply,
  and a right-to-left override cannot make "gpj.exe" read as "exe.jpg".
- ``for_terminal`` strips escape sequences (colours, titles, the clipboard, clearing
  the screen), the other control characters but tab and newline, and the bidi
  embeddings, overrides and isolates; right-to-left text itself is left alone.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean_name", "for_terminal", "valid_text"]

_SURROGATE = re.compile("[\ud800-\udfff]")

# ESC-introduced sequences: OSC (title, clipboard, hyperlinks) up to BEL or ST; DCS,
# SOS, PM and APC strings up to ST; CSI (cursor, colours, clearing); any other ESC pair.
_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -~]?"
)
# C0 controls but tab and newline, DEL, C1 controls (U+009B is CSI on some terminals),
# and the bidi embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_DROPPED_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def clean_name(name: str, limit: int = 120) -> str:
    """A file name fit to show: no control, format or separator characters (newlines,
    bidi marks and overrides, zero-width characters), runs of spaces made one, at most
    ``limit`` characters (cut with "…")."""
    name = valid_text(name)
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_IN_NAMES
    )
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def for_terminal(text: str) -> str:
    """``text`` as plain lines for a terminal: see the module docstring."""
    text = valid_text(text)
    if text.isprintable():
        return text
    text = text.replace("\r\n", "\n")
    return _TERMINAL_CONTROLS.sub("", _ESCAPES.sub("", text))
