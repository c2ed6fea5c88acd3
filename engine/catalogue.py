"""The model catalogue: ModelCards by task type, ranked by downloads.

Cards come from a shipped JSONL (engine/data/catalogue.jsonl, derived from the
reference's model list); the selector adds what the expert backends declare (builtin
tools, the controller).
Selection asks for the top-K cards of a task that can run here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from engine.errors import ConfigError
from engine.types import ModelCard

SHIPPED_CATALOGUE = Path(__file__).resolve().parent / "data" / "catalogue.jsonl"


def card_from_json(raw: dict) -> ModelCard:
    return ModelCard(
        id=str(raw["id"]),
        task=str(raw["task"]),
        backend=raw.get("backend", "local"),
        downloads=int(raw.get("downloads") or 0),
        likes=int(raw.get("likes") or 0),
        description=str(raw.get("description") or "")[:300],
        licence=raw.get("licence"),
    )


def read_cards(path: Path) -> list[ModelCard]:
    """Cards of a JSONL file; a bad line is a ConfigError naming the file and line."""
    cards = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read catalogue {path}: {exc.strerror}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cards.append(card_from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{n}: not a model card ({exc})") from exc
    return cards


class Catalogue:
    def __init__(self, cards: Iterable[ModelCard]) -> None:
        self._by_task: dict[str, list[ModelCard]] = defaultdict(list)
        seen: set[tuple[str, str, str]] = set()
        for card in cards:
            key = (card.id, card.task, card.backend)
            if key in seen:
                continue
            seen.add(key)
            self._by_task[card.task].append(card)
        for cards_of_task in self._by_task.values():
            cards_of_task.sort(key=lambda c: (-c.downloads, -c.likes, c.id))

    @classmethod
    def load(cls, path: Path | None = None) -> Catalogue:
        if path is not None and not path.exists():
            raise ConfigError(
                f"experts.catalogue: {path} does not exist (fix the path, or remove the key "
                "to use the shipped catalogue)"
            )
        file = path or SHIPPED_CATALOGUE
        cards = read_cards(file) if file.exists() else []
        return cls(cards)

    def tasks(self) -> list[str]:
        return sorted(self._by_task)

    def cards_for(self, task: str) -> Sequence[ModelCard]:
        """All cards of a task type, best-ranked first (downloads, then likes)."""
        return tuple(self._by_task.get(task, ()))

    def all_cards(self) -> list[ModelCard]:
        return [c for cards in self._by_task.values() for c in cards]
