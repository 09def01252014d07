"""Admin commands (and a non-admin trying each), saved searches by dialog and by one line, the i18n
catalogue, and the bot's tables against the template."""

from __future__ import annotations

from typing import Any

import pytest
from botkit import ADMIN_ID, days_from_now, seed_listing, set_subscription

from carsbot_dev.local.botapi_standin import BotApiStandin

ADMIN_COMMANDS = [
    "/stats",
    "/channels",
    "/channels add @some_cars",
    "/grant 1234 30",
    "/revoke 1234",
    "/listing abc",
    "/broadcast Всем привет",
]


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
def test_non_admin_gets_no_hint_admin_commands(chat: Any, command: str) -> None:
    from carsbot.adapters.db.models import ChannelModel

    (reply,) = chat(9101).send(command)
    assert reply.text == "Я не знаю такой команды. Воспользуйтесь меню или /help."
    assert ChannelModel.count() == 0


def test_grant_and_revoke_by_id_and_username(chat: Any) -> None:
    from carsbot.adapters.db.users import UserModel

    chat(9201, username="Ivan_Petrov").send("/start")
    admin = chat(ADMIN_ID)
    (reply,) = admin.send("/grant @ivan_petrov 30")
    assert "начислено дней: 30" in reply.text
    end = UserModel.get(9201).subscription_end
    assert end is not None and abs((end - days_from_now(30)).total_seconds()) < 120
    (reply,) = admin.send("/grant 9201 10")  # extends from the current end
    assert abs((UserModel.get(9201).subscription_end - end).total_seconds() - 10 * 86400) < 1
    (reply,) = admin.send("/revoke @Ivan_Petrov")
    assert "отозвана" in reply.text and UserModel.get(9201).subscription_end is None
    for bad in ("/grant", "/grant 9201", "/grant 9201 -5", "/grant 9201 lots", "/grant @nobody 5", "/revoke"):
        (reply,) = admin.send(bad)
        assert reply.text.startswith(("Формат", "Пользователь не найден")), bad


def test_stats_channels_listing(chat: Any) -> None:
    from carsbot.adapters.db.models import ChannelModel

    listing = seed_listing()
    subscriber = chat(9301)
    subscriber.send("/start")
    set_subscription(9301, days_from_now(3))
    subscriber.send(f"/start l_{listing}")
    admin = chat(ADMIN_ID)
    (stats,) = admin.send("/stats")
    assert (
        "Сегодня" in stats.text
        and "Запросов контактов: 1" in stats.text
        and "Активных подписчиков: 1" in stats.text
        and "Объявлений: 1" in stats.text  # the seeded listing, found through the by-created-day index
    )
    (added,) = admin.send("/channels add t.me/some_cars")
    assert "добавлен" in added.text and ChannelModel.get("@some_cars").status == "active"
    (paused,) = admin.send("/channels pause @some_cars")
    assert "на паузе" in paused.text and ChannelModel.get("@some_cars").status == "paused"
    (listed,) = admin.send("/channels")
    assert "@some_cars" in listed.text and "на паузе" in listed.text
    (bad,) = admin.send("/channels add not a channel!")
    assert "не ссылка на канал" in bad.text
    (hidden,) = admin.send(f"/listing {listing} hide")
    assert "скрыто" in hidden.text
    (card,) = subscriber.send(f"/start l_{listing}")
    assert "не найдено" in card.text
    admin.send(f"/listing {listing} show")
    (card,) = subscriber.send(f"/start l_{listing}")
    assert "+79161234567" in card.text


def test_broadcast_preview_confirm_and_fan_out(chat: Any, bot_env: Any, botapi: BotApiStandin) -> None:
    from carsbot.adapters.db.users import UserModel
    from carsbot_dev.local.runner import LocalLambdaRunner

    for uid in (9401, 9402, 9403):
        chat(uid).send("/start")
    UserModel(9403).update(actions=[UserModel.blocked.set(True)])
    admin = chat(ADMIN_ID)
    (preview,) = admin.send("/broadcast Скидка <b>50%</b> сегодня")
    assert "Предпросмотр" in preview.text and preview.button("Отправить всем") == "bc:send"
    admin.press("bc:send")
    LocalLambdaRunner(bot_env).drain()
    got = {uid: [m.html for m in botapi.private_messages(uid)] for uid in (9401, 9402, 9403)}
    assert (
        "Скидка &lt;b&gt;50%&lt;/b&gt; сегодня" in got[9401]
        and "Скидка &lt;b&gt;50%&lt;/b&gt; сегодня" in got[9402]
    )
    assert not any("Скидка" in m for m in got[9403])  # blocked: not sent
    assert admin.press("bc:send") == []  # nothing pending any more
    assert "Нечего отправлять" in botapi.calls_of("answerCallbackQuery")[-1].params["text"]


