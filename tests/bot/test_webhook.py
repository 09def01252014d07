"""The webhook entry point: secret token, duplicates, poison updates, kinds of update it does not handle."""

from __future__ import annotations

from typing import Any

from botkit import WEBHOOK_SECRET

from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.telegram_updates import UpdateFactory


def test_missing_or_wrong_secret_401_nothing(
    webhook: Any, updates: UpdateFactory, botapi: BotApiStandin
) -> None:
    user = updates.user(5001)
    for secret in (None, "wrong-token", WEBHOOK_SECRET + "x", ""):
        response = webhook(updates.text(user, "/start"), secret=secret)
        assert response["statusCode"] == 401
    assert botapi.calls_of("sendMessage") == []
    from carsbot.adapters.db.users import UserModel

    assert UserModel.count() == 0  # not even the user record was written


def test_the_same_update_twice_is_processed_once(
    webhook: Any, updates: UpdateFactory, botapi: BotApiStandin
) -> None:
    update = updates.text(updates.user(5002), "/start")
    assert webhook(update)["statusCode"] == 200
    assert webhook(update)["statusCode"] == 200
    assert webhook(update)["body"] == "duplicate"
    assert len(botapi.calls_of("sendMessage")) == 1


def test_start_welcomes_with_the_main_menu(chat: Any) -> None:
    (reply,) = chat(5003, first_name="Пётр").send("/start")
    assert "Здравствуйте, Пётр!" in reply.text
    labels = [text for text, _ in reply.buttons]
    assert labels == ["🔎 Мои поиски", "💳 Тарифы", "👤 Моя подписка", "❓ Помощь"]
    (help_reply,) = chat(5003).send("❓ Помощь")
    assert "/alert камри от 2015 до 1.5 млн Воронеж" in help_reply.text
    (help_cmd,) = chat(5003).send("/help")
    assert help_cmd.text == help_reply.text


def test_handler_error_logged_answered_200(
    webhook: Any, updates: UpdateFactory, botapi: BotApiStandin
) -> None:
    botapi.fail_next(400, description="Bad Request: something odd", method="sendMessage")
    response = webhook(updates.text(updates.user(5004), "/start"))
    assert response["statusCode"] == 200  # a poison update never blocks the ones behind it
    assert webhook(updates.text(updates.user(5004), "/help"))["statusCode"] == 200
    assert botapi.calls_of("sendMessage")[-1].status == 200


def test_bad_input_gets_short_russian_answers(
    chat: Any, webhook: Any, updates: UpdateFactory, botapi: BotApiStandin
) -> None:
    session = chat(5005)
    (reply,) = session.send("/nosuchcommand with garbage")
    assert "не знаю такой команды" in reply.text
    (reply,) = session.send("Hello, do you speak English? " * 2)
    assert "Не понял" in reply.text
    (reply,) = session.send("я" * 4000)
    assert "Не понял" in reply.text
    (reply,) = session.run(updates.sticker(session.user))
    assert "понимаю только текст" in reply.text
    (reply,) = session.run(updates.edited(session.user, "/start"))
    assert "отредактированные" in reply.text
    assert session.press("garbage:data") == []  # a stale button: only the callback answer
    assert botapi.calls_of("answerCallbackQuery")[-1].params["text"] == "Эта кнопка устарела."
    for command in ("/grant", "/alert", "/listing", "/start l_", "/start l_!!!", "/start zzz"):
        replies = session.send(command)
        assert len(replies) == 1 and replies[0].text, command
        assert all("Traceback" not in r.text for r in replies)


def test_updates_other_kinds_ignored_quietly(
    webhook: Any, updates: UpdateFactory, botapi: BotApiStandin
) -> None:
    assert webhook(updates.channel_post("news"))["statusCode"] == 200
    assert (
        webhook({"update_id": 77, "poll": {"id": "1", "question": "?", "options": []}})["statusCode"] == 200
    )
    assert botapi.calls_of("sendMessage") == []


def test_not_json_body_is_400(bot_env: Any) -> None:
    from carsbot_dev.local.runner import LocalLambdaRunner
    from carsbot_dev.local.telegram_updates import http_api_event

    event = http_api_event({"update_id": 1}, WEBHOOK_SECRET)
    event["body"] = "{not json"
    assert LocalLambdaRunner(bot_env).invoke("BotFunction", event)["statusCode"] == 400


def test_blocking_unblocking_bot_recorded(chat: Any, updates: UpdateFactory) -> None:
    from carsbot.adapters.db.users import UserModel

    session = chat(5006)
    session.send("/start")
    session.run(updates.member_status(session.user, "kicked"))
    assert UserModel.get(5006).blocked is True
    session.run(updates.member_status(session.user, "member", old="kicked"))
    assert UserModel.get(5006).blocked is False


def test_restore_drops_connections_next_update(
    webhook: Any, updates: UpdateFactory, bot_env: Any, botapi: BotApiStandin
) -> None:
    import sys

    from carsbot_dev.local.runner import LocalLambdaRunner

    app = sys.modules[LocalLambdaRunner(bot_env).handler("BotFunction").__module__]
    assert webhook(updates.text(updates.user(5007), "/start"))["statusCode"] == 200
    dispatcher = app.runtime.dispatcher
    bot_before = app.runtime._bot
    assert bot_before is not None  # created on the first request, kept for the container
    app.runtime.after_restore()  # what the SnapStart hook runs
    assert app.runtime._bot is None and app.runtime.dispatcher is dispatcher  # routers stay in the snapshot
    assert webhook(updates.text(updates.user(5007), "/help"))["statusCode"] == 200
    assert app.runtime._bot is not None and app.runtime._bot is not bot_before
    assert len(botapi.calls_of("sendMessage")) == 2
