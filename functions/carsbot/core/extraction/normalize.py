"""Normalisers for Russian used-car posts: pure functions from text to canonical values.

Every function takes the post text (or a fragment of it) and returns a canonical value or ``None`` /
an empty list when the value is not stated. Nothing is guessed. Units and canonical forms:

* prices — RUB integers (``parse_price``, ``parse_market_price``);
* mileage — km integer (``parse_mileage``); year — int (``parse_year``);
* engine volume — litres, one decimal (``parse_engine_volume``);
* transmission — ``automatic|manual|robot|variator``; drive — ``fwd|rwd|awd``;
* owners — int (``parse_owners``); city — canonical Russian nominative (``find_city``);
* brand/model — canonical Latin names from ``core/data/catalogue.json`` (``find_vehicle``);
* phones — E.164 via ``phonenumbers`` (``extract_phones``); usernames — without ``@``.

Regexes are compiled once at import; the catalogue and city indexes are built lazily on first use and
cached for the life of the process. ``phonenumbers`` and ``rapidfuzz`` are plain libraries (no network).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import phonenumbers

__all__ = [
    "MoneyMention",
    "Vehicle",
    "extract_phones",
    "extract_usernames",
    "find_city",
    "find_money",
    "find_vehicle",
    "normalize_token",
    "parse_autoteka",
    "parse_drive",
    "parse_engine_volume",
    "parse_equipment",
    "parse_fuel",
    "parse_market_price",
    "parse_mileage",
    "parse_owners",
    "parse_price",
    "parse_transmission",
    "parse_year",
    "prepare_text",
]

MAX_YEAR = datetime.now(UTC).year + 1
MIN_YEAR = 1950
MIN_CAR_PRICE = 15_000
MAX_CAR_PRICE = 500_000_000
MAX_MILEAGE = 2_000_000

# ---------------------------------------------------------------------------------------------------
# Text preparation

_ODD_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t\r\f\v]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")


_NEEDS_PREP = re.compile(
    r"[\u00a0\u2000-\u200d\u202f\u205f\u3000\t\r\f\v\u2060\ufeff\u00ad\u2010-\u2015\u2212ёЁ]"
)


def prepare_text(text: str) -> str:
    """Unify spaces, dashes and ``ё`` so the patterns below can stay simple. Idempotent and cheap on
    already-prepared text."""
    if not _NEEDS_PREP.search(text):
        return text
    text = _ZERO_WIDTH.sub("", text)
    text = _ODD_SPACES.sub(" ", text)
    text = _DASHES.sub("-", text)
    return text.replace("ё", "е").replace("Ё", "Е")


class Words:
    """A lower-case keyword pattern, searched in lower-cased text.

    Python's ``re`` skips ahead with a first-character prefilter only when a pattern starts with plain
    characters; a leading ``\\b`` or look-behind disables it and makes a keyword alternation 10-20x
    slower. So leading ``\\b`` are stripped at compile time and the left word boundary (and an optional
    negation such as "не ") is checked in Python on the rare candidate matches.
    """

    __slots__ = ("boundary", "negations", "regex")

    _LEADING_B = re.compile(r"(^|\||\(\?:|\(\?P<\w+>|\()\\b")

    def __init__(self, pattern: str, *, boundary: bool = True, negations: tuple[str, ...] = ()) -> None:
        self.regex = re.compile(self._LEADING_B.sub(r"\1", pattern))
        self.boundary = boundary
        self.negations = negations

    def finditer(self, low: str) -> Iterator[re.Match[str]]:
        for m in self.regex.finditer(low):
            start = m.start()
            if self.boundary and start > 0 and (low[start - 1].isalnum() or low[start - 1] == "_"):
                continue
            if self.negations and low[max(0, start - 6) : start].endswith(self.negations):
                continue
            yield m

    def search(self, low: str) -> re.Match[str] | None:
        return next(self.finditer(low), None)

    def count(self, low: str) -> int:
        return sum(1 for _ in self.finditer(low))


_NEGATIONS = ("не ", "не  ", "нет ", "без ")


# ---------------------------------------------------------------------------------------------------
# Numbers

# A number as written in ads: "1 350 000", "1.350.000", "1,35", "850", "98000".
_NUM = r"\d{1,3}(?:(?:[ .,']|, )\d{3})+(?![.,]?\d)|\d+(?:[.,]\d+)?"
# Where a number may start: not inside another number, and a digit glued to letters on its left (a code
# such as "DSG7" or "AT6") never starts a comma-grouped amount ("DSG7, 120 тыс км" is not 7 120).
_NUM_START = r"(?<![\d.,])(?:(?<![^\W\d_])|(?!\d{1,3}, \d))"


def _number(raw: str, *, decimal_unit: bool = False) -> float | None:
    """Parse an ad number. ``decimal_unit`` means a millions/thousands unit follows ("1,35 млн")."""
    s = raw.strip().replace("'", "").replace(" ", "")
    if not s:
        return None
    seps = [ch for ch in s if ch in ".,"]
    try:
        if not seps:
            return float(s)
        if len(seps) == 1:
            head, tail = re.split(r"[.,]", s)
            if len(tail) == 3 and not decimal_unit:
                return float(head + tail)  # thousands separator: "1.350" / "850,000"
            return float(f"{head}.{tail}")
        # several separators: grouping ("1.350.000", "1,350,000"); a trailing decimal is dropped
        parts = re.split(r"[.,]", s)
        if all(len(part) == 3 for part in parts[1:]):
            return float("".join(parts))
        return float("".join(parts[:-1]) + "." + parts[-1])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------
# Money: prices and market prices

_MILLION = r"(?:млн\.?|миллион\w*|mln|лям\w*|ляма|мульт\w*|кк(?![а-я]))"
_THOUSAND = (
    r"(?:тыс(?:\.|яч\w*)?(?:\s*(?:руб\w*\.?|р\.?|₽))?|т\.\s?р\.?|т\.р\.?|тр\.?(?![а-я])"
    r"|к(?![а-я])|k(?![a-z])|т(?![а-я]))"
)
_RUBLE = r"(?:₽|руб(?:лей|ля|ль|\.)?|р\.|р(?![а-я])|rub|rur)"

_MONEY = re.compile(
    rf"{_NUM_START}(?P<num>{_NUM})[ ]?(?:(?P<mln>{_MILLION})(?:[ ]*(?P<num2>\d{{1,3}})[ ]*(?:тыс\.?"
    rf"|т\.?р\.?|к)(?![а-я]))?"
    rf"|(?P<thou>{_THOUSAND})|(?P<rub>{_RUBLE}))?",
    re.IGNORECASE,
)
# Keywords in the left context of an amount; the last one before the amount (with no other number in
# between) decides its role.
_MONEY_EVENTS = re.compile(
    r"(?P<market>(?<!ниже\s)(?<!ниже\s\s)(?<!выше\s)\bрын(?:ок|ка|ке|ку|очн\w*)(?!\s+на\b)|\bсреднерыночн\w*|market|\bоценк\w*)"
    r"|(?P<price>\bцен[аеуы]\b|стоимост\w*|💰|💵|💸|🏷|💲|прошу|отдам\s+за|продам\s+за|продаю\s+за|прода[её]тся\s+за"
    r"|продается\s+за|price|\bза\s*$)"
    r"|(?P<mileage>пробег\w*|🛣|одометр\w*|mileage)"
    r"|(?P<other>\b(?:торг\w*|скидк\w*|вложен\w*|вложил\w*|налог\w*|осаго|каско|страховк\w*|\bто\b|обслуживани\w*|взнос\w*"
    r"|платеж\w*|платёж\w*|доплат\w*|остаток|долг\w*|кредит\w*|ремонт\w*|покраск\w*|замен\w*|поменял\w*"
    r"|резин\w*|шин\w*|диск\w*|сигнализаци\w*|магнитол\w*|выгод\w*|дешевле|ниже\s+рынка\s+на|зарплат\w*"
    r"|экономи\w*|бюджет\w*|вычет\w*|залог\w*|штраф\w*|аренд\w*|сутк\w*|мес\w*|по\s+(?=\d)|х\b|x\b))",
    re.IGNORECASE,
)
_RANGE_LEFT = re.compile(r"(?:\bот|\bдо|\bc|\bс|-|<|>)\s*$", re.IGNORECASE)
_MONEY_EXCLUDE_RIGHT = re.compile(
    r"^\s*(?:/\s*мес|в\s+мес|в\s+месяц|руб\w*\s*/\s*мес|₽\s*/\s*мес|в\s+год|в\s+сутки|/\s*сут|за\s+сутки|в\s+день"
    r"|/\s*день|/\s*час|в\s+час|в\s+подарок|км|т\.?\s?км|тыс\.?\s*км|л\.с|лс\b|hp\b|км/ч|куб|см|мм|шт|%|кг"
    r"|литр|за\s+(?:штуку|шт|комплект|литр))",
    re.IGNORECASE,
)
# The word "пробег" right after an amount, not itself followed by a number ("98 тыс. пробег, 1 250 000").
_MILEAGE_WORD_AFTER = re.compile(r"\s*\.?\s*(?:км\.?\s*)?пробег\w*(?!\s*[:\-–—]?\s*\d)", re.IGNORECASE)
_BARE_EXCLUDE_RIGHT = re.compile(r"^\s*(?:г\.|г\b|года?\b|год\b)", re.IGNORECASE)
_BARE_GROUPED = re.compile(r"^\d{1,3}(?:[ .]\d{3}){1,2}$")


@dataclass(frozen=True)
class MoneyMention:
    """One amount of money found in a text."""

    value: int
    start: int
    end: int
    role: str  # "price" | "market" | "other"
    keyed: bool  # introduced by a price/market keyword
    unit: bool  # carried an explicit unit (₽, руб, тыс, к, млн)
    raw: str = ""  # the matched text


def _scale(value: float, *, mln: bool, thou: bool, rub: bool, keyed: bool) -> int | None:
    if mln:
        return round(value * 1_000_000)
    if thou:
        return round(value * 1_000)
    if rub:
        return round(value)
    if not keyed:
        return None
    # A bare number after a price keyword: shorthand posts write "цена 560" (thousands) or "1.35" (millions).
    if value < 30:
        return round(value * 1_000_000)
    if value < 10_000:
        return round(value * 1_000)
    return round(value)


# The end of a sentence (a full word, not an abbreviation such as "прим.", then ". "): a keyword before it
# does not give a role to an amount after it.
_SENTENCE_END = re.compile(r"[a-zа-я]{5}[.!?]\s+(?:[A-ZА-Я]|$)")
_NUMBER_BEFORE_KEY = re.compile(r"\d\s*(?:тыс\w*\.?|т\.?|[кk]|км\.?)?\s*$", re.IGNORECASE)


def _last_event(left: str) -> str | None:
    """The kind of the last money keyword in ``left`` with no digits after it, if any."""
    last = None
    for event in _MONEY_EVENTS.finditer(left):
        last = event
    if last is None or any(ch.isdigit() for ch in left[last.end() :]):
        return None
    if _SENTENCE_END.search(left, last.end()):
        return None  # "все ТО по регламенту. Хотелка 3.1 млн": the keyword belongs to an earlier sentence
    if (
        last.lastgroup == "mileage"
        and any(ch in ",;|/" for ch in left[last.end() :])
        and _NUMBER_BEFORE_KEY.search(left, 0, last.start())
    ):
        return None  # "98 тыс. пробег, 1 250 000": the keyword closed the mileage, it does not key the price
    return last.lastgroup


def find_money(text: str) -> list[MoneyMention]:
    """Every amount of money in ``text`` (already prepared), with its role decided from the left context.

    Units: "млн"/"лям" (millions, decimals allowed: "1,35млн"), "тыс"/"т.р."/"к" (thousands), "₽"/"руб"/"р"
    (roubles). A bare number counts only after a price or market keyword ("цена 560" = 560 000,
    "рынок 1.5" = 1 500 000) or, for a space-grouped amount such as "1 300 000", on its own.
    """
    found: list[MoneyMention] = []
    for m in _MONEY.finditer(text):
        num, mln, thou, rub = m.group("num"), m.group("mln"), m.group("thou"), m.group("rub")
        line_start = text.rfind("\n", 0, m.start()) + 1
        left = text[max(line_start, m.start() - 40) : m.start()]
        line_end = text.find("\n", m.end())
        right = text[m.end() : min(m.end() + 14, line_end if line_end >= 0 else len(text))]
        has_unit = bool(mln or thou or rub)
        if thou and re.match(r"^\s*\.?\s*(?:км|km|\w*\s*км)", right, re.IGNORECASE):
            continue  # "98к км", "98 т. км" is mileage
        event = _last_event(left)
        if event == "mileage" and not (rub or (thou and "р" in thou.lower())):
            continue  # "пробег 120 тыс" is mileage; "245тыс пробег 430т.р." still names a price
        if (
            event not in {"price", "market"}
            and not rub
            and not mln
            and _MILEAGE_WORD_AFTER.match(text, m.end(), min(len(text), m.end() + 40))
        ):
            continue  # "98 тыс. пробег", "87 000 км пробег," is the mileage, not money
        if thou and thou.lower() == "т" and event not in {"price", "market"}:
            continue  # "2.0т", "5т" without a money keyword is not money
        keyed = event in {"price", "market"}
        bare_grouped = not has_unit and not keyed and bool(_BARE_GROUPED.match(num.strip()))
        if not (has_unit or keyed or bare_grouped):
            continue
        if not has_unit and re.match(r"^\s*(?:км|km|т\.?\s?км|тыс|т\.|мото)", right, re.IGNORECASE):
            continue
        value = _number(num, decimal_unit=bool(mln or thou))
        if value is None:
            continue
        scaled = _scale(value, mln=bool(mln), thou=bool(thou), rub=bool(rub) or bare_grouped, keyed=keyed)
        if scaled is None:
            continue
        if mln and m.group("num2"):
            scaled += int(m.group("num2")) * 1_000
        if event == "market":
            role = "market"
        elif event == "price":
            role = "price"
        elif event == "other" or _RANGE_LEFT.search(left):
            role = "other"
        else:
            role = "price"
        if role != "market" and _MONEY_EXCLUDE_RIGHT.match(right):
            role = "other"
        if not has_unit and _BARE_EXCLUDE_RIGHT.match(right):
            role = "other"
        if bare_grouped and role == "price" and scaled < 50_000:
            role = "other"
        if not MIN_CAR_PRICE <= scaled <= MAX_CAR_PRICE:
            role = "other"
        found.append(MoneyMention(scaled, m.start(), m.end(), role, keyed, has_unit, m.group(0)))
    return found


def parse_price(text: str) -> int | None:
    """The asking price in RUB: a keyed price first ("цена 1.35 млн"), else the first unit-bearing amount."""
    pick = best_price(find_money(prepare_text(text)))
    return pick.value if pick else None


def best_price(mentions: list[MoneyMention]) -> MoneyMention | None:
    """The asking price among ``mentions``: keyed first, then with a unit, then a bare grouped amount."""
    prices = [m for m in mentions if m.role == "price"]
    for wanted in (lambda m: m.keyed, lambda m: m.unit, lambda m: True):
        for m in prices:
            if wanted(m):
                return m
    return None


def parse_market_price(text: str) -> int | None:
    """The stated market price in RUB ("рынок 1.5", "по рынку 1 600 000"); "ниже рынка" alone is None."""
    for m in find_money(prepare_text(text)):
        if m.role == "market" and MIN_CAR_PRICE <= m.value <= MAX_CAR_PRICE:
            return m.value
    return None


# ---------------------------------------------------------------------------------------------------
# Mileage

_KM_UNIT = (
    r"(?P<kunit>т\.?\s?км|тыс\.?\s*км|тыс\.?\s*километр\w*|ткм|тыщ\w*\s*км|[кk]\.?\s?км|[кk]\s?km"
    r"|km|км|километр\w*)"
)
_MILEAGE_UNIT = re.compile(rf"{_NUM_START}(?P<num>{_NUM})\s?{_KM_UNIT}(?![а-яa-z])", re.IGNORECASE)
_MILEAGE_KEY = re.compile(
    rf"(?:пробег\w*|🛣️?|одометр\w*|mileage)(?:\s*(?:по\s+одометру|по\s+рф|оригинальный|реальный|родной|всего|"
    rf"около|примерно|честный|небольшой|маленький|:|-|—|–|~|≈))*\s*(?P<num>{_NUM})\s?"
    rf"(?P<unit>{_KM_UNIT[len('(?P<kunit>') : -1]}|тыс\.?|т\.?|[кk])?(?![а-яa-z\d])",
    re.IGNORECASE,
)
_MILEAGE_EXCLUDE_LEFT = re.compile(
    r"(?:\b(?:расход\w*|запас\w*\s+хода|гаранти\w*|до|от|через|каждые|каждых|в\s+радиусе|ездил\w*\s+по|то\s+на|"
    r"пройдено|проехал\w*\s+всего\s+за|назад|замен\w*|менял\w*)[^\d\n]{0,10}|\bл\s*/\s*)$",
    re.IGNORECASE,
)


def _km(value: float, unit: str | None) -> int:
    u = (unit or "").lower().replace(" ", "").replace(".", "")
    if u in {"км", "km"} or u.startswith("километр"):
        return round(value)
    if u.startswith(("т", "к", "k")):
        return round(value * 1000)
    return round(value)


_MILEAGE_NOT_KM = re.compile(r"\s*(?:сезон|год|лет|мес|недел|дн[яе]|дней|раз|час|мото)", re.IGNORECASE)
_MILEAGE_BEFORE_KEY = re.compile(
    rf"{_NUM_START}(?P<num>{_NUM})\s?(?P<unit>тыс\w*\.?|т\.?|[кk])?\s*(?:км\.?\s*)?пробег\w*", re.IGNORECASE
)


def parse_mileage(text: str) -> int | None:
    """Mileage in km: "98 т.км", "98 000 км", "98к км", "пробег 120" (= 120 000 km), "🛣 85 000"."""
    text = prepare_text(text)
    for m in _MILEAGE_KEY.finditer(text):
        unit = m.group("unit")
        value = _number(m.group("num"), decimal_unit=bool(unit) and _km(1, unit) == 1000)
        if value is None:
            continue
        if unit:
            km = _km(value, unit)
        elif value < 1000 and not re.match(r"^\s*(?:м\b|миль)", text[m.end() : m.end() + 6]):
            km = round(value * 1000)  # shorthand "пробег 120" means thousands
        else:
            km = round(value)
        right = text[m.end() : m.end() + 8]
        if re.match(r"^\s*(?:₽|руб|р\.|млн)", right, re.IGNORECASE) or (
            unit and re.match(r"^\.?\s?р(?![а-я])", right, re.IGNORECASE)
        ):
            continue  # "пробег 430т.р." reads as money
        if not unit and _MILEAGE_NOT_KM.match(right):
            continue  # "пробег 1 сезон" (tyres), "пробег 2 года": a duration, not kilometres
        if 0 <= km <= MAX_MILEAGE:
            return km
    for m in _MILEAGE_BEFORE_KEY.finditer(text):  # "87тыс пробег", "120 000 км пробег"
        unit = m.group("unit")
        value = _number(m.group("num"), decimal_unit=bool(unit))
        if value is None:
            continue
        km = round(value * 1000) if unit or value < 1000 else round(value)
        if 0 < km <= MAX_MILEAGE:
            return km
    for m in _MILEAGE_UNIT.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        left = text[max(line_start, m.start() - 30) : m.start()]
        if _MILEAGE_EXCLUDE_LEFT.search(left):
            continue
        if text[m.end() : m.end() + 2].startswith(("/ч", "/h")):
            continue  # speed "км/ч"
        thousands = _km(1, m.group("kunit")) == 1000
        value = _number(m.group("num"), decimal_unit=thousands)
        if value is None:
            continue
        km = _km(value, m.group("kunit"))
        if km < 100 and not thousands:
            continue  # "5 км от метро"
        if km <= MAX_MILEAGE:
            return km
    return None


# ---------------------------------------------------------------------------------------------------
# Year

_YEAR4 = r"(?:19[5-9]\d|20[0-4]\d)"
_YEAR_SUFFIXED = re.compile(
    rf"(?<![\d.,])(?P<y>{_YEAR4})\s?(?:г\.?\s?в\.?|гв\b|г/в|г\.|г(?![а-я])|года?(?![а-я])|год\b|year|y\.?o?\b)",
    re.IGNORECASE,
)
_YEAR_KEYED = re.compile(
    rf"(?:год\w*\s*(?:выпуска|производства|вып\.?)?|г\.\s?в\.?|г/в|📅|🗓️?|year)\s*[:\-–—=]?\s*(?P<y>{_YEAR4}|\d{{2}}(?![\d.,]))",
    re.IGNORECASE,
)
_YEAR_SHORT = re.compile(
    r"(?<![\d.,])(?P<y>\d{2})\s?(?:г\.?\s?в\.?|гв\b|г/в"
    r"|года?\s+выпуска|год\b|года\b|г\.(?!\s*\d)|г(?=[ ,;]))",
    re.IGNORECASE,
)
_YEAR_BARE = re.compile(
    rf"(?<![\d.,:/\-+])(?P<y>{_YEAR4})(?![\d.,]?\d)(?!\s*(?:км|km|т\.|тыс|руб|₽|р\.|к\b|см|куб|cc|л\.с))"
)
_YEAR_BARE_EXCLUDE_LEFT = re.compile(
    r"(?:\b(?:с|до|в|после|то|от|куплен\w*|покупал\w*|гаранти\w*)\s+|№|#)$", re.IGNORECASE
)
_YEAR_SHORT_EXCLUDE_LEFT = re.compile(
    r"(?:владе\w*|собственност\w*|уже|более|около|почти|лет|за|на\s+учете|в\s+семье|езжу|катаюсь|стаж)\s*$",
    re.IGNORECASE,
)


def _valid_year(y: int) -> bool:
    return MIN_YEAR <= y <= MAX_YEAR


def _two_digit_year(yy: int) -> int | None:
    if yy <= MAX_YEAR % 100:
        return 2000 + yy
    if yy >= 70:
        return 1900 + yy
    return None


def parse_year(text: str, *, bare_ok: bool = False) -> int | None:
    """Model year: "2018 г.", "2018г.в.", "год выпуска: 2018", "18 год" (= 2018).

    A bare "2018" counts only when ``bare_ok`` (the rules engine passes the title line or the
    fragment right after the model, where a bare year is the norm: "Camry 2018").
    """
    text = prepare_text(text)
    for m in _YEAR_KEYED.finditer(text):
        raw = m.group("y")
        y = int(raw) if len(raw) == 4 else _two_digit_year(int(raw))
        if y and _valid_year(y):
            return y
    for m in _YEAR_SUFFIXED.finditer(text):
        y = int(m.group("y"))
        strong = re.match(r"\s?(?:г\.?\s?в|гв|г/в)", text[m.end("y") : m.end()], re.IGNORECASE)
        if not strong and _YEAR_BARE_EXCLUDE_LEFT.search(text[max(0, m.start() - 12) : m.start()]):
            continue  # "куплена в 2019 году", "с 2020 г." are not the model year
        if _valid_year(y):
            return y
    for m in _YEAR_SHORT.finditer(text):
        left = text[max(0, m.start() - 20) : m.start()]
        if _YEAR_SHORT_EXCLUDE_LEFT.search(left):
            continue
        y2 = _two_digit_year(int(m.group("y")))
        if y2 and _valid_year(y2):
            return y2
    if bare_ok:
        for m in _YEAR_BARE.finditer(text):
            left = text[max(0, m.start() - 12) : m.start()]
            if _YEAR_BARE_EXCLUDE_LEFT.search(left):
                continue
            y = int(m.group("y"))
            if _valid_year(y):
                return y
    return None


# ---------------------------------------------------------------------------------------------------
# Engine volume

_ENGINE_UNIT = re.compile(
    r"(?<![\d.,])(?P<v>\d[.,]\d)\s?(?:л(?![а-я.]|\.\s?с)|л\.(?!\s?с)|литр\w*|l(?![a-z]))", re.IGNORECASE
)
_ENGINE_TAIL = re.compile(
    r"(?<![\d.,])(?P<v>\d[.,]\d)(?:\s?(?:tsi|tfsi|tdi|cdi|crdi|gdi|mpi|vvt-?i|t-?gdi|tce|vtec|skyactiv|i(?![a-z])|d(?![a-z])|t(?![a-z])|turbo"
    r"|тси|тфси|тди|сди|црди|гди|мпи|турбо\w*|v\s?\d{1,2}\b|amg|амг|умз|змз|cummins|камминс)"
    r"|[\s,/(]{0,3}\d{2,3}\s?(?:л\.?\s?с|hp|сил)"
    r"|[\s,/]{0,3}(?:at|mt|amt|cvt|dct|dsg|акпп|мкпп|ркпп|ат|мт|бенз\w*|диз\w*|гибрид\w*|hybrid|атмо\w*|ecoboost"
    r"|автомат\w*|механик\w*|мех|робот\w*|вариатор\w*|коробк\w*|\d?wd|4вд|awd|fwd|rwd|4\s?[xх]\s?4|полн\w*|передн\w*|задн\w*"
    r"|\d{1,2}\s?кл\w*|\d?dct|\d?dsg|амт|powershift|\w?-?tronic)(?![a-zа-я]))",
    re.IGNORECASE,
)
_ENGINE_FUEL_FIRST = re.compile(
    r"(?:дизел\w*|бензин\w*|бенз\.?|диз\.?|гибрид\w*|турбо)\s*[,:\-]?\s*(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b))",
    re.IGNORECASE,
)
_ENGINE_KEY = re.compile(
    r"(?:двигател\w*|двиг\.?|дв\.|мотор\w*|объ[её]м\w*(?:\s+двигателя)?|двс|⛽|🔧|engine)\s*[:\-–—]?\s*"
    r"(?:бензин\w*|дизель\w*|бенз\.?)?\s*[:\-–—,]?\s*(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b))",
    re.IGNORECASE,
)
_ENGINE_CC = re.compile(
    r"(?<![\d.,])(?P<cc>\d{3,4})\s?(?:см3|см³|см\.?\s?куб\w*|куб\.?\s?см|cc|куб(?![а-я]))", re.IGNORECASE
)
# A gearbox or fuel word right before a bare volume: "мех 1.6", "мкпп, 1.6", "бенз/1.8".
_ENGINE_SPEC_FIRST = re.compile(
    r"(?<![а-яa-z\d])(?:мех|механик\w*|мкпп|акпп|ркпп|автомат|робот|вариатор|at|mt|amt|cvt|dsg|ат|мт)"
    r"[\s,/]{1,3}(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b|кк|лям|р\b|руб|₽|%))",
    re.IGNORECASE,
)
# A bare volume as an item of a comma/slash list: "Нива 4х4 2020 г.в., 1.7, пробег 35 тыс." (only used when
# the post states its price elsewhere, so the number cannot be a price in millions).
_ENGINE_LIST_ITEM = re.compile(r"(?:^|[,/|•;]|\n)[ ]*(?P<v>\d[.,]\d)[ ]*(?=[,/|•;]|\n|$)")
_ENGINE_AFTER_MODEL = re.compile(
    r"^[\s,]{0,3}(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b|%|р\.|руб|₽))"
)


def _litres(raw: str) -> float | None:
    value = float(raw.replace(",", "."))
    return round(value, 1) if 0.6 <= value <= 8.5 else None


def parse_engine_volume(text: str, *, after_model: str | None = None, list_ok: bool = False) -> float | None:
    """Engine volume in litres: "1.6", "2.0л", "1598 см3" (1.6), "1.4 TSI", "двигатель 2.5", "мех 1.6".

    ``after_model`` is the text right after the model name, where a bare "1.6" is the engine.
    ``list_ok`` also accepts a bare volume standing alone as a list item (", 1.7,"); the caller sets
    it when the price is stated elsewhere, so such a number cannot be a price in millions.
    """
    text = prepare_text(text)
    for pattern in (_ENGINE_UNIT, _ENGINE_KEY, _ENGINE_TAIL, _ENGINE_FUEL_FIRST, _ENGINE_SPEC_FIRST):
        for m in pattern.finditer(text):
            litres = _litres(m.group("v"))
            if litres is not None:
                return litres
    for m in _ENGINE_CC.finditer(text):
        cc = int(m.group("cc"))
        if 600 <= cc <= 8500:
            return round(cc / 1000, 1)
    if after_model is not None:
        bare = _ENGINE_AFTER_MODEL.match(prepare_text(after_model))
        if bare:
            return _litres(bare.group("v"))
    if list_ok:
        for m in _ENGINE_LIST_ITEM.finditer(text):
            litres = _litres(m.group("v"))
            if litres is not None and litres <= 6.8:
                return litres
    return None


# ---------------------------------------------------------------------------------------------------
# Gearbox, drive, owners, fuel, condition, equipment

_TRANSMISSIONS: tuple[tuple[str, Words], ...] = (
    (
        "variator",
        Words(r"(?:вариатор\w*|\bcvt\b|multitronic|мультитроник\w*|x-?tronic|\bвар\b)", negations=_NEGATIONS),
    ),
    (
        "robot",
        Words(
            r"(?:робот\w*|\bamt\b|\bамт\b|\b\d?dsg\b|\b\d?dct\b|преселектив\w*"
            r"|\bркпп\b|\b\d?dsg\d\b|\b\d?dct\d\b|\bдсг\b|powershift|пауэршифт|s[- ]?tronic|\bpdk\b"
            r"|\bакпп\s*-?\s*робот)",
            negations=_NEGATIONS,
        ),
    ),
    (
        "automatic",
        Words(
            r"(?:\b\d?акпп\d{0,2}\b|\bакп\b|\bавтомат(?:а|ом|е|у)?\b|автоматическ\w*\s+(?:коробк\w*|кпп|трансмисси\w*)"
            r"|(?:кпп|коробк\w*|трансмисси\w*)\s*[:\-–—]?\s*автоматическ\w*"
            r"|\b\d?ат\b|\b\d?at\b|типтроник|tiptronic|steptronic|\b\d{1,2}g-?tronic|гидромех\w*|\bautomatic\b)",
            negations=_NEGATIONS,
        ),
    ),
    (
        "manual",
        Words(
            r"(?:\b\d?мкпп\d?\b|\bмкп\b|механик[аеуи]\b|механическ\w*\s+(?:кпп|коробк\w*|трансмисси\w*)|\b\d?мт\b"
            r"|(?:кпп|коробк\w*|трансмисси\w*)\s*[:\-–—]?\s*механическ\w*"
            r"|\b\d?mt\b|ручк[аеу]\b|\bмеха\b|\bмех\b|\bmanual\b)",
            negations=_NEGATIONS,
        ),
    ),
)


_NOT_GEARBOX = re.compile(r"климат\w*(?:[\s-]*контрол\w*)?\s*[:\-]?\s*автомат\w*")


def parse_transmission(text: str) -> str | None:
    """``automatic|manual|robot|variator`` from "АКПП", "автомат", "механика", "робот DSG", "CVT"..."""
    text = _NOT_GEARBOX.sub(" ", prepare_text(text).lower())
    best: tuple[int, str] | None = None
    for name, pattern in _TRANSMISSIONS:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), name)
    if best is None:
        return None
    # "робот" / "DSG" beside "АКПП" means a robotised box: the more specific name wins on the same line.
    if best[1] == "automatic":
        line_end = text.find("\n", best[0])
        line = text[best[0] : line_end if line_end >= 0 else len(text)]
        for name in ("robot", "variator"):
            if dict(_TRANSMISSIONS)[name].search(line):
                return name
    return best[1]


_DRIVES: tuple[tuple[str, Words], ...] = (
    (
        "awd",
        Words(
            r"(?:полн\w*\s+привод\w*|привод\w*\s*[:\-–—]?\s*(?:полный|4wd|awd|4x4|4х4)|полноприв\w*|\b4wd\b|\bawd\b"
            r"|\b4\s?[xх]\s?4\b|\b4вд\b|4matic|4-?матик|quattro|кватро|x-?drive|4motion|4моушн|all\s?grip|\bполный\b(?=\s*[,.;\n]|$))",
        ),
    ),
    (
        "fwd",
        Words(
            r"(?:передн\w*\s+привод\w*|привод\w*\s*[:\-–—]?\s*передн\w*|переднеприв\w*|\bfwd\b"
            r"|(?:акпп|мкпп|робот|вариатор|автомат|механика|at|mt|cvt)\s*,\s*передний\b(?=\s*[,.;\n]|$))"
        ),
    ),
    (
        "rwd",
        Words(
            r"(?:задн\w*\s+привод\w*|привод\w*\s*[:\-–—]?\s*задн\w*|заднеприв\w*|\brwd\b"
            r"|(?:акпп|мкпп|робот|вариатор|автомат|механика|at|mt|cvt)\s*,\s*задний\b(?=\s*[,.;\n]|$))",
        ),
    ),
)


def parse_drive(text: str) -> str | None:
    """``fwd|rwd|awd`` from "полный привод", "4WD", "привод: передний", "заднеприводный"..."""
    text = prepare_text(text).lower()
    best: tuple[int, str] | None = None
    for name, pattern in _DRIVES:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), name)
    return best[1] if best else None


_OWNER_WORDS = r"(?:хозя\w*|хоз\.?(?![а-я])|владел\w*|вл\.(?![а-я])|собственник\w*|собств\.)"
_NUMBER_WORDS = {
    "один": 1, "одна": 1, "одного": 1, "одним": 1, "единственный": 1, "единственная": 1, "единственного": 1,
    "первый": 1, "первого": 1, "первая": 1, "первой": 1,
    "два": 2, "две": 2, "двое": 2, "второй": 2, "второго": 2, "вторая": 2, "двух": 2,
    "три": 3, "трое": 3, "третий": 3, "третьего": 3, "третья": 3, "трех": 3,
    "четыре": 4, "четверо": 4, "четвертый": 4, "четырех": 4,
    "пять": 5, "пятеро": 5, "пятый": 5,
}  # fmt: skip
_OWNERS_NUM_FIRST = re.compile(
    r"(?<![\d.,])(?P<n>\d)\s?(?:-?\s?(?:х|ти|ий|ой|я|й|ая|ый))?\s?(?:хозя\w*|хоз\.?(?![а-я])|хоз(?![а-я])|владел\w*|вл\.?(?![а-я])"
    r"|влад\.?(?![а-я])|собственник\w*|собств\.?)",
    re.IGNORECASE,
)
_OWNERS_KEY_FIRST = re.compile(
    rf"(?:{_OWNER_WORDS}|👤|👥)(?:\s*(?:по|в)\s*(?:птс|документам|паспорту))?\s*[:\-–—=]?\s*(?P<n>\d)(?![\d\s\-()]*\d{{3}})(?!\d|[.,]\d)",
    re.IGNORECASE,
)
_OWNERS_WORD = Words(
    rf"(?P<w>{'|'.join(sorted(_NUMBER_WORDS, key=len, reverse=True))})\s+(?:{_OWNER_WORDS}|хозяйк\w*)"
)


def parse_owners(text: str) -> int | None:
    """Owner count: "1 хозяин", "собственников: 2", "один владелец", "2 вл. по ПТС", "первый хозяин" (= 1)."""
    text = prepare_text(text)
    hits: list[tuple[int, int]] = []
    for pattern in (_OWNERS_NUM_FIRST, _OWNERS_KEY_FIRST):
        for m in pattern.finditer(text):
            n = int(m.group("n"))
            if 1 <= n <= 9:
                hits.append((m.start(), n))
                break
    word = _OWNERS_WORD.search(text.lower())
    if word:
        hits.append((word.start(), _NUMBER_WORDS[word.group("w").lower()]))
    return min(hits)[1] if hits else None


_FUELS: tuple[tuple[str, Words], ...] = (
    ("hybrid", Words(r"гибрид\w*|hybrid")),
    ("electric", Words(r"электромобил\w*|\bэлектро\b|\bev\b|электрическ\w*\s+двиг")),
    ("diesel", Words(r"дизел\w*|дизель|\bдиз\.?\b|\btdi\b|\bcdi\b|\bcrdi\b|\bd4d\b|\bdiesel\b")),
    ("gas", Words(r"\bгбо\b|газ/бенз\w*|бенз\w*/газ|пропан|метан")),
    ("petrol", Words(r"бензин\w*|\bбенз\b|\bpetrol\b|\bgasoline\b|\bтурбобенз\w*")),
)


def parse_fuel(text: str) -> str | None:
    """``petrol|diesel|hybrid|electric|gas`` when stated (gas = LPG/CNG equipment)."""
    text = prepare_text(text).lower()
    for name, pattern in _FUELS:
        if pattern.search(text):
            return name
    return None


_NOT = ("не ",)
_AUTOTEKA: tuple[tuple[str, Words], ...] = (
    ("после ДТП", Words(r"(?:после\s+дтп|битая|битый|бита\b|был[ао]?\s+в\s+дтп|тотал\w*)", negations=_NOT)),
    ("были ДТП", Words(r"(?:есть\s+дтп|был[иао]?\s+дтп|мелкое\s+дтп|незначительн\w*\s+дтп|\d\s+дтп)")),
    ("без ДТП", Words(r"(?:без\s+дтп|дтп\s+не\s+был\w*|дтп\s*[:\-]?\s*нет|не\s+бит\w*|небит\w*|не\s+битая)")),
    ("автотека чистая", Words(r"автотек\w*\s+(?:чист\w*|идеальн\w*|без\s+замечаний)|чист\w*\s+автотек\w*")),
)  # fmt: skip


def parse_autoteka(text: str) -> str | None:
    """Accident / Autoteka status as stated: "после ДТП", "были ДТП", "без ДТП", "автотека чистая"."""
    text = prepare_text(text).lower()
    for label, pattern in _AUTOTEKA:
        if pattern.search(text):
            return label
    return None


_EQUIPMENT: tuple[tuple[str, Words], ...] = tuple(
    (label, Words(pattern))
    for label, pattern in (
        ("климат-контроль", r"климат\w*(?:[\s-]*контрол\w*)?"),
        ("кондиционер", r"кондиционер\w*|\bкондей\b"),
        ("подогрев сидений", r"подогрев\w*\s+(?:передних\s+|задних\s+|всех\s+)?сид\w*|подогрев\s+сидушек"),
        ("подогрев руля", r"подогрев\w*\s+рул\w*"),
        ("камера заднего вида", r"камер\w*(?:\s+заднего\s+вида)?|360"),
        ("парктроники", r"парктроник\w*|парковочн\w*\s+датчик\w*"),
        ("кожаный салон", r"кож\w*\s+салон|салон\s*[:\-]?\s*кож\w*|кожа\b"),
        ("люк", r"\bлюк\b"),
        ("панорамная крыша", r"панорам\w*"),
        ("навигация", r"навигаци\w*|навигатор\w*|\bgps\b"),
        ("круиз-контроль", r"круиз\w*"),
        ("ксенон", r"ксенон\w*|\bби-?ксенон\w*"),
        ("светодиодная оптика", r"\bled\b|светодиод\w*"),
        ("мультимедиа", r"мультимеди\w*|carplay|android\s+auto|магнитол\w*"),
        ("автозапуск", r"автозапуск\w*"),
        ("бесключевой доступ", r"бесключев\w*|keyless|запуск\s+с\s+кнопки|кнопк\w*\s+старт"),
        ("электропривод сидений", r"электропривод\w*\s+сид\w*|сидень\w*\s+с\s+электропривод\w*"),
        ("датчик дождя и света", r"датчик\w*\s+(?:дождя|света)"),
        ("электропривод багажника", r"электропривод\w*\s+багажник\w*|электробагажник\w*"),
        ("фаркоп", r"фаркоп\w*"),
    )
)


def parse_equipment(text: str) -> list[str]:
    """Equipment items stated in the text, as short Russian labels, in a stable order."""
    text = prepare_text(text).lower()
    return [label for label, pattern in _EQUIPMENT if pattern.search(text)]


# ---------------------------------------------------------------------------------------------------
# Contacts: phones and Telegram usernames

_PHONE_CANDIDATE = re.compile(r"(?<![\w=])(?:\+\s?)?\d[\d\s\-().]{8,22}\d(?![\w])")
_PHONE_STRUCTURED = re.compile(
    r"(?:\+\s?7|(?<!\d)8|(?<!\d)7)[\s\-]*\(?\s*\d{3}\s*\)?[\s\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)"
    r"|(?<!\d)9\d{2}[\s\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)"
)
_PHONE_ANY_PLUS = re.compile(r"\+\d{1,3}[\s\-]*\(?\d{1,4}\)?(?:[\s\-]*\d{1,4}){2,4}")


def _phone_e164(candidate: str) -> str | None:
    digits = re.sub(r"\D", "", candidate)
    plus = candidate.lstrip().startswith("+")
    if plus:
        if not 10 <= len(digits) <= 15:
            return None
    elif len(digits) == 11:
        if digits[0] not in "78":
            return None
    elif len(digits) == 10:
        if digits[0] not in "93487":  # mobile (9xx) or a geographic/800 code
            return None
    else:
        return None
    try:
        number = phonenumbers.parse(("+" + digits) if plus else digits, None if plus else "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_phone_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, e164)`` for every valid phone number in ``text`` (already prepared)."""
    spans: list[tuple[int, int, str]] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        raw = m.group(0)
        e164 = _phone_e164(raw)
        if e164:
            spans.append((m.start(), m.end(), e164))
            continue
        # A run of several numbers ("8 912 345-67-89, 8 (343) 300-10-20" or "2018 89123456789"): split it.
        for pattern in (_PHONE_STRUCTURED, _PHONE_ANY_PLUS):
            for sub in pattern.finditer(raw):
                e164 = _phone_e164(sub.group(0))
                if e164:
                    spans.append((m.start() + sub.start(), m.start() + sub.end(), e164))
            if spans and spans[-1][0] >= m.start():
                break
    return spans


