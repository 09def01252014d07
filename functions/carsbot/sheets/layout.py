"""The console's tabs: titles, Russian headers, who owns each column, validation, and how rows are found.

Every column belongs to admins (the bot only reads it) or to the bot (the bot only writes it). Columns
are found by their header text on every sync, so admins may move, insert or add columns of their own.
Rows are found by their key column (a channel link, a user id, a listing id, a date), never by position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Owner = Literal["admin", "bot"]
Kind = Literal["text", "bool", "choice", "plan"]

DECISIONS = ("PENDING", "APPROVED", "REJECTED")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    owner: Owner
    kind: Kind = "text"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tab:
    title: str
    key: str  # the row key column
    columns: tuple[Column, ...]
    rows: int = 1000  # grid rows `sheets init` makes room for
    extra: tuple[Column, ...] = field(default_factory=tuple)  # bot-owned side blocks (analytics top)

    def column(self, key: str) -> Column:
        for col in (*self.columns, *self.extra):
            if col.key == key:
                return col
        raise KeyError(key)

    @property
    def bot_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.owner == "bot")

    @property
    def admin_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.owner == "admin")


def _a(key: str, header: str, kind: Kind = "text", choices: tuple[str, ...] = ()) -> Column:
    return Column(key, header, "admin", kind, choices)


def _b(key: str, header: str) -> Column:
    return Column(key, header, "bot")


CHANNELS = Tab(
    "Каналы",
    key="link",
    rows=2000,
    columns=(
        _a("link", "Ссылка"),
        _a("active", "Активен", "bool"),
        _a("keywords", "Ключевые слова"),
        _a("seller_phone", "Телефон продавца"),
        _a("seller_username", "Telegram продавца"),
        _a("note", "Заметка"),
        _b("title", "Название"),
        _b("channel_id", "ID канала"),
        _b("state", "Состояние"),
        _b("added", "Добавлен"),
        _b("posts_seen", "Постов получено"),
        _b("published", "Опубликовано"),
        _b("last_post", "Последний пост"),
        _b("check", "Проверка строки"),
    ),
)

FILTERS = Tab(
    "Фильтры",
    key="param",
    rows=100,
    columns=(
        _b("param", "Параметр"),
        _a("value", "Значение"),
        _b("status", "Статус"),
        _b("help", "Описание"),
    ),
)

SUBSCRIBERS = Tab(
    "Подписчики",
    key="user_id",
    rows=20000,
    columns=(
        _b("user_id", "ID пользователя"),
        _b("username", "Username"),
        _b("name", "Имя"),
        _b("registered", "Зарегистрирован"),
        _b("plan", "Тариф"),
        _b("sub_end", "Подписка до"),
        _b("contacts", "Запросов контактов"),
        _b("blocked", "Заблокировал бота"),
        _a("grant", "Выдать (дней или дата)", "plan"),
        _a("revoke", "Отозвать", "bool"),
        _a("note", "Заметка"),
        _b("applied", "Применено"),
    ),
)

QUEUE = Tab(
    "Очередь",
    key="listing_id",
    rows=5000,
    columns=(
        _b("listing_id", "ID объявления"),
        _b("car", "Автомобиль"),
        _b("price", "Цена, ₽"),
        _b("source", "Источник"),
        _b("preview", "Превью"),
        _b("received", "Поступило"),
        _a("decision", "Решение", "choice", DECISIONS),
        _a("reason", "Причина"),
        _b("result", "Результат"),
    ),
)

ANALYTICS = Tab(
    "Аналитика",
    key="date",
    rows=2000,
    columns=(
        _b("date", "Дата"),
        _b("posts", "Постов"),
        _b("listings", "Объявлений"),
        _b("published", "Опубликовано"),
        _b("rejected", "Отклонено"),
        _b("duplicates", "Дубликатов"),
        _b("new_users", "Новых пользователей"),
        _b("active_subs", "Активных подписчиков"),
        _b("contacts", "Запросов контактов"),
        _b("revenue", "Выручка, ₽"),
    ),
    extra=(
        _b("top_model", "Топ моделей за 7 дней"),
        _b("top_count", "Объявлений за 7 дней"),
        _b("top_median", "Медианная цена, ₽"),
    ),
)

LOGS = Tab(
    "Логи",
    key="at",
    rows=1100,
    columns=(_b("at", "Время (UTC)"), _b("kind", "Событие"), _b("details", "Подробности")),
)

HELP_TITLE = "Как пользоваться"

TABS: tuple[Tab, ...] = (CHANNELS, FILTERS, SUBSCRIBERS, QUEUE, ANALYTICS, LOGS)

LOG_CAP = 1000  # rows kept in Логи (newest on top)
TOP_ROWS = 10  # rows of the "top models this week" block

# Фильтры: parameter key -> (label in the Параметр column, description)
FILTER_PARAMS: dict[str, tuple[str, str]] = {
    "include_keywords": ("Включающие слова", "Через запятую; пост должен содержать хотя бы одно слово"),
    "exclude_keywords": ("Исключающие слова", "Через запятую; пост с любым из слов отклоняется"),
    "min_price": ("Мин. цена, ₽", "Число, например 300000 или 300 тыс; пусто — без ограничения"),
    "max_price": ("Макс. цена, ₽", "Число, например 5 млн; пусто — без ограничения"),
    "min_confidence": ("Мин. уверенность", "От 0 до 1 (или в процентах); пусто — 0"),
    "moderation": ("Модерация", "Да — объявления ждут решения во вкладке «Очередь»"),
}

HELP_TEXT = (
    "Как пользоваться таблицей carsbot",
    "",
    "Серые столбцы заполняет бот — их не нужно менять (правки будут перезаписаны). "
    "Белые столбцы — ваши: бот их только читает и никогда не перезаписывает.",
    "Бот синхронизирует таблицу раз в минуту. Строки можно сортировать, вставлять и удалять: "
    "бот находит их по ссылке канала, ID пользователя или ID объявления.",
    "",
    "Каналы: добавьте строку со ссылкой (@name, t.me/name, t.me/+HASH) — канал начнёт отслеживаться. "
    "Снимите «Активен», чтобы приостановить; удалите строку, чтобы отключить канал. "
    "Ключевые слова канала — через запятую; слово с минусом (-куплю) исключает пост.",
    "Фильтры: меняйте только столбец «Значение». Если значение не распознано, в «Статус» будет "
    "ошибка, а действовать продолжит прежнее значение.",
    "Подписчики: в «Выдать» укажите число дней (30), дату окончания (31.12.2025) или тариф (месяц, год). "
    "Выдача применяется один раз, результат — в «Применено». Чтобы выдать ещё раз, впишите новое значение. "
    "Отметьте «Отозвать», чтобы отменить подписку.",
    "Очередь (при включённой модерации): поставьте APPROVED — объявление опубликуется в течение минуты, "
    "или REJECTED и причину.",
    "Да/нет можно писать как TRUE, да, ✓, 1; тарифы — month/Месяц, year/Год (регистр не важен).",
    "Аналитика и Логи заполняются ботом.",
)


def norm_header(text: str) -> str:
    return " ".join(text.strip().lower().replace("ё", "е").split())


def locate(tab: Tab, header_row: list[str]) -> dict[str, int]:
    """Column key -> 0-based index, by header text (the first occurrence wins)."""
    found: dict[str, int] = {}
    by_text: dict[str, int] = {}
    for index, text in enumerate(header_row):
        by_text.setdefault(norm_header(text), index)
    for col in (*tab.columns, *tab.extra):
        at = by_text.get(norm_header(col.header))
        if at is not None:
            found[col.key] = at
    return found


def col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def quote(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def cell_a1(title: str, row: int, col: int) -> str:
    """``'Каналы'!G5`` for 0-based ``row``/``col``."""
    return "'" + title.replace("'", "''") + f"'!{col_letter(col)}{row + 1}"


def span_a1(title: str, row: int, col0: int, col1: int) -> str:
    """One row, columns ``col0..col1`` inclusive."""
    name = "'" + title.replace("'", "''") + "'"
    return f"{name}!{col_letter(col0)}{row + 1}:{col_letter(col1)}{row + 1}"
