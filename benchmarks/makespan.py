"""Figure 2: makespan / critical path for chain, fan-out, diamond and 3-level DAGs.

Experts sleep known times (``tests.fakes.experts.ScriptedBackend``, per task type),
the controller is in-process and instant, so the execute stage's wall time
compared with the DAG's longest path of sleeps is what the scheduler adds: polling
gaps, serialised branches or slow hand-offs would all show here. The value uses the nominal sleeps (strict: the experts' own
file writing counts against the scheduler); ``ratio_vs_measured_expert_times``
divides by the critical path of what each expert call really took.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import ScriptedLLM, build_engine, result
from engine.types import Request
from tests.fakes.experts import Script, ScriptedBackend

NAME = "makespan"
TITLE = "Makespan / critical path of planned DAGs (sleeping experts)"
GOAL = "<= 1.02 for every shape"
QUICK: dict[str, Any] = {"unit": 0.02, "repeats": 1}

G = "<GENERATED>-{}".format

# Sleep of each task type, in units (unit = 0.2 s by default).
UNITS: Mapping[str, float] = {
    "text-to-image": 1.0,
    "image-to-text": 1.0,
    "text-to-speech": 1.0,
    "object-detection": 1.5,
    "image-classification": 0.5,
    "image-segmentation": 1.0,
    "automatic-speech-recognition": 2.0,
    "sentence-similarity": 0.5,
    "image-to-video": 1.0,
    "depth-estimation": 0.5,
}


def _t(task: str, tid: int, args: Mapping[str, str], dep: Sequence[int] = ()) -> dict[str, Any]:
    return {"task": task, "id": tid, "dep": list(dep) or [-1], "args": dict(args)}


SHAPES: Mapping[str, list[dict[str, Any]]] = {
    "chain": [
        _t("text-to-image", 0, {"text": "a cat"}),
        _t("image-to-text", 1, {"image": G(0)}, [0]),
        _t("text-to-speech", 2, {"text": G(1)}, [1]),
    ],
    "fan_out": [
        _t("text-to-image", 0, {"text": "a street"}),
        _t("image-to-text", 1, {"image": G(0)}, [0]),
        _t("object-detection", 2, {"image": G(0)}, [0]),
        _t("image-classification", 3, {"image": G(0)}, [0]),
        _t("image-segmentation", 4, {"image": G(0)}, [0]),
        _t("depth-estimation", 5, {"image": G(0)}, [0]),
    ],
    "diamond": [
        _t("text-to-image", 0, {"text": "a dog"}),
        _t("image-to-text", 1, {"image": G(0)}, [0]),
        _t("image-classification", 2, {"image": G(0)}, [0]),
        _t("sentence-similarity", 3, {"text": G(1), "text2": G(2)}, [1, 2]),
    ],
    "three_level": [
        _t("text-to-image", 0, {"text": "a harbour"}),
        _t("text-to-speech", 1, {"text": "welcome to the harbour"}),
        _t("image-to-text", 2, {"image": G(0)}, [0]),
        _t("object-detection", 3, {"image": G(0)}, [0]),
        _t("automatic-speech-recognition", 4, {"audio": G(1)}, [1]),
        _t("sentence-similarity", 5, {"text": G(2), "text2": G(4)}, [2, 4]),
        _t("image-to-video", 6, {"image": G(3), "audio": G(1)}, [3, 1]),
    ],
}


def critical_path(plan: Sequence[Mapping[str, Any]], seconds: Mapping[Any, float], by: str = "task") -> float:
    """Longest sum of task durations along any dependency path; ``seconds`` is keyed by
    task type (``by="task"``, the nominal sleeps) or by task id (measured times)."""
    finish: dict[int, float] = {}
    for task in plan:  # plans list dependencies before dependents
        start = max((finish[d] for d in task["dep"] if d >= 0), default=0.0)
        finish[task["id"]] = start + seconds[task[by]]
    return max(finish.values())


async def run(unit: float = 0.2, repeats: int = 3) -> dict[str, Any]:
    seconds = {task: units * unit for task, units in UNITS.items()}
    backend = ScriptedBackend.for_all_tasks()
    backend.scripts.update({task: Script(sleep=s) for task, s in seconds.items()})
    plans = {name: json.dumps(plan) for name, plan in SHAPES.items()}
    llm = ScriptedLLM(plans.__getitem__)
    engine = build_engine(llm, {"builtin": backend}, choose_with_llm=False)
    shapes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-makespan-") as tmp:
        for name, plan in SHAPES.items():
            critical = critical_path(plan, seconds)
            ratios, measured = [], []
            for n in range(repeats):
                backend.log.clear()
                outcome = await engine.run(Request(text=name, artifact_dir=Path(tmp) / f"{name}-{n}"))
                if any(r.status != "ok" for r in outcome.results):
                    raise RuntimeError(f"{name}: a task failed: {[r.error for r in outcome.results]}")
                makespan = outcome.timings["execute"]
                ratios.append(makespan / critical)
                took = {tid: end - start for tid, _, start, end in backend.log}
                measured.append(makespan / critical_path(plan, took, by="id"))
            shapes[name] = {
                "tasks": len(plan),
                "critical_path_s": round(critical, 3),
                "ratio_median": round(statistics.median(ratios), 4),
                "ratio_max": round(max(ratios), 4),
                "ratio_vs_measured_expert_times": round(statistics.median(measured), 4),
            }
    worst = max(s["ratio_median"] for s in shapes.values())
    return result(
        NAME,
        TITLE,
        value=worst,
        unit="makespan / critical path (worst shape, median of repeats)",
        goal=GOAL,
        passed=worst <= 1.02,
        params={"unit_sleep_s": unit, "repeats": repeats, "sleep_units_by_task": dict(UNITS)},
        shapes=shapes,
    )
