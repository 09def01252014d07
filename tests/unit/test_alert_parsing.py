"""``/alert`` one-line parsing with the extraction core's normalisers, criteria matching, match keys,
and the subscription and entitlement rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carsbot.core.alerts import (
    AlertParseError,
    ListingFacts,
    SearchCriteria,
    matches,
    parse_alert,
)
from carsbot.core.entitlements import ContactAccess, contact_access, day_key
from carsbot.core.search_keys import listing_match_keys, year_sort_bound
from carsbot.core.subscriptions import days_left, extend, is_active, remove_days

C = SearchCriteria

PHRASINGS = [
    ("камри от 2015 до 1.5 млн Воронеж", C("Toyota", "Camry", 2015, None, 1_500_000, "Воронеж")),
    ("киа рио в москве до 900к", C("Kia", "Rio", None, None, 900_000, "Москва")),
    ("солярис 2017-2020 до 1 200 000", C("Hyundai", "Solaris", 2017, 2020, 1_200_000)),
    ("bmw x5 до 3,5 млн", C("BMW", "X5", price_max=3_500_000)),
    ("лада веста спб", C("Lada", "Vesta", city="Санкт-Петербург")),
    ("Приора до 300 тыс", C("Lada", "Priora", price_max=300_000)),
    ("мазда 6 с 2014", C("Mazda", "6", year_from=2014)),
    ("ford focus 2012 Казань до 600т.р.", C("Ford", "Focus", 2012, 2012, 600_000, "Казань")),
    ("шкода октавия", C("Skoda", "Octavia")),
    ("в Екатеринбурге до 2 млн", C(price_max=2_000_000, city="Екатеринбург")),
    ("тойота", C("Toyota")),
    ("ниву до 400к", C("Lada", "Niva", price_max=400_000)),
    ("хендай крета не старше 2018 до 2млн Краснодар",
     C("Hyundai", "Creta", 2018, None, 2_000_000, "Краснодар")),
    ("CAMRY 2016+ до 1500000", C("Toyota", "Camry", 2016, None, 1_500_000)),
    ("Поло седан 2015 года и новее до 800 тысяч в Нижнем Новгороде",
     C("Volkswagen", "Polo", 2015, None, 800_000, "Нижний Новгород")),
    ("фокус с 2011 по 2015 дешевле 700к", C("Ford", "Focus", 2011, 2015, 700_000)),
    ("RAV4 до 2019 года", C("Toyota", "RAV4", year_to=2019)),
    ("мерседес е-класс от 2010", C("Mercedes-Benz", "E-Class", year_from=2010)),
    ("Гранта до 500 000 ₽ Самара", C("Lada", "Granta", price_max=500_000, city="Самара")),
]  # fmt: skip


@pytest.mark.parametrize(("line", "expected"), PHRASINGS, ids=[p[0] for p in PHRASINGS])
def test_one_line_alerts(line: str, expected: SearchCriteria) -> None:
    assert parse_alert(line) == expected


@pytest.mark.parametrize("line", ["", "   ", "абвгд", "hello world", "!!!", "я" * 400])
def test_lines_without_criteria_are_refused(line: str) -> None:
    with pytest.raises(AlertParseError):
        parse_alert(line)


def test_matching_and_keys() -> None:
    camry = ListingFacts("Toyota", "Camry", 2018, 1_350_000, "Воронеж")
    assert matches(parse_alert("камри от 2015 до 1.5 млн Воронеж"), camry)
    assert not matches(parse_alert("камри от 2019"), camry)
    assert not matches(parse_alert("камри до 1 млн"), camry)
    assert not matches(parse_alert("камри Казань"), camry)
    assert not matches(parse_alert("киа рио"), camry)
    assert matches(C(city="воронеж"), camry) and matches(C(brand="toyota"), camry)
    assert not matches(C(year_from=2010), ListingFacts("Toyota", "Camry", None, 1, None))  # unknown year
    assert listing_match_keys("Toyota", "Camry") == ["toyota|camry", "toyota|*", "*"]
    assert listing_match_keys("Toyota", "Camry", "Воронеж") == ["toyota|camry", "toyota|*", "*|воронеж", "*"]
    assert listing_match_keys(None, None) == ["*"]
    assert C("Toyota", "Camry").match_key == "toyota|camry" and C("Toyota").match_key == "toyota|*"
    assert C(city="Казань").match_key == "*|казань" and C(price_max=900_000).match_key == "*"
    assert C("Toyota", city="Казань").match_key == "toyota|*"  # a brand's city is the filter's
    assert C(year_from=2015).match_sort(7, "s1") == "2015#7#s1" and C().match_sort(7, "s1") == "0000#7#s1"


CRITERIA = [
    C(),
    C("Toyota"),
    C("Toyota", "Camry"),
    C("Toyota", "Camry", 2015),
    C("Toyota", "Camry", 2018, 2018),
    C("Toyota", "Camry", None, 2016),
    C("Toyota", "Camry", 2019, price_max=2_000_000, city="Воронеж"),
    C("toyota", "camry", city="воронеж"),
    C("Toyota", city="Москва"),
    C("Kia", "Rio", 2010),
    C(city="Воронеж"),
    C(city="Воронеж", year_from=2018),
    C(year_from=2017),
    C(year_to=2012),
    C(price_max=1_000_000),
]
LISTINGS = [
    ListingFacts(brand, model, year, price, city)
    for brand, model in (("Toyota", "Camry"), ("Toyota", "RAV4"), ("Kia", "Rio"), (None, None))
    for year in (None, 2012, 2016, 2018, 2019, 2024)
    for price in (None, 900_000, 1_500_000)
    for city in (None, "Воронеж", "Казань")
]


def test_the_index_keys_never_lose_a_match() -> None:
    """Every search a listing matches lies in one of the listing's buckets, below its year bound."""
    pairs = 0
    for criteria in CRITERIA:
        for listing in LISTINGS:
            if not matches(criteria, listing):
                continue
            pairs += 1
            assert criteria.match_key in listing_match_keys(listing.brand, listing.model, listing.city)
            assert criteria.match_sort(1, "s") < year_sort_bound(listing.year), (criteria, listing)
    assert pairs > 200
    # and the keys do exclude: a later lowest year, another city's bucket, another model's bucket
    camry_2016 = ListingFacts("Toyota", "Camry", 2016, 1_000_000, "Казань")
    assert C("Toyota", "Camry", 2018).match_sort(1, "s") >= year_sort_bound(2016)
    assert C(city="Воронеж").match_key not in listing_match_keys("Toyota", "Camry", camry_2016.city)
    assert C("Kia", "Rio").match_key not in listing_match_keys("Toyota", "Camry", camry_2016.city)
    assert C(year_from=2010).match_sort(1, "s") >= year_sort_bound(None)  # unknown year: no year bound


