"""``carsbot demo``: the whole pipeline on one machine, with no credentials (the embedded default).

A local AWS (moto server) holds the resources of template.yaml itself; the replay source queues the
bundled sample posts exactly as the monitor would; a runner pumps each queue into its function with
Lambda-shaped events; a local Bot API stand-in records what the publish function sent and the channel
feed is shown in the terminal. The last line is the summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from carsbot_dev.local.bot_demo import BotOptions
from carsbot_dev.local.bot_demo import add_arguments as add_bot_arguments
from carsbot_dev.local.demo_support import (
    DEMO_BOT_TOKEN,
    DEMO_OPENAI_KEY,
    DemoSummary,
    dead_lettered,
    quiet_env,
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline locally on the bundled sample (no credentials needed)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "posts", nargs="?", type=Path, help="JSONL of queued posts (default: the bundled sample)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary line")
    parser.add_argument("--verbose", action="store_true", help="show the functions' structured logs")
    parser.add_argument(
        "--llm-standin",
        action="store_true",
        help="extract with the LLM engine against a local OpenAI-compatible stand-in",
    )
    live = parser.add_argument_group(
        "live (real monitor)",
        "with real Telegram credentials, the real monitor replaces the replay source (see docs/monitor.md)",
    )
    live.add_argument("--live", action="store_true", help="run the real monitor instead of the replay source")
    live.add_argument(
        "--session-file",
        type=Path,
        help='JSON {"api_id": ..., "api_hash": "...", "session": "..."} (from carsbot session login)',
    )
    live.add_argument("--channel", action="append", default=[], help="source channel to watch (repeatable)")
    live.add_argument("--minutes", type=float, help="stop after this many minutes (default: Ctrl-C)")
    live.add_argument("--bot-token-file", type=Path, help="a real bot token: publish to a real channel")
    live.add_argument("--news-channel", help="the real news channel (with --bot-token-file)")
    parser.add_argument(
        "--real-rate", action="store_true", help="publish at the real channel limit (20 posts a minute)"
    )
    add_bot_arguments(parser)
    parser.set_defaults(func=run)


def _count(model: type, attribute: str, value: str) -> int:
    return sum(1 for item in model.scan() if getattr(item, attribute) == value)  # type: ignore[attr-defined,misc]


def run_demo(
    posts_path: Path | None = None,
    *,
    real_rate: bool = False,
    verbose: bool = False,
    llm_standin: bool = False,
    bot: BotOptions | None = None,
    sheets_console: bool = False,
) -> tuple[DemoSummary, str]:
    """Run the pipeline; returns the summary and the rendered channel feed (then the console's tabs)."""
    from carsbot.adapters.db import ListingModel, PostModel
    from carsbot.config import get_settings
    from carsbot_dev.local.botapi_standin import BotApiStandin
    from carsbot_dev.local.replay import load_posts, replay, store_placeholder_media
    from carsbot_dev.local.runner import LocalLambdaRunner
    from carsbot_dev.local.stack import local_aws

    posts = load_posts(posts_path)
    started = time.perf_counter()
    with BotApiStandin() as bot_api, ExitStack() as optional:
        parameters = {"BotApiBase": bot_api.base_url, "ExtractEngine": "auto"}
        if not real_rate:  # the stand-in is not Telegram: do not wait out the channel limit locally
            parameters["PublishRatePerMinute"] = "6000"
        secrets = {"BotTokenSecret": f'{{"token": "{DEMO_BOT_TOKEN}"}}'}
        bot = bot or BotOptions(journey=False)
        bot.configure(parameters, secrets)  # admin ids, the webhook secret, --bot-api
        from carsbot_dev.local.payments_demo import payments_parameters, payments_secrets, yookassa_standin

        bot.yookassa = optional.enter_context(yookassa_standin())  # payments: the local YooKassa
        parameters.update(payments_parameters(bot.yookassa))  # its API, 127.0.0.1 as its only network
        secrets.update(payments_secrets(bot.yookassa))
        llm = None
        if llm_standin:  # the LLM engine against a local OpenAI-compatible stand-in
            from carsbot_dev.local.openai_standin import OpenAIStandIn

            llm = optional.enter_context(OpenAIStandIn(api_key=DEMO_OPENAI_KEY))
            parameters["OpenAIBaseUrl"] = llm.base_url
            secrets["OpenAISecret"] = f'{{"api_key": "{DEMO_OPENAI_KEY}"}}'
        with local_aws(parameters=parameters, secret_values=secrets, extra_env=quiet_env(verbose)) as stack:
            from carsbot.observability import logger

            logger.setLevel(quiet_env(verbose)["POWERTOOLS_LOG_LEVEL"])  # also when created earlier
            settings = get_settings()
            store_placeholder_media(posts, settings.media_bucket)
            if sheets_console:  # the sample's channels in the registry, as admins and the monitor leave them
                from carsbot_dev.local.sheets_demo import register_sample_channels

                register_sample_channels(posts)
            for _ in replay(posts, settings.posts_queue_url):
                pass
            stats = LocalLambdaRunner(stack).drain()
            summary = DemoSummary(
                posts=len(posts),
                listings=sum(1 for _ in ListingModel.scan()) - _count(ListingModel, "status", "duplicate"),
                rejected=_count(PostModel, "status", "rejected"),
                duplicates=_count(PostModel, "status", "duplicate"),
                published=sum(1 for item in ListingModel.scan() if item.published_message_ids),
                failed=dead_lettered(stack) + sum(len(s.errors) for s in stats.values()),
                seconds=time.perf_counter() - started,
                llm_calls=len(llm.requests) if llm is not None else 0,
            )
            feed = bot_api.render_feed()
            if sheets_console:  # after the replay: the Google Sheets console (stand-in), Каналы and Аналитика
                from carsbot_dev.local.sheets_demo import console_tables

                feed += "\n\n" + console_tables(stack)
            feed += bot.after_replay(stack, bot_api, summary, feed)  # the subscriber journey, or --serve
            from carsbot_dev.local.payments_demo import payment_counts

            summary.payments, summary.credited = payment_counts()
    return summary, feed


def run_live_mode(args: argparse.Namespace) -> int:
    if not args.session_file or not args.channel:
        raise SystemExit("--live needs --session-file and at least one --channel")
    if bool(args.bot_token_file) != bool(args.news_channel):
        raise SystemExit("--bot-token-file and --news-channel go together")
    try:
        from carsbot_dev.monitor.live import LiveOptions, run_live
    except ModuleNotFoundError as exc:
        raise SystemExit(f"the monitor package is not installed: {exc}") from None
    options = LiveOptions(
        session_json=args.session_file.read_text(encoding="utf-8"),
        channels=args.channel,
        minutes=args.minutes,
        bot_token=args.bot_token_file.read_text(encoding="utf-8").strip() if args.bot_token_file else None,
        news_channel=args.news_channel,
    )
    summary = run_live(options)
    print(summary.line())
    return 0 if summary.failed == 0 else 1


def run(args: argparse.Namespace) -> int:
    os.environ.update(quiet_env(args.verbose))
    if args.live:
        return run_live_mode(args)
    bot = BotOptions.from_args(args)
    summary, feed = run_demo(
        args.posts,
        real_rate=args.real_rate,
        verbose=args.verbose,
        llm_standin=args.llm_standin,
        bot=bot,
        sheets_console=not args.quiet,  # the console's tabs are printed with the feed
    )
    if not args.quiet and not bot.feed_printed:
        print(feed)
        if args.llm_standin:
            print(f"llm: {summary.llm_calls} calls for {summary.posts} posts")
    print(summary.line())
    sys.stdout.flush()
    return 0 if summary.failed == 0 else 1