def extract_phones(text: str) -> list[str]:
    """Seller phones normalised to E.164 (``+79123456789``), deduplicated in order of appearance.

    Uses ``phonenumbers`` (default region RU) on phone-shaped digit runs: 10–11 digits for Russian
    numbers ("8 (912) 345-67-89", "+7 912 345 67 89", "89123456789", "(843) 212-34-56"), or any valid
    international number written with "+". Prices, years and digit runs glued to letters (VIN
    fragments, ids) are never phones.
    """
    seen: dict[str, None] = {}
    for _, _, e164 in find_phone_spans(prepare_text(text)):
        seen.setdefault(e164, None)
    return list(seen)


_USERNAME_AT = re.compile(r"(?<![\w@.])@(?P<u>[A-Za-z][A-Za-z0-9_]{3,31})(?![\w@])")
_USERNAME_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?P<u>[A-Za-z][A-Za-z0-9_]{3,31})(?P<rest>/\d+|/|\?\S*)?(?![\w/])",
    re.IGNORECASE,
)
_NOT_USERNAMES = frozenset(
    {"joinchat", "addstickers", "share", "proxy", "socks", "iv", "login", "addlist", "setlanguage"}
)
# Lines that advertise the channel itself, its admin or chat: mentions there are not seller contacts.
_PROMO_LINE = Words(
    r"подпис\w*|канал\w*|наш\w*\s+(?:чат|групп\w*)|реклам\w*|размест\w*|предлож\w*\s+(?:пост|объявлен|новост|авто)"
    r"|предложк\w*|админ\w*|вступ\w*|источник|репост\w*|барахолк\w*|обсужден\w*|бот\w*\s+для",
    boundary=False,
)