def test_saved_search_dialog_list_delete_limit(chat: Any) -> None:
    from carsbot.adapters.db.bot import SavedSearchModel

    session = chat(9501)
    session.send("/start")
    (empty,) = session.send("🔎 Мои поиски")
    assert "нет сохранённых поисков" in empty.text
    (prompt,) = session.press(empty.button("Новый поиск"))
    assert "марка и модель" in prompt.text
    (reply,) = session.send("абракадабра")
    assert "Не узнал марку" in reply.text
    (years,) = session.send("Kia Rio")
    assert "годы" in years.text
    (price,) = session.press("search:skip")
    assert "Максимальная цена" in price.text
    (city,) = session.send("900к")
    assert "город" in city.text
    (saved,) = session.send("в Казани")
    assert "Поиск сохранён: Kia Rio, до 900 000 ₽, Казань" in saved.text
    (listing,) = session.send("/searches")
    assert "1. Kia Rio, до 900 000 ₽, Казань" in listing.text
    for n in range(9):
        session.send(f"/alert камри от {2010 + n}")
    (limit,) = session.send("/alert солярис")
    assert "уже 10 поисков" in limit.text
    assert sum(1 for _ in SavedSearchModel.query(9501)) == 10
    (listed,) = session.send("🔎 Мои поиски")
    (after,) = session.press(listed.button("Удалить 1"))
    assert "Ваши поиски (9 из 10)" in after.text
    (bad,) = session.send("/alert")
    assert "Не понял запрос" in bad.text


def test_catalogue_complete_compiled_like(tmp_path: Any) -> None:
    import gettext
    import shutil
    import subprocess

    from carsbot.core.i18n import LOCALES_DIR, compile_catalogues, read_po
    from carsbot_dev.i18n_catalogue import problems

    assert problems() == []
    compile_catalogues(LOCALES_DIR, tmp_path)
    mo = tmp_path / "ru" / "LC_MESSAGES" / "messages.mo"
    ours = gettext.GNUTranslations(mo.open("rb"))
    po = LOCALES_DIR / "ru" / "LC_MESSAGES" / "messages.po"
    entries = [e for e in read_po(po) if e.msgid]
    assert len(entries) > 100
    for entry in entries:
        assert ours.gettext(entry.msgid) == entry.msgstr[0] or entry.msgid_plural
    assert ours.ngettext("{n} day left.", "{n} days left.", 21) == "Остался {n} день."
    assert ours.ngettext("{n} day left.", "{n} days left.", 3) == "Осталось {n} дня."
    if shutil.which("msgfmt"):  # GNU gettext's compiler, where installed, reads the same catalogue
        theirs_path = tmp_path / "gnu.mo"
        subprocess.run(["msgfmt", "-o", str(theirs_path), str(po)], check=True)
        theirs = gettext.GNUTranslations(theirs_path.open("rb"))
        assert all(ours.gettext(e.msgid) == theirs.gettext(e.msgid) for e in entries)


def test_bot_tables_match_the_template(bot_env: Any) -> None:
    from carsbot.adapters.aws import client
    from carsbot.adapters.db.bot import BotStateModel, ContactRequestModel, SavedSearchModel
    from carsbot.adapters.db.users import UserModel

    ddb = client("dynamodb")
    for model in (UserModel, SavedSearchModel, ContactRequestModel, BotStateModel):
        table = ddb.describe_table(TableName=model.Meta.table_name)["Table"]
        keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
        expected = {model._hash_keyname: "HASH"}
        if model._range_keyname:
            expected[model._range_keyname] = "RANGE"
        assert keys == expected, model.Meta.table_name
        declared = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
        assert {idx.Meta.index_name for idx in model._indexes.values()} == set(declared)
    ttl = ddb.describe_time_to_live(TableName=BotStateModel.Meta.table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
