"""Extraction quality metrics over a labelled corpus (pure: no I/O beyond what the caller passes in).

A labelled post is ``{"id", "text", "expected": {CLI fields...}, "tags": [...]}`` (tests/data/corpus.jsonl).
``evaluate`` compares expected labels with extraction results and returns an ``EvalReport``:

* classification precision / recall / F1 (positive class: car for sale);
* per-field accuracy over the labelled car sales whose label states the field (label not null and not
  an empty list) — a sale the engine missed counts as wrong for every stated field;
* false-fill rate: values produced where the label is null / empty, over all null-labelled field
  slots of the true-positive posts (the "never guess" metric);
* LLM calls per post and input/output tokens per call, from ``ExtractionResult``.

Comparison rules: brand, model and city case-insensitively (``ё`` = ``е``); engine volume within
0.05 L; phones as sets of E.164 strings; usernames as case-insensitive sets (Telegram usernames are
case-insensitive); every other field exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from carsbot.core.contracts import ListingFields
from carsbot.core.extraction.base import ExtractionResult

FIELDS: tuple[str, ...] = tuple(name for name in ListingFields.CLI_FIELDS if name != "is_car_sale")
LIST_FIELDS = frozenset({"phones", "usernames"})

# Issue 13's quality bar for the rules engine on every labelled set (``carsbot eval --check``).
DEFAULT_MIN_F1 = 0.97
DEFAULT_MIN_FIELDS: dict[str, float] = {
    "price": 0.95,
    "year": 0.95,
    "phones": 0.95,
    "brand": 0.95,
    "model": 0.95,
    "mileage": 0.95,
    "engine_volume": 0.92,
    "transmission": 0.92,
    "owners_count": 0.92,
    "city": 0.92,
}
DEFAULT_MAX_FALSE_FILL = 0.02


class CorpusError(ValueError):
    """A labelled corpus line is malformed."""


@dataclass(frozen=True)
class LabelledPost:
    id: str
    text: str
    expected: dict[str, Any]
    tags: tuple[str, ...] = ()

    @property
    def is_sale(self) -> bool:
        return bool(self.expected.get("is_car_sale"))


@dataclass
class FieldScore:
    name: str
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


@dataclass
class Mismatch:
    id: str
    field: str
    expected: Any
    got: Any
    # The rule that produced ``got`` and the words it read ("price:keyword «цена 1.2 млн»"), when the
    # engine reports it (``ExtractionResult.trace``); for ``is_car_sale``, the rule that classified.
    rule: str | None = None


@dataclass
class EvalReport:
    posts: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    fields: dict[str, FieldScore] = field(default_factory=lambda: {name: FieldScore(name) for name in FIELDS})
    false_fills: int = 0
    null_slots: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    prefiltered: int = 0
    engines: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_fill_rate(self) -> float:
        return self.false_fills / self.null_slots if self.null_slots else 0.0

    @property
    def llm_calls_per_post(self) -> float:
        return self.llm_calls / self.posts if self.posts else 0.0

    @property
    def input_tokens_per_call(self) -> float:
        return self.input_tokens / self.llm_calls if self.llm_calls else 0.0

    @property
    def output_tokens_per_call(self) -> float:
        return self.output_tokens / self.llm_calls if self.llm_calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "classification": {
                "tp": self.tp,
                "fp": self.fp,
                "fn": self.fn,
                "tn": self.tn,
                "precision": round(self.precision, 4),
                "recall": round(self.recall, 4),
                "f1": round(self.f1, 4),
            },
            "fields": {
                name: {
                    "correct": s.correct,
                    "total": s.total,
                    "accuracy": None if s.accuracy is None else round(s.accuracy, 4),
                }
                for name, s in self.fields.items()
            },
            "false_fill": {
                "filled": self.false_fills,
                "null_slots": self.null_slots,
                "rate": round(self.false_fill_rate, 4),
            },
            "llm": {
                "calls": self.llm_calls,
                "calls_per_post": round(self.llm_calls_per_post, 4),
                "input_tokens_per_call": round(self.input_tokens_per_call, 1),
                "output_tokens_per_call": round(self.output_tokens_per_call, 1),
                "prefiltered": self.prefiltered,
            },
            "engines": dict(sorted(self.engines.items())),
            "mismatches": [asdict(m) for m in self.mismatches],
        }


def parse_corpus_line(line: str, lineno: int) -> LabelledPost:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"line {lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(obj, dict):
        raise CorpusError(f"line {lineno}: expected a JSON object")
    text, expected = obj.get("text"), obj.get("expected")
    if not isinstance(text, str):
        raise CorpusError(f"line {lineno}: 'text' must be a string")
    if not isinstance(expected, dict) or not isinstance(expected.get("is_car_sale"), bool):
        raise CorpusError(f"line {lineno}: 'expected' must be an object with a boolean 'is_car_sale'")
    tags = obj.get("tags") or []
    return LabelledPost(
        id=str(obj.get("id", lineno)), text=text, expected=expected, tags=tuple(map(str, tags))
    )


def parse_corpus(lines: Iterable[str]) -> list[LabelledPost]:
    """Labelled posts from JSON Lines (blank lines skipped). Raises ``CorpusError`` on a bad line."""
    return [parse_corpus_line(line, n) for n, line in enumerate(lines, 1) if line.strip()]


def is_stated(value: Any) -> bool:
    return value not in (None, "", []) and value != ()


def _fold(value: Any) -> str:
    return str(value).casefold().replace("ё", "е").strip()


def values_equal(name: str, expected: Any, got: Any) -> bool:
    """Does the extracted value match the label for field ``name`` (see the module docstring)?"""
    if name in LIST_FIELDS:
        exp_items = list(expected or [])
        got_items = list(got or [])
        if name == "usernames":
            return {_fold(x).lstrip("@") for x in exp_items} == {_fold(x).lstrip("@") for x in got_items}
        return set(map(str, exp_items)) == set(map(str, got_items))
    if expected is None or got is None:
        return expected is None and got is None
    if name == "engine_volume":
        try:
            return abs(float(expected) - float(got)) < 0.05
        except (TypeError, ValueError):
            return False
    if name in {"brand", "model", "city", "transmission", "drive"}:
        return _fold(expected) == _fold(got)
    if name in {"year", "price", "market_price", "mileage", "owners_count"}:
        try:
            return int(expected) == int(got)
        except (TypeError, ValueError):
            return False
    return bool(expected == got)


def evaluate(
    pairs: Iterable[tuple[LabelledPost, ExtractionResult]], *, keep_mismatches: bool = True
) -> EvalReport:
    """Score extraction results against their labels."""
    report = EvalReport()
    for post, result in pairs:
        report.posts += 1
        report.llm_calls += result.llm_calls
        report.input_tokens += result.input_tokens
        report.output_tokens += result.output_tokens
        report.prefiltered += int(result.prefiltered)
        report.engines[result.engine] = report.engines.get(result.engine, 0) + 1
        got = result.fields
        expected_sale, got_sale = post.is_sale, bool(got.is_car_sale)
        if expected_sale and got_sale:
            report.tp += 1
        elif expected_sale:
            report.fn += 1
        elif got_sale:
            report.fp += 1
        else:
            report.tn += 1
        trace = result.trace
        if expected_sale != got_sale and keep_mismatches:
            report.mismatches.append(
                Mismatch(post.id, "is_car_sale", expected_sale, got_sale, trace.get("is_car_sale"))
            )
        if not expected_sale:
            continue
        for name in FIELDS:
            exp_value = post.expected.get(name)
            got_value = getattr(got, name) if got_sale else None
            if is_stated(exp_value):
                score = report.fields[name]
                score.total += 1
                if values_equal(name, exp_value, got_value):
                    score.correct += 1
                elif keep_mismatches and got_sale:
                    report.mismatches.append(Mismatch(post.id, name, exp_value, got_value, trace.get(name)))
            elif got_sale:
                report.null_slots += 1
                if is_stated(got_value):
                    report.false_fills += 1
                    if keep_mismatches:
                        report.mismatches.append(
                            Mismatch(post.id, name, exp_value, got_value, trace.get(name))
                        )
    return report


def run_evaluation(
    posts: Sequence[LabelledPost], extract: Callable[[str], ExtractionResult], *, keep_mismatches: bool = True
) -> EvalReport:
    """Run ``extract`` over every post and score it."""
    return evaluate(((post, extract(post.text)) for post in posts), keep_mismatches=keep_mismatches)


@dataclass(frozen=True)
class PrefilterRates:
    negatives: int
    negatives_rejected: int
    positives: int
    positives_rejected: int
    # (post id, rule) of every labelled sale the prefilter rejected (the gate wants none)
    rejected_positives: tuple[tuple[str, str], ...] = ()

    @property
    def negative_rejection(self) -> float:
        return self.negatives_rejected / self.negatives if self.negatives else 0.0

    @property
    def positive_rejection(self) -> float:
        return self.positives_rejected / self.positives if self.positives else 0.0


def prefilter_rates(posts: Sequence[LabelledPost], reject: Callable[[str], Any]) -> PrefilterRates:
    """How often the prefilter rejects labelled negatives (want >= 80%) and positives (want none).

    ``reject`` returns a bool, or a verdict with ``reject`` and ``rule`` (``rules.prefilter``): then the
    rule that rejected each labelled sale is kept for the report.
    """

    def verdict(text: str) -> tuple[bool, str]:
        got = reject(text)
        if isinstance(got, bool):
            return got, ""
        return bool(got.reject), str(getattr(got, "rule", "") or getattr(got, "reason", "") or "")

    neg = [p for p in posts if not p.is_sale]
    pos = [(p, verdict(p.text)) for p in posts if p.is_sale]
    rejected = tuple((p.id, rule) for p, (rejected, rule) in pos if rejected)
    return PrefilterRates(
        negatives=len(neg),
        negatives_rejected=sum(1 for p in neg if verdict(p.text)[0]),
        positives=len(pos),
        positives_rejected=len(rejected),
        rejected_positives=rejected,
    )


@dataclass(frozen=True)
class Thresholds:
    min_f1: float | None = DEFAULT_MIN_F1
    min_fields: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_FIELDS))
    max_false_fill: float | None = DEFAULT_MAX_FALSE_FILL


def check_thresholds(report: EvalReport, thresholds: Thresholds) -> list[str]:
    """Human-readable failures (empty when every threshold is met)."""
    failures: list[str] = []
    if thresholds.min_f1 is not None and report.f1 < thresholds.min_f1:
        failures.append(f"classification F1 {report.f1:.3f} < {thresholds.min_f1:.2f}")
    for name, minimum in thresholds.min_fields.items():
        score = report.fields.get(name)
        if score is None:
            failures.append(f"unknown field {name!r} in thresholds")
            continue
        accuracy = score.accuracy
        if accuracy is None:
            failures.append(f"{name}: no labelled values to measure (need >= {minimum:.2f})")
        elif accuracy < minimum:
            failures.append(f"{name} accuracy {accuracy:.3f} < {minimum:.2f} ({score.correct}/{score.total})")
    if thresholds.max_false_fill is not None and report.false_fill_rate > thresholds.max_false_fill:
        failures.append(f"false-fill rate {report.false_fill_rate:.3f} > {thresholds.max_false_fill:.2f}")
    return failures


def format_report(
    report: EvalReport, *, rates: PrefilterRates | None = None, show_mismatches: int = 0
) -> str:
    """The text ``carsbot eval`` prints."""
    lines = [
        f"posts: {report.posts}  (sales labelled: {report.tp + report.fn}, "
        f"non-sales labelled: {report.tn + report.fp})",
        f"classification: precision {report.precision:.3f}  recall {report.recall:.3f}  F1 {report.f1:.3f}"
        f"  (tp={report.tp} fp={report.fp} fn={report.fn} tn={report.tn})",
        "field accuracy (labelled sales where the field is stated):",
    ]
    for name, score in report.fields.items():
        acc = "   n/a" if score.accuracy is None else f"{score.accuracy:6.3f}"
        lines.append(f"  {name:<14} {acc}  ({score.correct}/{score.total})")
    lines.append(
        f"false-fill rate: {report.false_fill_rate:.3f}  "
        f"({report.false_fills} of {report.null_slots} null-labelled slots)"
    )
    lines.append(
        f"LLM: {report.llm_calls_per_post:.3f} calls/post, "
        f"{report.input_tokens_per_call:.1f} input tokens/call,"
        f" {report.output_tokens_per_call:.1f} output tokens/call ({report.llm_calls} calls,"
        f" {report.prefiltered} posts prefiltered)"
    )
    if report.engines:
        lines.append("engines: " + ", ".join(f"{k}={v}" for k, v in sorted(report.engines.items())))
    if rates is not None:
        lines.append(
            f"prefilter: rejects {rates.negative_rejection:.1%} of negatives "
            f"({rates.negatives_rejected}/{rates.negatives}),"
            f" {rates.positive_rejection:.1%} of positives ({rates.positives_rejected}/{rates.positives})"
        )
        for post_id, rule in rates.rejected_positives:
            lines.append(f"  prefilter rejected sale {post_id}  <- {rule or 'no rule reported'}")
    if show_mismatches and report.mismatches:
        lines.append(
            f"mismatches (first {min(show_mismatches, len(report.mismatches))} of {len(report.mismatches)}):"
        )
        for m in report.mismatches[:show_mismatches]:
            why = f"  <- {m.rule}" if m.rule else ("  <- no rule fired" if m.got in (None, []) else "")
            lines.append(
                f"  {m.id} {m.field}: expected {json.dumps(m.expected, ensure_ascii=False)}"
                f" got {json.dumps(m.got, ensure_ascii=False)}{why}"
            )
    return "\n".join(lines)
