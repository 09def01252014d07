"""Engine volume in litres (``parse_engine_volume``)."""

from __future__ import annotations

import re

from carsbot.core.extraction.normalize.keywords import for_lower_case
from carsbot.core.extraction.normalize.scan import digits_before, matches_at, positions_of
from carsbot.core.extraction.normalize.text import Hit, lowered, lowered_exactly, prepare_text

_ENGINE_UNIT = re.compile(
    r"(?P<v>\d(?<![\d.,]\d)[.,]\d)\s?(?:л(?![а-я.]|\.\s?с)|л\.(?!\s?с)|литр\w*|l(?![a-z]))", re.IGNORECASE
)
_ENGINE_TAIL = re.compile(
    r"(?P<v>\d(?<![\d.,]\d)[.,]\d)(?:\s?(?:tsi|tfsi|fsi|tdi|cdi|crdi|gdi|mpi|mivec|dohc|sohc|hdi|dci|jtd|tgi|16v|vvt-?i|t-?gdi|tce|vtec|skyactiv|i(?![a-z])|d(?![a-z])|t(?![a-z])|turbo"
    r"|(?<=\d)т(?![а-яa-z])|инжект\w*|карб\w*"
    r"|тси|тфси|тди|сди|црди|гди|мпи|турбо\w*|v\s?\d{1,2}\b|amg|амг|умз|змз|cummins|камминс)"
    r"|[\s,/(]{0,3}\d{2,3}\s?(?:л\.?\s?с|hp|сил)"
    r"|[\s,/]{0,3}(?:at|mt|amt|cvt|dct|dsg|акпп|мкпп|ркпп|ат|мт|бенз\w*|диз\w*|гибрид\w*|hybrid|атмо\w*|ecoboost"
    r"|автомат\w*|механик\w*|мех|робот\w*|вариатор\w*|коробк\w*|\d?wd|4вд|awd|fwd|rwd|4\s?[xх]\s?4|полн\w*|передн\w*|задн\w*"
    r"|\d{1,2}\s?кл\w*|\d?dct|\d?dsg|амт|powershift|\w?-?tronic)(?![a-zа-я]))",
    re.IGNORECASE,
)
_ENGINE_FUEL_FIRST = re.compile(
    r"(?:дизел\w*|бензин\w*|бенз\.?|диз\.?|гибрид\w*|турбо|инжектор\w*|карбюратор\w*)"
    r"(?:\s+(?:dm-?i|phev|hev|e-?power|mhev))?\s*[,:\-]?\s*(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b))",
    re.IGNORECASE,
)
_ENGINE_KEY = re.compile(
    r"(?:двигател\w*|двиг\.?|дв\.|мотор\w*|объ[её]м\w*(?:\s+двигателя)?|двс|⛽|🔧|engine)\s*[:\-–—]?\s*"
    r"(?:бензин\w*|дизель\w*|бенз\.?)?\s*[:\-–—,]?\s*(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b))",
    re.IGNORECASE,
)
_ENGINE_CC = re.compile(
    r"(?P<cc>\d(?<![\d.,]\d)\d{2,3})\s?(?:см3|см³|см\.?\s?куб\w*|куб\.?\s?см|cc|куб(?![а-я]))", re.IGNORECASE
)
# A gearbox or fuel word right before a bare volume: "мех 1.6", "мкпп, 1.6", "бенз/1.8".
# (The check that no letter or digit comes before the word is made after the word, so that ``re`` skips
# ahead to the words' first letters; "мех" is tried before "механик" as in "(?:мех|механик\w*|...)".)
_SPEC_WORDS: tuple[str, ...] = ("мех", "механик", "мкпп", "акпп", "ркпп", "автомат", "робот", "вариатор")
_SPEC_WORDS += ("at", "mt", "amt", "cvt", "dsg", "ат", "мт")
_ENGINE_SPEC_FIRST = re.compile(
    "(?:"
    + "|".join(
        f"{word}(?<![а-яa-z\\d]{word})" + ("\\w*" if word == "механик" else "") for word in _SPEC_WORDS
    )
    + r")[\s,/]{1,3}(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b|кк|лям|р\b|руб|₽|%))",
    re.IGNORECASE,
)
# A bare volume as an item of a comma/slash list: "Нива 4х4 2020 г.в., 1.7, пробег 35 тыс." (only used when
# the post states its price elsewhere, so the number cannot be a price in millions).
_ENGINE_LIST_ITEM = re.compile(r"(?:^|[,/|•;]|\n)[ ]*(?P<v>\d[.,]\d)[ ]*(?=[,/|•;]|\n|$)")
_LIST_SEPARATORS = ",/|•;\n"
_ENGINE_AFTER_MODEL = re.compile(
    r"^[\s,]{0,3}(?P<v>\d[.,]\d)(?![\d.,]?\d)(?!\s?(?:млн|м\b|т\.|тыс|к\b|%|р\.|руб|₽))"
)


def _litres(raw: str) -> float | None:
    value = float(raw.replace(",", "."))
    return round(value, 1) if 0.6 <= value <= 8.5 else None


def parse_engine_volume(text: str, *, after_model: str | None = None, list_ok: bool = False) -> float | None:
    """Engine volume in litres: "1.6", "2.0л", "1598 см3" (1.6), "1.4 TSI", "1.5Т", "двигатель 2.5".

    ``after_model`` is the text right after the model name, where a bare "1.6" is the engine.
    ``list_ok`` also accepts a bare volume standing alone as a list item (", 1.7,"); the caller sets
    it when the price is stated elsewhere, so such a number cannot be a price in millions.
    """
    hit = engine_hit(text, after_model=after_model, list_ok=list_ok)
    return hit.value if hit else None


