"""The multi-turn chat evaluation sets: their row format (``schema``) and the builder of
the files they attach (``fixtures``). The sets themselves are in ``benchmarks/data/chats_*.jsonl``;
``benchmarks/README-chats.md`` describes them."""
