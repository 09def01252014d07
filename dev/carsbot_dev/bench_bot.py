"""Bot benchmark, printed (never asserted): ``make bench`` runs ``python -m carsbot_dev.bench_bot``.

1. **Handler init**: ``import bot.app`` in a fresh interpreter (aiogram, the routers, the Dispatcher built —
   what a SnapStart snapshot holds) against ``import boto3`` in a fresh interpreter, same run.
2. **Per-update handling, warm**: a subscriber's deep link (``/start l_<id>`` -> contact card) through the
   real handler with HTTP API events, against the local stack (moto server) and the Bot API stand-in. The
   Bot API round trip is timed separately (bare ``sendMessage`` calls to the stand-in) and subtracted.
   Target <= 50 ms. moto answers slower than DynamoDB, so this is an upper bound.
3. **Alert matching per listing with 10,000 saved searches** (60 make/model buckets, brand-only and
   "any car" searches among them): time per listing and searches touched per listing, against a full scan
   of the searches table measured in the same run. Target <= 20 ms.
4. **A 1,000-alert burst** through the alerts function (real clock): seconds taken against the 33.3 s floor
   of 30 messages a second, and the 429s received from a stand-in that enforces Telegram's 30/s. Target 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from carsbot_dev.local.stack import repo_root


def _fresh(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(repo_root() / "functions"), "POWERTOOLS_METRICS_DISABLED": "true"}
    script = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def bench_init(rounds: int) -> None:
    boto = statistics.median(_fresh("import boto3") for _ in range(rounds))
    bot = statistics.median(_fresh("import bot.app") for _ in range(rounds))
    print(f"bot handler init (import + dispatcher): {bot * 1000:.0f} ms vs import boto3 {boto * 1000:.0f} ms "
          f"(x{bot / boto:.1f}; median of {rounds} fresh interpreters)")  # fmt: skip


def _seed_searches(count: int) -> None:
    from carsbot.adapters.db.bot import SavedSearchModel
    from carsbot.core.alerts import SearchCriteria

    cars = [(f"Brand{b}", f"Model{m}") for b in range(12) for m in range(5)]
    with SavedSearchModel.batch_write() as batch:
        for i in range(count):
            brand, model = cars[i % len(cars)]
            if i % 50 == 0:
                criteria = SearchCriteria(city="Москва")
            elif i % 10 == 0:
                criteria = SearchCriteria(brand=brand)
            else:
                criteria = SearchCriteria(
                    brand=brand, model=model, year_from=2010 + i % 10, price_max=3_000_000
                )
            batch.save(
                SavedSearchModel(
                    1_000_000 + i, f"s{i}", match_key=criteria.match_key, owner_key=f"{1_000_000 + i}#s{i}",
                    brand=criteria.brand, model=criteria.model, year_from=criteria.year_from,
                    price_max=criteria.price_max, city=criteria.city,
                )
            )  # fmt: skip


def bench_matching(searches: int, listings: int) -> None:
    from carsbot.adapters.db.bot import SavedSearchModel
    from carsbot.alerts.matching import match_listing
    from carsbot.core.alerts import ListingFacts

    _seed_searches(searches)
    facts = [
        ListingFacts(f"Brand{i % 12}", f"Model{i % 5}", 2015 + i % 8, 1_500_000, "Казань")
        for i in range(listings)
    ]
    match_listing(facts[0])  # warm
    times, touched = [], []
    for fact in facts:
        started = time.perf_counter()
        result = match_listing(fact)
        times.append(time.perf_counter() - started)
        touched.append(result.touched)
    started = time.perf_counter()
    scanned = sum(1 for _ in SavedSearchModel.scan())
    scan = time.perf_counter() - started
    median, p95 = statistics.median(times) * 1000, sorted(times)[int(len(times) * 0.95)] * 1000
    print(
        f"alert matching with {scanned} saved searches: {median:.1f} ms per listing (p95 {p95:.1f} ms; "
        f"target <= 20 ms), {statistics.mean(touched):.0f} searches touched per listing; "
        f"baseline, a full scan: {scan * 1000:.0f} ms, {scanned} searches"
    )


def bench_updates(stack: Any, api: Any, updates: int) -> None:
    from aiogram import Bot

    from carsbot.adapters.db.models import ListingModel
    from carsbot.adapters.db.users import UserModel, subscription_fields
    from carsbot.config import get_settings
    from carsbot.core.contracts import listing_id_of
    from carsbot_dev.local.runner import LocalLambdaRunner
    from carsbot_dev.local.telegram_updates import UpdateFactory, http_api_event

    runner = LocalLambdaRunner(stack)
    secret = "bench_webhook-secret"  # noqa: S105 - local only
    from carsbot.adapters.aws import client

    client("secretsmanager").put_secret_value(
        SecretId=stack.secrets["BotWebhookSecret"], SecretString=f'{{"token": "{secret}"}}'
    )
    listing = listing_id_of("1:1")
    ListingModel(
        listing,
        post_id="1:1",
        channel_id=1,
        status="published",
        brand="Toyota",
        model="Camry",
        year=2018,
        price=1_350_000,
        city="Воронеж",
        phones=["+79161234567"],
        usernames=["seller"],
        published_message_ids=[5],
    ).save()
    factory = UpdateFactory(start_id=1)
    user = factory.user(4242)
    runner.invoke("BotFunction", http_api_event(factory.text(user, "/start"), secret))  # cold start
    UserModel(4242).update(actions=subscription_fields(datetime.now(UTC) + timedelta(days=30)))
    for _ in range(3):  # warm
        runner.invoke("BotFunction", http_api_event(factory.text(user, f"/start l_{listing}"), secret))
    times = []
    for _ in range(updates):
        event = http_api_event(factory.text(user, f"/start l_{listing}"), secret)
        started = time.perf_counter()
        response = runner.invoke("BotFunction", event)
        times.append(time.perf_counter() - started)
        assert response["statusCode"] == 200
    import asyncio

    from carsbot.bot.webhook import make_bot

    async def round_trips() -> list[float]:
        bot: Bot = make_bot("123456:LOCAL-bench-token", get_settings())
        out = []
        try:
            for _ in range(updates):
                started = time.perf_counter()
                await bot.send_message(4242, "x")
                out.append(time.perf_counter() - started)
        finally:
            await bot.session.close()
        return out

    api_time = statistics.median(asyncio.run(round_trips()))
    handled = statistics.median(times)
    calls, get_time = _dynamodb_cost(
        lambda: runner.invoke(
            "BotFunction", http_api_event(factory.text(user, f"/start l_{listing}"), secret)
        )
    )
    print(f"deep-link update (contact card), warm: {handled * 1000:.1f} ms per update, "
          f"{(handled - api_time) * 1000:.1f} ms without the Bot API round trip ({api_time * 1000:.1f} ms; "
          f"target <= 50 ms; median of {updates}); baseline: {calls} DynamoDB requests per update at "
          f"{get_time * 1000:.1f} ms each on moto (a bare GetItem), so "
          f"{(handled - api_time - calls * get_time) * 1000:.1f} ms is the bot's own work")  # fmt: skip


def _dynamodb_cost(run: Any) -> tuple[int, float]:
    """DynamoDB requests one call of ``run`` makes, and a bare GetItem's round trip (median of 20)."""
    from pynamodb.connection.base import Connection

    from carsbot.adapters.db.users import UserModel

    original = Connection.dispatch
    count = 0

    def counting(self: Any, operation_name: str, operation_kwargs: Any) -> Any:
        nonlocal count
        count += 1
        return original(self, operation_name, operation_kwargs)

    Connection.dispatch = counting  # type: ignore[method-assign]
    try:
        run()
    finally:
        Connection.dispatch = original  # type: ignore[method-assign]
    gets = []
    for _ in range(20):
        started = time.perf_counter()
        UserModel.get(4242)
        gets.append(time.perf_counter() - started)
    return count, statistics.median(gets)