def extract_usernames(text: str) -> list[str]:
    """Telegram usernames a seller can be reached at, without "@", deduplicated (case-insensitively).

    Counted: ``@name`` mentions and ``t.me/name`` profile links. Not counted: links to posts
    (``t.me/channel/123`` — that is a channel, not a contact), invite links (``t.me/+hash``,
    ``joinchat``), bot usernames (ending in "bot"), e-mail addresses, and any mention on a line that
    promotes the channel itself ("Подписывайтесь", "Разместить объявление", "Реклама", "Админ").
    """
    text = prepare_text(text)
    found: list[tuple[int, str]] = []
    for m in _USERNAME_LINK.finditer(text):
        rest = m.group("rest") or ""
        if rest.startswith("/") and rest[1:].isdigit():
            continue
        if rest.startswith("?"):
            continue
        found.append((m.start(), m.group("u")))
    for m in _USERNAME_AT.finditer(text):
        found.append((m.start(), m.group("u")))
    found.sort()
    result: dict[str, str] = {}
    for pos, name in found:
        low = name.lower()
        if low in _NOT_USERNAMES or low.endswith("bot"):
            continue
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        if _PROMO_LINE.search(line.lower()):
            continue
        result.setdefault(low, name)
    return list(result.values())


# ---------------------------------------------------------------------------------------------------
# Tokens, catalogue (brands/models) and cities

