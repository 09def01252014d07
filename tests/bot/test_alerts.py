"""Saved searches -> alerts: matching by index, and the fan-out through the alerts function's handler
under a simulated clock (<= 30 sends in any second, 1 a second per chat, 429 honoured, blocked users
skipped and marked, one DM per user and listing)."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botkit import days_from_now, seed_listing, set_subscription

from carsbot.core.alerts import SearchCriteria
from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.runner import LocalLambdaRunner
from carsbot_dev.local.stack import LocalStack


class SimClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def _users_with_searches(
    count: int, *, criteria: SearchCriteria, active: bool = True, start: int = 10_000
) -> list[int]:
    from carsbot.adapters.db.bot import SavedSearchModel
    from carsbot.adapters.db.users import UserModel

    ids = list(range(start, start + count))
    end = days_from_now(30 if active else -1)
    with UserModel.batch_write() as users, SavedSearchModel.batch_write() as searches:
        for uid in ids:
            user = UserModel(uid, language="ru")
            user.subscription_end, user.sub_bucket = end, "sub"
            users.save(user)
            searches.save(SavedSearchModel.of(uid, f"s{uid}", criteria))
    return ids


@pytest.fixture
def alerts(bot_env: LocalStack, botapi: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The alerts function's handler with a simulated clock; ``drain()`` pumps the alerts queue into it."""
    runner = LocalLambdaRunner(bot_env)
    alerts_app = sys.modules[runner.handler("AlertsFunction").__module__]  # loaded as Lambda would
    clock = SimClock(datetime.now(UTC).timestamp())  # simulated from now on: subscriptions are real dates
    monkeypatch.setattr(alerts_app.runtime, "clock", clock.time)
    monkeypatch.setattr(alerts_app.runtime, "sleep", clock.sleep)
    botapi._clock = clock.time

    class Harness:
        sim = clock

        def job(self, listing_id: str) -> None:
            from carsbot.adapters.notify import enqueue_alert_job

            enqueue_alert_job(listing_id)

        def drain(self) -> Any:
            return runner.drain()["AlertsFunction"]

    yield Harness()
    alerts_app.runtime.close_bot()
    botapi._clock = __import__("time").monotonic


def _sends(botapi: BotApiStandin) -> list[Any]:
    return [c for c in botapi.calls_of("sendMessage") if c.status == 200]


@pytest.mark.timeout(1200)  # ~2,500 requests to moto server and the stand-in; slow on a busy machine
def test_fan_out_listing_1000_searches_within(alerts: Any, botapi: BotApiStandin) -> None:
    listing = seed_listing(brand="Toyota", model="Camry", year=2018, price=1_350_000, city="Воронеж")
    matching = SearchCriteria(brand="Toyota", model="Camry", year_from=2015, price_max=1_500_000)
    ids = _users_with_searches(1000, criteria=matching)
    _users_with_searches(
        50, criteria=SearchCriteria(brand="Toyota", model="Camry", year_from=2020), start=20_000
    )
    _users_with_searches(50, criteria=SearchCriteria(brand="Kia", model="Rio"), start=30_000)
    blocked = ids[:20]
    from carsbot.adapters.db.users import UserModel

    for uid in blocked[:10]:  # known blocked: skipped without a send
        UserModel(uid).update(actions=[UserModel.blocked.set(True)])
    botapi.blocked_chats.update(blocked[10:])  # blocked, not yet known: a 403 marks them
    botapi.fail_next(429, retry_after=3, method="sendMessage")  # Telegram asks for a pause once

    alerts.job(listing)
    stats = alerts.drain()
    assert stats.failed == 0, stats.errors

    sends = _sends(botapi)
    recipients = [int(c.params["chat_id"]) for c in sends]
    assert sorted(recipients) == sorted(ids[20:])  # every active matching subscriber, once; none blocked
    assert not set(recipients) & set(range(20_000, 20_050)) and not set(recipients) & set(
        range(30_000, 30_050)
    )
    times = sorted(c.clock_at for c in botapi.calls_of("sendMessage"))
    for i, start in enumerate(times):  # at most 30 sends in any one-second window
        assert sum(1 for t in times[i : i + 40] if t < start + 1.0) <= 30
    throttled = [c for c in botapi.calls_of("sendMessage") if c.status == 429]
    assert len(throttled) == 1
    after = [c.clock_at for c in botapi.calls_of("sendMessage") if c.clock_at > throttled[0].clock_at]
    assert after and min(after) >= throttled[0].clock_at + 3  # the retry_after was waited out
    assert all(UserModel.get(uid).blocked for uid in blocked)  # the 403s marked the rest
    text = sends[0].params["text"]
    assert "Новое объявление по вашему поиску" in text and "Toyota Camry" in text and "+7916" not in text
    markup = (
        json.loads(sends[0].params["reply_markup"])
        if isinstance(sends[0].params["reply_markup"], str)
        else sends[0].params["reply_markup"]
    )
    assert markup["inline_keyboard"][0][0] == {"text": "📞 Контакты", "callback_data": f"c:{listing}"}


