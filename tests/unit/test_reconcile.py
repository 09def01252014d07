"""Hallucination guard, description sanitiser and rules/LLM reconciliation (pure functions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from carsbot.core.contracts import ListingFields
from carsbot.core.extraction.reconcile import (
    city_in_text,
    guard,
    llm_fields,
    normalize_phone,
    normalize_username,
    phone_in_text,
    price_in_text,
    reconcile,
    sanitize_description,
    username_in_text,
)

POST = (
    "🚗 Toyota Camry 2018, 2.5 АКПП\n"
    "Пробег 98 т.км, 1 владелец по ПТС\n"
    "Цена 1.35 млн, рынок 1 500 000 ₽\n"
    "Тел: 8 (999) 123-45-67, +7 912 000 11 22\n"
    "Пишите @ivan_cars или t.me/auto_msk\n"
    "Москва"
)


# ------------------------------------------------------------------------------------ normalisers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (999) 123-45-67", "+79991234567"),
        ("+7 999 123 45 67", "+79991234567"),
        ("9991234567", "+79991234567"),
        ("+7 (495) 123-45-67", "+74951234567"),
        ("12-34", None),
        ("звоните", None),
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@ivan_cars", "ivan_cars"),
        ("https://t.me/auto_msk", "auto_msk"),
        ("t.me/auto_msk/123", "auto_msk"),
        ("Ivan_Cars", "Ivan_Cars"),
        ("@ab", None),
        ("иван", None),
    ],
)
def test_normalize_username(raw: str, expected: str | None) -> None:
    assert normalize_username(raw) == expected


@pytest.mark.parametrize("phone", ["+79991234567", "+79120001122"])
def test_phone_present_in_any_formatting(phone: str) -> None:
    assert phone_in_text(phone, POST)


def test_phone_absent() -> None:
    assert not phone_in_text("+79990001122", POST)
    assert not phone_in_text("+79991234568", POST)


@pytest.mark.parametrize("price", [1_350_000, 1_500_000])
def test_price_present_in_ad_notations(price: int) -> None:
    assert price_in_text(price, POST)


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("цена 850к", 850_000),
        ("1 350 т.р.", 1_350_000),
        ("пробег 120 цена 560", 560_000),
        ("1,2кк торг", 1_200_000),
        ("1\u00a0350\u00a0000 ₽", 1_350_000),
        ("1.350.000 руб", 1_350_000),
    ],
)
def test_price_notations(text: str, price: int) -> None:
    assert price_in_text(price, text)


def test_price_not_in_text_nor_phone_digits() -> None:
    assert not price_in_text(1_400_000, POST)
    # 999 is only part of a phone number: it does not make 999 000 a stated price.
    assert not price_in_text(999_000, "Toyota, звоните 8 999 123-45-67")


NO_PRICE = (
    "Toyota Corolla, двигатель 1.5 л, 109 л.с., АКПП, 2012 г., пробег 150 т.км, торг. Тел 8 912 345 67 89"
)


@pytest.mark.parametrize("invented", [1_500_000, 150_000, 109_000, 2_012_000])
def test_power_year_mileage_are_not_prices(invented: int) -> None:
    # A post without a price: an LLM price read off the engine volume, the power, the year or the
    # mileage is not "present in the text" and must be dropped by the guard.
    assert not price_in_text(invented, NO_PRICE)
    fields = guard(ListingFields(is_car_sale=True, price=invented, market_price=invented), NO_PRICE).fields
    assert fields.price is None and fields.market_price is None


def test_username_must_be_a_whole_token() -> None:
    assert username_in_text("ivan_cars", POST)
    assert username_in_text("AUTO_MSK", POST)
    assert not username_in_text("ivan", POST)
    assert not username_in_text("cars_ivan", POST)


def test_city_in_text_any_case_form() -> None:
    assert city_in_text("Москва", "машина в Москве")
    assert city_in_text("Санкт-Петербург", "осмотр в СПб")
    assert not city_in_text("Казань", "машина в Москве")


# ------------------------------------------------------------------------------------ sanitiser


def test_description_loses_contacts_links() -> None:
    raw = (
        "🔥 Продаётся Toyota Camry 2018 года. Звоните +7 999 123-45-67! "
        "Подробнее на https://auto.example.ru/x. Пробег 98 000 км, один владелец ✅. Пишите @ivan_cars"
    )
    cleaned = sanitize_description(raw)
    assert cleaned == "Продаётся Toyota Camry 2018 года. Пробег 98 000 км, один владелец."


def test_description_keeps_short_numbers() -> None:
    text = "Пробег 98 000 км, цена 1 350 000 ₽."
    assert sanitize_description(text) == text


def test_description_capped_at_a_sentence_end() -> None:
    sentence = "Машина в хорошем техническом состоянии без вложений."
    cleaned = sanitize_description(" ".join([sentence] * 30))
    assert cleaned is not None
    assert len(cleaned.split()) <= 100
    assert cleaned.endswith(".")


def test_description_empty_or_contacts_only_none() -> None:
    assert sanitize_description(None) is None
    assert sanitize_description("   ") is None
    assert sanitize_description("📞 +7 999 123-45-67") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
@example("HTTP")  # a word, not a link
@example("Звоните http://")
def test_sanitiser_never_raises_output_clean(text: str) -> None:
    cleaned = sanitize_description(text)
    if cleaned is not None:
        assert "http://" not in cleaned.lower() and "https://" not in cleaned.lower()
        assert len(cleaned.split(" ")) <= 100


# ------------------------------------------------------------------------------------ LLM output


def test_llm_fields_validates_and_normalises() -> None:
    fields, notes = llm_fields(
        {
            "is_car_sale": True,
            "brand": " Toyota ",
            "model": "Camry",
            "year": 1850,
            "price": -5,
            "mileage": 98000.0,
            "engine_volume": 2494,
            "transmission": "automatic",
            "drive": "4x4",
            "owners_count": 1,
            "phones": ["8 (999) 123-45-67", "not a phone"],
            "usernames": ["@ivan_cars", "t.me/auto_msk", "!!"],
            "equipment": ["камера", "камера", "звоните +7 999 123-45-67"],
            "confidence": 3,
        }
    )
    assert fields.brand == "Toyota"
    assert fields.year is None and fields.price is None
    assert fields.mileage == 98000
    assert fields.engine_volume == 2.5
    assert fields.drive is None
    assert fields.phones == ["+79991234567"]
    assert fields.usernames == ["ivan_cars", "auto_msk"]
    assert fields.equipment == ["камера"]
    assert fields.confidence == 1.0
    assert "llm: invalid year ignored" in notes
    assert "llm: unparseable phone ignored" in notes


# ------------------------------------------------------------------------------------ guard


def test_guard_drops_invented_contacts_prices() -> None:
    llm = ListingFields(
        is_car_sale=True,
        price=1_400_000,
        market_price=1_500_000,
        phones=["+79991234567", "+79990001122"],
        usernames=["ivan_cars", "seller_bot"],
        description="Toyota Camry 2018. Звоните +7 999 000-11-22.",
    )
    result = guard(llm, POST)
    assert result.fields.phones == ["+79991234567"]
    assert result.fields.usernames == ["ivan_cars"]
    assert result.fields.price is None
    assert result.fields.market_price == 1_500_000
    assert result.fields.description == "Toyota Camry 2018."
    assert result.dropped == 3
    assert "guard: dropped phone not in text" in result.notes
    assert "guard: dropped price not in text" in result.notes


def test_guard_keeps_everything_present() -> None:
    llm = ListingFields(
        is_car_sale=True,
        price=1_350_000,
        phones=["+79991234567", "+79120001122"],
        usernames=["auto_msk"],
    )
    result = guard(llm, POST)
    assert result.dropped == 0
    assert result.fields.phones == llm.phones
    assert result.fields.price == 1_350_000


# ------------------------------------------------------------------------------------ reconcile


def _rules() -> ListingFields:
    return ListingFields(
        is_car_sale=True,
        brand="Toyota",
        model=None,
        year=2018,
        price=1_350_000,
        market_price=None,
        mileage=98_000,
        transmission="automatic",
        city="Москва",
        phones=["+79991234567"],
        usernames=["ivan_cars"],
        confidence=0.8,
    )


def test_reconcile_policy() -> None:
    llm = ListingFields(
        is_car_sale=True,
        brand="Toyota",
        model="Camry",
        year=2017,  # conflicts with the rules' explicit year
        price=1_350_000,
        market_price=1_500_000,  # the rules engine missed it
        mileage=None,
        transmission="robot",
        engine_volume=2.5,
        city="Казань",
        equipment=["камера"],
        phones=["+79120001122"],
        usernames=["IVAN_CARS", "auto_msk"],
        description="Продаётся Toyota Camry.",
        confidence=0.9,
    )
    merged, notes = reconcile(_rules(), llm, POST)
    assert merged.is_car_sale
    assert (merged.brand, merged.model) == ("Toyota", "Camry")
    assert merged.year == 2018
    assert merged.market_price == 1_500_000
    assert merged.mileage == 98_000
    assert merged.engine_volume == 2.5
    assert merged.transmission == "automatic"
    assert merged.city == "Москва"
    assert merged.equipment == ["камера"]
    assert merged.description == "Продаётся Toyota Camry."
    assert merged.phones == ["+79991234567", "+79120001122"]
    assert merged.usernames == ["ivan_cars", "auto_msk"]
    assert merged.confidence == 0.9
    assert "reconcile: year differs, rules wins" in notes


def test_brand_conflict_model_from_same_engine() -> None:
    rules = _rules().model_copy(update={"brand": "Lada", "model": "Vesta"})
    llm = ListingFields(is_car_sale=True, brand="Toyota", model=None)
    merged, notes = reconcile(rules, llm, POST)
    assert (merged.brand, merged.model) == ("Toyota", None)
    assert "reconcile: brand differs, llm wins" in notes


def test_reconcile_canonicalises_the_llm_vehicle() -> None:
    rules = _rules().model_copy(update={"brand": None, "model": None})
    merged, _ = reconcile(rules, ListingFields(is_car_sale=True, brand="Лада", model="Гранта"), "Лада Гранта")
    assert (merged.brand, merged.model) == ("Lada", "Granta")
    # A brand the catalogue does not know is kept as the LLM wrote it.
    unknown, _ = reconcile(rules, ListingFields(is_car_sale=True, brand="Qwerty", model="Zx9"), "Qwerty Zx9")
    assert (unknown.brand, unknown.model) == ("Qwerty", "Zx9")


def test_classification_llm_wins_lower_conf() -> None:
    llm = ListingFields(is_car_sale=False, reason="buy request", confidence=0.8)
    merged, _ = reconcile(_rules(), llm, "Куплю Toyota Camry")
    assert not merged.is_car_sale
    assert merged.reason == "buy request"
    assert merged.confidence == pytest.approx(0.6)


def test_reconcile_llm_city_needs_the_text() -> None:
    rules = _rules().model_copy(update={"city": None})
    merged, _ = reconcile(rules, ListingFields(is_car_sale=True, city="Москва"), "осмотр в Москве")
    assert merged.city == "Москва"
    merged, notes = reconcile(rules, ListingFields(is_car_sale=True, city="Казань"), "осмотр в Москве")
    assert merged.city is None
    assert "reconcile: llm city not named in text, ignored" in notes


# ------------------------------------------------------------------------------------ corpus


CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus.jsonl"


def test_guard_keeps_every_rules_value_in_corpus() -> None:
    """The guard must not drop true values: nothing the rules engine extracts from a labelled post is
    "absent from the text" by the guard's normalisation."""
    from carsbot.core.extraction.rules import extract_rules

    posts = [
        json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    assert len(posts) >= 200
    checked = 0
    for text in posts:
        fields = extract_rules(text)
        result = guard(fields, text)
        assert result.dropped == 0, (text, result.notes)
        checked += len(fields.phones) + len(fields.usernames) + (fields.price is not None)
    assert checked > 300