_TOKEN = re.compile(r"[0-9a-zа-я]+(?:['’-][0-9a-zа-я]+)*", re.IGNORECASE)
# Catalogue tokens split on hyphens: "ВАЗ-2114" -> "ваз 2114", "CX-5" -> "cx 5" (aliases split the same way).
_CAT_TOKEN = re.compile(r"[0-9a-zа-я]+(?:['’][0-9a-zа-я]+)*", re.IGNORECASE)
_LOOKALIKE = str.maketrans("авекмнорстухі", "abekmhopctyxi")
_HAS_LATIN_OR_DIGIT = re.compile(r"[0-9a-z]")


def normalize_token(token: str) -> str:
    """Lower-case, ``ё``→``е``; tokens with digits or Latin letters get Cyrillic look-alikes mapped to
    Latin ("Х5" → "x5", "Е200" → "e200", "сх-5" → "cx-5") so catalogue codes match however typed."""
    token = token.lower().replace("ё", "е").replace("’", "'")
    if _HAS_LATIN_OR_DIGIT.search(token):
        token = token.translate(_LOOKALIKE)
    return token


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(normalize_token(m.group(0)), m.start(), m.end()) for m in _CAT_TOKEN.finditer(text)]


def _cyrillic_forms(word: str) -> set[str]:
    """Singular case forms of a Russian noun-like alias ("веста" → "весту", "весты"...), by its ending."""
    forms = {word}
    if len(word) < 4 or not re.fullmatch(r"[а-я]+", word):
        return forms
    if word.endswith(("а",)):
        stem = word[:-1]
        forms |= {stem + end for end in ("у", "ы", "е", "ой", "ою", "и")}
    elif word.endswith("я"):
        stem = word[:-1]
        forms |= {stem + end for end in ("ю", "и", "ей", "е")}
    elif word.endswith("й"):
        stem = word[:-1]
        forms |= {stem + end for end in ("я", "ю", "ем", "е")}
    elif word.endswith("ь"):
        stem = word[:-1]
        forms |= {stem + end for end in ("я", "ю", "ем", "е", "и", "ью")}
    elif word[-1] not in "аеиоуыэюяь":
        forms |= {word + end for end in ("а", "у", "ом", "е")}
    return forms