def bench_burst(stack: Any, api: Any, count: int) -> None:
    from carsbot.adapters.db.users import UserModel
    from carsbot.adapters.notify import enqueue
    from carsbot.core.contracts import NotifyMessage
    from carsbot_dev.local.runner import LocalLambdaRunner

    with UserModel.batch_write() as batch:
        for i in range(count):
            batch.save(UserModel(2_000_000 + i))
    enqueue(
        [
            NotifyMessage(chat_id=2_000_000 + i, text=f"🔔 уведомление {i}", dedupe_key=f"bench:{i}")
            for i in range(count)
        ]
    )
    api.calls.clear()
    started = time.perf_counter()
    LocalLambdaRunner(stack).drain()
    seconds = time.perf_counter() - started
    sent = [c for c in api.calls_of("sendMessage") if c.status == 200]
    throttled = [c for c in api.calls_of("sendMessage") if c.status == 429]
    floor = count / 30
    print(
        f"{count}-alert burst: {seconds:.1f} s for {len(sent)} sends vs the {floor:.1f} s floor of 30 msg/s "
        f"(x{seconds / floor:.2f}); 429s received: {len(throttled)} (target 0)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--searches", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--init-rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    bench_init(args.init_rounds)

    from carsbot_dev.local.botapi_standin import BotApiStandin
    from carsbot_dev.local.stack import local_aws

    with BotApiStandin() as api:
        secrets = {"BotTokenSecret": '{"token": "123456:LOCAL-bench-token"}'}
        env = {
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "CARSBOT_BOT_API_BASE": api.base_url,
        }
        with local_aws(
            parameters={"BotApiBase": api.base_url}, secret_values=secrets, extra_env=env
        ) as stack:
            bench_updates(stack, api, args.updates)
            bench_matching(args.searches, 200)
            api.global_per_second = 30  # Telegram's limit for one bot, enforced for the burst
            bench_burst(stack, api, args.burst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