def test_each_chat_gets_most_message_second(alerts: Any, botapi: BotApiStandin) -> None:
    from carsbot.adapters.notify import enqueue
    from carsbot.core.contracts import NotifyMessage

    _users_with_searches(2, criteria=SearchCriteria(city="Казань"))
    enqueue(
        [NotifyMessage(chat_id=10_000 + i % 2, text=f"notice {i}", dedupe_key=f"t:{i}") for i in range(6)]
    )
    alerts.drain()
    by_chat: dict[int, list[float]] = {}
    for call in _sends(botapi):
        by_chat.setdefault(int(call.params["chat_id"]), []).append(call.clock_at)
    assert sorted(len(v) for v in by_chat.values()) == [3, 3]
    for stamps in by_chat.values():
        assert all(b - a >= 1.0 - 1e-6 for a, b in itertools.pairwise(stamps))


def _texts_by_chat(botapi: BotApiStandin, marker: str) -> dict[int, list[str]]:
    by_chat: dict[int, list[str]] = {}
    for call in _sends(botapi):
        if marker in call.params["text"]:
            by_chat.setdefault(int(call.params["chat_id"]), []).append(call.params["text"])
    return by_chat


def test_pack_claims_keys_transaction_skips(
    alerts: Any, botapi: BotApiStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynamodb.connection.base import Connection

    from carsbot.adapters.notify import enqueue
    from carsbot.core.contracts import NotifyMessage

    _users_with_searches(8, criteria=SearchCriteria(city="Казань"))
    enqueue([NotifyMessage(chat_id=10_000 + i, text=f"первое {i}", dedupe_key=f"t:{i}") for i in range(3)])
    alerts.drain()  # t:0..2 sent and claimed
    pack = [NotifyMessage(chat_id=10_000 + i, text=f"пакет {i}", dedupe_key=f"t:{i}") for i in range(8)]
    pack.append(NotifyMessage(chat_id=10_007, text="пакет 7 again", dedupe_key="t:7"))  # the same key twice
    writes: list[str] = []
    original = Connection.dispatch

    def recording(self: Any, operation_name: str, operation_kwargs: Any) -> Any:
        if operation_name in ("PutItem", "TransactWriteItems"):
            writes.append(operation_name)
        return original(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", recording)
    assert enqueue(pack, pack=True) == 9
    alerts.drain()
    monkeypatch.setattr(Connection, "dispatch", original)
    # one transaction for the pack, cancelled naming t:0..2; again without them: claimed; no single puts
    assert writes == ["TransactWriteItems", "TransactWriteItems"]
    assert _texts_by_chat(botapi, "пакет") == {10_000 + i: [f"пакет {i}"] for i in range(3, 8)}


def test_claims_one_by_one_on_a_conflict(alerts: Any, botapi: BotApiStandin) -> None:
    """DynamoDB cancels the pack's claim transaction on a conflicting write (not a taken key): the keys
    are then claimed one by one, so the one taken before is still found and skipped."""
    from types import SimpleNamespace

    from carsbot.adapters.db.transactions import connection
    from carsbot.adapters.notify import enqueue
    from carsbot.core.contracts import NotifyMessage

    _users_with_searches(4, criteria=SearchCriteria(city="Казань"))
    enqueue([NotifyMessage(chat_id=10_000, text="первое 0", dedupe_key="c:0")])
    alerts.drain()
    cancelled: list[int] = []
    events = connection().client.meta.events

    def conflict(params: dict[str, Any], **_: Any) -> Any:  # DynamoDB's answer, at the client's edge
        events.unregister("before-call.dynamodb.TransactWriteItems", conflict)
        items = len(json.loads(params["body"])["TransactItems"])  # the request as it would be sent
        cancelled.append(items)
        reasons = [  # c:0 is taken; c:1 is being written by another transaction; c:2, c:3 are free
            {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
        ] + [{"Code": "None"}] * (items - 2)
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
        meta = {"HTTPStatusCode": 400, "HTTPHeaders": {}}
        parsed = {"Error": error, "CancellationReasons": reasons}
        return SimpleNamespace(status_code=400, headers={}), {**parsed, "ResponseMetadata": meta}

    events.register("before-call.dynamodb.TransactWriteItems", conflict)
    enqueue(
        [NotifyMessage(chat_id=10_000 + i, text=f"пакет {i}", dedupe_key=f"c:{i}") for i in range(4)],
        pack=True,
    )
    assert alerts.drain().failed == 0
    assert cancelled == [4]
    assert _texts_by_chat(botapi, "пакет") == {10_000 + i: [f"пакет {i}"] for i in range(1, 4)}


def test_pack_delivered_again_sends_only_what(alerts: Any, botapi: BotApiStandin) -> None:
    from carsbot.adapters.notify import enqueue
    from carsbot.core.contracts import NotifyMessage

    _users_with_searches(6, criteria=SearchCriteria(city="Казань"))
    botapi.fail_next(500, method="sendMessage")  # the pack's first notice fails: its record comes back
    enqueue(
        [NotifyMessage(chat_id=10_000 + i, text=f"пакет {i}", dedupe_key=f"p:{i}") for i in range(6)],
        pack=True,
    )
    stats = alerts.drain()
    assert stats.failed == 1 and stats.received == 2  # the pack, then its redelivery
    assert _texts_by_chat(botapi, "пакет") == {10_000 + i: [f"пакет {i}"] for i in range(6)}
    order = [int(c.params["chat_id"]) for c in _sends(botapi)]
    assert order[-1] == 10_000  # the failed one went out on the redelivery, after the rest


def test_inactive_or_other_listing_no_alert(alerts: Any, botapi: BotApiStandin) -> None:
    listing = seed_listing(brand="Kia", model="Rio", year=2016, price=700_000, city="Москва")
    _users_with_searches(5, criteria=SearchCriteria(brand="Kia", model="Rio"), active=False)
    _users_with_searches(3, criteria=SearchCriteria(brand="Kia"), start=40_000)
    _users_with_searches(2, criteria=SearchCriteria(city="Москва", price_max=800_000), start=50_000)
    _users_with_searches(2, criteria=SearchCriteria(city="Казань"), start=60_000)
    alerts.job(listing)
    alerts.drain()
    assert sorted(int(c.params["chat_id"]) for c in _sends(botapi)) == [
        40_000,
        40_001,
        40_002,
        50_000,
        50_001,
    ]


def test_matching_reads_only_the_candidates(bot_env: LocalStack) -> None:
    from carsbot.alerts.matching import match_listing
    from carsbot.core.alerts import ListingFacts

    _users_with_searches(30, criteria=SearchCriteria(brand="Toyota", model="Camry"))
    _users_with_searches(
        10, criteria=SearchCriteria(brand="Toyota", model="Camry", year_from=2020), start=11_000
    )
    _users_with_searches(40, criteria=SearchCriteria(brand="BMW", model="X5"), start=20_000)
    _users_with_searches(5, criteria=SearchCriteria(brand="Toyota"), start=30_000)
    _users_with_searches(4, criteria=SearchCriteria(brand="Toyota", city="Казань"), start=31_000)
    _users_with_searches(6, criteria=SearchCriteria(city="Казань"), start=32_000)
    _users_with_searches(2, criteria=SearchCriteria(price_max=2_000_000), start=40_000)
    _users_with_searches(3, criteria=SearchCriteria(price_max=500_000), start=41_000)
    result = match_listing(ListingFacts("Toyota", "Camry", 2018, 1_000_000, "Москва"))
    assert result.queries == 4  # toyota|camry, toyota|*, *|москва, *
    # never read: the BMW bucket, Kazan's bucket, the Camry searches from 2020 (below the year bound only)
    assert result.read == 30 + 5 + 4 + 2 + 3
    # read but filtered out by the index: Toyota in Kazan, any car up to 500 000
    assert result.returned == result.matched == 37
    assert sorted(result.users) == [*range(10_000, 10_030), *range(30_000, 30_005), 40_000, 40_001]


def test_saved_search_from_the_bot_is_alerted(chat: Any, alerts: Any, botapi: BotApiStandin) -> None:
    session = chat(7001)
    session.send("/start")
    set_subscription(7001, datetime.now(UTC) + timedelta(days=5))
    (saved,) = session.send("/alert камри от 2015 до 1.5 млн Воронеж")
    assert "Поиск сохранён: Toyota Camry, от 2015 г., до 1 500 000 ₽, Воронеж" in saved.text
    listing = seed_listing(2, brand="Toyota", model="Camry", year=2017, price=1_400_000, city="Воронеж")
    other = seed_listing(3, brand="Toyota", model="Camry", year=2017, price=1_900_000, city="Воронеж")
    alerts.job(listing)
    alerts.job(other)
    alerts.job(listing)  # a job delivered twice (or the listing published again): still one DM
    alerts.drain()
    dms = [
        c
        for c in _sends(botapi)
        if str(c.params["chat_id"]) == "7001" and "Новое объявление" in c.params["text"]
    ]
    assert len(dms) == 1 and "1 400 000 ₽" in dms[0].params["text"]
    (card,) = session.press(f"c:{listing}")  # the alert's button opens the card
    assert "+79161234567" in card.text
