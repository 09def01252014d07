"""Keyword patterns (``Words``) and the per-text word index (``WordStarts``) that gates them.

A ``Words`` pattern is searched in lower-cased text; each of its top-level alternatives gets anchor bits
(the literal beginnings of its matches, up to ``ANCHOR_CHARS`` letters, read from the parsed pattern),
and a text's ``WordStarts`` holds the bits of every word beginning it contains. A pattern (or an
alternative) whose anchors begin no word of the text is not searched; the earliest match, the first
alternative winning ties, is exactly what the whole regex returns.
"""

from __future__ import annotations

import re
import re._parser as _sre_parser  # the stdlib's regex parser (private; the tests run on 3.11-3.13)
import threading
from collections.abc import Iterator
from functools import reduce
from itertools import compress
from operator import or_
from typing import Any

from carsbot.core.extraction.normalize.scan import top_level


class Words:
    """A lower-case keyword pattern, searched in lower-cased text.

    Python's ``re`` skips ahead with a first-character prefilter only when a pattern starts with plain
    characters; a leading ``\\b`` or look-behind disables it and makes a keyword alternation 10-20x
    slower. So leading ``\\b`` are stripped at compile time and the left word boundary (and an optional
    negation such as "не ") is checked in Python on the rare candidate matches.

    Most keywords are absent from most posts, so each pattern also knows the literal beginnings of its
    alternatives (``anchors``, up to ANCHOR_CHARS characters, read from the parsed pattern). When none of them
    begins a word of the text (``WordStarts``), the regex does not run at all. A text is gated so when it
    is longer than ``GATE_MIN_CHARS`` (a shorter one is searched directly: its index would cost more than
    a few searches), or whatever its length once its index was built (``word_starts``): the rules engine
    builds it for the whole lower-cased post, which some fifty patterns then search. A pattern built with
    ``indexed=False`` searches text that no other pattern does (the post as written, for links): it never
    builds an index of its own, so it is gated only by one that was built already.

    A pattern of many alternatives ("ремонт\\w*|шиномонтаж\\w*|...") also gates each alternative: ``re``
    tries every alternative at every position where one could begin, so searching only the one or two
    whose anchors the text holds is several times cheaper. The earliest match of the alternatives (the
    first of them on a tie) is the match of the whole pattern, so the result is the same. An alternative
    whose matches all hold some plain characters past their beginning (``inner``: "контрактн") is not
    searched in a text without them.

    In a long text (``LEAD_MIN_CHARS``) a pattern whose possible alternatives are many, or begin in
    several ways, is matched only where one of their literal beginnings (``leads``: "предлага",
    "в" and a space...) is, found by ``str.find``: ``re`` would try it at nearly every letter. An
    ungated pattern with plain characters at a fixed offset in every match (``offset``) is matched
    only there. Either way every match starts at one of those offsets, so the matches are the same.
    """

    __slots__ = (
        "anchors",
        "bits",
        "boundary",
        "gate",
        "indexed",
        "inner",
        "leads",
        "likely",
        "needles",
        "negations",
        "offset",
        "parts",
        "regex",
        "span",
        "whole",
    )

    _LEADING_B = re.compile(r"(^|\||\(\?:|\(\?P<\w+>|\()\\b")

    def __init__(
        self,
        pattern: str,
        *,
        boundary: bool = True,
        negations: tuple[str, ...] = (),
        needles: tuple[str, ...] = (),
        indexed: bool = True,
    ) -> None:
        self.regex = re.compile(self._LEADING_B.sub(r"\1", pattern))
        self.indexed = indexed  # may build the index of a long text it searches
        self.whole: tuple[re.Pattern[str], ...] = (self.regex,)
        self.boundary = boundary
        self.negations = negations
        anchors = _anchors(self.regex.pattern)
        # only anchors that begin with a word character can be checked against the words' beginnings
        usable = bool(boundary and anchors and all(a[0].isalnum() for a in anchors))
        self.anchors = anchors if usable else None
        # ``gate``: the first of the pattern's bits in a text's ``WordStarts.mask``; one bit per gated
        # alternative (``parts``), or a single bit for the whole pattern when it is not split.
        self.parts: tuple[re.Pattern[str], ...] = ()
        self.inner: tuple[str, ...] = ()  # per alternative: characters every match of it holds, or ""
        self.gate: int | None = None
        self.span = 0
        if usable and anchors:
            split = _alternatives(self.regex)
            self.parts = tuple(regex for regex, _ in split) if split else ()
            self.inner = tuple(_inner_literal(regex) for regex in self.parts)
            self.gate, self.span = _register([a for _, a in split] if split else [anchors])
        # by bit, the alternatives that a word beginning with their anchor matches ("кузов\\w*", not
        # "авто\\b"): ``occurs`` tries them first
        self.likely = sum(
            1 << i for i, regex in enumerate(self.parts) if _WORD_AND_REST.fullmatch(regex.pattern)
        )
        # per bit: the literal beginnings of its matches (``_leads``; None: not all literal)
        self.leads = tuple(map(_leads, self.parts or self.whole)) if self.gate is not None else ()
        self.bits = self.span << self.gate if self.gate is not None else 0  # its bits in a ``mask``
        # Substrings every match holds one of (given by hand for a pattern whose branches do not all begin
        # with a letter, so ``re`` cannot skip ahead and tries it at every position): none, no search.
        self.needles = needles
        # An ungated pattern whose matches all hold some plain characters at a fixed offset from their
        # start ("/" three characters in, in "\\d{3}/\\d{2}"): a long text is searched only there.
        self.offset = _offset_literal(self.regex) if self.gate is None else None

    def search(self, low: str) -> re.Match[str] | None:
        """The first match of ``finditer`` (without a generator: most calls find nothing)."""
        gate = self.gate
        if gate is not None:
            starts = _STARTS.get(low)
            if starts is None and self.indexed and len(low) > GATE_MIN_CHARS:
                starts = word_starts(low)
            if starts is not None:
                bits = (starts.mask >> gate) & self.span  # the usual answer: none, so no search
                if not bits:
                    return None
                return (
                    self._search_bits(low, bits)
                    if len(low) <= LEAD_MIN_CHARS
                    else self._search_long(low, bits, starts)
                )
        if self.needles and not any(map(low.__contains__, self.needles)):
            return None
        if self.offset is not None and len(low) > LEAD_MIN_CHARS:
            return self._first_at(low, self._offset_starts(low))
        return self._first(self.regex, low, 0)

    def search_part(self, part: str, starts: WordStarts) -> re.Match[str] | None:
        """``search(part)`` for a piece of a larger text whose index is ``starts``: a piece that begins
        at the text's start or after a space (a stripped line, the head of the text). Its words are
        words of the text (the last one perhaps cut short), so the text's index gates it too."""
        if self.gate is None:
            if self.needles and not any(map(part.__contains__, self.needles)):
                return None
            return self._first(self.regex, part, 0)
        bits = (starts.mask >> self.gate) & self.span
        if not bits:
            return None
        return (
            self._search_bits(part, bits)
            if len(part) <= LEAD_MIN_CHARS
            else self._search_long(part, bits, starts)
        )

    def _search_bits(self, low: str, bits: int) -> re.Match[str] | None:
        """``search`` once the gate let ``bits`` (of ``parts``, or the one bit of the whole) through."""
        if self.needles and not any(map(low.__contains__, self.needles)):
            return None
        if not bits & (bits - 1) and self.parts:  # one alternative: the usual case
            i = bits.bit_length() - 1
            if self.inner[i] and self.inner[i] not in low:
                return None
            return self._first(self.parts[i], low, 0)
        return self._earliest(self._regexes(bits, low), low)

    def _search_long(self, low: str, bits: int, starts: WordStarts) -> re.Match[str] | None:
        """``_search_bits`` in a long text: at the literal beginnings of the alternatives when ``re``
        would try them at nearly every position."""
        if self.needles and not any(map(low.__contains__, self.needles)):
            return None
        alive = self._alive(bits, low)
        if len(alive) == 1 and self.parts and len(self.leads[alive[0]] or "?") == 1:
            return self._first(self.parts[alive[0]], low, 0)  # ``re`` skips ahead to one literal itself
        needles = self._lead_needles(alive, starts)
        if needles is not None:
            return self._first_led(low, needles)
        if not self.parts or len(alive) > MAX_PARTS:
            return self._first(self.regex, low, 0)
        return self._earliest(tuple(map(self.parts.__getitem__, alive)), low)

    def _earliest(self, regexes: tuple[re.Pattern[str], ...], low: str) -> re.Match[str] | None:
        """The earliest ``_first`` of ``regexes`` (alternatives in pattern order: on a tie the earlier
        one wins)."""
        best = None
        for regex in regexes:
            m = self._first(regex, low, 0)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        return best

    def _regexes(self, bits: int, low: str) -> tuple[re.Pattern[str], ...]:
        """The alternatives ``bits`` names whose inner characters ``low`` holds, or the whole pattern
        when it is not split or when so many alternatives may match that one pass of it is cheaper."""
        if not self.parts:
            return self.whole
        parts, inner = self.parts, self.inner
        out = []
        while bits:
            lowest = bits & -bits
            i = lowest.bit_length() - 1
            if not inner[i] or inner[i] in low:
                out.append(parts[i])
            bits ^= lowest
        return tuple(out) if len(out) <= MAX_PARTS else self.whole

    def _alive(self, bits: int, low: str) -> list[int]:
        """The alternatives ``bits`` names whose inner characters ``low`` holds, by index (as
        ``_regexes`` finds them, for a long text); the one bit of a pattern that is not split."""
        if not self.parts:
            return [0]
        inner = self.inner
        out = []
        while bits:
            lowest = bits & -bits
            i = lowest.bit_length() - 1
            if not inner[i] or inner[i] in low:
                out.append(i)
            bits ^= lowest
        return out

    def _lead_needles(self, alive: list[int], starts: WordStarts) -> list[str] | None:
        """The literal beginnings (``_leads``) of the ``alive`` alternatives: every match of them starts
        at an offset of one. None when some of them may begin otherwise, when ``re`` finds them as
        fast (a few alternatives of one literal beginning each: it skips ahead to it), or when one
        begins with a word and a space and the text holds other white space than spaces and newlines
        (a beginning "в" + ``_SPACE`` stands for "в " and "в\\n")."""
        leads: set[str] = set()
        for i in alive:
            got = self.leads[i]
            if got is None:
                return None
            leads.update(got)
        if len(alive) <= MAX_PARTS and len(leads) == len(alive):
            return None
        # a longer word before the space is rare enough to be found alone (one scan, not two)
        needles = {lead[:-1] if lead[-1] == _SPACE and len(lead) > SPACED_CHARS else lead for lead in leads}
        spaced = [lead[:-1] for lead in needles if lead[-1] == _SPACE]
        if spaced:
            if not starts.plain_spaces():
                return None
            needles.difference_update([head + _SPACE for head in spaced])
            needles.update(head + space for head in spaced for space in " \n")
        return list(needles)

    def _first_led(self, low: str, needles: list[str]) -> re.Match[str] | None:
        """``search`` in a long text where every match starts at an offset of one of ``needles``: the
        whole pattern matched at those offsets (``re`` would try it at nearly every position), looked
        for in windows of growing size, so that an early match costs a short scan."""
        start, size = 0, LEAD_WINDOW
        while start < len(low):
            end = start + size
            found: list[int] = []
            for needle in needles:
                _offsets(low, needle, found, start, end + len(needle) - 1)  # the offsets before ``end``
            found.sort()
            m = self._first_at(low, found)
            if m is not None:
                return m
            start, size = end, 2 * size
        return None

    def _first(self, regex: re.Pattern[str], low: str, pos: int) -> re.Match[str] | None:
        """The first match of ``regex`` from ``pos`` at a word boundary and after no negation."""
        search = regex.search
        boundary, negations = self.boundary, self.negations
        while (m := search(low, pos)) is not None:
            start = m.start()
            if (boundary and start > 0 and (low[start - 1].isalnum() or low[start - 1] == "_")) or (
                negations and low[max(0, start - 6) : start].endswith(negations)
            ):
                pos = start + 1  # a rejected candidate may hide a good match inside it ("amt, полный")
                continue
            return m
        return None

    def _offset_starts(self, low: str) -> list[int]:
        """Where a match of a pattern with an ``offset`` literal can start in ``low`` (ascending)."""
        literal, width = self.offset  # type: ignore[misc]  # only called when it has one
        found: list[int] = []
        _offsets(low, literal, found, width, len(low))
        return [at - width for at in found]

    def _first_at(self, low: str, starts: list[int]) -> re.Match[str] | None:
        """``_first(self.regex, low, 0)`` when every match starts at one of ``starts`` (ascending)."""
        return next(self._iter_at(low, starts), None)

    def finditer(self, low: str) -> Iterator[re.Match[str]]:
        regexes = self.whole
        starts = _STARTS.get(low) if self.gate is not None else None
        if starts is None and self.gate is not None and self.indexed and len(low) > GATE_MIN_CHARS:
            starts = word_starts(low)
        # the gated alternatives, or -1 when no index gates the search (an ungated pattern, a short text)
        bits = (starts.mask >> self.gate) & self.span if starts is not None and self.gate is not None else -1
        if not bits or (self.needles and not any(map(low.__contains__, self.needles))):
            return
        if bits < 0 and self.offset is not None and len(low) > LEAD_MIN_CHARS:
            yield from self._iter_at(low, self._offset_starts(low))
            return
        if starts is not None and bits > 0:
            if len(low) > LEAD_MIN_CHARS:
                alive = self._alive(bits, low)
                needles = self._lead_needles(alive, starts)
                if needles is not None:
                    found: list[int] = []
                    for needle in needles:
                        _offsets(low, needle, found, 0, len(low))
                    found.sort()
                    yield from self._iter_at(low, found)
                    return
            regexes = self._regexes(bits, low)
        ahead = [self._first(regex, low, 0) for regex in regexes]  # each regex's next match from pos
        pos = 0
        while True:
            best = None
            for i, m in enumerate(ahead):
                if m is not None and m.start() < pos:
                    m = ahead[i] = self._first(regexes[i], low, pos)
                if m is not None and (best is None or m.start() < best.start()):
                    best = m
            if best is None:
                return
            yield best
            pos = best.end() if best.end() > best.start() else best.start() + 1

    def _iter_at(self, low: str, starts: list[int]) -> Iterator[re.Match[str]]:
        """``finditer`` when every match starts at one of ``starts`` (ascending, maybe repeated): the
        whole pattern matched there, past the end of the last match, at a word boundary (when the
        pattern checks one) and after no negation."""
        match, boundary, negations = self.regex.match, self.boundary, self.negations
        pos = 0
        for start in starts:
            if start < pos:
                continue
            if boundary and start > 0 and (low[start - 1].isalnum() or low[start - 1] == "_"):
                continue
            if negations and low[max(0, start - 6) : start].endswith(negations):
                continue
            m = match(low, start)
            if m is not None:
                yield m
                pos = m.end() if m.end() > start else start + 1

    def occurs(self, low: str) -> bool:
        """``search(low) is not None``, without finding the earliest match: where the post's index lets
        several alternatives through, each is tried alone and the first that matches ends the search (a
        match of any alternative is a match of the whole pattern: the boundary and negation checks
        depend only on where it starts). The likely ones first (``likely``): a word that begins with its
        anchor matches it. In a long text too, when every alternative begins with letters (``leads``):
        ``re`` skips ahead to them, and the first match found ends the search, which the earliest
        match (``_search_long``) would not."""
        gate = self.gate
        starts = _STARTS.get(low)
        if (
            gate is None
            or starts is None
            or not self.parts
            or (len(low) > LEAD_MIN_CHARS and None in self.leads)
        ):
            return self.search(low) is not None
        bits = (starts.mask >> gate) & self.span
        if not bits or (self.needles and not any(map(low.__contains__, self.needles))):
            return False
        # the bit walk of ``_alive`` inlined, ending at the first match: the likely alternatives first
        parts, inner, first = self.parts, self.inner, self._first
        for group in (bits & self.likely, bits & ~self.likely):
            while group:
                lowest = group & -group
                i = lowest.bit_length() - 1
                if (not inner[i] or inner[i] in low) and first(parts[i], low, 0) is not None:
                    return True
                group ^= lowest
        return False

    def count(self, low: str) -> int:
        # a short text: the usual answer, none, without a generator; a long one: one pass, not a
        # ``search`` that ``finditer`` would repeat
        if len(low) <= LEAD_MIN_CHARS and self.search(low) is None:
            return 0
        return sum(1 for _ in self.finditer(low))


