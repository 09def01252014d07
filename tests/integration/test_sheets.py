"""The Google Sheets console: real gspread over HTTP against the Sheets stand-in, DynamoDB in moto."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pynamodb.connection.base import Connection

from carsbot.adapters import events, moderation
from carsbot.adapters.db import ChannelModel, ListingModel, PostModel
from carsbot.adapters.db.listings import ListingsRepository
from carsbot.adapters.db.orders import PaymentModel
from carsbot.adapters.db.posts import PostsRepository
from carsbot.adapters.db.users import UserModel
from carsbot.adapters.filters_source import FiltersSource
from carsbot.adapters.secrets import reset_secrets_cache
from carsbot.adapters.sheets import SheetsGateway, open_gateway
from carsbot.channels import ChannelRegistry
from carsbot.commands.sheets import run_init
from carsbot.config import get_settings
from carsbot.sheets import analytics
from carsbot.sheets.sync import SheetsSync, run_sync
from carsbot.sheets.template import TemplateBuilder
from carsbot_dev.local.sheets_grid import col_index
from carsbot_dev.local.sheets_standin import SheetsStandin, fake_service_account

SHEET = "sheet-test"


@pytest.fixture(scope="module")
def standin() -> Iterator[SheetsStandin]:
    with SheetsStandin() as server:
        yield server


@pytest.fixture
def console(aws, standin, monkeypatch):  # type: ignore[no-untyped-def]
    """A fresh spreadsheet with the template, the gateway authorised by a service-account key."""
    from carsbot.adapters.aws import client

    standin.create(SHEET)
    standin.clear_hooks()
    standin.read_only = standin.down = standin.refuse_tokens = False
    key = fake_service_account(standin.root_url + "/token")
    client("secretsmanager").put_secret_value(
        SecretId=aws.secrets["SheetsServiceAccountSecret"], SecretString=key
    )
    monkeypatch.setenv("CARSBOT_SHEETS_SPREADSHEET_ID", SHEET)
    monkeypatch.setenv("CARSBOT_SHEETS_API_BASE", standin.root_url)
    get_settings.cache_clear()
    reset_secrets_cache()
    gateway = open_gateway(get_settings())
    gateway.http.backoff_base = 0.01
    TemplateBuilder(gateway, get_settings().plans).run()
    standin.reset_counts()
    return gateway


def sync(gateway: SheetsGateway, sent: list | None = None, now: datetime | None = None):  # type: ignore[no-untyped-def]
    sink = sent if sent is not None else []
    clock = (lambda: now) if now else (lambda: datetime.now(UTC))
    return SheetsSync(get_settings(), gateway, send=sink.append, clock=clock).run()


def rows(standin: SheetsStandin, tab: str) -> list[dict[str, str]]:
    values = standin.values(SHEET, tab)
    header = values[0]
    return [dict(zip(header, line + [""] * (len(header) - len(line)), strict=False)) for line in values[1:]]


def set_cell(standin: SheetsStandin, tab: str, a1: str, value: object) -> None:
    with standin.edit(SHEET) as book:
        book.write(f"'{tab}'!{a1}", [[value]], "USER_ENTERED")


def col_of(standin: SheetsStandin, tab: str, header: str) -> str:
    letters = standin.values(SHEET, tab)[0].index(header)
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[letters]


def add_channel_row(standin: SheetsStandin, row: int, link: str, active: object = "TRUE") -> None:
    set_cell(standin, "Каналы", f"A{row}", link)
    set_cell(standin, "Каналы", f"B{row}", active)


def test_new_rows_register_steady_state(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    add_channel_row(standin, 3, "https://t.me/cars_spb", "да")
    add_channel_row(standin, 4, "t.me/+AbCdEfGhIjKlMnOp", "false")
    first = sync(console)
    status = {c.ref: c.status for c in ChannelModel.scan()}
    assert status == {"@cars_msk": "active", "@cars_spb": "active", "+AbCdEfGhIjKlMnOp": "paused"}
    assert {r["Состояние"] for r in rows(standin, "Каналы")} == {"ожидает подключения", "на паузе"}
    assert first.requests == 3 and first.writes == 1  # read, key re-read, one write
    standin.reset_counts()
    steady = sync(console)
    assert steady.requests == 1 and standin.count() == 1 and standin.count("values.batchGet") == 1


def test_admin_edit_between_read_write(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    note_col = col_of(standin, "Каналы", "Заметка")
    reads = []

    def admin_types(request) -> None:  # type: ignore[no-untyped-def]
        if request.kind == "values.batchGet":
            reads.append(request)
            if len(reads) == 2:  # after the sync read the tabs, before it writes
                book = standin.books[SHEET]
                book.write(f"'Каналы'!{note_col}2", [["проверенный"]], "RAW")
                book.write("'Каналы'!B2", [[False]], "RAW")

    standin.before(admin_types)
    sync(console)
    row = rows(standin, "Каналы")[0]
    assert row["Заметка"] == "проверенный" and row["Активен"] == "FALSE"  # not overwritten
    assert row["Состояние"] == "ожидает подключения"
    standin.clear_hooks()
    sync(console)  # and the untick is applied on the next sync
    assert ChannelModel.get("@cars_msk").status == "paused"


def test_rows_inserted_mid_sync_no_foreign(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@aaa_cars")
    add_channel_row(standin, 3, "@bbb_cars")
    sync(console)
    ChannelModel("@bbb_cars").update(actions=[ChannelModel.title.set("Би-би-би")])
    calls = []

    def insert_row(request) -> None:  # type: ignore[no-untyped-def]
        if request.kind == "values.batchGet":
            calls.append(request)
            if len(calls) == 2:
                book = standin.books[SHEET]
                sheet = book.sheet("Каналы")
                book.apply(
                    {
                        "insertDimension": {
                            "range": {
                                "sheetId": sheet.sheet_id,
                                "dimension": "ROWS",
                                "startIndex": 1,
                                "endIndex": 2,
                            }
                        }
                    }
                )
                book.write("'Каналы'!A2", [["@new_cars"]], "RAW")

    standin.before(insert_row)
    sync(console)
    by_link = {r["Ссылка"]: r for r in rows(standin, "Каналы")}
    assert by_link["@bbb_cars"]["Название"] == "Би-би-би"
    assert by_link["@new_cars"]["Название"] == "" and by_link["@aaa_cars"]["Название"] == ""


def test_sorting_by_title_between_syncs(console, standin) -> None:  # type: ignore[no-untyped-def]
    for row, link in enumerate(["@zeta_cars", "@alpha_cars", "@mid_cars"], start=2):
        add_channel_row(standin, row, link)
    sync(console)
    titles = {"@zeta_cars": "Альфа", "@alpha_cars": "Яуза", "@mid_cars": "Москва"}
    for ref, title in titles.items():
        ChannelModel(ref).update(
            actions=[ChannelModel.title.set(title), ChannelModel.published_count.set(len(title))]
        )
    sync(console)
    with standin.edit(SHEET) as book:
        sheet = book.sheet("Каналы")
        title_col = col_index(col_of(standin, "Каналы", "Название"))
        book.apply(
            {
                "sortRange": {
                    "range": {"sheetId": sheet.sheet_id, "startRowIndex": 1},
                    "sortSpecs": [{"dimensionIndex": title_col}],
                }
            }
        )
    for ref in titles:
        ChannelModel(ref).update(actions=[ChannelModel.published_count.add(10)])
    sync(console)
    for row in rows(standin, "Каналы"):
        assert row["Название"] == titles[row["Ссылка"]]
        assert row["Опубликовано"] == str(len(titles[row["Ссылка"]]) + 10)


def test_deleted_row_deactivates_garbage(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@keep_cars")
    add_channel_row(standin, 3, "@gone_cars")
    add_channel_row(standin, 4, "not a link!!")
    add_channel_row(standin, 5, "t.me/keep_cars")
    result = sync(console)
    checks = [r["Проверка строки"] for r in rows(standin, "Каналы")]
    assert checks[2].startswith("неверная ссылка") and checks[3].startswith("дубликат строки 2")
    assert len(result.problems) == 2 and any("неверная" in e["details"] for e in events.recent())
    with standin.edit(SHEET) as book:
        book.apply(
            {
                "deleteDimension": {
                    "range": {
                        "sheetId": book.sheet("Каналы").sheet_id,
                        "dimension": "ROWS",
                        "startIndex": 2,
                        "endIndex": 3,
                    }
                }
            }
        )
    sync(console)
    assert ChannelModel.get("@gone_cars").status == "removed"
    assert ChannelModel.get("@keep_cars").status == "active"


def test_channel_added_elsewhere_gets_row_cli(console, standin) -> None:  # type: ignore[no-untyped-def]
    ChannelRegistry().add("@from_cli")
    sync(console)
    assert [r["Ссылка"] for r in rows(standin, "Каналы")] == ["@from_cli"]
    ChannelRegistry().pause("@from_cli")  # from the bot or the CLI; the sheet row still says TRUE
    sync(console)
    assert ChannelModel.get("@from_cli").status == "paused"
    assert rows(standin, "Каналы")[0]["Состояние"] == "на паузе"


def grant_cols(standin: SheetsStandin) -> dict[str, str]:
    return {h: col_of(standin, "Подписчики", h) for h in ("Выдать (дней или дата)", "Отозвать", "Применено")}


def test_manual_grant_applied_exactly_once(console, standin) -> None:  # type: ignore[no-untyped-def]
    UserModel(1001, username="ivan", first_name="Иван").save()
    sync(console)
    assert rows(standin, "Подписчики")[0]["ID пользователя"] == "1001"
    cols = grant_cols(standin)
    set_cell(standin, "Подписчики", f"{cols['Выдать (дней или дата)']}2", "30")
    now = datetime.now(UTC)
    for _ in range(5):
        sync(console, now=now)
    end = UserModel.get(1001).subscription_end
    assert end is not None and abs((end - now) - timedelta(days=30)) < timedelta(seconds=5)
    row = rows(standin, "Подписчики")[0]
    assert row["Применено"].startswith("✓ +30 дн.") and row["Выдать (дней или дата)"] == "30"
    set_cell(standin, "Подписчики", f"{cols['Выдать (дней или дата)']}2", "Месяц")  # a new value: a new grant
    sync(console, now=now)
    sync(console, now=now)
    assert UserModel.get(1001).subscription_end - end == timedelta(days=30)
    set_cell(standin, "Подписчики", f"{cols['Выдать (дней или дата)']}2", "what?")
    sync(console, now=now)
    assert rows(standin, "Подписчики")[0]["Применено"].startswith("ошибка: не понимаю")
    set_cell(standin, "Подписчики", f"{cols['Отозвать']}2", "да")
    sync(console, now=now)
    sync(console, now=now)
    assert UserModel.get(1001).subscription_end is None


def test_lowercase_and_russian_booleans(console, standin) -> None:  # type: ignore[no-untyped-def]
    for row, (link, value) in enumerate(
        [("@a_cars", "true"), ("@b_cars", "Нет"), ("@c_cars", "✓"), ("@d_cars", "ДА"), ("@e_cars", "False")],
        start=2,
    ):
        add_channel_row(standin, row, link, value)
    sync(console)
    status = {c.ref: c.status for c in ChannelModel.scan()}
    assert status == {
        "@a_cars": "active",
        "@b_cars": "paused",
        "@c_cars": "active",
        "@d_cars": "active",
        "@e_cars": "paused",
    }
    add_channel_row(standin, 7, "@f_cars", "может быть")
    sync(console)
    assert rows(standin, "Каналы")[5]["Проверка строки"].startswith("«Активен»: не понимаю")


def filter_row(standin: SheetsStandin, label: str) -> int:
    return next(i for i, r in enumerate(rows(standin, "Фильтры"), start=2) if r["Параметр"] == label)


def test_invalid_min_price_keeps_old_flags(console, standin) -> None:  # type: ignore[no-untyped-def]
    row = filter_row(standin, "Мин. цена, ₽")
    set_cell(standin, "Фильтры", f"B{row}", "300 тыс")
    set_cell(standin, "Фильтры", f"B{filter_row(standin, 'Исключающие слова')}", "куплю, обмен")
    sync(console)
    source = FiltersSource(get_settings(), ttl=60)
    assert source.rules().min_price == 300_000 and list(source.rules().exclude_keywords) == ["куплю", "обмен"]
    set_cell(standin, "Фильтры", f"B{row}", "дёшево")
    sync(console)
    assert FiltersSource(get_settings()).rules().min_price == 300_000
    status = rows(standin, "Фильтры")[row - 2]["Статус"]
    assert status.startswith("ошибка: не понимаю «дёшево»") and "300000" in status


def test_moderation_approve_and_reject(console, standin) -> None:  # type: ignore[no-untyped-def]
    set_cell(standin, "Фильтры", f"B{filter_row(standin, 'Модерация')}", "да")
    sync(console)
    assert FiltersSource(get_settings()).moderation() is True
    for lid, brand in (("L1", "Toyota"), ("L2", "Lada")):
        listing = ListingModel(
            lid, post_id=f"1:{lid}", channel_id=1, brand=brand, model="X", year=2015, price=900_000
        )
        listing.save()
        assert moderation.hold(listing)
    sent: list = []
    sync(console, sent)
    queue = {r["ID объявления"]: r for r in rows(standin, "Очередь")}
    assert queue["L1"]["Решение"] == "PENDING" and queue["L1"]["Автомобиль"] == "Toyota X 2015" and not sent
    decision = col_of(standin, "Очередь", "Решение")
    reason = col_of(standin, "Очередь", "Причина")
    index = {r["ID объявления"]: i for i, r in enumerate(rows(standin, "Очередь"), start=2)}
    set_cell(standin, "Очередь", f"{decision}{index['L1']}", "approved")
    set_cell(standin, "Очередь", f"{decision}{index['L2']}", "REJECTED")
    set_cell(standin, "Очередь", f"{reason}{index['L2']}", "битая")
    sync(console, sent)
    sync(console, sent)
    assert [m.listing_id for m in sent] == ["L1"]
    assert ListingModel.get("L1").status == "pending" and ListingModel.get("L2").status == "rejected"
    queue = {r["ID объявления"]: r for r in rows(standin, "Очередь")}
    assert queue["L2"]["Результат"].endswith("битая") and queue["L1"]["Результат"].startswith("✓ одобрено")


def test_init_twice_is_a_no_op(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    before = json.dumps(standin.books[SHEET].metadata()) + repr([s.rows for s in standin.books[SHEET].sheets])
    report = TemplateBuilder(console, get_settings().plans).run()
    after = json.dumps(standin.books[SHEET].metadata()) + repr([s.rows for s in standin.books[SHEET].sheets])
    assert not report.changed and before == after
    assert standin.count(reads=False) == 0 and report.requests == 2


def test_init_repairs_moved_header_keeps_admin(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    with standin.edit(SHEET) as book:  # the admin drags "Заметка" to column Z and deletes "Название"
        book.write("'Каналы'!F1", [[""]], "RAW")
        book.write("'Каналы'!Z1", [["Заметка"]], "RAW")
        book.write("'Каналы'!G1", [[""]], "RAW")
    report = TemplateBuilder(console, get_settings().plans).run()
    assert report.headers_added == ["Каналы/Название"]
    assert standin.values(SHEET, "Каналы")[1][:2] == ["@cars_msk", "TRUE"]
    sync(console)
    assert rows(standin, "Каналы")[0]["Состояние"] == "ожидает подключения"


def test_429_retried_google_down_reported(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    standin.fail_next(429, times=2)
    result = sync(console)
    assert ChannelModel.get("@cars_msk").status == "active" and result.requests == 5
    standin.down = True
    failed = run_sync(get_settings(), console)
    assert (
        "unavailable" in failed.problems[0] and failed.requests == 4
    )  # bounded: four attempts, then reported
    assert run_sync(get_settings(), console).problems  # still down a minute later...
    assert len([e for e in events.recent() if "не отвечает" in e["details"]]) == 1  # ...reported once
    standin.down = False
    standin.read_only = True
    add_channel_row(standin, 3, "@second_cars")
    ro = run_sync(get_settings(), console)
    assert "forbidden" in ro.problems[0] and ChannelModel.get("@second_cars").status == "active"
    assert events.recent()[0]["details"].startswith("нет доступа к таблице")
    standin.read_only = False
    caught_up = run_sync(get_settings(), console)  # shared as editor again: the bot cells are written
    assert not caught_up.problems and rows(standin, "Каналы")[1]["Состояние"] == "ожидает подключения"
    assert any(r["Подробности"].startswith("Google Sheets не отвечает") for r in rows(standin, "Логи"))
    assert events.recent()[0]["details"] == "синхронизация с Google Sheets снова работает"


def test_revoked_key_token_endpoint_down(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    standin.refuse_tokens = True
    fresh = open_gateway(get_settings())  # a new container: no token yet
    fresh.http.backoff_base = 0.01
    refused = run_sync(get_settings(), fresh)
    assert "forbidden" in refused.problems[0] and "token was refused" in refused.problems[0]
    assert ChannelModel.count() == 0 and standin.count() == 0  # nothing read, nothing applied
    standin.refuse_tokens = False
    standin.down = True  # the token endpoint too (google-auth retries it itself, then we do)
    fresh = open_gateway(get_settings())
    fresh.http.backoff_base, fresh.http.max_attempts = 0.01, 2
    assert "unavailable" in run_sync(get_settings(), fresh).problems[0]
    standin.down = False
    assert not run_sync(get_settings(), fresh).problems
    assert ChannelModel.get("@cars_msk").status == "active" and standin.tokens_issued >= 2


def test_merged_link_cells_keep_channel(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    add_channel_row(standin, 3, "@cars_spb")
    sync(console)
    ChannelRegistry().save_resolution(
        "@cars_spb", channel_id=1700000001, access_hash=1, title="СПб", username="cars_spb"
    )
    sync(console)  # the bot writes the channel id into the row
    with standin.edit(SHEET) as book:  # an admin merges A2:A3: Google keeps the top-left value only
        grid = {"sheetId": book.sheet("Каналы").sheet_id, "startRowIndex": 1, "endRowIndex": 3}
        grid |= {"startColumnIndex": 0, "endColumnIndex": 1}
        book.apply({"mergeCells": {"range": grid, "mergeType": "MERGE_ALL"}})
    for _ in range(2):
        result = sync(console)
        assert ChannelModel.get("@cars_spb").status == "active" == ChannelModel.get("@cars_msk").status
        assert any("строка 3: пустая ссылка" in p for p in result.problems)
    assert rows(standin, "Каналы")[1]["Проверка строки"].startswith("нет ссылки (объединённые ячейки?)")


def test_moved_and_deleted_headers(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    sync(console)
    with standin.edit(SHEET) as book:  # the admin moves "Активен" to column Z and unticks it there
        book.write("'Каналы'!B1:B2", [[""], [""]], "RAW")
        book.write("'Каналы'!Z1:Z2", [["Активен"], [False]], "RAW")
    sync(console)
    assert ChannelModel.get("@cars_msk").status == "paused"
    with standin.edit(SHEET) as book:  # then deletes its header: the tab cannot be read safely
        book.write("'Каналы'!Z1", [[""]], "RAW")
        book.write("'Каналы'!A3", [["@new_cars"]], "RAW")
    result = sync(console)
    assert any("«Каналы»: нет заголовков Активен" in p for p in result.problems)
    assert ChannelModel.get("@cars_msk").status == "paused" and ChannelModel.count("@new_cars") == 0


def test_seller_contacts_parsed_and_flagged(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    phone, telegram = (
        col_of(standin, "Каналы", "Телефон продавца"),
        col_of(standin, "Каналы", "Telegram продавца"),
    )
    set_cell(standin, "Каналы", f"{phone}2", "8 (900) 000-00-00")
    set_cell(standin, "Каналы", f"{telegram}2", "t.me/Seller_Test")
    sync(console)
    item = ChannelModel.get("@cars_msk")
    assert item.seller_phone == "+79000000000" and item.seller_username == "Seller_Test"
    set_cell(standin, "Каналы", f"{phone}2", "звонить вечером")
    result = sync(console)
    assert ChannelModel.get("@cars_msk").seller_phone == "+79000000000"  # the last good value stays
    assert rows(standin, "Каналы")[0]["Проверка строки"] == "«Телефон продавца»: не похоже на номер"
    assert result.problems == ["Каналы, строка 2: «Телефон продавца»: не похоже на номер"]
    set_cell(standin, "Каналы", f"{phone}2", "")
    sync(console)
    assert (
        ChannelModel.get("@cars_msk").seller_phone is None
        and rows(standin, "Каналы")[0]["Проверка строки"] == ""
    )


def test_duplicate_subscriber_row_flagged_not(console, standin) -> None:  # type: ignore[no-untyped-def]
    UserModel(1001, username="ivan").save()
    sync(console)
    with standin.edit(SHEET) as book:  # the admin copies the row and types a grant into the copy
        sheet = book.sheet("Подписчики")
        for col, value in enumerate(sheet.rows[1]):
            sheet.set(2, col, value)
    set_cell(standin, "Подписчики", f"{grant_cols(standin)['Выдать (дней или дата)']}3", "30")
    result = sync(console)
    assert UserModel.get(1001).subscription_end is None
    assert rows(standin, "Подписчики")[1]["Применено"] == "дубликат строки 2: строка не учитывается"
    assert "Подписчики, строка 3: дубликат пользователя 1001" in result.problems


def test_renamed_tab_keeps_state_and_is_reported(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    sync(console)
    with standin.edit(SHEET) as book:
        book.sheet("Каналы").title = "Каналы (старые)"
    result = sync(console)
    assert ChannelModel.get("@cars_msk").status == "active"
    assert any("нет вкладки «Каналы»" in p for p in result.problems) and result.requests <= 4


def test_deleted_tab_recreated_init_removes_no(console, standin) -> None:  # type: ignore[no-untyped-def]
    add_channel_row(standin, 2, "@cars_msk")
    add_channel_row(standin, 3, "@cars_spb", "FALSE")
    set_cell(standin, "Каналы", f"{col_of(standin, 'Каналы', 'Ключевые слова')}2", "camry, -куплю")
    sync(console)
    with standin.edit(SHEET) as book:  # the admin deletes the tab, then someone runs `sheets init`
        book.apply({"deleteSheet": {"sheetId": book.sheet("Каналы").sheet_id}})
    assert any("нет вкладки «Каналы»" in p for p in sync(console).problems)
    TemplateBuilder(console, get_settings().plans).run()
    result = sync(console)
    assert any("во вкладке нет ни одной строки" in p for p in result.problems)
    assert {c.ref: c.status for c in ChannelModel.scan()} == {"@cars_msk": "active", "@cars_spb": "paused"}
    restored = {r["Ссылка"]: r for r in rows(standin, "Каналы")}
    assert (
        restored["@cars_msk"]["Ключевые слова"] == "camry, -куплю"
        and restored["@cars_spb"]["Активен"] == "FALSE"
    )
    assert not sync(console).problems  # back to normal: the rows are there again


def test_filters_tab_recreated_init_keeps(console, standin, capsys) -> None:  # type: ignore[no-untyped-def]
    set_cell(standin, "Фильтры", f"B{filter_row(standin, 'Мин. цена, ₽')}", "300 тыс")
    sync(console)
    with standin.edit(SHEET) as book:
        book.apply({"deleteSheet": {"sheetId": book.sheet("Фильтры").sheet_id}})
    assert run_init(argparse.Namespace(spreadsheet=None)) == 0  # `carsbot sheets init`
    assert json.loads(capsys.readouterr().out)["created_tabs"] == ["Фильтры"]
    assert rows(standin, "Фильтры")[filter_row(standin, "Мин. цена, ₽") - 2]["Значение"] == "300000"
    sync(console)
    assert FiltersSource(get_settings()).rules().min_price == 300_000


def test_logs_newest_on_top(console, standin) -> None:  # type: ignore[no-untyped-def]
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(3):
        events.record("channel_lost", f"канал {i}", base + timedelta(minutes=i))
    sync(console)
    assert [r["Подробности"] for r in rows(standin, "Логи")] == ["канал 2", "канал 1", "канал 0"]


def test_analytics_daily_row_and_top_models(console, standin) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for i, (brand, price) in enumerate([("Toyota", 1_000_000), ("Toyota", 1_200_000), ("Kia", 800_000)]):
        ListingModel(
            f"A{i}", post_id=f"1:{i}", channel_id=1, brand=brand, model="M", price=price, published_at=now
        ).save()
    UserModel(2002).save()
    sync(console, now=now)
    values = standin.values(SHEET, "Аналитика")
    header = values[0]
    today = next(r for r in values[1:] if r and r[0] == now.strftime("%Y-%m-%d"))
    assert today[header.index("Объявлений")] == "3" and today[header.index("Опубликовано")] == "3"
    assert today[header.index("Новых пользователей")] == "1"
    top = header.index("Топ моделей за 7 дней")
    assert values[1][top : top + 3] == ["Toyota M", "2", "1100000"]


def _post(channel_id: int, message_id: int, at: datetime) -> PostModel:
    return PostModel(
        f"{channel_id}:{message_id}", channel_id=channel_id, message_id=message_id, date=at, received_at=at
    )


def _payment(payment_id: str, amount: str, currency: str, at: datetime) -> PaymentModel:
    return PaymentModel(
        payment_id, provider="yookassa", order_id=f"o-{payment_id}", user_id=2002, plan="month", days=30,
        amount=amount, currency=currency, paid_day=at.strftime("%Y-%m-%d"), credited_at=at, new_end=at,
    )  # fmt: skip


def test_analytics_by_day_indexes_never_scan(console, standin, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Аналитика and "Постов получено" come from the by-day indexes and the channels' counters: the
    posts, listings and payments tables are never scanned, so their history is never read."""
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    yesterday_late = datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC)
    posts = PostsRepository()
    for row in (
        _post(7, 1, now),
        _post(7, 2, now),
        _post(8, 1, yesterday_late),
        _post(7, 3, now - timedelta(30)),
    ):
        posts.create(row)
    posts.create(_post(7, 1, now))  # a redelivery: counted once
    posts.mark_rejected(PostModel.get("7:2"), "no_car", "rules")
    posts.mark_duplicate(PostModel.get("8:1"), "L0", "rules")
    listings = ListingsRepository()
    for listing_id, created in (("L1", now), ("L2", now - timedelta(10))):
        listing = ListingModel(
            listing_id, post_id="7:1", channel_id=7, brand="Kia", model="Rio", price=900_000
        )
        listing.created_at = created
        listings.create(listing)
        assert listings.claim_for_publish(listing, now)
        assert listings.mark_published(listing, [1], now)
    for payment in (_payment("p1", "990.00", "RUB", now), _payment("p2", "100", "XTR", now)):
        payment.save()
    _payment("p3", "990.00", "RUB", now - timedelta(10)).save()
    for ref, channel_id in (("@seven", 7), ("@eight", 8)):
        add_channel_row(standin, channel_id - 5, ref)
    sync(console, now=now)
    for ref, channel_id in (("@seven", 7), ("@eight", 8)):
        ChannelRegistry().save_resolution(
            ref, channel_id=channel_id, access_hash=1, title=ref, username=ref[1:]
        )
    calls: list[tuple[str, str, str]] = []
    dispatch = Connection.dispatch

    def spy(self: Connection, operation_name: str, operation_kwargs: dict) -> dict:  # type: ignore[type-arg]
        calls.append(
            (operation_name, *(str(operation_kwargs.get(k, "")) for k in ("TableName", "IndexName")))
        )
        return dispatch(self, operation_name, operation_kwargs)

    monkeypatch.setattr(Connection, "dispatch", spy)
    sync(console, now=now + analytics.REFRESH)  # the analytics computation is due again
    scanned = {table for op, table, _ in calls if op == "Scan"}
    queried = {index for op, _, index in calls if op == "Query"}
    assert {"by-received-day", "by-created-day", "by-published-day", "by-day"} <= queried
    assert not {t for t in scanned if t.endswith(("-posts", "-listings", "-payments", "-orders"))}, scanned
    by_day = {r["Дата"]: r for r in rows(standin, "Аналитика") if r.get("Дата")}
    today, before = by_day["2025-03-10"], by_day["2025-03-09"]
    assert (today["Постов"], today["Отклонено"], before["Постов"], before["Дубликатов"]) == (
        "2",
        "1",
        "1",
        "1",
    )
    assert (today["Объявлений"], today["Опубликовано"], today["Выручка, ₽"]) == ("1", "2", "990")
    seen = {r["Ссылка"]: r["Постов получено"] for r in rows(standin, "Каналы")}
    assert (seen["@seven"], seen["@eight"]) == ("3", "1")
