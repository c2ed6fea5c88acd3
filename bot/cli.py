"""The ``hugginggpt-bot`` command line: chat, ask, discord, slack, serve, models, ray, eval."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from bot.config import Settings, load_settings
from engine.errors import ConfigError, EngineError

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hugginggpt-bot", description="HuggingGPT: an LLM plans, expert models do the work."
    )
    p.add_argument("--config", help="YAML config (default: configs/default.yaml)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="multi-turn chat in the terminal")
    chat.add_argument("--conversation", default="default", help="conversation name (context persists)")

    ask = sub.add_parser("ask", help="one request through the full pipeline")
    ask.add_argument("text")
    ask.add_argument("--attach", action="append", default=[], metavar="PATH", help="a file (repeatable)")
    ask.add_argument("--conversation", default="ask", help="conversation name (context persists)")
    ask.add_argument("--json", action="store_true", help="print plan, selections, results, reply as JSON")

    discord = sub.add_parser("discord", help="run the Discord bot (DISCORD_TOKEN)")
    discord.add_argument(
        "--shard",
        metavar="I/N",
        help="serve gateway shard I of N (run N processes, I = 0..N-1, to use N cores; DMs go to shard 0)",
    )
    sub.add_parser("slack", help="run the Slack bot (Socket Mode by default)")
    serve = sub.add_parser(
        "serve", help="run the HTTP API (OpenAI chat completions, JARVIS's endpoints) and the chat page"
    )
    serve.add_argument("--host", help="address to listen on (default: http.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: http.port, 8080)")

    models = sub.add_parser("models", help="the model catalogue")
    msub = models.add_subparsers(dest="models_command", required=True)
    mlist = msub.add_parser("list", help="what can run here and why")
    mlist.add_argument("--task", help="only this task type")
    mlist.add_argument("--all", action="store_true", help="also list models that cannot run here")
    mref = msub.add_parser("refresh", help="rebuild the catalogue from the Hugging Face Hub")
    mref.add_argument("--task", action="append", help="task type(s) to refresh (default: all)")
    mref.add_argument("--limit", type=int, default=30, help="models per task")
    mref.add_argument("--out", help="where to write the JSONL (default: the configured catalogue)")

    ray = sub.add_parser("ray", help="experts on a Ray cluster (experts.ray)")
    rsub = ray.add_subparsers(dest="ray_command", required=True)
    for name, text in (
        ("deploy", "deploy the experts onto the running cluster"),
        ("status", "what runs where"),
    ):
        rsub.add_parser(name, help=text).add_argument("--json", action="store_true", help="print JSON")

    ev = sub.add_parser("eval", help="evaluate the planner")
    esub = ev.add_subparsers(dest="eval_command", required=True)
    plans = esub.add_parser("plans", help="score plans against TaskBench-style gold JSONL")
    plans.add_argument("gold")
    plans.add_argument("--out", help="write predictions (gold format) here")
    plans.add_argument("--limit", type=int, help="only the first N requests")
    from bot.eval_chats import add_parser as add_chats_parser

    add_chats_parser(esub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _tolerant_output()
    try:
        settings = load_settings(args.config)
        if getattr(args, "shard", None):
            settings = with_shard(settings, args.shard)
        if args.command == "serve":
            settings = with_address(settings, args.host, args.port)
        redact_logs(settings)
        return asyncio.run(until_terminated(_dispatch(args, settings)))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _tolerant_output() -> None:
    """A character the terminal's encoding lacks is printed as "?", never a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def redact_logs(settings: Settings) -> None:
    """Every log handler of this process drops the configured secrets and token-shaped
    strings from what it writes (engine/secrets.py)."""
    from engine.secrets import RedactingFilter, Redactor, env_keys

    redacting = RedactingFilter(Redactor.from_environment(env_keys(settings.model_dump()), os.environ))
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redacting)


TERMINATED = 128 + signal.SIGTERM  # the exit status a shell reports for SIGTERM