_WORD = re.compile(r"\w+")
# Every white-space character (what "\s" and ``str.isspace`` match, the same since Unicode 6.3) but the
# space and the newline; and the mark that ends a literal beginning followed by one ("в\s+россии" begins
# "в" + _SPACE).
_OTHER_SPACE = re.compile("[\t\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_SPACE = "\x00"
ANCHOR_CHARS = 6  # a word anchor: up to six letters ("прод" would let "продам" open "продан")
GATE_MIN_CHARS = 120  # a shorter text is searched directly unless its index was built already
PAIR_CHARS = 4  # after a word of one or two letters and a space: up to four letters of the next word
MAX_PARTS = 3  # with more of its alternatives possible, a pattern is searched whole (one pass is cheaper)
LEAD_MIN_CHARS = 1000  # a longer text is searched at the literal beginnings of a pattern's matches
LEAD_WINDOW = 512  # the first window of such a search (then twice as long each time)
SPACED_CHARS = 4  # a literal beginning of up to three letters and a space is found with the space
LEAD_CHARS = 8  # a literal beginning of a match: up to eight characters (``_leads``)
MAX_LEADS = 16  # an alternative with more literal beginnings is searched by ``re``
_WORD_PREFIX = re.compile(r"\w*")
_WORD_AND_REST = re.compile(rf"\w{{1,{ANCHOR_CHARS}}}\\w\*")  # the source of a pattern such as "кузов\w*"
_DIGITS = "0123456789"
assert PAIR_CHARS <= ANCHOR_CHARS
_PUNCTUATION = ",.:;!?()[]{}<>\"'«»„“”-–—/\\|*+=#%&~^`$€₽…•·"  # no word character (checked at import)
_SPLIT_MARKS = ",./-:()"  # the commonest punctuation in posts
assert not _WORD.search(_PUNCTUATION + _SPLIT_MARKS)


# Every anchor of every gated ``Words`` pattern -> the bits of the patterns (or alternatives) it belongs
# to, and the ids of those bits (filled as the patterns are built, at import).
_ANCHOR_INDEX: dict[str, list[int]] = {}
_ANCHOR_BITS: dict[str, int] = {}
_PATTERN_COUNT = 0  # bits handed out
# The first words of the pair anchors ("в про" -> "в"): words of one or two letters; and for each, the
# rest of its anchors ("про", or "#" for a number) -> their bits.
_PAIR_HEADS: set[str] = set()
_PAIR_TAILS: dict[str, dict[str, int]] = {}
_GATES: list[tuple[int, int]] = []  # every pattern's (gate, span)
_GATE_OF_BIT: list[int] = []  # bit -> the gate of the pattern it belongs to

# The same anchors as beginnings indexes, built from them on first use (``_beginnings``): every beginning
# of an anchor (its first one to ANCHOR_CHARS characters) -> the bits of the anchors that begin it ("про"
# -> those of "п" and "про"). Every beginning of a beginning is in the index too, so the anchors that
# begin a word are those that begin its longest beginning found there, reached by one look-up per
# character (usually two or three, not six). The one-word anchors, and those of each pair head's tails.
_WORD_BEGINNINGS: dict[str, int] = {}
_TAIL_BEGINNINGS: dict[str, dict[str, int]] = {}
_LONGER = range(3, ANCHOR_CHARS + 1)  # the lengths of a beginning past its first two characters


class WordStarts:
    """Which gated ``Words`` patterns (and alternatives) may match one text: those with an anchor among
    the text's word beginnings — the first one to ANCHOR_CHARS characters of every word (also of a word
    after its leading digits: "6акпп" starts "акп"), and for a word of one or two letters, the word, a
    space and the first one to PAIR_CHARS characters of the next word ("в прод"), or "#" when the next
    word is a number ("с #"). ``mask`` has their bits set.

    A word (``\\w+``) never holds a space, so each lies within one of the text's space-separated tokens:
    the text is split at spaces (several times cheaper than finding its words with a regex) and each
    distinct token looked up in a memo of its words' bits; only a token with punctuation ("б/у,") is cut
    into words, once. Most tokens begin no anchor: only those that do (``_TOKEN_HITS``) are combined into
    the mask. A pair across two tokens is checked for the few tokens that end with a pair head.
    """

    __slots__ = ("_candidates", "_plain", "mask", "patterns", "text")

    def __init__(self, text: str) -> None:
        low = text
        for mark in _SPLIT_MARKS:  # no word holds one: cut there too, so that most tokens are one word
            low = low.replace(mark, " ")
        tokens = low.split()
        distinct = set(tokens)
        memo = _TOKEN_BITS
        if len(memo) > WORD_IDS_MAX:
            _forget_tokens()
        new = distinct.difference(memo)  # most tokens of a post were in earlier posts
        if new:
            beginnings = _beginnings()
            get = beginnings.get
            for token in new:
                # ``isalnum``: the usual token, one word (``\\w`` is what ``isalnum`` accepts, and "_"):
                # ``_word_bits`` inlined (two calls per token cost a sixth of the loop)
                if not token.isalnum():
                    bits = _punctuated_bits(beginnings, token)
                else:
                    two = get(token[:2])
                    if two is None:
                        bits = get(token[:1], 0)
                    else:
                        bits = two
                        if len(token) > 2:  # (a shorter word is its own longest beginning)
                            for length in _LONGER:
                                longer = get(token[:length])
                                if longer is None:
                                    break
                                bits = longer
                    if token[0].isdigit() and (rest := token.lstrip(_DIGITS)):
                        bits |= _longest_bits(beginnings, rest)
                memo[token] = bits
                if bits:
                    _TOKEN_HITS.add(token)
        mask = reduce(or_, map(memo.__getitem__, _TOKEN_HITS.intersection(distinct)), 0)
        heads = _PAIR_HEADS.intersection(distinct)
        if _HEAD_ENDED:
            heads |= _HEAD_ENDED.intersection(distinct)
        if heads:
            mask |= _pairs_bits(tokens, heads)
        self.mask = mask
        self.patterns = _PATTERN_COUNT  # how many bits the index knew
        self._candidates: set[int] | None = None
        self.text = text
        self._plain: bool | None = None

    def plain_spaces(self) -> bool:
        """Are all the text's white-space characters spaces and newlines? (Found on first use.)"""
        if self._plain is None:
            self._plain = _OTHER_SPACE.search(self.text) is None
        return self._plain

    def may_match(self, words: Words) -> bool:
        """Can ``words`` (a gated pattern) match the text?"""
        return words.gate is not None and bool((self.mask >> words.gate) & words.span)

    @property
    def candidates(self) -> set[int]:
        """The ``gate`` of every pattern that may match the text (built on first use; ``may_match``, or
        ``mask`` against the ``bits`` of several patterns, is cheaper)."""
        if self._candidates is None:
            # the patterns of the bits ``mask`` has set (a few dozen of hundreds): found in its binary
            # digits, most significant first, rather than by testing every pattern
            digits = format(self.mask, "b")
            top = len(digits) - 1
            found = set()
            at = digits.find("1")
            while at >= 0:
                found.add(_GATE_OF_BIT[top - at])
                at = digits.find("1", at + 1)
            self._candidates = found
        return self._candidates


# token -> the bits of its words' anchors and of the pairs inside it (shared by every text: most tokens
# of a post were in earlier posts), and the set of the tokens whose bits are not 0; for a token that is
# not one word, its first and last word ("" when it has none), and the set of those whose last word is a
# pair head. Cleared when a pattern is built or the memo grows past WORD_IDS_MAX.
_TOKEN_BITS: dict[str, int] = {}
_TOKEN_HITS: set[str] = set()
_EDGES: dict[str, tuple[str, str]] = {}
_HEAD_ENDED: set[str] = set()
WORD_IDS_MAX = 50_000


def _forget_tokens() -> None:
    _TOKEN_BITS.clear()
    _TOKEN_HITS.clear()
    _EDGES.clear()
    _HEAD_ENDED.clear()


def _beginnings() -> dict[str, int]:
    """The beginnings index of the one-word anchors (and of the pair tails), built after a new pattern."""
    if not _WORD_BEGINNINGS and _ANCHOR_BITS:
        _TAIL_BEGINNINGS.update((head, _beginnings_of(tails)) for head, tails in _PAIR_TAILS.items())
        _WORD_BEGINNINGS.update(_beginnings_of({a: b for a, b in _ANCHOR_BITS.items() if " " not in a}))
    return _WORD_BEGINNINGS


def _beginnings_of(anchors: dict[str, int]) -> dict[str, int]:
    """anchor -> bits, as a beginnings index (a word holds no space: pair anchors are left out)."""
    beginnings = {anchor[:length] for anchor in anchors for length in range(1, len(anchor) + 1)}
    return {
        beginning: reduce(
            or_, (anchors.get(beginning[:length], 0) for length in range(1, len(beginning) + 1))
        )
        for beginning in beginnings
    }


def _punctuated_bits(beginnings: dict[str, int], token: str) -> int:
    """The bits of a token that is not one word: of its words and the pairs inside it."""
    core = token.strip(_PUNCTUATION)  # "авто," "(новая)": one word between punctuation, without a regex
    words = ([core] if core else []) if not core or core.isalnum() else _WORD.findall(token)
    bits = 0
    for i, word in enumerate(words):
        bits |= _word_bits(beginnings, word)
        if i and words[i - 1] in _PAIR_TAILS:
            bits |= _pair_bits(words[i - 1], word)
    if words != [token]:
        _EDGES[token] = (words[0], words[-1]) if words else ("", "")
        if words and words[-1] in _PAIR_HEADS:
            _HEAD_ENDED.add(token)
    return bits


def _word_bits(beginnings: dict[str, int], word: str) -> int:
    """The bits of the anchors that begin ``word``, or ``word`` after its leading digits ("6акпп")."""
    bits = _longest_bits(beginnings, word)
    if word[0].isdigit() and (rest := word.lstrip(_DIGITS)):
        bits |= _longest_bits(beginnings, rest)
    return bits


def _longest_bits(beginnings: dict[str, int], word: str) -> int:
    """The bits of the longest beginning of ``word`` in a beginnings index: of every anchor that begins
    ``word``. Its first two characters first: most words begin a beginning of one or two characters, or
    none. (A word shorter than ANCHOR_CHARS is found again as its own beginning: the same bits.)"""
    get = beginnings.get
    bits = get(word[:2])
    if bits is None:
        return get(word[:1], 0)
    for length in _LONGER:
        longer = get(word[:length])
        if longer is None:
            break
        bits = longer
    return bits


def _pair_bits(head: str, after: str) -> int:
    """The bits of the pair anchors of ``head`` that the next word ``after`` completes."""
    if after[0].isdigit():
        return _PAIR_TAILS[head].get("#", 0)
    return _longest_bits(_TAIL_BEGINNINGS[head], after)


def _pairs_bits(tokens: list[str], heads: set[str]) -> int:
    """The bits of the pairs across two tokens: after each token of ``heads`` (a pair head, or a token
    whose last word is one) among ``tokens``, the next word."""
    bits = 0
    count = len(tokens)
    edges_of = _EDGES
    # the index after every token of ``heads``, found in one pass at C speed
    for at in compress(range(1, count + 1), map(heads.__contains__, tokens)):
        # the usual case inlined (a call each cost half the loop): the next token is one word
        # (a token with no ``_EDGES`` is one word) and begins with a letter
        after = tokens[at] if at < count else None
        if after is None or after in edges_of or after[0].isdigit():
            after = _next_word(tokens, at)
            if after is None:
                continue
            token = tokens[at - 1]
            edges = edges_of.get(token)
            bits |= _pair_bits(token if edges is None else edges[1], after)
            continue
        token = tokens[at - 1]
        edges = edges_of.get(token)
        get = _TAIL_BEGINNINGS[token if edges is None else edges[1]].get
        found = get(after[:2])
        if found is None:
            bits |= get(after[:1], 0)
            continue
        for length in _LONGER:  # as ``_longest_bits``
            longer = get(after[:length])
            if longer is None:
                break
            found = longer
        bits |= found
    return bits


def _next_word(tokens: list[str], start: int) -> str | None:
    """The first word of the first token from ``start`` on that holds one (by index: ``islice`` would
    step through every token before ``start``)."""
    for at in range(start, len(tokens)):
        token = tokens[at]
        edges = _EDGES.get(token)
        if edges is None:
            return token  # a token that is one word
        if edges[0]:
            return edges[0]
    return None


# The indexes of the last few texts searched (the lower-cased post, its lines...); all forgotten when full.
_STARTS: dict[str, WordStarts] = {}
STARTS_MAX = 16
_INDEX_LOCK = threading.Lock()


def word_starts(low: str) -> WordStarts:
    """The ``WordStarts`` of ``low``, built once per text; from then on every gated pattern searching
    ``low`` (or an equal string) checks its gate first, however short ``low`` is."""
    got = _STARTS.get(low)
    if got is None:
        with _INDEX_LOCK:  # the token memo is filled, then read: not by two threads at once
            if len(_STARTS) >= STARTS_MAX:
                _STARTS.clear()
            got = _STARTS[low] = WordStarts(low)
    return got


def clear_word_memo() -> None:
    """Forget every token's anchor bits and every text's index (``rules.clear_caches`` calls it, so a
    benchmark measures work; building a pattern calls it, so no index lacks the new pattern)."""
    with _INDEX_LOCK:
        _forget_tokens()
        _STARTS.clear()


def _register(anchor_sets: list[frozenset[str]]) -> tuple[int, int]:
    """Give a pattern one bit per set of anchors (per alternative); its gate (first bit) and span."""
    global _PATTERN_COUNT
    gate = _PATTERN_COUNT
    for anchors in anchor_sets:
        bit_id = _PATTERN_COUNT
        _PATTERN_COUNT += 1
        _GATE_OF_BIT.append(gate)
        for anchor in anchors:
            _ANCHOR_INDEX.setdefault(anchor, []).append(bit_id)
            _ANCHOR_BITS[anchor] = _ANCHOR_BITS.get(anchor, 0) | 1 << bit_id
            head, space, tail = anchor.partition(" ")
            if space:
                _PAIR_HEADS.add(head)
                tails = _PAIR_TAILS.setdefault(head, {})
                tails[tail] = tails.get(tail, 0) | 1 << bit_id
    span = (1 << len(anchor_sets)) - 1
    _GATES.append((gate, span))
    _WORD_BEGINNINGS.clear()  # rebuilt with the new anchors on first use
    _TAIL_BEGINNINGS.clear()
    clear_word_memo()
    return gate, span


def _alternatives(regex: re.Pattern[str]) -> list[tuple[re.Pattern[str], frozenset[str]]] | None:
    """The top-level alternatives of ``regex`` (of the one group it is, if so), each compiled, with its
    anchors; None when there is one, when some alternative has no usable anchors, or when the pattern
    has groups (a match of an alternative alone would number them differently)."""
    if regex.groups:
        return None
    if regex.flags & re.VERBOSE:
        return None
    pattern = regex.pattern
    branches = top_level(pattern) or [pattern]
    if len(branches) == 1 and pattern.startswith("(?:") and pattern.endswith(")"):
        branches = top_level(pattern[3:-1]) or branches  # "(?:a|b)" -> "a", "b" (None: not one group)
    if len(branches) < 2:
        return None
    out = []
    for branch in branches:
        anchors = _anchors(branch)
        if not anchors or not all(a[0].isalnum() for a in anchors):
            return None
        try:
            out.append((re.compile(branch, regex.flags), anchors))
        except re.error:  # pragma: no cover - a piece of a valid pattern between top-level bars compiles
            return None
    return out


def _leads(regex: re.Pattern[str]) -> tuple[str, ...] | None:
    """The literal beginnings of every match of ``regex`` (up to LEAD_CHARS characters; one that a
    white-space character follows ends with ``_SPACE``: "в" + _SPACE for "в\\s+россии"), or None when
    some match may begin otherwise (with a class, a repeat, a digit...) or case is ignored."""
    if regex.flags & re.IGNORECASE:
        return None
    found = _literal_beginnings(list(_sre_parser.parse(regex.pattern)), {""})
    if found is None or len(found) > MAX_LEADS:
        return None
    if any(not lead or lead[0] == _SPACE or lead[0].isdigit() for lead in found):
        return None  # (a digit begins too many places of an ad to be worth finding)
    return tuple(sorted(found))


def _literal_beginnings(items: list[Any], current: set[str]) -> set[str] | None:
    """``current`` extended with the literal beginnings of ``items`` (a parsed pattern); None when a
    branch holds a group with flags of its own."""
    for op, av in items:
        if all(len(lead) >= LEAD_CHARS or lead.endswith(_SPACE) for lead in current):
            break
        name = str(op)
        if name == "LITERAL" and chr(av) != _SPACE:
            current = {lead if lead.endswith(_SPACE) else lead + chr(av) for lead in current}
        elif name in {"AT", "ASSERT", "ASSERT_NOT"}:
            continue  # zero-width: the match still begins here
        elif name == "SUBPATTERN":
            if av[1] or av[2]:
                return None  # "(?i:...)"
            sub = _literal_beginnings(list(av[-1]), current)
            if sub is None:
                return None
            current = sub
        elif name == "BRANCH":
            out: set[str] = set()
            for branch in av[1]:
                got = _literal_beginnings(list(branch), set(current))
                if got is None:
                    return None
                out |= got
            return out
        elif (name == "IN" and _is_category([(op, av)], {"SPACE"})) or (
            name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] >= 1 and _is_category(av[2], {"SPACE"})
        ):
            return {lead if lead.endswith(_SPACE) else lead + _SPACE for lead in current}
        else:
            break  # a class, a repeat...: the beginning so far must do
    return current