@dataclass(frozen=True)
class _Alias:
    brand: str
    model: str | None
    weak: bool


class _Catalogue:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.brands: dict[str, list[_Alias]] = {}
        self.models: dict[str, list[_Alias]] = {}
        self.model_aliases_by_brand: dict[str, dict[str, str]] = {}
        self.max_ngram = 1
        for brand in doc["brands"]:
            name = brand["name"]
            for alias in brand["aliases"]:
                self._add(self.brands, alias, _Alias(name, None, False))
            for alias in brand.get("weak_aliases", []):
                self._add(self.brands, alias, _Alias(name, None, True))
            own: dict[str, str] = {}
            for model in brand["models"]:
                for alias in model["aliases"]:
                    for key in self._add(self.models, alias, _Alias(name, model["name"], False)):
                        own.setdefault(key, model["name"])
                for alias in model.get("weak_aliases", []):
                    for key in self._add(self.models, alias, _Alias(name, model["name"], True)):
                        own.setdefault(key, model["name"])
            self.model_aliases_by_brand[name] = own
        self.fuzzy_brand_keys = [
            k for k, v in self.brands.items() if len(k) >= 4 and any(not a.weak for a in v)
        ]
        # first words of multi-word aliases: longer n-grams are only tried from these tokens
        self.multi_first = frozenset(k.split(" ", 1)[0] for k in [*self.brands, *self.models] if " " in k)

    def _add(self, index: dict[str, list[_Alias]], alias: str, entry: _Alias) -> list[str]:
        words = [normalize_token(t) for t in _CAT_TOKEN.findall(prepare_text(alias))]
        if not words:
            return []
        self.max_ngram = max(self.max_ngram, len(words))
        keys = []
        for form in _cyrillic_forms(words[-1]):
            key = " ".join([*words[:-1], form])
            bucket = index.setdefault(key, [])
            if entry not in bucket:
                bucket.append(entry)
            keys.append(key)
        return keys


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    raw = resources.files("carsbot.core").joinpath("data/catalogue.json").read_text(encoding="utf-8")
    return _Catalogue(json.loads(raw))


