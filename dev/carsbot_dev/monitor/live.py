"""Local mode with the real monitor: ``carsbot demo --live --session-file FILE --channel @name``.

Instead of the replay source, the real ``Monitor`` (a real Telethon user session, read from the local
Secrets Manager where the session file's JSON is stored) watches the given channels; the same local
stack of template.yaml (moto) carries its posts through the extract and publish functions, pumped by
the same runner as the demo. Posts go to the local Bot API stand-in unless a real bot token and news
channel are given. It runs until Ctrl-C (or ``--minutes``) and then prints the demo's summary line.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class LiveOptions:
    session_json: str  # {"api_id": ..., "api_hash": "...", "session": "..."}
    channels: Sequence[str]
    minutes: float | None = None
    bot_token: str | None = None  # a real bot token: publish to a real channel instead of the stand-in
    news_channel: str | None = None
    poll_seconds: float = 1.0


def validate_session_json(text: str) -> str:
    """The session file must hold the secret's JSON document; fail early with a clear message."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"session file is not JSON: {exc.msg}") from None
    missing = [key for key in ("api_id", "api_hash", "session") if not data.get(key)]
    if missing:
        raise SystemExit(f"session file lacks {', '.join(missing)}")
    return text


class MonitorThread:
    """The monitor's own event loop on a thread, stoppable from the main thread."""

    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor
        self.loop = asyncio.new_event_loop()
        self.result: int | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.result = self.loop.run_until_complete(self.monitor.run())
        except BaseException as exc:
            self.error = exc
        finally:
            self.loop.close()

    def start(self) -> MonitorThread:
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.monitor.request_stop)
            self._thread.join(timeout)


def run_live(
    options: LiveOptions,
    *,
    client_factory: Callable[..., Any] | None = None,
    monitor_config: Any = None,
    stop_when: Callable[[Any], bool] | None = None,
    out: Callable[[str], None] = print,
) -> Any:
    """Run monitor + functions locally until Ctrl-C, ``options.minutes`` or ``stop_when(stack)``.

    ``client_factory`` replaces Telethon's client (the tests use the offline Telegram stand-in).
    Returns the demo summary.
    """
    from carsbot.adapters.db import ListingModel, PostModel
    from carsbot.channels import ChannelRegistry
    from carsbot_dev.local.botapi_standin import BotApiStandin
    from carsbot_dev.local.demo_support import DEMO_BOT_TOKEN, DemoSummary, dead_lettered, quiet_env
    from carsbot_dev.local.runner import LocalLambdaRunner
    from carsbot_dev.local.stack import local_aws, reset_sdk_caches
    from carsbot_monitor.app import Monitor

    started = time.perf_counter()
    bot_api = None if options.bot_token else BotApiStandin().start()
    try:
        parameters = {"ExtractEngine": "auto"}
        if bot_api is not None:
            parameters["BotApiBase"] = bot_api.base_url
            parameters["PublishRatePerMinute"] = "6000"
        if options.news_channel:
            parameters["NewsChannelId"] = options.news_channel
        token = options.bot_token or DEMO_BOT_TOKEN
        secrets = {
            "BotTokenSecret": json.dumps({"token": token}),
            "TelegramSessionSecret": validate_session_json(options.session_json),
        }
        with local_aws(parameters=parameters, secret_values=secrets, extra_env=quiet_env(False)) as stack:
            # The monitor's own variable (the ECS task sets it from the template; the functions do not).
            os.environ["CARSBOT_TELEGRAM_SESSION_SECRET"] = stack.secrets["TelegramSessionSecret"]
            reset_sdk_caches()
            registry = ChannelRegistry()
            for ref in options.channels:
                record, created = registry.add(ref)
                out(f"channel {record.ref}: {'registered' if created else 'already registered'}")
            kwargs: dict[str, Any] = {"config": monitor_config} if monitor_config is not None else {}
            if client_factory is not None:
                kwargs["client_factory"] = client_factory
            monitor = MonitorThread(Monitor(**kwargs)).start()
            runner = LocalLambdaRunner(stack)
            deadline = time.monotonic() + options.minutes * 60 if options.minutes else None
            shown = 0
            errors = 0
            try:
                while monitor.alive():
                    errors += sum(len(s.errors) for s in runner.drain().values())
                    if bot_api is not None:
                        feed = bot_api.render_feed().splitlines()
                        for line in feed[max(shown, 1) :]:  # the first line is the feed header
                            out(line)
                        shown = max(shown, len(feed))
                    if (deadline and time.monotonic() > deadline) or (stop_when and stop_when(stack)):
                        break
                    time.sleep(options.poll_seconds)
            except KeyboardInterrupt:
                out("stopping...")
            finally:
                monitor.stop()
            errors += sum(len(s.errors) for s in runner.drain().values())
            if monitor.error is not None:
                out(f"monitor stopped with an error: {type(monitor.error).__name__}: {monitor.error}")
            posts = list(PostModel.scan())
            listings = list(ListingModel.scan())
            return DemoSummary(
                posts=len(posts),
                listings=sum(1 for item in listings if item.status != "duplicate"),
                rejected=sum(1 for p in posts if p.status == "rejected"),
                duplicates=sum(1 for p in posts if p.status == "duplicate"),
                published=sum(1 for item in listings if item.published_message_ids),
                failed=dead_lettered(stack) + errors + (1 if monitor.error is not None else 0),
                seconds=time.perf_counter() - started,
            )
    finally:
        if bot_api is not None:
            bot_api.stop()