async def until_terminated(work: Coroutine[Any, Any, int]) -> int:
    """Run ``work``; on SIGTERM (``docker stop``, systemd) cancel it so that every
    ``finally`` runs: the store closes, the platform clients close. ``chat`` waiting
    at its prompt is cancelled too (its wait for stdin is the event loop's, not a
    thread's). A second SIGTERM while that runs is ignored: cancelling again would
    cut the shutdown short (SIGKILL is how supervisors insist).
    Any other cancellation (Ctrl+C) passes through as before."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    terminated = asyncio.Event()

    def on_sigterm() -> None:
        if terminated.is_set():
            log.warning("SIGTERM again: still shutting down")
            return
        terminated.set()
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (NotImplementedError, RuntimeError):  # no signal handlers here (Windows, not the main thread)
        return await task
    try:
        return await task
    except asyncio.CancelledError:
        if terminated.is_set():
            return TERMINATED
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def with_shard(settings: Settings, shard: str) -> Settings:
    """``settings`` with the Discord shard given as "I/N" on the command line."""
    from pydantic import ValidationError

    from adapters.discord.settings import DiscordSettings

    index, _, count = shard.partition("/")
    if not (index.strip().isdigit() and count.strip().isdigit()):
        raise ConfigError(
            f'--shard takes "I/N" (this process\'s shard and the number of shards), not {shard!r}'
        )
    try:
        discord = DiscordSettings.model_validate(
            {**settings.discord.model_dump(), "shard_id": int(index), "shard_count": int(count)}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"--shard: discord.{where}: {message}" if where else f"--shard: {message}") from exc
    return settings.model_copy(update={"discord": discord})


def with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    """``settings`` with the HTTP server's address given on the command line."""
    from pydantic import ValidationError

    from adapters.http.settings import HttpSettings

    given = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    try:
        http = HttpSettings.model_validate({**settings.http.model_dump(), **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"--{first['loc'][0]}: {first['msg']}") from exc
    return settings.model_copy(update={"http": http})


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "models":
        from bot.models_cmd import models_command

        return await models_command(args, settings)
    if args.command == "ray":
        from bot.ray_cmd import ray_command

        return await ray_command(args, settings)
    if args.command == "eval":
        if args.eval_command == "chats":
            from bot.eval_chats import eval_chats

            return await eval_chats(args, settings)
        from bot.eval_cmd import eval_plans

        return await eval_plans(args, settings)

    if args.command == "serve":  # no key, no server: refused before anything is built
        from adapters.http import ApiKeys

        ApiKeys.from_env(os.environ, settings.http.api_keys_env)

    from adapters.terminal import TerminalChat, ask_once, conversation_key
    from bot.app import open_runtime
    from bot.heap import settle_after_startup

    max_bytes = int(settings.limits.max_attachment_mb * 1024 * 1024)
    async with open_runtime(settings) as rt:
        if args.command != "ask":  # a process that lives on: see bot/heap.py
            settle_after_startup()
        if args.command == "chat":
            await TerminalChat(rt.service, conversation_key(args.conversation), max_bytes).run()
            return 0
        if args.command == "ask":
            return await ask_once(
                rt.service, conversation_key(args.conversation), args.text, args.attach, max_bytes, args.json
            )
        if args.command == "discord":
            from adapters.discord import run_discord

            token = os.environ.get(settings.discord.token_env)
            if not token:
                raise ConfigError(
                    f"discord: set the bot token in the environment variable {settings.discord.token_env}"
                )
            await run_discord(settings.discord, rt.service, token)
            return 0
        if args.command == "slack":
            from adapters.slack import run_slack

            await run_slack(settings.slack, rt.service, os.environ)
            return 0
        if args.command == "serve":
            from adapters.http import Limits, run_http

            limits = Limits(max_attachment_bytes=max_bytes, max_attachments=settings.limits.max_attachments)
            await run_http(settings.http, rt.service, rt.service.artifacts, limits, os.environ, _listening)
            return 0
    raise AssertionError(f"unhandled command {args.command}")


def _listening(url: str) -> None:
    print(f"serving on {url} (the chat page at {url}/, the API at {url}/v1)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