@dataclass(frozen=True)
class Vehicle:
    brand: str | None
    model: str | None
    end: int | None = None  # offset just after the model (or brand) mention
    start: int | None = None
    fuzzy: bool = False


_DIGIT_MODEL_BLOCK = re.compile(
    r"^(?:хоз|влад|вл|собств|км|km|тыс|т|000|руб|р|млн|г|год|л|ткм|шт|мес|дн|дв|раз|%)", re.IGNORECASE
)


def _ngram_hits(
    tokens: list[tuple[str, int, int]],
    index: dict[str, list[_Alias]],
    max_n: int,
    multi_first: frozenset[str],
) -> list[tuple[int, int, list[_Alias]]]:
    hits: list[tuple[int, int, list[_Alias]]] = []
    i = 0
    while i < len(tokens):
        longest = min(max_n, len(tokens) - i) if tokens[i][0] in multi_first else 1
        for n in range(longest, 0, -1):
            key = " ".join(t[0] for t in tokens[i : i + n])
            entries = index.get(key)
            if entries:
                hits.append((i, n, entries))
                break
        i += 1
    return hits


def _digit_model_ok(tokens: list[tuple[str, int, int]], i: int, n: int) -> bool:
    key = tokens[i + n - 1][0]
    if not key.isdigit():
        return True
    nxt = tokens[i + n][0] if i + n < len(tokens) else ""
    return not _DIGIT_MODEL_BLOCK.match(nxt)


