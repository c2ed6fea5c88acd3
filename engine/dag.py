"""Order a small dependency graph: producers first, ties kept in the written order."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Set

__all__ = ["CycleError", "topological_order"]


class CycleError(ValueError):
    def __init__(self, cycle: list[int]) -> None:
        super().__init__(" -> ".join(map(str, cycle)))
        self.cycle = cycle


def topological_order(nodes: Mapping[int, tuple[int, Set[int]]]) -> list[int]:
    """Node ids in dependency order. ``nodes`` maps id -> (position, ids it depends on);
    among ready nodes the lowest position goes first. CycleError names one cycle."""
    deps = {i: set(d) for i, (_, d) in nodes.items()}
    users: dict[int, list[int]] = {i: [] for i in nodes}
    for consumer, producers in deps.items():
        for producer in producers:
            users[producer].append(consumer)
    waiting = {i: len(p) for i, p in deps.items()}
    ready = [(nodes[i][0], i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for consumer in users[node]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, (nodes[consumer][0], consumer))
    if len(order) < len(nodes):
        raise CycleError(_find_cycle({i: deps[i] for i, n in waiting.items() if n > 0}))
    return order


def _find_cycle(deps: Mapping[int, Set[int]]) -> list[int]:
    """One cycle among nodes that never became ready (each waits on another of them)."""
    node = min(deps)
    seen: list[int] = []
    while node not in seen:
        seen.append(node)
        node = min(p for p in deps[node] if p in deps)
    cycle = seen[seen.index(node) :]
    return [*cycle, node]
