"""The news-channel post template (PRODUCT.md §16-18): escaping, Russian words, no contacts, limits."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from carsbot.core.formatting import (
    CAPTION_LIMIT,
    CONTACTS_LABEL,
    REMOVED_BANNER,
    TEXT_LIMIT,
    ListingView,
    deep_link,
    format_int,
    format_owners,
    parse_deep_link_payload,
    plural_ru,
    render_post,
    scrub_contacts,
    telegram_length,
    visible_length,
    visible_text,
)
from carsbot_dev.local.botapi_standin import check_html

BOT = "carsbot_demo_bot"
LINK = f"https://t.me/{BOT}?start=l_AbCdEf012345"

FULL = ListingView(
    listing_id="AbCdEf012345",
    brand="Toyota",
    model="Camry",
    year=2018,
    price=1_350_000,
    market_estimate=1_500_000,
    mileage=98_000,
    engine_volume=2.5,
    transmission="automatic",
    drive="awd",
    owners_count=1,
    city="Москва",
    fuel="petrol",
    equipment=("кожаный салон", "камера заднего вида"),
    description="Один владелец, обслуживание у официального дилера, два комплекта резины.",
)

PHONE_SPELLINGS = (
    "+7 916 123-45-67",
    "+79161234567",
    "8 (916) 123-45-67",
    "8-916-123-45-67",
    "89161234567",
    "916 123 45 67",
    "(916) 123-45-67",
    "+375 29 123-45-67",
    "8.916.123.45.67",
    "916.123.45.67",
    "8 (916) 123 - 45 - 67",
)


def assert_no_contact(html_text: str) -> None:
    text = visible_text(html_text)
    digits_runs = re.findall(r"\d[\d\s()\-]{8,}\d", text)
    assert not [run for run in digits_runs if len(re.sub(r"\D", "", run)) >= 10], digits_runs
    assert "1234567" not in re.sub(r"\D", "", text)
    assert not re.search(r"(?<![\w/])@\w", text)
    hrefs = re.findall(r'href="([^"]+)"', html_text)
    assert all(h.startswith(f"https://t.me/{BOT}?start=l_") for h in hrefs), hrefs
    links = re.findall(r"(?:t\.me|telegram\.me|wa\.me)/[^\s\"<]*", html_text)
    assert all(link.startswith(f"t.me/{BOT}?start=l_") for link in links), links


def test_full_post_follows_the_template() -> None:
    post = render_post(FULL, BOT)
    lines = post.splitlines()
    assert lines[0] == "🚗 <b>Toyota Camry</b>"
    assert lines[1] == "📋 2.5 л бензин • автомат • полный привод • 2018 г."
    assert lines[2] == "📊 1 владелец • 98 000 км"
    assert lines[3] == "⚙️ кожаный салон, камера заднего вида"
    assert lines[4] == "💰 <b>1 350 000 ₽</b>"
    assert lines[5] == "📉 Выгода 150 000 ₽ (10%) — ниже рынка"
    assert lines[6] == "📍 Москва"
    assert "<i>Один владелец, обслуживание у официального дилера" in post
    assert lines[-1] == f'<a href="{LINK}">{CONTACTS_LABEL}</a>'
    check_html(post)  # valid Telegram HTML


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("brand", "Toy<ota> & Co"),
        ("model", "<b>Camry</b>"),
        ("city", "Москва <script>"),
        ("description", "Без <ДТП> & без окрасов"),
        ("equipment", ("подогрев <руля>", "A&B")),
        ("autoteka", "чистая <a href=x>"),
        ("fuel", "бензин <92>"),
    ],
)
def test_every_source_field_is_escaped(field: str, value: Any) -> None:
    post = render_post(replace(FULL, **{field: value}), BOT)
    check_html(post)  # an unescaped "<" or "&" would break Telegram's parser
    raw_values = value if isinstance(value, tuple) else (value,)
    for raw in raw_values:
        assert "<" not in str(raw) or str(raw) not in post
        escaped = str(raw).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in post
    assert post.count("<a ") == 1


def test_russian_plural_forms() -> None:
    forms = {
        n: plural_ru(n, "владелец", "владельца", "владельцев")
        for n in (1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 111)
    }
    assert forms == {
        1: "владелец",
        2: "владельца",
        4: "владельца",
        5: "владельцев",
        11: "владельцев",
        12: "владельцев",
        14: "владельцев",
        21: "владелец",
        22: "владельца",
        25: "владельцев",
        111: "владельцев",
    }
    assert format_owners(3) == "3 владельца"
    assert "📊 2 владельца • 150 000 км" in render_post(replace(FULL, owners_count=2, mileage=150_000), BOT)


def test_numbers_have_thousands_separators() -> None:
    assert format_int(98_000) == "98 000"
    assert format_int(1_350_000) == "1 350 000"
    assert format_int(850) == "850"
    post = render_post(replace(FULL, price=12_500_000, market_estimate=None, saving=None), BOT)
    assert "💰 <b>12 500 000 ₽</b>" in post


@pytest.mark.parametrize(
    ("gearbox", "word"),
    [("automatic", "автомат"), ("manual", "механика"), ("robot", "робот"), ("variator", "вариатор")],
)
def test_gearbox_words(gearbox: str, word: str) -> None:
    view = ListingView(listing_id="x1", engine_volume=2.0, transmission=gearbox, drive="fwd", year=2015)
    assert f"📋 2.0 л • {word} • передний привод • 2015 г." in render_post(view, BOT)


def test_unknown_fields_are_omitted() -> None:
    post = render_post(ListingView(listing_id="x1", brand="Lada", model="Vesta", price=900_000), BOT)
    assert post.splitlines() == [
        "🚗 <b>Lada Vesta</b>",
        "💰 <b>900 000 ₽</b>",
        "",
        f'<a href="https://t.me/{BOT}?start=l_x1">{CONTACTS_LABEL}</a>',
    ]
    for marker in ("📋", "📊", "⚙️", "📉", "📍", "None", "null", "<i>"):
        assert marker not in post
    bare = render_post(ListingView(listing_id="x2"), BOT)
    assert "🚗 <b>Автомобиль</b>" in bare and "Цена не указана" in bare


def test_saving_stated_market_price_flag_only() -> None:
    stated = render_post(replace(FULL, market_estimate=None, market_price=1_600_000), BOT)
    assert "📉 Выгода 250 000 ₽ (16%) — ниже рынка" in stated
    explicit = render_post(replace(FULL, saving=100_000, market_estimate=1_450_000), BOT)
    assert "📉 Выгода 100 000 ₽ (7%) — ниже рынка" in explicit
    above = render_post(replace(FULL, market_estimate=1_200_000), BOT)
    assert "📉" not in above
    flag = render_post(replace(FULL, market_estimate=None, below_market=True), BOT)
    assert "📉 Ниже рынка" in flag


@pytest.mark.parametrize("phone", PHONE_SPELLINGS)
def test_phones_never_appear(phone: str) -> None:
    view = replace(
        FULL,
        description=f"Торг у капота. Звоните {phone}, пишите в телеграм.",
        equipment=("кожа", f"тел. {phone}"),
        city=f"Москва {phone}",
    )
    post = render_post(view, BOT)
    assert_no_contact(post)
    assert "Торг у капота" in post
    assert "98 000 км" in post and "1 350 000 ₽" in post  # numbers that are not phones survive


def test_usernames_links_and_emails_never_appear() -> None:
    view = replace(
        FULL,
        description=(
            "Пишите @ivan_cars или t.me/ivan_cars, https://t.me/+AbCdEf, telegram.me/ivan_cars, "
            "wa.me/79161234567, ivan@example.com. Авто в хорошем состоянии."
        ),
        equipment=("@ivan_cars", "https://avito.ru/item/1", "люк"),
    )
    post = render_post(view, BOT)
    assert_no_contact(post)
    for leak in ("ivan_cars", "example.com", "avito", "+AbCdEf", "wa.me"):
        assert leak not in post
    assert "Авто в хорошем состоянии" in post and "люк" in post


def test_seller_contacts_scrubbed_any_spelling() -> None:
    view = replace(
        FULL,
        description="Спросить Ивана: 9 1 6 1 2 3 4 5 6 7 или ivan_cars в телеге. Машина на ходу.",
        seller_phones=("+79161234567",),
        seller_usernames=("ivan_cars",),
    )
    post = render_post(view, BOT)
    assert_no_contact(post)
    assert "ivan_cars" not in post
    assert "Машина на ходу" in post


def test_scrub_keeps_prices_years_and_mileage() -> None:
    text = "Цена 1 350 000, торг. 2018 год, пробег 98 000 км, 2.0 л, 150 л.с., VIN скрыт."
    assert scrub_contacts(text) == text


def test_caption_fallback_keeps_the_link() -> None:
    long_description = "Очень подробное описание автомобиля. " * 60
    view = replace(FULL, description=long_description)
    caption = render_post(view, BOT, CAPTION_LIMIT)
    assert visible_length(caption) <= CAPTION_LIMIT
    assert caption.endswith(f'<a href="{LINK}">{CONTACTS_LABEL}</a>')
    assert "⚙️ кожаный салон, камера заднего вида" in caption  # equipment kept
    assert "…" in caption  # the description was shortened, not the template
    check_html(caption)
    text = render_post(view, BOT, TEXT_LIMIT)
    assert long_description.strip() in visible_text(text)  # fits a text message whole


def test_huge_fields_degrade_but_link_survives() -> None:
    view = replace(
        FULL,
        brand="Б" * 3000,
        model="М" * 3000,
        city="Г" * 3000,
        equipment=tuple(f"опция {i}" for i in range(800)),
        description="слово " * 2000,
        autoteka="чисто " * 500,
    )
    for limit in (CAPTION_LIMIT, TEXT_LIMIT, 200):
        post = render_post(view, BOT, limit)
        assert visible_length(post) <= limit
        assert post.endswith(f'<a href="{LINK}">{CONTACTS_LABEL}</a>')
        check_html(post)


def test_emoji_are_measured_in_utf16_units() -> None:
    view = replace(FULL, description="🚗" * 2000)
    caption = render_post(view, BOT, CAPTION_LIMIT)
    assert telegram_length(visible_text(caption)) <= CAPTION_LIMIT
    assert LINK in caption


def test_removed_post_has_banner_no_contacts() -> None:
    post = render_post(FULL, BOT, CAPTION_LIMIT, removed=True)
    assert post.startswith(f"<b>{REMOVED_BANNER}</b>")
    assert "start=l_" not in post and CONTACTS_LABEL not in post
    assert "Toyota Camry" in post


def test_deep_link_format_and_payload() -> None:
    assert deep_link("@" + BOT, "AbCdEf012345") == LINK
    assert parse_deep_link_payload("l_AbCdEf012345") == "AbCdEf012345"
    assert parse_deep_link_payload("other") is None
    with pytest.raises(ValueError):
        deep_link("bad bot", "x")
    with pytest.raises(ValueError):
        deep_link(BOT, "has space")