def test_subscription_rules() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert extend(None, now, 30) == now + timedelta(days=30)
    assert extend(now + timedelta(days=5), now, 30) == now + timedelta(days=35)  # buying while active
    assert extend(now - timedelta(days=5), now, 30) == now + timedelta(days=30)  # expired: from now
    assert is_active(now + timedelta(seconds=1), now) and not is_active(now, now) and not is_active(None, now)
    assert days_left(now + timedelta(hours=3), now) == 1 and days_left(now + timedelta(days=21.5), now) == 22
    assert remove_days(now + timedelta(days=10), 4, now) == now + timedelta(days=6)
    assert remove_days(now + timedelta(days=3), 4, now) is None


def test_contact_access() -> None:
    now = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
    end = now + timedelta(days=1)
    assert (
        contact_access(None, now, already_opened=False, opened_today=0, daily_cap=50) is ContactAccess.PAYWALL
    )
    assert (
        contact_access(now, now, already_opened=True, opened_today=0, daily_cap=50) is ContactAccess.PAYWALL
    )
    assert (
        contact_access(end, now, already_opened=True, opened_today=50, daily_cap=50) is ContactAccess.REOPEN
    )
    assert (
        contact_access(end, now, already_opened=False, opened_today=49, daily_cap=50) is ContactAccess.GRANTED
    )
    assert (
        contact_access(end, now, already_opened=False, opened_today=50, daily_cap=50)
        is ContactAccess.DAILY_CAP
    )
    assert (
        day_key(now) == "2026-03-01" and day_key(now + timedelta(hours=1)) == "2026-03-02"
    )  # Moscow midnight
