"""Text preparation, ad numbers and tokens shared by every normaliser (keyword patterns: ``keywords``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from carsbot.core.extraction.normalize.scan import lowers_exactly


@dataclass(frozen=True, slots=True)
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


# The last few texts found already prepared: the post, its masked copies... (a text equal to one of them
# is prepared too). Each normaliser prepares the text it is given, and the rules engine hands them a few
# texts in turn: each is scanned once.
_PREPARED = [""] * 4
_PREPARED_NEXT = [0]  # the slot the next one replaces
_NEEDS_PREP = re.compile(
    r"[\u00a0\u2000-\u200d\u202f\u205f\u3000\t\r\f\v\u2060\ufeff\u00ad\u2010-\u2015\u2212ёЁ]"
)


def forget_prepared() -> None:
    """Forget the last prepared texts (``rules.clear_caches`` calls it)."""
    _PREPARED[:] = [""] * len(_PREPARED)


def mark_prepared(text: str) -> None:
    """Remember ``text`` as prepared without scanning it: for a text made from a prepared one by
    replacing characters with spaces (the rules engine's masked copies). Preparation leaves none of the
    characters ``_NEEDS_PREP`` finds and a space is not one of them, so such a text is prepared."""
    if text not in _PREPARED:
        slot = _PREPARED_NEXT[0]
        _PREPARED[slot] = text
        _PREPARED_NEXT[0] = (slot + 1) % len(_PREPARED)


def prepare_text(text: str) -> str:
    """Unify spaces, dashes and ``ё`` so the patterns below can stay simple. Idempotent and cheap on
    already-prepared text."""
    if text in _PREPARED:  # identity first, then equal length and characters (no hashing, no scan)
        return text
    if not _NEEDS_PREP.search(text):
        mark_prepared(text)
        return text
    # Each character is replaced on its own, so one pass does what the four replacements did in turn
    # (removing zero-width characters, then spaces, dashes, "ё"): one scan instead of five.
    text = _NEEDS_PREP.sub(_prepared_char, text)
    mark_prepared(text)  # (none of the characters it puts in is one to prepare: the next call skips the scan)
    return text


def _prepared_char(m: re.Match[str]) -> str:
    return _PREP_CHAR[m.group()]


# What preparation makes of each character ``_NEEDS_PREP`` finds (the keys are exactly its class).
_PREP_CHAR: dict[str, str] = {
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
    **dict.fromkeys("\u00a0\u202f\u205f\u3000\t\r\f\v" + "".join(map(chr, range(0x2000, 0x200B))), " "),
    **dict.fromkeys("\u2212" + "".join(map(chr, range(0x2010, 0x2016))), "-"),
    "ё": "е",
    "Ё": "Е",
}


def _prepared_in_turn(text: str) -> str:
    """The replacements one after another (what ``_PREP_CHAR`` must agree with, checked at import)."""
    text = _ZERO_WIDTH.sub("", text)
    text = _ODD_SPACES.sub(" ", text)
    text = _DASHES.sub("-", text)
    return text.replace("ё", "е").replace("Ё", "Е")


assert all(_NEEDS_PREP.fullmatch(ch) and _prepared_in_turn(ch) == to for ch, to in _PREP_CHAR.items())


# The prepared, lower-cased copy of the last few texts, by the ``id`` of the text given (its entry holds
# the text, so no other text takes that ``id`` meanwhile): the rules engine hands the normalisers the
# same two or three texts of a post (the masked post, the post with its amounts masked too, the title
# zone), which each lower-cased on its own before; the engine registers the masked post's lower-cased
# copy, made for its keyword index, with ``remember_lowered``. An entry: [text, prepared, lower-cased,
# whether the lower-cased copy is exact (None until asked)]. ``forget_lowered`` empties it.
_LOWERED: dict[int, list[Any]] = {}
_LOWERED_MAX = 8  # (then all forgotten: a post brings two to four texts)


def lowered(text: str) -> tuple[str, str]:
    """``prepare_text(text)`` and its ``lower()``, each computed once for the last few texts."""
    entry = _LOWERED.get(id(text))
    if entry is None or entry[0] is not text:
        entry = _lowered_entry(text)
    return entry[1], entry[2]


def lowered_exactly(text: str) -> tuple[str, str, bool]:
    """``lowered(text)`` and whether the lower-cased copy searched case-sensitively finds what IGNORECASE
    finds in the prepared text (``scan.lowers_exactly``), also computed once per text."""
    entry = _LOWERED.get(id(text))
    if entry is None or entry[0] is not text:
        entry = _lowered_entry(text)
    if entry[3] is None:
        entry[3] = lowers_exactly(entry[1], entry[2])
    return entry[1], entry[2], entry[3]


def _lowered_entry(text: str) -> list[Any]:
    if len(_LOWERED) >= _LOWERED_MAX:
        _LOWERED.clear()
    prepared = prepare_text(text)
    entry = _LOWERED[id(text)] = [text, prepared, prepared.lower(), None]
    return entry


def remember_lowered(text: str, low: str) -> None:
    """Register ``low`` as the lower-cased copy of ``text``, a prepared text (``low == text.lower()``)."""
    if len(_LOWERED) >= _LOWERED_MAX:
        _LOWERED.clear()
    _LOWERED[id(text)] = [text, text, low, None]


def forget_lowered() -> None:
    """Forget the lower-cased copies (for ``rules.clear_caches``)."""
    _LOWERED.clear()


# ---------------------------------------------------------------------------------------------------
# Numbers

# A number as written in ads: "1 350 000", "1.350.000", "1,35", "850", "98000".
_NUM = r"\d{1,3}(?:(?:[ .,']|, )\d{3})+(?![.,]?\d)|\d+(?:[.,]\d+)?"
# Where a number may start: not inside another number, and a digit glued to letters on its left (a code
# such as "DSG7" or "AT6") never starts a comma-grouped amount ("DSG7, 120 тыс км" is not 7 120).
_NUM_START = r"(?<![\d.,])(?:(?<![^\W\d_])|(?!\d{1,3}, \d))"
# The same number, written to start with its first digit (so ``re`` can skip ahead to digits) and with
# the checks on what precedes it made after that digit: ``(?P<num>{_NUM_FROM_DIGIT})`` matches what
# ``{_NUM_START}(?P<num>{_NUM})`` matches, several times faster on long posts.
_NUM_FROM_DIGIT = (
    r"\d(?<![\d.,]\d)(?:(?<![^\W\d_]\d)|(?!\d{0,2}, \d))"
    r"(?:\d{0,2}(?:(?:[ .,']|, )\d{3})+(?![.,]?\d)|\d*(?:[.,]\d+)?)"
)


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


# The start of every catalogue token that holds a digit or a Latin letter (same boundaries as _CAT_TOKEN).
_CODED_TOKEN = re.compile(r"(?<![0-9a-zа-я'])(?=[а-я']*[0-9a-z])[0-9a-zа-я]+")
