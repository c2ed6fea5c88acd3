"""split_text: parts fit the limit, code stays intact, and the loop always ends."""

from __future__ import annotations

import pytest

from adapters.textsplit import split_text

TRICKY = {
    "fence line longer than the limit": "```" + "p" * 2500 + "\ncode\n```",
    "fence with a long info string": "```python " + "word " * 500 + "\nprint(1)\n```",
    "one 5000-character line": "a" * 5000,
    "nested fences": "````md\n```py\nprint(1)\n```\n" + "text line\n" * 400 + "````",
    "unbalanced fence": "```js\n" + "let x = 1;\n" * 400,
}


@pytest.mark.parametrize("text", TRICKY.values(), ids=TRICKY.keys())
@pytest.mark.parametrize("limit", [20, 100, 2000, 4000])
def test_every_part_fits_and_it_terminates(text, limit):
    parts = split_text(text, limit)
    assert parts and all(len(p) <= limit for p in parts)


def test_code_is_cut_at_line_ends_and_each_part_renders():
    code = "```py\n" + "\n".join(f"x{i} = {i}  # a comment" for i in range(300)) + "\n```"
    parts = split_text(code, 2000)
    assert len(parts) > 1
    for part in parts:
        assert part.startswith("```py\n") and part.endswith("\n```")
        assert all(line.startswith("x") for line in part.split("\n")[1:-1])


def test_nested_fence_is_closed_with_its_own_backticks():
    text = "````md\n```py\nprint(1)\n```\n" + "text line\n" * 400 + "````"
    first = split_text(text, 2000)[0]
    assert first.endswith("\n````")


def test_prose_prefers_paragraphs():
    text = ("word " * 60 + "\n\n") * 20
    parts = split_text(text, 1000)
    assert all(p.endswith("word") for p in parts)
