"""Deal score, duplicate fingerprints and configured filters (pure domain core)."""

from __future__ import annotations

from carsbot.core import dedup, pricing
from carsbot.core.contracts import ListingFields
from carsbot.core.filters import FilterRules, rejection_reason


def car(**kw: object) -> ListingFields:
    base: dict[str, object] = {
        "is_car_sale": True,
        "brand": "Toyota",
        "model": "Camry",
        "year": 2018,
        "price": 2_000_000,
    }
    base.update(kw)
    return ListingFields.model_validate(base)


def test_stated_market_price_beats_comparables() -> None:
    score = pricing.deal_score(1_800_000, 2_000_000, [1_000_000] * 10)
    assert score.source == "stated" and score.market_estimate == 2_000_000
    assert score.saving == 200_000 and score.saving_share == 0.1 and score.below_market


def test_median_comparables_needs_enough_samples() -> None:
    assert pricing.deal_score(1_000_000, None, [1_100_000] * 4).market_estimate is None
    score = pricing.deal_score(1_000_000, None, [1_000_000, 1_100_000, 1_200_000, 1_300_000, 5_000_000])
    assert score.source == "comparables" and score.market_estimate == 1_200_000 and score.samples == 5
    assert score.saving == 200_000 and score.below_market


def test_no_saving_when_price_at_or_above_market() -> None:
    score = pricing.deal_score(2_100_000, 2_000_000, [])
    assert score.saving is None and not score.below_market
    tiny = pricing.deal_score(1_990_000, 2_000_000, [])
    assert tiny.saving == 10_000 and not tiny.below_market  # 0.5 % is not "below market"


def test_same_car_contact_shares_fingerprint() -> None:
    a = car(phones=["+79123456789"])
    b = car(phones=["+79123456789"], price=1_990_000)
    assert set(dedup.car_fingerprints(a)) == set(dedup.car_fingerprints(b))
    assert dedup.prices_match(a.price, b.price)
    assert not dedup.prices_match(2_000_000, 1_700_000)
    other_year = car(phones=["+79123456789"], year=2019)
    assert not set(dedup.car_fingerprints(a)) & set(dedup.car_fingerprints(other_year))


def test_no_car_fingerprint_no_model_or_contact() -> None:
    assert dedup.car_fingerprints(car(phones=[], usernames=[])) == []
    assert dedup.car_fingerprints(car(model=None, phones=["+79123456789"])) == []


def test_text_fingerprint_ignores_emoji_spacing() -> None:
    one = "🔥 Продаю Тойоту Камри 2018, пробег 98 000 км, цена 2 000 000 ₽. Торг у капота!"
    two = "Продаю тойоту камри 2018 пробег 98000 км цена 2000000 ₽ торг у капота"
    assert dedup.text_fingerprint(one) == dedup.text_fingerprint(two) is not None
    assert dedup.text_fingerprint("Продаю авто") is None


def test_filters_reason_slugs() -> None:
    rules = FilterRules(
        exclude_keywords=("лизинг",), min_price=100_000, max_price=10_000_000, min_confidence=0.5
    )
    assert rejection_reason("Авто в ЛИЗИНГ", car(), rules) == "filter:exclude_keyword:лизинг"
    assert rejection_reason("ok", car(price=50_000), rules) == "filter:price_below_min"
    assert rejection_reason("ok", car(price=20_000_000), rules) == "filter:price_above_max"
    assert rejection_reason("ok", car(confidence=0.3), rules) == "filter:low_confidence"
    assert rejection_reason("ok", car(), rules) is None
    assert (
        rejection_reason("камри", car(), FilterRules(include_keywords=("солярис",)))
        == "filter:no_include_keyword"
    )
