"""The benchmark figures run and report in the agreed shape (tiny sizes: shape, not speed)."""

from __future__ import annotations

import json

import pytest

from benchmarks.__main__ import FIGURES, load, run_figure

COMMON = {"figure", "title", "value", "unit", "goal", "pass", "params", "seconds"}


def _check_common(figure: dict, name: str) -> None:
    assert COMMON <= set(figure), f"missing keys: {COMMON - set(figure)}"
    assert figure["figure"] == name
    assert "unavailable" not in figure, figure.get("unavailable")
    assert isinstance(figure["pass"], bool)
    assert isinstance(figure["params"], dict) and figure["params"]
    json.dumps(figure)  # printable as JSON


async def test_makespan_reports_every_shape():
    figure = await run_figure("makespan", quick=True)
    _check_common(figure, "makespan")
    assert set(figure["shapes"]) == {"chain", "fan_out", "diamond", "three_level"}
    for shape in figure["shapes"].values():
        assert shape["ratio_median"] >= 0.99  # a DAG cannot finish before its critical path
        assert shape["critical_path_s"] > 0
    assert figure["value"] == max(s["ratio_median"] for s in figure["shapes"].values())


async def test_overhead_reports_percentiles():
    figure = await run_figure("overhead", quick=True)
    _check_common(figure, "overhead")
    assert figure["n"] == figure["params"]["requests"]
    assert 0 < figure["p50_ms"] <= figure["p99_ms"] <= figure["max_ms"]
    assert figure["value"] == figure["p50_ms"]
    assert set(figure["mean_ms_by_stage"]) == {"plan", "select", "execute", "respond"}


async def test_first_event_reports_each_case():
    figure = await run_figure("first_event", quick=True)
    _check_common(figure, "first_event")
    for case in ("sequential", "burst", "queued"):
        assert figure[case]["n"] > 0 and figure[case]["p50_ms"] > 0
    assert figure["value"] == max(figure[c]["p99_ms"] for c in ("sequential", "burst", "queued"))


async def test_concurrency_runs_in_one_process_and_sharded_and_keeps_order():
    figure = await run_figure("concurrency", quick=True)
    _check_common(figure, "concurrency")
    for row in figure["runs"].values():
        for mode in ("sustained", "burst"):
            one, sharded = row[mode]["one_process"], row[mode]["2_shards"]
            assert one["in_order"] and sharded["in_order"]
            assert len(sharded["shards"]) == 2
            better = max(one["throughput_share"], sharded["throughput_share"])
            assert row[mode]["throughput_share"] == better
            for run in (one, sharded):
                # the mean conversation is never slower than the last one to finish
                assert run["mean_conversation_s"] <= run["wall_s"]
                assert run["throughput_share"] >= run["slowest_share"] > 0
    assert figure["in_order"] is True
    assert figure["slowest_conversation_worst"] <= figure["value"]


def test_every_figure_declares_its_goal_and_quick_sizes():
    for name in FIGURES:
        module = load(name)
        assert module.NAME == name and module.GOAL and module.TITLE
        assert isinstance(module.QUICK, dict)


@pytest.mark.parametrize("argv", [["--list"]])
def test_cli_lists_figures(argv, capsys):
    from benchmarks.__main__ import main

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in FIGURES)


def test_concurrency_reports_the_median_run_and_every_share():
    from benchmarks.concurrency import median_run

    runs = [
        {"throughput_share": 0.96, "in_order": True, "wall_s": 1.0},
        {"throughput_share": 0.94, "in_order": True, "wall_s": 2.0},
        {"throughput_share": 0.95, "in_order": False, "wall_s": 3.0},
    ]
    middle = median_run(runs)
    assert middle["throughput_share"] == 0.95 and middle["wall_s"] == 3.0
    assert middle["throughput_shares"] == [0.96, 0.94, 0.95]
    assert middle["in_order"] is False  # one run out of order fails them all
    assert median_run(runs[:2])["throughput_share"] == 0.94  # even count: the lower middle
    assert median_run(runs[:1])["in_order"] is True


def test_cpu_steal_is_read_from_proc_stat(tmp_path):
    """Each figure reports the share of CPU the VM's host took while it ran; the
    ticks come from /proc/stat's first line (user .. steal), or None where it is not."""
    from benchmarks.__main__ import cpu_ticks

    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3\n")
    assert cpu_ticks(str(stat)) == (35, 1000)
    stat.write_text("")
    assert cpu_ticks(str(stat)) is None
    assert cpu_ticks(str(tmp_path / "missing")) is None


def test_figures_about_the_bot_run_with_its_collector_settings_and_put_them_back():
    import gc

    from benchmarks.harness import bot_collector
    from bot.heap import YOUNG_GENERATION_THRESHOLD

    before = gc.get_threshold()
    with bot_collector():
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        assert gc.get_freeze_count() > 0  # what existed before the figure is frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), bot_collector():  # put back when the figure fails too
        raise RuntimeError("a figure failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
