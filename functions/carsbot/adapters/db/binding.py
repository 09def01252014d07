"""Binding pynamodb models to the tables named in settings.

pynamodb keeps the table name on ``Model.Meta`` and caches a connection per class, so binding is done
once per process (Lambda cold start, monitor start, each test) by ``bind_tables``. The endpoint comes
from botocore itself (``AWS_ENDPOINT_URL``), so the same code talks to AWS and to a local moto server.
"""

from __future__ import annotations

from pynamodb.models import Model

from carsbot.adapters import aws
from carsbot.adapters.db import bot, models, orders, users
from carsbot.config import Settings, get_settings


def _models() -> dict[str, type[Model]]:
    return {
        "channels_table": models.ChannelModel,
        "posts_table": models.PostModel,
        "listings_table": models.ListingModel,
        "dedup_table": models.DedupModel,
        "state_table": models.StateModel,
        "users_table": users.UserModel,
        "searches_table": bot.SavedSearchModel,
        "contact_requests_table": bot.ContactRequestModel,
        "bot_state_table": bot.BotStateModel,
        "orders_table": orders.OrderModel,
        "payments_table": orders.PaymentModel,
    }


_bound: Settings | None = None


def bind_tables(settings: Settings | None = None) -> None:
    """Point every model at its table (names from settings) and drop cached connections."""
    global _bound
    settings = settings or get_settings()
    region = aws.region()
    for setting_name, model in _models().items():
        model.Meta.table_name = getattr(settings, setting_name)
        model.Meta.region = region
        model._connection = None
    _bound = settings


def bound_settings() -> Settings:
    """The settings, with the tables bound to them: once per container (Lambda handlers call this at the
    start of every invocation), again only after the settings were reset (tests, the local runner)."""
    settings = get_settings()
    if settings is not _bound:
        bind_tables(settings)
    return settings
