"""Text preparation, keyword patterns, ad numbers and tokens shared by every normaliser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hit:
    """A value a normaliser found, with the rule that produced it and where (for ``carsbot eval``)."""

    value: Any
    rule: str
    start: int
    end: int


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
        search = self.regex.search
        pos = 0
        while (m := search(low, pos)) is not None:
            start = m.start()
            if (self.boundary and start > 0 and (low[start - 1].isalnum() or low[start - 1] == "_")) or (
                self.negations and low[max(0, start - 6) : start].endswith(self.negations)
            ):
                pos = start + 1  # a rejected candidate may hide a good match inside it ("amt, полный")
                continue
            yield m
            pos = m.end() if m.end() > start else start + 1

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
# Tokens

_TOKEN = re.compile(r"[0-9a-zа-я]+(?:['’-][0-9a-zа-я]+)*", re.IGNORECASE)
# Catalogue tokens split on hyphens: "ВАЗ-2114" -> "ваз 2114", "CX-5" -> "cx 5" (aliases split the same way).
_CAT_TOKEN = re.compile(r"[0-9a-zа-я]+(?:['’][0-9a-zа-я]+)*", re.IGNORECASE)
# Cyrillic letters in codes, by look ("Х5", "Е200", "ХС90") or by sound ("ЦС55", "ЛХ570", "Ф7").
_LOOKALIKE = str.maketrans("авекмнорстухіцлфдгизп", "abekmhopctyxiclfdgizp")
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
