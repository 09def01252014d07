"""Metric computation of ``carsbot eval`` on tiny hand-made sets."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from carsbot.core.contracts import ListingFields
from carsbot.core.extraction.base import ExtractionResult
from carsbot_dev import evaluation as ev


def post(pid: str, sale: bool, **expected: object) -> ev.LabelledPost:
    return ev.LabelledPost(id=pid, text=f"text {pid}", expected={"is_car_sale": sale, **expected})


def result(
    sale: bool, *, llm_calls: int = 0, tokens: tuple[int, int] = (0, 0), **fields: object
) -> ExtractionResult:
    return ExtractionResult(
        fields=ListingFields(is_car_sale=sale, **fields),  # type: ignore[arg-type]
        engine="llm" if llm_calls else "rules",
        llm_calls=llm_calls,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
    )


def test_classification_precision_recall_f1() -> None:
    pairs = [
        (post("a", True), result(True)),  # tp
        (post("b", True), result(True)),  # tp
        (post("c", True), result(False, reason="no_car")),  # fn
        (post("d", False), result(True)),  # fp
        (post("e", False), result(False, reason="sold")),  # tn
    ]
    report = ev.evaluate(pairs)
    assert (report.tp, report.fn, report.fp, report.tn) == (2, 1, 1, 1)
    assert report.precision == pytest.approx(2 / 3)
    assert report.recall == pytest.approx(2 / 3)
    assert report.f1 == pytest.approx(2 / 3)
    assert {m.id for m in report.mismatches if m.field == "is_car_sale"} == {"c", "d"}


def test_field_accuracy_counts_only_stated() -> None:
    pairs = [
        (post("a", True, brand="Toyota", price=1_000_000), result(True, brand="toyota", price=1_000_000)),
        (post("b", True, brand="Kia", price=None), result(True, brand="Hyundai")),
        (post("c", True, brand="Lada"), result(False, reason="no_car")),
    ]
    report = ev.evaluate(pairs)
    assert (report.fields["brand"].correct, report.fields["brand"].total) == (1, 3)
    assert (report.fields["price"].correct, report.fields["price"].total) == (1, 1)
    assert report.fields["year"].total == 0 and report.fields["year"].accuracy is None


def test_false_fill_over_null_slots_of_hits() -> None:
    # 13 fields per post; "a" states brand only (12 null slots), "b" states nothing (13 null slots).
    pairs = [
        (post("a", True, brand="Toyota"), result(True, brand="Toyota", city="Москва")),  # city filled wrongly
        (post("b", True), result(True, phones=["+79123456789"])),  # phones filled wrongly
        (post("c", True, brand="Kia"), result(False, reason="no_car")),  # a miss is not a false fill
    ]
    report = ev.evaluate(pairs)
    assert report.null_slots == 12 + 13
    assert report.false_fills == 2
    assert report.false_fill_rate == pytest.approx(2 / 25)


@pytest.mark.parametrize(
    ("name", "expected", "got", "equal"),
    [
        ("phones", ["+79123456789", "+74951234567"], ["+74951234567", "+79123456789"], True),
        ("phones", ["+79123456789"], ["+79123456789", "+79123456780"], False),
        ("usernames", ["Ivan_Auto"], ["ivan_auto"], True),
        ("usernames", [], [], True),
        ("engine_volume", 1.6, 1.6000001, True),
        ("engine_volume", 1.6, 1.8, False),
        ("city", "Орёл", "Орел", True),
        ("model", "CX-5", "cx-5", True),
        ("price", 1_350_000, 1_350_000, True),
        ("price", 1_350_000, 1_300_000, False),
        ("year", None, None, True),
        ("year", 2018, None, False),
    ],
)
def test_values_equal(name: str, expected: object, got: object, equal: bool) -> None:
    assert ev.values_equal(name, expected, got) is equal


def test_llm_cost_metrics() -> None:
    pairs = [
        (post("a", True), result(True, llm_calls=1, tokens=(500, 120))),
        (post("b", False), result(False, reason="sold")),  # prefiltered: no call
        (post("c", True), result(True, llm_calls=1, tokens=(300, 80))),
    ]
    report = ev.evaluate(pairs)
    assert report.llm_calls_per_post == pytest.approx(2 / 3)
    assert report.input_tokens_per_call == pytest.approx(400)
    assert report.output_tokens_per_call == pytest.approx(100)
    assert report.engines == {"llm": 2, "rules": 1}


def test_thresholds() -> None:
    pairs = [(post("a", True, price=100_000, year=2018), result(True, price=100_000, year=2017))]
    report = ev.evaluate(pairs)
    failures = ev.check_thresholds(
        report, ev.Thresholds(min_f1=0.9, min_fields={"price": 0.95, "year": 0.95}, max_false_fill=0.03)
    )
    assert failures == ["year accuracy 0.000 < 0.95 (0/1)"]
    assert ev.check_thresholds(report, ev.Thresholds(min_f1=None, min_fields={}, max_false_fill=None)) == []
    assert "no labelled values" in ev.check_thresholds(report, ev.Thresholds(min_fields={"city": 0.9}))[0]


def test_prefilter_rates() -> None:
    posts = [post("a", True), post("b", False), post("c", False)]
    rates = ev.prefilter_rates(posts, lambda text: text != "text a" and text != "text c")
    assert (rates.negatives_rejected, rates.negatives, rates.positives_rejected) == (1, 2, 0)
    assert rates.negative_rejection == pytest.approx(0.5)
    assert rates.positive_rejection == 0.0


def test_prefilter_rates_keep_rule_rejected() -> None:
    @dataclass
    class Verdict:
        reject: bool
        rule: str | None

    posts = [post("a", True), post("b", True), post("c", False)]
    rates = ev.prefilter_rates(posts, lambda text: Verdict(text != "text b", "credit «автокредит»"))
    assert rates.positives_rejected == 1 and rates.negatives_rejected == 1
    assert rates.rejected_positives == (("a", "credit «автокредит»"),)
    assert "prefilter rejected sale a  <- credit «автокредит»" in ev.format_report(
        ev.EvalReport(), rates=rates
    )


def test_mismatches_carry_rule_trace() -> None:
    got = result(True, price=90_000)
    got.trace = {"price": "price:keyword «цена 90 тыс»", "is_car_sale": "sale: car score 5 >= 3.5"}
    report = ev.evaluate([(post("a", True, price=100_000), got), (post("b", False), result(True))])
    by_field = {m.field: m for m in report.mismatches}
    assert by_field["price"].rule == "price:keyword «цена 90 тыс»"
    text = ev.format_report(report, show_mismatches=10)
    assert "a price: expected 100000 got 90000  <- price:keyword «цена 90 тыс»" in text
    assert "b is_car_sale: expected false got true" in text


def test_parse_corpus_and_its_errors() -> None:
    lines = [
        json.dumps({"id": "x", "text": "Продам", "expected": {"is_car_sale": True}, "tags": ["t"]}),
        "   ",
    ]
    (parsed,) = ev.parse_corpus(lines)
    assert parsed == ev.LabelledPost(id="x", text="Продам", expected={"is_car_sale": True}, tags=("t",))
    with pytest.raises(ev.CorpusError, match="line 1: not valid JSON"):
        ev.parse_corpus(["{nope"])
    with pytest.raises(ev.CorpusError, match="line 2: 'expected'"):
        ev.parse_corpus([lines[0], json.dumps({"text": "x", "expected": {}})])


def test_report_formats_and_serialises() -> None:
    report = ev.evaluate([(post("a", True, brand="Kia"), result(True, brand="Kia"))])
    text = ev.format_report(report, show_mismatches=5)
    assert "classification: precision 1.000  recall 1.000  F1 1.000" in text
    assert "brand" in text and "false-fill rate: 0.000" in text
    data = report.as_dict()
    assert data["fields"]["brand"] == {"correct": 1, "total": 1, "accuracy": 1.0}
    json.dumps(data)
