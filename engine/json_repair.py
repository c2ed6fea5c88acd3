"""Read the JSON value an LLM most plausibly meant.

Models wrap JSON in code fences and prose, drop or double brackets, leave trailing
commas, use Python's single quotes, encode it twice, or write a run of objects with
no surrounding list. ``load_json`` undoes those; it does not guess at content.

It is bounded, because the answer is untrusted: an answer longer than ``max_chars``
or nested deeper than ``max_depth`` is refused before any decoding or repair (a plan
nests four levels; a thousand would end the recursive decoders in a RecursionError),
and every decoder's failure, a number too long for an int included, is a ``NoJSON``.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

__all__ = ["MAX_ANSWER_CHARS", "MAX_DEPTH", "NoJSON", "load_json", "nesting_depth"]

MAX_ANSWER_CHARS = 100_000  # a plan of 32 tasks with long text arguments fits in a tenth of it
MAX_DEPTH = 16


class NoJSON(ValueError):
    """No JSON value could be read; the message (possibly empty) says where it broke."""


_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)```", re.S)
_JSON_START = re.compile(r"\[\s*\{|\[\s*\]|\{")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_CLOSER = {"{": "}", "[": "]"}
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def load_json(raw: str, *, max_chars: int = MAX_ANSWER_CHARS, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value the answer most plausibly holds; NoJSON when none can be read."""
    if len(raw) > max_chars:
        raise NoJSON(
            f"The answer is {len(raw)} characters long; a plan takes far fewer (at most {max_chars})."
        )
    # no deeper than it has openers: most answers are cleared without a scan
    shallow = raw.count("[") + raw.count("{") <= max_depth
    if not shallow:
        _check_depth(raw, max_depth)
    value = _load(raw.strip(), max_depth)
    if not shallow and _value_depth(value, max_depth) > max_depth:  # Python literals nest by other rules
        raise NoJSON(f"The answer nests more than {max_depth} levels deep; a plan nests four.")
    return value


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting in ``text`` outside JSON strings (a linear scan)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(0, depth - 1)
    return deepest


def _check_depth(text: str, max_depth: int) -> None:
    depth = nesting_depth(text)
    if depth > max_depth:
        raise NoJSON(
            f"The answer nests brackets {depth} levels deep; a plan nests four (at most {max_depth})."
        )


def _value_depth(value: Any, limit: int) -> int:
    """How deep a decoded value nests (lists and dicts), counted without recursion and
    only as far as ``limit + 1``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, list | dict):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _decode(text: str) -> Any:
    """json.loads that fails only with ValueError (never RecursionError). Control characters
    inside strings are taken (``strict=False``): grammars built from a JSON Schema, such as
    llama-cpp-python's, let a model write a raw newline inside a string."""
    try:
        return json.loads(text, strict=False)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _load(text: str, max_depth: int) -> Any:
    if text.startswith(("[", "{")):  # the usual answer, and the one constrained decoding gives
        try:
            return _decode(text)
        except ValueError:
            pass  # repaired below
    unquoted = _unquote(text)
    if unquoted is not text:
        _check_depth(unquoted, max_depth)  # the inner text was one string: never scanned
    text = unquoted
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    elif text.startswith("```"):  # an unterminated fence: drop its opening line
        text = text.partition("\n")[2]
    start = _JSON_START.search(text)
    if start is None:
        raise NoJSON("")
    body = text[start.start() :]
    try:
        value, end = json.JSONDecoder(strict=False).raw_decode(body)
    except (ValueError, RecursionError) as exc:  # ValueError: also an int too long to convert
        first_error: Exception = exc
    else:
        # A bare run of objects `{...}, {...}` decodes as its first object only.
        if not (isinstance(value, dict) and body[end:].lstrip().startswith(",")):
            return value
        first_error = ValueError("several objects without a surrounding list")
    objects = _scan_objects(body)
    if objects:
        return objects
    raise NoJSON(f"The answer is not valid JSON ({first_error}).")


def _unquote(text: str) -> str:
    """A plan JSON-encoded twice arrives as one JSON string holding the list."""
    if text.startswith('"'):
        try:
            value = _decode(text)
        except ValueError:
            return text
        if isinstance(value, str):
            return value.strip()
    return text


def _scan_objects(body: str) -> list[Any]:
    """Read every top-level ``{...}`` in ``body``, skipping junk (stray ``}}``, missing
    ``[``/``]``, commas) between them and closing braces a model forgot."""
    objects: list[Any] = []
    index = body.find("{")
    while index >= 0:
        chunk, end = _balanced_chunk(body, index)
        value = _loads_lenient(chunk)
        if value is None:
            raise NoJSON(f"Task #{len(objects) + 1} of the answer is not valid JSON: {chunk[:200]!r}.")
        objects.append(value)
        index = body.find("{", end)
    return objects


def _balanced_chunk(text: str, start: int) -> tuple[str, int]:
    """The object starting at ``start`` with its brackets balanced, and where it ended.

    Closers that match nothing are dropped, missing inner closers are inserted, and an
    object that runs into the next one (``..., {"task"`` where a key should be) or into
    the end of the text is closed there.
    """
    out: list[str] = []
    stack: list[str] = []
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            out.append(ch)
        elif ch in _CLOSER:
            if ch == "{" and stack and stack[-1] == "}" and _last_significant(out) == ",":
                _strip_trailing_comma(out)
                out.extend(reversed(stack))
                return "".join(out), i
            stack.append(_CLOSER[ch])
            out.append(ch)
        elif ch in "}]":
            if ch in stack:
                while stack[-1] != ch:
                    out.append(stack.pop())
                out.append(stack.pop())
                if not stack:
                    return "".join(out), i + 1
            # else: a closer that opens nothing; drop it
        else:
            out.append(ch)
        i += 1
    if quote:
        out.append(quote)
    out.extend(reversed(stack))
    return "".join(out), len(text)


def _last_significant(chars: list[str]) -> str:
    for ch in reversed(chars):
        if not ch.isspace():
            return ch
    return ""


def _strip_trailing_comma(chars: list[str]) -> None:
    while chars and chars[-1].isspace():
        chars.pop()
    if chars and chars[-1] == ",":
        chars.pop()


def _loads_lenient(chunk: str) -> Any | None:
    """JSON, then JSON without trailing commas, then a Python literal (single quotes)."""
    for candidate in (chunk, _TRAILING_COMMA.sub(r"\1", chunk)):
        try:
            return _decode(candidate)
        except ValueError:
            pass
    try:
        return ast.literal_eval(chunk)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
