"""Helpers of the bot tests: fake credentials, seeded listings and subscriptions (imported as ``botkit``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from carsbot.core.contracts import listing_id_of

WEBHOOK_SECRET = "local_test-webhook_secret"
ADMIN_ID = 900001
SELLER_PHONE = "+79161234567"
SELLER_USERNAME = "camry_seller"


def seed_listing(
    n: int = 1,
    *,
    brand: str = "Toyota",
    model: str = "Camry",
    year: int = 2018,
    price: int = 1_350_000,
    city: str = "Воронеж",
    status: str = "published",
    phones: tuple[str, ...] = (SELLER_PHONE,),
    usernames: tuple[str, ...] = (SELLER_USERNAME,),
) -> str:
    from carsbot.adapters.db.models import ListingModel

    post_id = f"1001:{n}"
    listing_id = listing_id_of(post_id)
    ListingModel(
        listing_id,
        post_id=post_id,
        channel_id=1001,
        status=status,
        brand=brand,
        model=model,
        brand_model=f"{brand}|{model}".lower(),
        year=year,
        price=price,
        mileage=98_000,
        city=city,
        phones=list(phones),
        usernames=list(usernames),
        description=f"Продаю, звонить {phones[0] if phones else ''}",
        source_link=f"https://t.me/source_channel/{n}",
        published_message_ids=[100 + n] if status in ("published", "sold", "removed") else [],
    ).save()
    return listing_id


def set_subscription(user_id: int, end: datetime | None) -> None:
    from carsbot.adapters.db.users import UserModel, subscription_fields

    UserModel(user_id).update(actions=subscription_fields(end))


def days_from_now(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)
