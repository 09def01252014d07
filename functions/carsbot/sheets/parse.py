"""Forgiving, case-insensitive parsing of what admins type (pure).

Every parser returns the value, ``None`` for a blank cell, or raises ``CellError`` with a Russian message
that the sync writes into the row's status cell: a value is never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from carsbot.core.subscriptions import Plan


class CellError(ValueError):
    """An admin value that cannot be understood (``str(exc)`` is the Russian explanation)."""


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace("ё", "е"))


TRUE_WORDS = {
    "true",
    "да",
    "✓",
    "✔",
    "☑",
    "✅",
    "1",
    "yes",
    "y",
    "on",
    "вкл",
    "включено",
    "+",
    "x",
    "х",
    "истина",
}
FALSE_WORDS = {"false", "нет", "✗", "✘", "☐", "❌", "0", "no", "n", "off", "выкл", "выключено", "-", "ложь"}


def parse_bool(text: str) -> bool | None:
    folded = _fold(text)
    if not folded:
        return None
    if folded in TRUE_WORDS:
        return True
    if folded in FALSE_WORDS:
        return False
    raise CellError(f"не понимаю «{text.strip()[:40]}»: ожидается да/нет (TRUE/FALSE)")


_MULTIPLIERS = (
    (("млн", "миллион", "m", "kk", "кк", "mln"), 1_000_000),
    (("тыс", "т.р", "тр", "k", "к", "тысяч"), 1_000),
)


def parse_money(text: str) -> int | None:
    """``300000``, ``300 000 ₽``, ``300 тыс``, ``1,5 млн``, ``1.5m`` -> rubles."""
    folded = _fold(text).replace("₽", "").replace("руб", "").replace("р.", "").strip(" .")
    if not folded:
        return None
    match = re.fullmatch(r"(\d[\d\s]*(?:[.,]\d+)?)\s*([a-zа-я.]*)\.?", folded)
    if not match:
        raise CellError(f"не понимаю «{text.strip()[:40]}»: ожидается сумма, например 300000 или 1,5 млн")
    number = float(match.group(1).replace(" ", "").replace(",", "."))
    unit = match.group(2).rstrip(".")
    factor = 1
    if unit:
        for words, value in _MULTIPLIERS:
            if any(unit.startswith(w) for w in words):
                factor = value
                break
        else:
            raise CellError(f"не понимаю единицу «{unit}» в «{text.strip()[:40]}»")
    return round(number * factor)


def parse_confidence(text: str) -> float | None:
    folded = _fold(text).replace("%", "").replace(",", ".")
    if not folded:
        return None
    try:
        value = float(folded)
    except ValueError:
        raise CellError(f"не понимаю «{text.strip()[:40]}»: ожидается число от 0 до 1") from None
    if 1 < value <= 100:
        value /= 100
    if not 0 <= value <= 1:
        raise CellError(f"{text.strip()}: уверенность должна быть от 0 до 1 (или от 0 до 100 %)")
    return value


def parse_keywords(text: str) -> list[str]:
    words = [w.strip() for w in re.split(r"[,;\n]", text or "")]
    return list(dict.fromkeys(w for w in words if w))


def split_channel_keywords(text: str) -> tuple[list[str], list[str]]:
    """Per-channel keywords: ``camry, -куплю`` -> (include ``[camry]``, exclude ``[куплю]``)."""
    include, exclude = [], []
    for word in parse_keywords(text):
        if word.startswith(("-", "−", "!")) and len(word) > 1:
            exclude.append(word[1:].strip())
        else:
            include.append(word)
    return include, exclude


_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")


def parse_phone(text: str) -> str:
    """One phone number -> E.164 (``8 (912) 345-67-89`` -> ``+79123456789``); ``""`` for a blank cell.

    The message of the error never repeats the cell (it may hold a contact).
    """
    from carsbot.core.extraction.normalize.contacts import extract_phones

    if not text.strip():
        return ""
    phones = extract_phones(text)
    if len(phones) != 1:
        raise CellError(
            "нужен один номер телефона, например +7 912 345-67-89" if phones else "не похоже на номер"
        )
    return phones[0]


def parse_username(text: str) -> str:
    """A Telegram username (``@name``, ``name``, ``t.me/name``) without "@"; ``""`` for a blank cell."""
    folded = re.sub(r"^(?:https?://)?(?:t|telegram)\.me/", "", text.strip(), flags=re.IGNORECASE).lstrip("@")
    if not folded:
        return ""
    if not _USERNAME.fullmatch(folded):
        raise CellError("нужен username Telegram: @name (латиница, цифры, _; от 4 символов)")
    return folded


_DECISIONS = {
    "PENDING": {"pending", "ожидает", "ждет", "на модерации", "?", "в очереди"},
    "APPROVED": {"approved", "approve", "ok", "одобрено", "одобрить", "да", "✓", "✔", "true", "опубликовать"},
    "REJECTED": {"rejected", "reject", "отклонено", "отклонить", "нет", "✗", "✘", "false", "отказ"},
}


def parse_decision(text: str) -> str:
    folded = _fold(text)
    if not folded:
        return "PENDING"
    for decision, words in _DECISIONS.items():
        if folded in words:
            return decision
    raise CellError(f"не понимаю «{text.strip()[:40]}»: выберите PENDING, APPROVED или REJECTED")


@dataclass(frozen=True)
class Grant:
    """A manual grant: ``days`` added to the subscription, or a fixed end date ``until``."""

    days: int | None = None
    until: datetime | None = None
    plan: str | None = None


_PLAN_ALIASES = {
    "month": ("month", "monthly", "месяц", "мес", "1 месяц", "месячный", "30 дней"),
    "year": ("year", "yearly", "annual", "год", "1 год", "годовой", "12 месяцев", "365 дней"),
}
_DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y")


def parse_grant(text: str, plans: Sequence[Plan]) -> Grant | None:
    """``30``, ``30 дней``, ``+30``, ``31.12.2025``, ``2025-12-31``, ``месяц``/``monthly``/a plan title."""
    folded = _fold(text)
    if not folded:
        return None
    match = re.fullmatch(r"\+?(\d{1,4})\s*(дн\w*|д|days?|d)?\.?", folded)
    if match:
        days = int(match.group(1))
        if not 0 < days <= 3660:
            raise CellError(f"{text.strip()}: число дней должно быть от 1 до 3660")
        return Grant(days=days)
    for fmt in _DATE_FORMATS:
        try:
            day = datetime.strptime(folded, fmt).date()
        except ValueError:
            continue
        return Grant(until=datetime.combine(day, time(23, 59, 59), tzinfo=UTC))
    for plan in plans:
        names = {_fold(plan.code), _fold(plan.title), *(_fold(a) for a in _PLAN_ALIASES.get(plan.code, ()))}
        if folded in names:
            return Grant(days=plan.days, plan=plan.code)
    known = ", ".join(p.title for p in plans)
    raise CellError(
        f"не понимаю «{text.strip()[:40]}»: укажите дни (30), дату (31.12.2025) или тариф ({known})"
    )


def plan_choices(plans: Sequence[Plan]) -> list[str]:
    """The dropdown of the grant column: plan titles (admins may still type days or a date)."""
    return [p.title for p in plans]


def fmt_dt(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


def fmt_date(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d") if value else ""