def _offset_literal(regex: re.Pattern[str]) -> tuple[str, int] | None:
    """The plain characters every match of ``regex`` holds at one offset from its start past a run of
    single characters ("/" and 3 for "\\d{3}/\\d{2}"), and that offset; None when there are none, or
    at offset 0 (``re`` skips ahead to a literal beginning by itself) or case is ignored."""
    if regex.flags & re.IGNORECASE:
        return None
    width = 0
    literal = ""
    for op, av in _sre_parser.parse(regex.pattern):
        name = str(op)
        if name == "LITERAL" and width:
            literal += chr(av)
            continue
        if literal:
            break
        if name in {"AT", "ASSERT", "ASSERT_NOT"}:
            continue  # zero-width
        if name in {"IN", "ANY"}:
            width += 1
        elif name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] == av[1] and _single_character(av[2]):
            width += av[0]
        else:
            return None
    return (literal, width) if literal else None


def _single_character(items: Any) -> bool:
    """Does ``items`` (a parsed repeat's body) match exactly one character?"""
    items = list(items)
    return len(items) == 1 and str(items[0][0]) in {"IN", "ANY", "LITERAL", "NOT_LITERAL"}


def _offsets(text: str, needle: str, found: list[int], start: int, end: int) -> None:
    """Append to ``found`` every offset of ``needle`` within ``text[start:end]``."""
    at = text.find(needle, start, end)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + 1, end)