def find_vehicle(text: str) -> Vehicle:
    """Brand and model (canonical names from the catalogue) mentioned in ``text``.

    Exact alias matches first (Cyrillic aliases in any case: "Ладу Весту", "Шкоду Октавию"); a model
    alias right after the brand wins; a distinctive model alone implies its brand ("камри" → Toyota
    Camry); then a fuzzy match with ``rapidfuzz`` for misspelled brands ("Хюндяй") and models.
    """
    cat = _catalogue()
    text = prepare_text(text)
    tokens = _tokens(text)
    if not tokens:
        return Vehicle(None, None)
    model_hits = _ngram_hits(tokens, cat.models, cat.max_ngram, cat.multi_first)
    brand_hits = _ngram_hits(tokens, cat.brands, cat.max_ngram, cat.multi_first)

    def model_after(brand: str, pos: int, lo: int | None = None) -> tuple[int, int, str] | None:
        for i, n, entries in model_hits:
            if (lo if lo is not None else pos) <= i <= pos + 3 and (lo is None or i + n <= lo + 2):
                for e in entries:
                    if e.brand == brand and e.model and _digit_model_ok(tokens, i, n):
                        return i, n, e.model
        return None

    def model_anywhere(brand: str) -> tuple[int, int, str] | None:
        for i, n, entries in model_hits:
            for e in entries:
                if e.brand == brand and e.model and not e.weak:
                    return i, n, e.model
        return None

    first_brand: tuple[int, int, str] | None = None
    for i, n, entries in brand_hits:
        for e in entries:
            near = model_after(e.brand, i + n)
            if e.weak and near is None:
                continue
            if near is None and first_brand is None:
                # a brand alias that is itself part of a model alias ("шевроле нива") is handled by models
                first_brand = (i, n, e.brand)
            if near is not None:
                mi, mn, model = near
                return Vehicle(e.brand, model, tokens[mi + mn - 1][2], tokens[i][1])
    if first_brand is not None:
        i, n, brand = first_brand
        before = model_after(brand, i - 1, lo=max(0, i - 2)) if i > 0 else None  # "Нива Шевроле"
        if before is not None:
            mi, mn, model = before
            return Vehicle(brand, model, tokens[i + n - 1][2], tokens[mi][1])
        anywhere = model_anywhere(brand)
        if anywhere is not None:
            mi, mn, model = anywhere
            return Vehicle(brand, model, tokens[mi + mn - 1][2], tokens[i][1])
        fuzzy_model = _fuzzy_model(cat, brand, tokens[i + n : i + n + 3])
        if fuzzy_model is not None:
            j, model = fuzzy_model
            return Vehicle(brand, model, tokens[i + n + j][2], tokens[i][1], fuzzy=True)
        return Vehicle(brand, None, tokens[i + n - 1][2], tokens[i][1])
    for i, n, entries in model_hits:
        strong = [e for e in entries if not e.weak and e.model]
        if strong and _digit_model_ok(tokens, i, n):
            e = strong[0]
            return Vehicle(e.brand, e.model, tokens[i + n - 1][2], tokens[i][1])
    return _fuzzy_vehicle(cat, tokens)


def _fuzzy_model(cat: _Catalogue, brand: str, window: list[tuple[str, int, int]]) -> tuple[int, str] | None:
    from rapidfuzz import fuzz, process

    choices = [k for k in cat.model_aliases_by_brand.get(brand, {}) if len(k) >= 4 and not k.isdigit()]
    if not choices:
        return None
    for j, (tok, _, _) in enumerate(window):
        if len(tok) < 5 or tok.isdigit():
            continue
        best = process.extractOne(tok, choices, scorer=fuzz.ratio, score_cutoff=80)
        if best is not None:
            return j, cat.model_aliases_by_brand[brand][best[0]]
    return None


_FUZZY_STOP = frozenset(
    {
        "продам",
        "продаю",
        "продается",
        "продаётся",
        "срочно",
        "состояние",
        "пробег",
        "цена",
        "владелец",
        "хозяин",
    }
)


