"""The rules engine: classification, field assembly, prefilter and robustness (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carsbot.contracts import ListingFields
from carsbot.core.extraction.base import ExtractionResult
from carsbot.core.extraction.rules import (
    PREFILTER_MIN_CONFIDENCE,
    PrefilterVerdict,
    RulesExtractor,
    classify,
    extract_rules,
    prefilter,
)

CARD = """🚗 Toyota Camry 2018 г.в.
📍 Казань
⚙️ 2.5 АКПП • полный привод
🛣 Пробег 98 000 км
👤 1 хозяин по ПТС, без ДТП
💰 Цена: 2 150 000 ₽ (рынок 2.4 млн)
📞 +7 912 345-67-89, @ivan_auto
Подписывайтесь на @cars_kzn_channel"""


def test_emoji_card_is_fully_extracted() -> None:
    fields = extract_rules(CARD)
    assert fields.cli_dict() == {
        "is_car_sale": True,
        "brand": "Toyota",
        "model": "Camry",
        "year": 2018,
        "price": 2_150_000,
        "market_price": 2_400_000,
        "mileage": 98_000,
        "engine_volume": 2.5,
        "transmission": "automatic",
        "drive": "awd",
        "owners_count": 1,
        "city": "Казань",
        "phones": ["+79123456789"],
        "usernames": ["ivan_auto"],
    }
    assert fields.autoteka == "без ДТП"
    assert fields.reason is None
    assert fields.confidence >= 0.9


def test_shorthand_post() -> None:
    fields = extract_rules("Продам гранту 2019 пробег 120 цена 560 торг 89123456789")
    assert (fields.brand, fields.model, fields.year, fields.mileage, fields.price) == (
        "Lada",
        "Granta",
        2019,
        120_000,
        560_000,
    )
    assert fields.phones == ["+79123456789"]
    assert fields.city is None  # not stated: never guessed
    assert fields.transmission is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ПРОДАНО ✅ Toyota Camry 2018", "sold"),
        ("❌ Продан ❌ Kia Rio 2017, 650 000 ₽", "sold"),
        ("Куплю авто в любом состоянии, дорого! 89123456789", "buy_request"),
        ("Срочный выкуп автомобилей, оценка за 15 минут", "buy_request"),
        ("Разбор Hyundai Solaris 2011-2016, запчасти б/у в наличии", "parts"),
        ("Продам бампер передний на Камри 50, 8 000 р.", "parts"),
        ("Продам зимнюю резину 205/55 R16, 4 шт, 18 000 ₽", "tyres"),
        ("Шиномонтаж 24/7, балансировка. Запись: +7 999 000 11 22", "service"),
        ("Сдам в аренду Hyundai Solaris 2021 под такси, 2 200 руб/сутки", "rental"),
        ("Автокредит от 4,9%! Одобрение за 30 минут", "credit"),
        ("Скоро в продаже: Hyundai Creta 2021, следите за обновлениями!", "coming_soon"),
        ("🎁 РОЗЫГРЫШ! Разыгрываем комплект резины среди подписчиков", "giveaway"),
        ("С 1 октября утильсбор вырастет на 70%, сообщает Минпромторг", "news"),
        ("Подскажите, что лучше взять за 1,5 млн: Camry 2014 или Kia K5?", "question"),
        ("Доброе утро, подписчики!", "no_car"),
        ("", "no_car"),
        ("🚗🚗🚗", "no_car"),
    ],
)
def test_non_sales_have_a_reason_and_no_fields(text: str, reason: str) -> None:
    fields = extract_rules(text)
    assert fields.is_car_sale is False
    assert fields.reason == reason
    assert fields.brand is None and fields.price is None and fields.phones == []


@pytest.mark.parametrize(
    "text",
    [
        "Шевроле Круз 2009\nАвто из Красноярска, не из-под такси\n1.8 механика, пробег 240 тыс.км\n"
        "Цена 730 000 рублей",
        "Продается Audi A6 2016 года. Пробег 117 000 км. Зимняя резина в подарок. Возможен кредит. "
        "💰 1 670 т.р.",
        "Продам Камри 40, 2008 г.в. АКПП. Пробег 230 тыс. Цена 850 тыс. Казань. 89172345612",
    ],
)
def test_sales_that_mention_negative_words_stay_sales(text: str) -> None:
    is_sale, reason, confidence = classify(text)
    assert is_sale, reason
    assert reason is None
    assert 0.5 < confidence <= 1.0
    assert prefilter(text).reject is False


def test_prefilter_rejects_only_confident_non_sales() -> None:
    verdict = prefilter("Куплю Ладу Гранту до 500 тысяч. 8 927 100 20 30")
    assert verdict == PrefilterVerdict(reject=True, reason="buy_request", confidence=verdict.confidence)
    assert verdict.confidence >= PREFILTER_MIN_CONFIDENCE
    sale = prefilter(CARD)
    assert sale.reject is False and sale.reason is None


def test_rules_extractor_follows_the_extractor_protocol() -> None:
    extractor = RulesExtractor()
    assert extractor.name == "rules"
    result = extractor.extract(CARD)
    assert isinstance(result, ExtractionResult)
    assert result.engine == "rules"
    assert (result.llm_calls, result.input_tokens, result.output_tokens) == (0, 0, 0)
    assert result.fields.brand == "Toyota"


def test_huge_post_is_bounded_and_keeps_head_and_tail() -> None:
    filler = "Отличная машина, ухоженная, все ТО вовремя. " * 600  # > 25 000 chars
    text = (
        "Продам Toyota Camry 2018 г.в., пробег 98 000 км, цена 2 150 000 ₽\n"
        + filler
        + "\nТел. 8 912 345-67-89"
    )
    assert len(text) > 10_000
    fields = extract_rules(text)
    assert fields.is_car_sale
    assert (fields.brand, fields.price, fields.phones) == ("Toyota", 2_150_000, ["+79123456789"])


def _check(fields: ListingFields) -> None:
    assert isinstance(fields, ListingFields)
    assert 0.0 <= fields.confidence <= 1.0
    if not fields.is_car_sale:
        assert fields.reason
    for phone in fields.phones:
        assert phone.startswith("+")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    _check(extract_rules(text))
    assert isinstance(prefilter(text), PrefilterVerdict)


AD_WORDS = st.sampled_from(
    [
        "Продам", "Камри", "2018", "г.в.", "1.6", "АКПП", "пробег", "98", "т.км", "цена", "1.35", "млн",
        "850к", "рынок", "+7", "912", "345-67-89", "@ivan_auto", "t.me/x", "в", "Москве", "Ростове-на-Дону",
        "🚗", "💰", "\n", ",", "ВАЗ-2114", "продано", "куплю", "1 350 000", "₽", "собственников:", "2", "(",
        ")", "?", "—",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(AD_WORDS, max_size=80).map(" ".join))
def test_never_raises_on_ad_like_word_salad(text: str) -> None:
    _check(extract_rules(text))


@settings(max_examples=10, deadline=None)
@given(st.text(min_size=1, max_size=30), st.integers(min_value=400, max_value=2000))
def test_never_raises_on_huge_text(chunk: str, repeat: int) -> None:
    _check(extract_rules(chunk * repeat))


def test_non_string_input_is_treated_as_empty() -> None:
    fields = extract_rules(None)  # type: ignore[arg-type]
    assert fields.is_car_sale is False
