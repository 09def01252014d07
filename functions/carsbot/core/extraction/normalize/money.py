"""Money: prices and market prices in RUB (``find_money``, ``parse_price``, ``parse_market_price``)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Container
from itertools import groupby
from operator import itemgetter
from typing import NamedTuple

from carsbot.core.extraction.normalize.keywords import Words, for_lower_case
from carsbot.core.extraction.normalize.scan import top_level
from carsbot.core.extraction.normalize.text import _NUM_FROM_DIGIT, _number, lowered, prepare_text

MIN_CAR_PRICE = 15_000
MAX_CAR_PRICE = 500_000_000

_MILLION = r"(?:млн\.?|миллион\w*|mln|лям\w*|ляма|мульт\w*|кк(?![а-я]))"
_THOUSAND = (
    r"(?:(?:тыс(?:\.|яч\w*)?|тыщ\w*|тысч\w*)(?:\s*(?:руб\w*\.?|р\.?|₽))?|т\.\s?р\.?|т\.р\.?|тр\.?(?![а-я])"
    r"|к(?![а-я])|k(?![a-z])|т(?![а-я]))"
)
_RUBLE = r"(?:₽|руб(?:лей|ля|ль|\.)?|р\.|р(?![а-я])|rub|rur)"

# An amount: a number, then a unit or, for a number of two characters or more, nothing. A single digit
# alone is never an amount ("2 хозяина", "4WD"; "цена 1.2" has a dot), so it is not matched at all: a
# number's last character is a digit and, when it has more, the one before it a digit or a separator
# (``(?<=[\d.,]\d)`` after it). Without a unit the match still takes one space after the number. The
# units are tried only after a character one of them starts with (most numbers have none).
_MONEY = re.compile(
    rf"(?P<num>{_NUM_FROM_DIGIT})(?:(?=[ ]?[млкmтkр₽r])[ ]?"
    rf"(?:(?P<mln>{_MILLION})(?:[ ]*(?P<num2>\d{{1,3}})[ ]*(?:тыс\.?|т\.?р\.?|к)(?![а-я]))?"
    rf"|(?P<thou>{_THOUSAND})|(?P<rub>{_RUBLE}))|(?<=[\d.,]\d)[ ]?)",
    re.IGNORECASE,
)
# Keywords in the left context of an amount; the last one before the amount (with no other number in
# between) decides its role.
# Searched in the lower-cased text, regrouped by first character (see _by_first_character): every keyword
# starts with a literal, and one that starts with a letter must start a word. _Events relies on a keyword
# being made of letters, word characters and spaces (or being one emoji), checked there too.
_MONEY_EVENTS_PATTERN = (
    r"(?P<market>рын(?<!ниже\sрын)(?<!ниже\s\sрын)(?<!выше\sрын)(?:ок|ка|ке|ку|очн\w*)(?!\s+на\b)|\bсреднерыночн\w*"
    r"|market|\bоценк\w*)"
    r"|(?P<old>\bбыл[аои]?\b|❌|\bстар\w+\s+цен\w*|\bвместо\b|\bперечеркнут\w*)"
    r"|(?P<price>\bцен[аеуы]\b|стоимост\w*|💰|💵|💸|🏷|💲|прошу|отдам\s+за|продам\s+за|продаю\s+за|прода[её]тся\s+за"
    r"|продается\s+за|price|\bза\s*(?=\d))"
    r"|(?P<new>\bстал[ао]?\b|\bсейчас\b|\bтеперь\b|✅|нов\w+\s+цен\w*|снижен\w*\s+до)"
    r"|(?P<mileage>пробег\w*|🛣|одометр\w*|mileage)"
    r"|(?P<other>\b(?:торг\w*|скидк\w*|вложен\w*|вложил\w*|налог\w*|осаго|каско|страховк\w*|\bто\b|обслуживани\w*|взнос\w*"
    r"|платеж\w*|платёж\w*|доплат\w*|остаток|долг\w*|кредит\w*|ремонт\w*|покраск\w*|замен\w*|поменял\w*"
    r"|резин\w*|шин\w*|диск\w*|сигнализаци\w*|магнитол\w*|выгод\w*|дешевле|ниже\s+рынка\s+на|зарплат\w*"
    r"|экономи\w*|бюджет\w*|вычет\w*|залог\w*|штраф\w*|аренд\w*|сутк\w*|мес\w*|по\s+(?=\d)|х\b|x\b))"
)
_MONEY_EVENTS_ANY_CASE = re.compile(_MONEY_EVENTS_PATTERN, re.IGNORECASE)
_MONEY_LOW = for_lower_case(_MONEY)


def _alternatives(pattern: str) -> list[str]:
    """``pattern`` split at its top-level ``|`` (outside groups and character classes)."""
    parts = top_level(pattern)
    assert parts is not None, pattern  # the money patterns are balanced
    return parts


def _by_first_character(
    pattern: str, roles_kept: Container[str] = (), *, named: bool = True
) -> tuple[re.Pattern[str], list[str]]:
    """The keywords of ``_MONEY_EVENTS_PATTERN`` regrouped by their first character, for lower-cased text.

    ``re`` finds no first-character set for an alternation of named groups, so it would try every keyword
    at every position. Written as ``ц(?:ен[аеуы]\\b(?P<g0>)|...)|с(?:...)|...`` it skips to the positions
    holding a keyword's first character and, there, tries only the keywords starting with it, each
    rejected on its next character. A keyword starting with a letter must start a word: ``(?<!\\w.)``
    right after that letter. Keywords sharing a first character keep their order, so each position
    matches the same keyword as the plain alternation. With ``named``, an empty group closes each run
    of keywords of one role to name it (few groups: ``re`` fills every group of each match it makes):
    the pattern comes with the role of each group (``match.lastindex - 1`` indexes it). ``roles_kept``
    keeps only the keywords of those roles.
    """
    by_first: dict[str, list[tuple[str, str]]] = {}
    for group in _alternatives(Words._LEADING_B.sub(r"\1", pattern)):
        group_match = re.fullmatch(r"\(\?P<(\w+)>(.*)\)", group, re.DOTALL)
        assert group_match is not None, group
        role, body = group_match.groups()
        if roles_kept and role not in roles_kept:
            continue
        keywords = _alternatives(body)
        if len(keywords) == 1 and keywords[0].startswith("(?:"):  # "(?P<other>\b(?:торг\w*|...))"
            keywords = _alternatives(keywords[0][3:-1])
        for keyword in keywords:
            first, rest = keyword[0], keyword[1:]
            assert first not in "\\()[].^$|" and rest[:1] not in ("?", "*", "+", "{"), keyword
            consumed = re.sub(r"\\[wsb]|\(\?:|[()|*+?\[\]]", "", re.sub(r"\(\?<?[=!][^()]*\)", "", rest))
            assert (first.isalnum() and (consumed.isalpha() or not consumed)) or not rest, keyword
            by_first.setdefault(first, []).append((role, rest))
    roles: list[str] = []
    branches = []
    for first, same_first in by_first.items():
        rests = []
        for role, run in groupby(same_first, key=itemgetter(0)):
            keywords = [rest for _, rest in run]
            if named:
                either = keywords[0] if len(keywords) == 1 else f"(?:{'|'.join(keywords)})"
                rests.append(f"{either}(?P<g{len(roles)}>)")
                roles.append(role)
            else:
                rests += keywords
        word_start = r"(?<!\w.)" if first.isalnum() else ""
        branches.append(f"{re.escape(first)}{word_start}(?:{'|'.join(rests)})")
    return re.compile("|".join(branches)), roles


_MONEY_EVENTS, _MONEY_EVENT_ROLES = _by_first_character(_MONEY_EVENTS_PATTERN)
_KEYING = frozenset({"price", "market", "new"})  # the roles that let a bare number be an amount
_KEYING_EVENTS, _ = _by_first_character(_MONEY_EVENTS_PATTERN, _KEYING, named=False)
# A range bound ("от 1 200 000", "до 900к", "1 100 000 - 1 300 000") at the end of the left context, matched
# at the start of the reversed context (for "(?:\bот|\bдо|\bc|\bс|\d\s*-|<|>)\s*$" ``re`` would try every
# position). The left context holds no newline.
_RANGE_LEFT_REVERSED = re.compile(r"\s*(?:то\b|од\b|c\b|с\b|-\s*\d|<|>)", re.IGNORECASE)
# A foreign-currency amount is never the rouble price: "$12 000", "12 000 USD", "≈ €9 500".
_FOREIGN_SIGNS = ("$", "€", "¥")  # the last sign before the amount, spaces aside
_FOREIGN_RIGHT = re.compile(
    r"^\s*(?:\$|usd|долл\w*|€|eur\w*|евро|¥|юан\w*|иен\w*|cny|jpy|у\.\s?е\.)", re.IGNORECASE
)
# An auction grade is not a market price: "оценка 4.5", "оценка R".
_GRADE = re.compile(r"оценк\w*\s*[:\-]?\s*$", re.IGNORECASE)
# Thousands glued to "т" without a keyword: "1350т" is money (4-5 digits); "98т" is the mileage.
_GLUED_THOUSANDS = re.compile(r"^\d{4,5}$")
_MONEY_EXCLUDE_RIGHT = re.compile(
    r"^\s*(?:/\s*мес|в\s+мес|в\s+месяц|руб\w*\s*/\s*мес|₽\s*/\s*мес|в\s+год|в\s+сутки|/\s*сут|за\s+сутки|в\s+день"
    r"|/\s*день|/\s*час|в\s+час|в\s+подарок|км(?![а-я])|т\.?\s?км|тыс\.?\s*км|л\.с|лс\b|hp\b|км/ч|куб(?![а-я])"
    r"|см(?![а-я])|см3|см³|мм(?![а-я])|шт(?![а-я])|%|кг(?![а-я])|литр|за\s+(?:штуку|шт|комплект|литр))",
    re.IGNORECASE,
)
# The word "пробег" right after an amount, not itself followed by a number ("98 тыс. пробег, 1 250 000").
_MILEAGE_WORD_AFTER = re.compile(r"\s*\.?\s*(?:км\.?\s*)?пробег\w*(?!\s*[:\-–—]?\s*\d)", re.IGNORECASE)
_BARE_EXCLUDE_RIGHT = re.compile(r"^\s*(?:г\.|г\b|года?\b|год\b)", re.IGNORECASE)
_BARE_GROUPED = re.compile(r"^\d{1,3}(?:[ .]\d{3}){1,2}$")


class MoneyMention(NamedTuple):
    """One amount of money found in a text (immutable; a named tuple: made in one C call by ``_mention``,
    where a frozen dataclass sets each field through ``object.__setattr__``)."""

    value: int
    start: int
    end: int
    role: str  # "price" | "market" | "other"
    keyed: bool  # introduced by a price/market keyword
    unit: bool  # carried an explicit unit (₽, руб, тыс, к, млн)
    raw: str = ""  # the matched text


# ``_mention(MoneyMention, fields)``: ``MoneyMention(*fields)`` without the named tuple's Python ``__new__``
_mention = tuple.__new__


def _shorthand(value: float) -> int:
    """A bare number after a price keyword: posts write "цена 560" (thousands) or "1.35" (millions)."""
    if value < 30:
        return round(value * 1_000_000)
    if value < 10_000:
        return round(value * 1_000)
    return round(value)


# The end of a sentence (a full word, not an abbreviation such as "прим.", then ". "): a keyword before it
# does not give a role to an amount after it.
_SENTENCE_END = re.compile(r"[a-zа-я]{5}[.!?]\s+(?:[A-ZА-Я]|$)")
_NUMBER_BEFORE_KEY = re.compile(r"\d\s*(?:тыс\w*\.?|т\.?|[кk]|км\.?)?\s*$", re.IGNORECASE)
_KM_AFTER = re.compile(r"^\s*\.?\s*(?:км|km|\w*\s*км)", re.IGNORECASE)
_NOT_MONEY_RIGHT = re.compile(r"^\s*(?:км|km|т\.?\s?км|тыс|т\.|мото)", re.IGNORECASE)
_MILEAGE_BEFORE_NEW = re.compile(r"(?:пробег\w*|одометр\w*)\s*$", re.IGNORECASE)
_UNIT_BEFORE_KEY = re.compile(r"\d\s*(?:тыс\w*\.?|тыщ\w*|т\.?|[кk]|км\.?)\s*$", re.IGNORECASE)


def _not_digits(*blocks: tuple[int, int]) -> str:
    """A character class (for ``[^...]``) of the characters of ``blocks`` (inclusive code point ranges) that
    ``str.isdigit`` rejects."""
    ranges = []
    for low, high in blocks:
        start = None
        for code in range(low, high + 2):
            if code <= high and not chr(code).isdigit():
                start = code if start is None else start
            elif start is not None:
                ranges.append(f"\\U{start:08x}-\\U{code - 1:08x}")
                start = None
    return "".join(ranges)


# A character that may be a digit for ``str.isdigit``: anything but ASCII, Latin-1, Cyrillic, punctuation,
# symbols and emoji that are not. A text with none has no digit (one search instead of a call per
# character); else ``str.isdigit`` says.
_MAYBE_DIGIT = re.compile(
    f"[^{_not_digits((0, 0x4FF), (0x2000, 0x2BFF), (0xFE00, 0xFE0F), (0x1F300, 0x1FAFF))}]"
)

# Where a keyword search may start or stop (see _Events): after a character that is neither a word character
# nor a space (the last such before a position), or after a digit not glued to a word (the first such).
_BREAK_BEFORE = re.compile(r"(?s:.*)[^\w\s]")
_BREAK_AFTER = re.compile(r"[^\w\s]|(?<!\w)\d")


class _Events:
    """The money keywords of a text; ``last(start, end, after, glued)`` is the role keyword of the amount
    at ``end`` whose left context begins at ``start``: the last keyword there with no digits after it.

    Keywords are searched only where one can lead the amount: from ``after``, the end of the number
    before it (a keyword before that number has a digit after it), or from a later break before the left
    context, to the amount. Searched from there, the text yields exactly the keywords a search of all of
    it finds. A keyword is made of letters, other word characters and spaces (or is one emoji) and
    reaches a digit only through the word characters after its letters; so no keyword runs across a
    character that is neither a word character nor a space, nor across a number whose first digit is not
    glued to a word, nor into the first digit of such an amount, right after which the search stops.
    After an amount glued to a word ("цена1 200 000", "DQ500") it stops at the first such break.
    """

    __slots__ = ("low", "lowered", "text", "whole", "whole_ends")

    def __init__(self, text: str, low: str) -> None:
        self.text = text
        self.low = low
        self.lowered = len(low) == len(text)  # searched in ``low``; else all at once in ``text``
        self.whole: list[re.Match[str]] = []
        self.whole_ends: list[int] = []
        # a character whose lower case is longer: offsets of ``low`` are not those of ``text``
        if not self.lowered:
            self.whole = list(_MONEY_EVENTS_ANY_CASE.finditer(text))
            self.whole_ends = [e.end() for e in self.whole]

    def last(self, start: int, end: int, after: int, glued: bool) -> str | None:
        """The role the keywords give the amount at ``end`` (left context from ``start``), or None."""
        if self.lowered:
            low = self.low
            if start - after > 32 and (brk := _BREAK_BEFORE.match(low, after, start)) is not None:
                after = brk.end()
            if glued:
                stop = past.end() if (past := _BREAK_AFTER.search(low, end)) is not None else len(low)
            else:
                stop = end + 1
            # the keywords one by one (as ``finditer`` finds them; most windows hold none or one, and a search
            # costs less than setting up ``finditer``), up to the last one ending by the amount
            key = None
            search = _MONEY_EVENTS.search
            while (e := search(low, after, stop)) is not None and e.end() <= end:
                key = e
                after = e.end()
            if key is None:
                return None
            role = _MONEY_EVENT_ROLES[(key.lastindex or 0) - 1]
        else:
            i = bisect_right(self.whole_ends, end) - 1
            if i < 0:
                return None
            key = self.whole[i]
            role = str(key.lastgroup)
        last_start, last_end = key.span()
        if last_start < start:
            return None
        text = self.text
        between = text[last_end:end]
        if _MAYBE_DIGIT.search(between) is not None and any(map(str.isdigit, between)):
            return None
        if role == "new" and _MILEAGE_BEFORE_NEW.search(text, start, last_start):
            return "mileage"  # "Пробег сейчас 187 000": the mileage now, not a new price
        if ("." in between or "!" in between or "?" in between) and _SENTENCE_END.search(text, last_end, end):
            return None  # "все ТО по регламенту. Хотелка 3.1 млн": the keyword belongs to an earlier sentence
        if role == "mileage" and (
            (any(ch in ",;|/" for ch in between) and _NUMBER_BEFORE_KEY.search(text, start, last_start))
            or _UNIT_BEFORE_KEY.search(text, start, last_start)
        ):
            return None  # "98 тыс. пробег, 1 250 000", "180т пробег 620 тыщ": the keyword closed the mileage
        return role


def find_money(text: str) -> list[MoneyMention]:
    """Every amount of money in ``text`` (already prepared), with its role decided from the left context.

    Units: "млн"/"лям" (millions, decimals allowed: "1,35млн"), "тыс"/"т.р."/"к" (thousands), "₽"/"руб"/"р"
    (roubles). A bare number counts only after a price or market keyword ("цена 560" = 560 000,
    "рынок 1.5" = 1 500 000) or, for a space-grouped amount such as "1 300 000", on its own.
    """
    found: list[MoneyMention] = []
    events: _Events | None = None
    prepared, low = lowered(text)  # the rules engine lower-cased the post already
    if prepared is not text:  # not a prepared text after all: its own copy
        low = text.lower()
    # amounts are found in the lower-cased copy when it keeps every offset (faster without IGNORECASE)
    same_offsets = len(low) == len(text)
    scan, pattern = (low, _MONEY_LOW) if same_offsets else (text, _MONEY)
    may_key = _KEYING_EVENTS.search
    after_number = 0  # the end of the digits of the last number not glued to a word (see _Events)
    for m in pattern.finditer(scan):
        num, mln, num2, thou, rub = m.groups()
        start, end = m.span()
        after = after_number
        # glued to a word character on its left ("DQ500"): ``\w`` is what ``isalnum`` accepts, and "_"
        glued = start > 0 and ((before := scan[start - 1]).isalnum() or before == "_")
        if not glued:
            after_number = start + len(num)
        has_unit = bool(mln or thou or rub)  # else ``num`` has two characters or more (see _MONEY)
        # a space-grouped amount ("1 300 000") may stand alone; only asked of amounts without a unit, and
        # of five characters or more with a separator ("1.6" is none)
        grouped = (
            not has_unit
            and len(num) >= 5
            and ("." in num or " " in num)
            and _BARE_GROUPED.match(num) is not None
        )
        # the line start, or 40 characters back (so no need to look for a newline further back)
        left_start = text.rfind("\n", start - 41 if start > 41 else 0, start) + 1
        if left_start < start - 40:
            left_start = start - 40
        # a bare number with no price, market or new-price keyword starting in its left context (after the
        # number before it) is no amount: said here at the cost of one search (``last`` would say it too)
        if (
            not has_unit
            and not grouped
            and same_offsets
            and not glued
            and may_key(low, after if after > left_start else left_start, start + 1) is None
        ):
            continue
        line_end = text.find("\n", end, end + 14)
        right = text[end : line_end if line_end >= 0 else end + 14]
        told = bool(right) and not right.isspace()  # the patterns of the right context all need a non-space
        # the checks that do not need the keyword first (they reject either way)
        if thou and told and _KM_AFTER.match(right):
            continue  # "98к км", "98 т. км" is mileage
        if not has_unit and told and _NOT_MONEY_RIGHT.match(right):
            continue
        if events is None:
            events = _Events(text, low)
        event = events.last(left_start, start, after, glued)
        if not has_unit and event not in _KEYING and not grouped:
            continue  # a bare number with no price keyword before it: a year, a volume, a count...
        left = text[left_start:start]
        if event == "mileage" and not (rub or (thou and "р" in thou.lower())):
            continue  # "пробег 120 тыс" is mileage; "245тыс пробег 430т.р." still names a price
        price_keyed = event == "price" or event == "market"
        if not price_keyed and not rub and not mln and _MILEAGE_WORD_AFTER.match(text, end, end + 40):
            continue  # "98 тыс. пробег", "87 000 км пробег," is the mileage, not money
        if thou and not price_keyed and thou.lower() == "т" and not _GLUED_THOUSANDS.match(num):
            continue  # "2.0т", "5т", "98т" without a money keyword is not money ("1350т" is)
        if event == "market" and not has_unit and _GRADE.search(left):
            continue  # "оценка 4.5": an auction grade
        if event == "new":  # "стало 1 390 000", "✅ 1 090 000" (but "✅ 1.6 АКПП" is no shorthand price)
            event = "price" if has_unit or grouped else None
            price_keyed = event == "price"
        bare_grouped = grouped and not price_keyed
        if not (has_unit or price_keyed or bare_grouped):
            continue
        if "." in num or "," in num:
            value = _number(num, decimal_unit=bool(mln or thou))
        else:  # digits grouped by spaces or apostrophes at most, as _number reads them (faster)
            value = float(num.replace("'", "").replace(" ", ""))
        if value is None:
            continue
        if mln:
            scaled = round(value * 1_000_000)
        elif thou:
            scaled = round(value * 1_000)
        elif rub or bare_grouped:
            scaled = round(value)
        elif price_keyed:
            scaled = _shorthand(value)
        else:
            continue
        if mln and num2:
            scaled += int(num2) * 1_000
        if price_keyed:
            role = str(event)
        elif event == "other" or event == "old" or _RANGE_LEFT_REVERSED.match(left[::-1]):
            role = "other"
        else:
            role = "price"
        if left.rstrip().endswith(_FOREIGN_SIGNS) or (told and _FOREIGN_RIGHT.match(right)):
            role = "other"
        if role != "market" and told and _MONEY_EXCLUDE_RIGHT.match(right):
            role = "other"
        if not has_unit and told and _BARE_EXCLUDE_RIGHT.match(right):
            role = "other"
        if bare_grouped and role == "price" and scaled < 50_000:
            role = "other"
        if not MIN_CAR_PRICE <= scaled <= MAX_CAR_PRICE:
            role = "other"
        fields = (scaled, start, end, role, price_keyed, has_unit, text[start:end])
        found.append(_mention(MoneyMention, fields))
    return found


def parse_price(text: str) -> int | None:
    """The asking price in RUB: a keyed price first ("цена 1.35 млн"), else the first unit-bearing amount."""
    pick = best_price(find_money(prepare_text(text)))
    return pick.value if pick else None


def best_price(mentions: list[MoneyMention]) -> MoneyMention | None:
    """The asking price among ``mentions``: keyed first, then with a unit, then a bare grouped amount."""
    with_unit = first = None
    for m in mentions:
        if m.role == "price":
            if m.keyed:
                return m
            if with_unit is None and m.unit:
                with_unit = m
            if first is None:
                first = m
    return with_unit if with_unit is not None else first


def parse_market_price(text: str) -> int | None:
    """The stated market price in RUB ("рынок 1.5", "по рынку 1 600 000"); "ниже рынка" alone is None."""
    for m in find_money(prepare_text(text)):
        if m.role == "market" and MIN_CAR_PRICE <= m.value <= MAX_CAR_PRICE:
            return m.value
    return None