def _inner_literal(regex: re.Pattern[str]) -> str:
    """The longest run of plain characters at the top level of ``regex`` after its literal beginning (which
    an anchor stands for), so in every match ("контрактн" in "(?:двигател\\w*|мотор\\w*)
    [^.\\n]{0,40}\\bконтрактн\\w*", ":" in "1\\s?:\\s?\\d"); "" when there is none or case is ignored."""
    if regex.flags & re.IGNORECASE:
        return ""
    runs: list[str] = []
    run = ""
    leading = True  # the literal beginning, which the anchor stands for
    for op, av in _sre_parser.parse(regex.pattern):
        if str(op) != "LITERAL":
            leading = False
            runs.append(run)
            run = ""
        elif not leading:
            run += chr(av)
    runs.append(run)
    return max(runs, key=len)


def _anchors(pattern: str) -> frozenset[str] | None:
    """The literal beginnings of every way ``pattern`` can match (see ``word_starts``), or None when some
    alternative starts with a class, a repeat or anything else that is not a literal."""
    try:
        parsed = _sre_parser.parse(pattern)
    except Exception:  # pragma: no cover - a pattern re compiled always parses
        return None
    found = _prefixes(list(parsed), {""})
    if not found:
        return None
    cut = set()
    for anchor in found:
        head, _, tail = anchor.partition(" ")
        head = _WORD_PREFIX.match(head).group(0)  # type: ignore[union-attr]  # "б/у" begins the word "б"
        tail = "#" if tail.startswith("#") else _WORD_PREFIX.match(tail).group(0)  # type: ignore[union-attr]
        if not head:
            return None
        pair = tail and len(head) <= 2 and anchor[len(head)] == " "
        cut.add(f"{head} {tail[:PAIR_CHARS]}" if pair else head[:ANCHOR_CHARS])
    return frozenset(cut)


