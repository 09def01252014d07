"""Deep link -> contact card or paywall; the daily cap; sold listings; contact buttons pressed later."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
from botkit import SELLER_PHONE, SELLER_USERNAME, days_from_now, seed_listing, set_subscription

from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.telegram_updates import ChatSession


class FakePaymentPort:
    """In-memory payment provider: a YooKassa-like URL per (user, plan)."""

    def __init__(self) -> None:
        self.offers: list[tuple[int, str]] = []

    async def offer(self, user_id: int, plan: Any) -> Any:
        from carsbot.bot.ports import PaymentOffer

        self.offers.append((user_id, plan.code))
        return PaymentOffer(
            kind="url", order_id=f"o-{user_id}-{plan.code}", url=f"https://pay.example/{user_id}/{plan.code}"
        )


def _no_contacts(text: str) -> None:
    digits = re.sub(r"\D", "", text)
    assert SELLER_PHONE[2:] not in digits and "9161234567" not in digits
    assert SELLER_USERNAME not in text


def _subscriber(chat: Any, user_id: int, days: float = 10) -> ChatSession:
    session: ChatSession = chat(user_id)
    session.send("/start")
    set_subscription(user_id, days_from_now(days))
    return session


def test_subscriber_nonsubscriber_expired_link(chat: Any) -> None:
    listing = seed_listing()
    link = f"/start l_{listing}"

    stranger = chat(6001)
    (paywall,) = stranger.send(link)
    assert "Toyota Camry, 2018" in paywall.text and "1 350 000 ₽" in paywall.text
    assert "доступны по подписке" in paywall.text
    _no_contacts(paywall.text)
    assert paywall.button("30 дней").startswith("plan:")
    assert paywall.button("365 дней") == "plan:year"

    subscriber = _subscriber(chat, 6002)
    (card,) = subscriber.send(link)
    assert f"@{SELLER_USERNAME}" in card.text and SELLER_PHONE in card.text
    assert f"<code>{SELLER_PHONE}</code>" in card.call.params["text"]  # copies with one tap
    assert card.button("Написать") == f"https://t.me/{SELLER_USERNAME}"
    assert "https://t.me/carsbot_demo_news/101" in card.call.params["text"]  # our channel post
    assert "https://t.me/source_channel/1" in card.call.params["text"]  # the original post

    expired = _subscriber(chat, 6003, days=-1)
    (again,) = expired.send(link)
    assert "доступны по подписке" in again.text
    _no_contacts(again.text)


def test_contact_requests_logged_once_per_user(chat: Any) -> None:
    from carsbot.adapters.db.bot import ContactRequestModel
    from carsbot.adapters.db.users import UserModel

    listing = seed_listing()
    session = _subscriber(chat, 6010)
    for _ in range(3):
        (card,) = session.send(f"/start l_{listing}")
        assert SELLER_PHONE in card.text
    assert [r.listing_id for r in ContactRequestModel.query(6010)] == [listing]
    assert UserModel.get(6010).contact_requests == 1


def test_51st_contact_card_day_refused(chat: Any) -> None:
    from carsbot.adapters.db.bot import ContactRequestModel

    listings = [seed_listing(n) for n in range(1, 52)]
    session = _subscriber(chat, 6020)
    for listing in listings[:50]:
        (card,) = session.send(f"/start l_{listing}")
        assert SELLER_PHONE in card.text
    (refusal,) = session.send(f"/start l_{listings[50]}")
    assert "дневной лимит" in refusal.text and "50" in refusal.text
    _no_contacts(refusal.text)
    assert sum(1 for _ in ContactRequestModel.query(6020)) == 50
    (reopened,) = session.send(f"/start l_{listings[0]}")  # already opened: still available
    assert SELLER_PHONE in reopened.text


def test_a_card_is_counted_only_if_it_was_sent(chat: Any, botapi: BotApiStandin) -> None:
    from carsbot.adapters.db.bot import ContactRequestModel

    listing = seed_listing()
    session = _subscriber(chat, 6030)
    botapi.fail_next(500, method="sendMessage")
    assert session.send(f"/start l_{listing}") == []
    assert list(ContactRequestModel.query(6030)) == []
    (card,) = session.send(f"/start l_{listing}")
    assert SELLER_PHONE in card.text
    assert len(list(ContactRequestModel.query(6030))) == 1


def test_sold_unknown_and_malformed_listings(chat: Any) -> None:
    sold = seed_listing(7, status="sold")
    session = _subscriber(chat, 6040)
    (reply,) = session.send(f"/start l_{sold}")
    assert "продан или снят с продажи" in reply.text
    _no_contacts(reply.text)
    (reply,) = session.send("/start l_AAAAAAAAAAAA")
    assert "не найдено" in reply.text
    (reply,) = session.send("/start bogus-payload")
    assert "Ссылка недействительна" in reply.text


def test_old_contact_button_subscription_ended(chat: Any) -> None:
    listing = seed_listing()
    session = _subscriber(chat, 6050)
    (card,) = session.press(f"c:{listing}")
    assert SELLER_PHONE in card.text
    set_subscription(6050, days_from_now(-0.01))
    (reply,) = session.press(f"c:{listing}")
    assert "доступны по подписке" in reply.text
    _no_contacts(reply.text)


def test_deep_link_reads_two_requests_counts(chat: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per update: the update_id claim, one read of the user record with the dialog state, one read of
    the listing with its hidden flag, request row and today's counter; a new card adds one transaction."""
    from pynamodb.connection.base import Connection

    from carsbot.adapters.db.users import UserModel

    listing = seed_listing()
    session = _subscriber(chat, 6065)
    operations: list[str] = []
    original = Connection.dispatch

    def recording(self: Any, operation_name: str, operation_kwargs: Any) -> Any:
        operations.append(operation_name)
        return original(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", recording)
    (card,) = session.send(f"/start l_{listing}")
    assert SELLER_PHONE in card.text
    assert operations == ["PutItem", "BatchGetItem", "BatchGetItem", "TransactWriteItems"]
    operations.clear()
    (card,) = session.send(f"/start l_{listing}")  # reopened: nothing to count
    assert SELLER_PHONE in card.text
    assert operations == ["PutItem", "BatchGetItem", "BatchGetItem"]
    monkeypatch.setattr(Connection, "dispatch", original)
    assert UserModel.get(6065).contact_requests == 1


def test_hidden_listing_is_not_shown(chat: Any) -> None:
    from carsbot.adapters.db.bot import set_listing_hidden

    listing = seed_listing()
    set_listing_hidden(listing, True, by=1)
    session = _subscriber(chat, 6060)
    (reply,) = session.send(f"/start l_{listing}")
    assert "не найдено" in reply.text


def _bot_app(bot_env: Any) -> Any:
    from carsbot_dev.local.runner import LocalLambdaRunner

    return sys.modules[LocalLambdaRunner(bot_env).handler("BotFunction").__module__]


@pytest.fixture
def payments(bot_env: Any, monkeypatch: pytest.MonkeyPatch) -> FakePaymentPort:
    from carsbot.config import reset_settings

    bot_app = _bot_app(bot_env)
    port = FakePaymentPort()
    monkeypatch.setattr(bot_app, "payment_port", lambda settings: port)
    reset_settings()  # the handler rebuilds its dispatcher with the port
    return port


def test_plan_buttons_start_payment_through(chat: Any, payments: FakePaymentPort) -> None:
    listing = seed_listing()
    session = chat(6070)
    (paywall,) = session.send(f"/start l_{listing}")
    (offer,) = session.press(paywall.button("30 дней"))
    assert offer.button("Оплатить") == "https://pay.example/6070/month"
    assert payments.offers == [(6070, "month")]
    (plans,) = session.send("💳 Тарифы")
    assert "30 дней — 190 ₽" in plans.text and "365 дней — 1 990 ₽" in plans.text


def test_payment_unavailable_try_later(
    chat: Any, bot_env: Any, monkeypatch: pytest.MonkeyPatch, botapi: BotApiStandin
) -> None:

    from carsbot.bot.ports import PaymentUnavailable
    from carsbot.config import reset_settings

    class DownPort:
        async def offer(self, user_id: int, plan: Any) -> Any:
            raise PaymentUnavailable("provider down")

    monkeypatch.setattr(_bot_app(bot_env), "payment_port", lambda settings: DownPort())
    reset_settings()
    session = chat(6080)
    session.send("/start")
    assert session.press("plan:month") == []
    answer = botapi.calls_of("answerCallbackQuery")[-1]
    assert "Попробуйте позже" in answer.params["text"]


def test_my_subscription_status_days_renewal(chat: Any) -> None:
    session = chat(6090)
    (reply,) = session.send("👤 Моя подписка")
    assert "нет подписки" in reply.text
    set_subscription(6090, days_from_now(21.5))
    (reply,) = session.send("👤 Моя подписка")
    assert "Подписка действует до" in reply.text and "Осталось 22 дня." in reply.text
    assert "Автопродление: выключено." in reply.text
    (toggled,) = session.press(reply.button("Включить автопродление"))
    assert "Автопродление: включено." in toggled.text
    (plans,) = session.press("renew")
    assert plans.button("30 дней") == "plan:month"


def test_parallel_new_cards_stop_at_cap(chat: Any) -> None:
    """Six new cards reserved at once with one left of today's 50: exactly one is counted (a transaction
    conditioned on the counter), and the same card reserved twice at once is counted once."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from carsbot.adapters.db.bot import ContactRequestModel
    from carsbot.adapters.db.users import UserModel
    from carsbot.bot import contact_log
    from carsbot_dev.local.moto_isolation import serialize_dynamodb

    serialize_dynamodb()  # moto applies transactions item by item; DynamoDB serialises conflicting ones
    _subscriber(chat, 6070)
    now = datetime.now(UTC)
    assert all(contact_log.reserve(6070, f"seen-{n}", now, 50) for n in range(49))
    with ThreadPoolExecutor(max_workers=6) as pool:
        won = list(pool.map(lambda n: contact_log.reserve(6070, f"new-{n}", now, 50), range(6)))
    assert won.count(True) == 1
    assert sum(1 for _ in ContactRequestModel.query(6070)) == 50
    assert UserModel.get(6070).contact_requests == 50

    _subscriber(chat, 6071)
    with ThreadPoolExecutor(max_workers=2) as pool:
        twice = list(pool.map(lambda _: contact_log.reserve(6071, "same", now, 50), range(2)))
    assert sorted(twice) == [False, True] and UserModel.get(6071).contact_requests == 1


def test_lost_race_is_decided_again(chat: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parallel request takes the last card of today's 50 between this request's read and its write:
    this one is refused with the daily-limit message, no card is shown and nothing more is counted."""
    from datetime import UTC, datetime

    from carsbot.adapters.db.users import UserModel
    from carsbot.bot import contact_log

    raced = seed_listing(3)
    session = _subscriber(chat, 6072)
    now = datetime.now(UTC)
    assert all(contact_log.reserve(6072, f"seen-{n}", now, 50) for n in range(49))
    read = contact_log.lookup

    def read_then_lose(user: Any, listing_id: str, when: Any) -> Any:
        seen = read(user, listing_id, when)
        if listing_id == raced and user is not None:
            monkeypatch.setattr(contact_log, "lookup", read)  # once: the other request lands now
            assert contact_log.reserve(6072, "the-other-card", when, 50)
        return seen

    monkeypatch.setattr(contact_log, "lookup", read_then_lose)
    (refusal,) = session.send(f"/start l_{raced}")
    assert "дневной лимит" in refusal.text
    _no_contacts(refusal.text)
    assert UserModel.get(6072).contact_requests == 50