# Each rule's pattern and the words one of which every match begins with (none: see ``engine_hit``).
_PATTERNS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("engine:litres", _ENGINE_UNIT, ()),
    ("engine:keyword", _ENGINE_KEY, ("дв", "мотор", "объ", "⛽", "🔧", "engine")),
    ("engine:suffix", _ENGINE_TAIL, ()),
    ("engine:fuel-first", _ENGINE_FUEL_FIRST, ("диз", "бенз", "гибрид", "турбо", "инжектор", "карбюратор")),
    ("engine:gearbox-first", _ENGINE_SPEC_FIRST, ()),
)
_LOWER_PATTERNS = tuple((rule, for_lower_case(pattern), words) for rule, pattern, words in _PATTERNS)


def engine_hit(text: str, *, after_model: str | None = None, list_ok: bool = False) -> Hit | None:
    """The engine volume and the rule that found it (see ``parse_engine_volume``)."""
    given = text
    text, low = lowered(given)
    figures = [sep.start() - 1 for sep in _DECIMAL.finditer(text)]  # where the decimal figures ("1.6") start
    if figures:  # what every rule but "engine:cc" reads
        same_offsets = len(low) == len(text)  # lower case is cheaper to search (when offsets are kept)
        for rule, pattern, words in _LOWER_PATTERNS if same_offsets else _PATTERNS:
            if not same_offsets:
                matches = pattern.finditer(text)
            elif words:  # only where its keywords are
                matches = matches_at(pattern, low, positions_of(low, words))
            elif (
                rule == "engine:gearbox-first"
            ):  # a gearbox word and 1-3 spaces, commas or slashes before a figure
                matches = matches_at(pattern, low, _spec_starts(low, figures))
            else:  # a volume first: only at the decimal figures
                matches = matches_at(pattern, low, figures)
            for m in matches:
                litres = _litres(m.group("v"))
                if litres is not None and not _PAYLOAD_LEFT.search(text, max(0, m.start() - 24), m.start()):
                    return Hit(litres, rule, m.start(), m.end())
    # "см3", "cc", "куб" after 3-4 digits (the word test on the lower-cased copy is exact when it
    # lower-cases the way IGNORECASE matches)
    if not lowered_exactly(given)[2]:
        cubic = _ENGINE_CC.finditer(text)
    else:  # only at 3-4 digits (and a space) before a unit
        units = positions_of(low, _CUBIC_WORDS)
        cubic = matches_at(
            _ENGINE_CC_LOW, low, sorted(digits_before(low, units, 4) + digits_before(low, units, 3))
        )
    for m in cubic:
        cc = int(m.group("cc"))
        if 600 <= cc <= 8500:
            return Hit(round(cc / 1000, 1), "engine:cc", m.start(), m.end())
    if after_model is not None:
        bare = _ENGINE_AFTER_MODEL.match(prepare_text(after_model))
        if bare:
            litres = _litres(bare.group("v"))
            return Hit(litres, "engine:after-model", bare.start(), bare.end()) if litres is not None else None
    if list_ok and figures:
        for m in matches_at(_ENGINE_LIST_ITEM, text, _list_item_starts(text, figures)):
            litres = _litres(m.group("v"))
            if litres is not None and litres <= 6.8:
                return Hit(litres, "engine:list-item", m.start(), m.end())
    return None


def _spec_starts(low: str, figures: list[int]) -> list[int]:
    """Where an ``_ENGINE_SPEC_FIRST`` match can start: its gearbox word ends 1-3 spaces, commas or slashes
    before a figure and is the run of letters there (no letter or digit before it), or it is a
    "механик..." (whose ``\\w*`` may hold other characters)."""
    starts = positions_of(low, ("механик",))
    for figure in figures:
        end = figure
        while end > max(0, figure - 3) and (low[end - 1].isspace() or low[end - 1] in ",/"):
            end -= 1
            word = end
            while word > 0 and _letter_or_digit(low[word - 1]):
                word -= 1
            starts.append(word)
    return sorted(starts)


def _letter_or_digit(char: str) -> bool:
    """Is ``char`` in ``[а-яa-z\\d]`` (what may not come before a gearbox word)?"""
    return "а" <= char <= "я" or "a" <= char <= "z" or char.isdecimal()


def _list_item_starts(text: str, figures: list[int]) -> list[int]:
    """Where an ``_ENGINE_LIST_ITEM`` match can start: the list separator (or the text's start) before a
    decimal figure with nothing but spaces between."""
    starts = []
    for figure in figures:
        at = figure
        while at > 0 and text[at - 1] == " ":
            at -= 1
        if at == 0:
            starts.append(0)
        elif text[at - 1] in _LIST_SEPARATORS:
            starts.append(at - 1)
    return starts


# Every engine volume holds a decimal figure or a cubic-centimetre unit after 3-4 digits. (The decimal
# separator between two digits, found from the separator, so that ``re`` skips ahead to "." and ",".)
_DECIMAL = re.compile(r"[.,](?<=\d[.,])(?=\d)")
_CUBIC_WORDS = ("см", "cc", "куб")  # what every unit of _ENGINE_CC begins with
_ENGINE_CC_LOW = for_lower_case(_ENGINE_CC)
# "грузоподъемность 1.5т" is a payload, not an engine.
_PAYLOAD_LEFT = re.compile(r"(?:грузопод\w*|тоннаж\w*|масса|вес\w*)\s*[:\-]?\s*$", re.IGNORECASE)
