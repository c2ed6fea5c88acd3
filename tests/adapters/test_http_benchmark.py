"""The HTTP server figure runs at tiny sizes and reports in the benchmarks' shape
(shape, not speed)."""

from __future__ import annotations

import json

from benchmarks import http_server


async def test_the_http_server_figure_reports_every_shape_and_latency():
    figure = await http_server.run(**http_server.QUICK)
    assert figure["figure"] == "http_server" and isinstance(figure["pass"], bool)
    assert set(figure["settings"]) == {"latency_0s", "latency_0.01s"}
    for shapes in figure["settings"].values():
        assert set(shapes) == {"chain", "fan_out", "diamond", "three_level"}
        for shape in shapes.values():
            assert shape["llm_calls"] == 2  # plan + answer
            assert shape["ratio"] >= 0.99  # no request finishes before its critical path
            assert shape["outside_engine_ms"] > 0
    assert figure["value"] == max(
        s["ratio"] for shapes in figure["settings"].values() for s in shapes.values()
    )
    json.dumps(figure)
