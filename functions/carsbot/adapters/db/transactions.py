"""DynamoDB transactions on the bound tables (pynamodb ``TransactWrite``).

pynamodb's ``TransactWrite`` needs a ``Connection``; this one reuses the connection of the models bound
by ``bind_tables`` (same region, same endpoint from ``AWS_ENDPOINT_URL``, dropped and rebuilt with the
bindings), so a transaction costs no extra client. Use it for writes that must happen together or not
at all — several rate-limit windows, a payment credit and its order — and recognise a lost condition
with ``carsbot.adapters.db.conditions.is_conditional_failure``::

    with transact_write() as tx:
        tx.update(OrderModel(order_id), actions=[...], condition=OrderModel.status == "pending")
        tx.update(UserModel(user_id), actions=[...])
"""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.transactions import TransactWrite

from carsbot.adapters.db.models import StateModel


def connection() -> Connection:
    """The low-level connection shared by the bound models (rebuilt after ``bind_tables``)."""
    return StateModel._get_connection().connection


def transact_write(client_request_token: str | None = None) -> TransactWrite:
    """A ``TransactWrite`` context; ``client_request_token`` makes a retried commit idempotent (10 min)."""
    return TransactWrite(connection=connection(), client_request_token=client_request_token)
