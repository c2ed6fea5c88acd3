"""The LLM-free planner: clause splitting, exemplar similarity, rules and linking.

``TaskPicker`` proposes a runnable plan from the request alone; ``DemoRetriever``
finds the nearest few-shot demos for the LLM planner's prompt. Both share one
``Embedder`` (all-MiniLM-L6-v2, loaded on first use).
"""

from engine.picker.demos import DemoRetriever
from engine.picker.embedder import Embedder
from engine.picker.picker import TaskPicker

__all__ = ["DemoRetriever", "Embedder", "TaskPicker"]