def _fuzzy_vehicle(cat: _Catalogue, tokens: list[tuple[str, int, int]]) -> Vehicle:
    from rapidfuzz import fuzz, process

    head = [t for t in tokens[:40] if len(t[0]) >= 5 and t[0].isalpha() and t[0] not in _FUZZY_STOP][:12]
    for idx, (tok, start, end) in enumerate(head):
        best = process.extractOne(tok, cat.fuzzy_brand_keys, scorer=fuzz.ratio, score_cutoff=80)
        if best is None:
            continue
        brand = next(a.brand for a in cat.brands[best[0]] if not a.weak)
        pos = tokens.index((tok, start, end))
        model: str | None = None
        model_end = end
        for j in range(pos + 1, min(pos + 4, len(tokens))):
            entries = cat.models.get(tokens[j][0], [])
            hit = next((e.model for e in entries if e.brand == brand and e.model), None)
            if hit:
                model, model_end = hit, tokens[j][2]
                break
        if model is None:
            fm = _fuzzy_model(cat, brand, tokens[pos + 1 : pos + 4])
            if fm is not None:
                model, model_end = fm[1], tokens[pos + 1 + fm[0]][2]
        _ = idx
        return Vehicle(brand, model, model_end, start, fuzzy=True)
    return Vehicle(None, None)


@dataclass(frozen=True)
class _City:
    name: str
    ambiguous: bool
    standalone: bool = False


class _CityIndex:
    def __init__(self, doc: dict[str, Any]) -> None:
        import pymorphy3

        morph = pymorphy3.MorphAnalyzer()
        self.morph = morph
        self.single: dict[str, _City] = {}
        self.multi: dict[tuple[str, ...], _City] = {}
        for item in doc["cities"]:
            city = _City(item["name"], bool(item.get("ambiguous")), bool(item.get("standalone")))
            for spelling in [item["name"], *item.get("aliases", [])]:
                words = [w.lower() for w in _TOKEN.findall(prepare_text(spelling))]
                word_forms = [self._forms(morph, w) for w in words]
                if len(words) == 1:
                    for form in word_forms[0]:
                        self.single.setdefault(form, city)
                else:
                    for combo in _product(word_forms):
                        self.multi.setdefault(tuple(combo), city)
        self.multi_lengths = sorted({len(k) for k in self.multi}, reverse=True)
        self.multi_first = frozenset(k[0] for k in self.multi)

    @staticmethod
    def _forms(morph: Any, word: str) -> set[str]:
        forms = {word}
        if not re.fullmatch(r"[а-я-]+", word) or len(word) < 3:
            return forms
        parses = morph.parse(word)
        geo = [p for p in parses if "Geox" in p.tag] or [p for p in parses if p.tag.POS in {"NOUN", "ADJF"}]
        for p in geo[:1]:
            for f in p.lexeme:
                if "plur" in f.tag and "Pltm" not in p.tag and p.tag.number != "plur":
                    continue
                forms.add(f.word.replace("ё", "е"))
        return forms


def _product(parts: list[set[str]]) -> list[list[str]]:
    combos: list[list[str]] = [[]]
    for options in parts:
        combos = [[*c, o] for c in combos for o in options]
    return combos


@lru_cache(maxsize=1)
def _cities() -> _CityIndex:
    raw = resources.files("carsbot.core").joinpath("data/cities.json").read_text(encoding="utf-8")
    return _CityIndex(json.loads(raw))


_CITY_MARKER = re.compile(
    r"(?:\b(?:в|во|из|с|со|под|около|г\.?|гор\.?|город[ае]?|городе|gorod|г\.о\.)\s*|#|📍\ufe0f?\s*|🏙️?\s*|🌆\s*|📌\s*|🗺️?\s*"
    r"|(?:город|локация|местоположение|находится|осмотр|нахожусь|расположение|location)\s*[:\-–—]?\s*)$",
    re.IGNORECASE,
)
_CITY_STRONG_CONTEXT = re.compile(
    r"(?:город|локация|местоположение|находится|осмотр|нахожусь|📍|🏙|location|г\.)\s*[:\-–—]?\s*(?:в\s+|во\s+|г\.\s*)?$",
    re.IGNORECASE,
)


_STANDALONE_LEFT = re.compile(r"(?:^|[.,;|/•!\n])[ ]*$")
_STANDALONE_RIGHT = re.compile(r"[ ]*(?:[.,;|/•\n]|$)")


def _standalone_city(text: str, city: _City, start: int, end: int) -> bool:
    """An ambiguous city flagged ``standalone`` written alone as a capitalised list item in its
    nominative form, not among the opening words: "... 980 000 руб. Киров, звонить после 18:00"."""
    if not city.standalone or not text[start].isupper() or len(text[:start].strip()) < 20:
        return False  # never the opening words: "Находка! Камри 2018..." is ad-speak
    if text[start:end].lower().replace("ё", "е") != city.name.lower().replace("ё", "е"):
        return False
    return bool(_STANDALONE_LEFT.search(text, max(0, start - 4), start)) and bool(
        _STANDALONE_RIGHT.match(text, end)
    )


# A town missing from cities.json after an explicit city marker: "г. Котельнич", "Город: Бердск", "📍 Кстово".
_MARKED_TOWN = re.compile(
    r"(?:(?<![\d\w])г\.|(?<!\w)гор\.|(?<!\w)[Гг]ород\w*\s*[:\-–—]?|📍\ufe0f?)\s*(?P<w>[А-Я][а-я]{3,}(?:-[А-Яа-я][а-я]+)*)"
    r"(?![а-яА-Я-])"
)
_NOT_TOWNS = frozenset(
    {"россия", "рф", "япония", "корея", "китай", "европа", "сибирь", "урал", "кавказ", "крым", "германия",
     "беларусь", "казахстан", "армения", "грузия", "киргизия", "узбекистан", "приморье", "кубань"}
)  # fmt: skip


def _marked_town(idx: _CityIndex, text: str) -> str | None:
    """The nominative name of a geographic word (pymorphy3 ``Geox``) right after "г."/"Город:"/"📍"."""
    for m in _MARKED_TOWN.finditer(text):
        if text[max(0, m.start() - 3) : m.start()].strip()[-1:].isdigit():
            continue  # "2015 г. Машина" is a year
        word = m.group("w").lower()
        if word in idx.single or word in _NOT_TOWNS:
            continue
        for parse in idx.morph.parse(word):
            if "Geox" in parse.tag and parse.tag.POS == "NOUN" and parse.normal_form not in _NOT_TOWNS:
                return "-".join(part[:1].upper() + part[1:] for part in parse.normal_form.split("-"))
    return None


def find_city(text: str) -> str | None:
    """The city the car is in, as a canonical Russian nominative ("в Москве" → "Москва", "СПб" → ...).

    City names match in any grammatical case (forms from pymorphy3), abbreviations and slang from
    ``core/data/cities.json``. Names that are also common words ("Орёл", "Владимир") count only after a
    place marker ("в", "из", "г.", "#", "📍"). A city after an explicit location label ("Город:",
    "📍", "Осмотр в") wins over earlier mentions.
    """
    idx = _cities()
    text = prepare_text(text)
    tokens = [(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    first: str | None = None
    for i, (tok, start, _end) in enumerate(tokens):
        city: _City | None = None
        for n in idx.multi_lengths if tok in idx.multi_first else ():
            if i + n <= len(tokens):
                key = tuple(t[0] for t in tokens[i : i + n])
                city = idx.multi.get(key)
                if city:
                    break
        if city is None:
            city = idx.single.get(tok)
        if city is None:
            continue
        left = text[max(0, start - 24) : start]
        if city.ambiguous and not _CITY_MARKER.search(left) and not _standalone_city(text, city, start, _end):
            continue
        if not city.ambiguous and tok.isascii() and not _CITY_MARKER.search(left) and len(tok) <= 3:
            continue  # "msk"-like Latin abbreviations only after a marker
        if tok == "ростов" and re.match(r"^\s*велик", text[_end : _end + 10], re.IGNORECASE):
            continue
        if _CITY_STRONG_CONTEXT.search(left):
            return city.name
        if first is None:
            first = city.name
    if first is None and ("г" in text or "Г" in text or "📍" in text):
        return _marked_town(idx, text)
    return first
