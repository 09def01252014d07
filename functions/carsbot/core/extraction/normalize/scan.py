"""Scanning helpers shared by the normalisers: where a pattern can start, and when a lower-cased copy may
be searched instead of the text.

A pattern whose every match begins with one of a few literals needs to be tried only where they occur
(``positions_of`` + ``matches_at``: the same matches as ``finditer``, without stepping through the rest of
the text; look-behinds still see the text before each start). ``lowers_exactly`` says when a pattern of
lower-case letters run without IGNORECASE on ``text.lower()`` finds exactly what the IGNORECASE pattern
finds in ``text`` — ``re`` can then skip ahead on the first letters. ``top_level`` cuts a pattern into its
alternatives, for gates built once per pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Characters that an IGNORECASE pattern matches to a Latin or Cyrillic letter although their ``lower()``
# is not that letter ("ı" is "i", "ſ" is "s", the old Cyrillic forms "ᲀ"-"ᲈ" are "в", "д", "о"...); found
# by matching every code point against every letter. With none of them and no change of length, an
# IGNORECASE pattern matches ``text`` where its case-sensitive copy matches ``text.lower()``. Looked for one
# by one with ``in`` (``holds_any``): about a third of the cost of a regex class tried at every character.
_CASE_ODD = ("\u0131", "\u017f", *map(chr, range(0x1C80, 0x1C89)))


def lowers_exactly(text: str, low: str) -> bool:
    """Does searching ``low`` (``text.lower()``) case-sensitively find what IGNORECASE finds in ``text``?"""
    return len(low) == len(text) and not holds_any(text, _CASE_ODD)


def positions_of(text: str, needles: tuple[str, ...]) -> list[int]:
    """Every offset of any of ``needles`` in ``text``, ascending: where a pattern whose every match begins
    with one of them can start (for ``matches_at``)."""
    found: list[int] = []
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            found.append(at)
            at = text.find(needle, at + 1)
    return sorted(found)


def digits_before(low: str, suffixes: list[int], digits: int) -> list[int]:
    """Where ``digits`` digits end right before a suffix at one of ``suffixes`` (ascending), or before
    one space and the suffix: the starts of "2018г", "2018 г." (``digits=4``), "18 год" (2)."""
    starts = []
    for at in suffixes:
        if at > digits and low[at - 1].isspace() and low[at - 2].isdecimal():
            starts.append(at - 1 - digits)
        if at >= digits and low[at - 1].isdecimal():
            starts.append(at - digits)
    return starts


def matches_at(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` when its matches can only start at ``starts`` (ascending, repeats
    allowed): the same matches, without scanning the rest of the text."""
    end = 0
    for start in starts:
        if start >= end:
            m = pattern.match(text, start)
            if m is not None:
                end = m.end()
                yield m


def holds_any(text: str, needles: tuple[str, ...]) -> bool:
    """Does ``text`` hold one of ``needles``? (A quick test before a pattern that needs one of them runs:
    a plain loop, cheaper than ``any()`` over a generator or one regex of them all.)"""
    for needle in needles:  # noqa: SIM110 - the loop is the point
        if needle in text:
            return True
    return False


def top_level(pattern: str) -> list[str] | None:
    """``pattern`` cut at its top-level bars (outside groups and character classes); None when a group
    closes that ``pattern`` did not open."""
    parts: list[str] = []
    depth = start = i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = class_end(pattern, i)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def class_end(pattern: str, i: int) -> int:
    """The index just past the character class that opens at ``i``."""
    i += 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):  # a "]" first is a member
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1
