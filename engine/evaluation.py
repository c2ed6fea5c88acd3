"""TaskBench-style scoring of plans against hand-labelled gold plans.

Gold and predictions are JSONL rows ``{"id", "user_request", "task_nodes":
[{"task", "arguments"}], "task_links": [{"source", "target"}]}``. A link's source and
target may be node indices or task names; task names may be our kebab-case pipeline
tags or TaskBench's Title Case ("Image-to-Text", "Automatic Speech Recognition").

Scores are micro-averaged over the whole set: true positives, predicted and gold
counts are summed over all requests before precision, recall and F1 are taken.

- node F1: tasks compared as multisets of names per request;
- edge F1: links compared as multisets of (source task, target task) pairs;
- parsed: share of requests for which ``plan_fn`` returned a plan (None or an
  exception counts as not parsed; an empty plan counts as parsed with no nodes);
- seconds per plan: mean wall time of ``plan_fn`` over the set.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.task_aliases import canonical_task_name, normalise_task_name
from engine.types import Plan

PlanFn = Callable[[str], Awaitable[Plan | None]]


def task_name(name: str) -> str:
    """Our task name for ``name``; an unknown name keeps its normalised form (and so scores as wrong)."""
    return canonical_task_name(name) or normalise_task_name(name)


def nodes_of(row: Mapping[str, Any]) -> list[str]:
    return [task_name(node["task"]) for node in row.get("task_nodes", [])]


def edges_of(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source task, target task) pairs; an index names a node, anything else a task."""
    nodes = nodes_of(row)

    def resolve(end: Any) -> str:
        if isinstance(end, int) or (isinstance(end, str) and end.lstrip("-").isdigit()):
            index = int(end)
            return nodes[index] if 0 <= index < len(nodes) else f"?{index}"
        return task_name(str(end))

    return [(resolve(link["source"]), resolve(link["target"])) for link in row.get("task_links", [])]


@dataclass
class F1:
    hits: int = 0
    predicted: int = 0
    gold: int = 0

    def add(self, predicted: Iterable[Any], gold: Iterable[Any]) -> None:
        p, g = Counter(predicted), Counter(gold)
        self.hits += sum((p & g).values())
        self.predicted += sum(p.values())
        self.gold += sum(g.values())

    @property
    def precision(self) -> float:
        return self.hits / self.predicted if self.predicted else (1.0 if not self.gold else 0.0)

    @property
    def recall(self) -> float:
        return self.hits / self.gold if self.gold else (1.0 if not self.predicted else 0.0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class EvalReport:
    n: int
    node: F1
    edge: F1
    parsed: int
    exact: int  # requests whose task multiset matches the gold exactly
    seconds: float  # total time spent in plan_fn

    @property
    def parsed_share(self) -> float:
        return self.parsed / self.n if self.n else 0.0

    @property
    def seconds_per_plan(self) -> float:
        return self.seconds / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "node_f1": round(self.node.f1, 4),
            "node_precision": round(self.node.precision, 4),
            "node_recall": round(self.node.recall, 4),
            "edge_f1": round(self.edge.f1, 4),
            "edge_precision": round(self.edge.precision, 4),
            "edge_recall": round(self.edge.recall, 4),
            "exact_task_set": round(self.exact / self.n, 4) if self.n else 0.0,
            "parsed": round(self.parsed_share, 4),
            "ms_per_plan": round(1000 * self.seconds_per_plan, 2),
            "counts": {"node": asdict(self.node), "edge": asdict(self.edge)},
        }

    def summary(self) -> str:
        return (
            f"{self.n} requests: node F1 {self.node.f1:.3f} (P {self.node.precision:.2f} R {self.node.recall:.2f}), "
            f"edge F1 {self.edge.f1:.3f} (P {self.edge.precision:.2f} R {self.edge.recall:.2f}), "
            f"exact {self.exact}/{self.n}, parsed {self.parsed_share:.0%}, {1000 * self.seconds_per_plan:.1f} ms/plan"
        )

    __str__ = summary


def plan_to_row(row_id: str, plan: Plan | None) -> dict[str, Any]:
    """A plan in gold format: nodes in plan order, links by node index."""
    tasks = plan.tasks if plan is not None else ()
    index = {t.id: i for i, t in enumerate(tasks)}
    nodes = [{"task": t.task, "arguments": dict(t.args)} for t in tasks]
    links = [
        {"source": index[d], "target": index[t.id]}
        for t in tasks
        for d in (t.dep or t.references())
        if d in index
    ]
    return {"id": row_id, "task_nodes": nodes, "task_links": links}


def score(gold: Sequence[Mapping[str, Any]], predicted: Sequence[Mapping[str, Any] | None]) -> EvalReport:
    """Score prediction rows (None = not parsed) against gold rows, in the same order."""
    report = EvalReport(n=len(gold), node=F1(), edge=F1(), parsed=0, exact=0, seconds=0.0)
    for g, p in zip(gold, predicted, strict=True):
        p_nodes = nodes_of(p) if p is not None else []
        report.parsed += p is not None
        report.node.add(p_nodes, nodes_of(g))
        report.edge.add(edges_of(p) if p is not None else [], edges_of(g))
        report.exact += Counter(p_nodes) == Counter(nodes_of(g))
    return report


async def evaluate(plan_fn: PlanFn, gold: list[dict[str, Any]], out_path: Path | None = None) -> EvalReport:
    """Run ``plan_fn`` on every gold request and score it; write predictions to ``out_path`` as JSONL."""
    predicted: list[dict[str, Any] | None] = []
    seconds = 0.0
    for row in gold:
        start = time.perf_counter()
        try:
            plan = await plan_fn(row["user_request"])
        except Exception:  # a planner that crashes on a request has simply not parsed it
            plan = None
        seconds += time.perf_counter() - start
        predicted.append(plan_to_row(str(row.get("id", "")), plan) if plan is not None else None)
    report = score(gold, predicted)
    report.seconds = seconds
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with out_path.open("w", encoding="utf-8") as out:
            for row, pred in zip(gold, predicted, strict=False):
                out.write(
                    json.dumps(pred or plan_to_row(str(row.get("id", "")), None), ensure_ascii=False) + "\n"
                )
    return report


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