def _done(prefix: str) -> bool:
    head, space, tail = prefix.partition(" ")
    return len(tail) >= PAIR_CHARS if space else len(head) >= ANCHOR_CHARS


def _prefixes(items: list[Any], current: set[str]) -> set[str] | None:
    for op, av in items:
        if all(_done(c) for c in current):
            break
        name = str(op)
        digits_or_spaces = (name == "IN" and _is_category([(op, av)], {"SPACE", "DIGIT"})) or (
            name in {"MAX_REPEAT", "MIN_REPEAT"} and _is_category(av[2], {"SPACE", "DIGIT"})
        )
        if name == "LITERAL":
            ch = chr(av)
            current = {c if _done(c) else (c + " " if ch == " " and " " in c else c + ch) for c in current}
            if ch == " " and any(c.count(" ") > 1 for c in current):
                break
        elif name == "AT" or name in {"ASSERT", "ASSERT_NOT"}:
            continue  # zero-width: ^, \\b, look-arounds
        elif digits_or_spaces and current == {""}:
            continue  # leading digits and spaces: the anchor is the first word after them ("\\d\\s+дтп")
        elif digits_or_spaces and all(c.endswith(" ") for c in current) and _is_digits(op, av):
            current = {c + "#" for c in current}  # "с 1 января": a short word, then a number
            break
        elif name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] == 0 and digits_or_spaces:
            continue  # "\\s*", "\\d?": words are looked up after spaces and after leading digits
        elif name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] >= 1 and _is_category(av[2], {"SPACE"}):
            if any(" " in c or not c or len(c) > 2 for c in current):
                break  # only a word of one or two letters is followed into the next word
            current = {c + " " for c in current}
        elif name == "SUBPATTERN":
            sub = _prefixes(list(av[-1]), current)
            if sub is None:
                return None
            current = sub
        elif name == "BRANCH" and all(
            all(str(o) in {"AT", "ASSERT", "ASSERT_NOT"} for o, _ in branch) for branch in av[1]
        ):
            continue  # alternative look-behinds: "(?:(?<=•)|(?<=• ))передний"
        elif name == "BRANCH":
            out: set[str] = set()
            for branch in av[1]:
                got = _prefixes(list(branch), set(current))
                if got is None:
                    return None
                out |= got
            return out
        else:
            break  # a class, a repeat...: the beginning so far must do
    return {c.rstrip(" ") if c.endswith(" ") else c for c in current}


def _is_digits(op: Any, av: Any) -> bool:
    body = [(op, av)] if str(op) == "IN" else av[2]
    return _is_category(body, {"DIGIT"})


def _is_category(items: Any, categories: set[str]) -> bool:
    """Is ``items`` (a parsed repeat's body) one character class of the given categories (\\s, \\d)?"""
    items = list(items)
    if len(items) != 1 or str(items[0][0]) != "IN":
        return False
    members = items[0][1]
    return all(str(op) == "CATEGORY" and str(arg).rsplit("_", 1)[-1] in categories for op, arg in members)


def for_lower_case(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` without IGNORECASE, for lower-cased text (``re`` searches it faster), when its letters
    are all lower case already; else ``pattern`` itself."""
    letters = re.sub(r"\\.|\(\?P[<=]\w+>?", "", pattern.pattern)  # escapes and group names aside
    if not pattern.flags & re.IGNORECASE or any(ch.isupper() for ch in letters):
        return pattern
    return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)


_NEGATIONS = ("не ", "не  ", "нет ", "без ")
