"""The collector settings a long-running bot process applies after start-up."""

from __future__ import annotations

import gc

from bot.heap import OLDER_GENERATION_THRESHOLDS, YOUNG_GENERATION_THRESHOLD, settle_after_startup


def test_settling_freezes_start_up_objects_and_spaces_out_collections() -> None:
    before = gc.get_threshold()
    try:
        settle_after_startup()
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *OLDER_GENERATION_THRESHOLDS)
        assert gc.get_freeze_count() > 0  # what start-up built is out of later collections
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
